"""bot/handlers/referrals.py: the referral funnel travelled through in the console — share a
link, a newcomer starts with it, takes part, buys; the hold passes; the creator pays out."""

from __future__ import annotations

import re

from bot.adapters.render import render_plain
from bot.app import App
from core.clock import ManualClock
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from tests.conftest import ConsoleDriver, snapshot

SETUP = (
    ":as Mei creator",
    "/course add py101 19.99 USD Python",
    "/commission set py101 10% 5%",
    ":as Omar",
)


async def link_of(console: ConsoleDriver, name: str) -> str:
    out = await console(f":as {name}", "/ref")
    match = re.search(r"/start (ref_[a-z0-9]{8})", out[1])
    assert match, out
    return match.group(1)


async def test_the_whole_funnel_from_link_to_payout(console: ConsoleDriver) -> None:
    await console(*SETUP)
    omar = await link_of(console, "Omar")
    # Ana comes through Omar's link, Ben through Ana's: Omar is Ben's second level.
    assert await console(":as Ana", f"/start {omar}") == [
        "(you are Ana, learner, in dm)",
        "bot> Welcome to testhall, Ana!",
        "bot> Omar invited you. +10 welcome points.",
        "bot> Send /help to see what you can do here.",
        "bot> [1] Help",
        "bot> [2] Language",
    ]
    ana = await link_of(console, "Ana")
    assert (await console(":as Ben", f"/start {ana}"))[2] == "bot> Ana invited you. +10 welcome points."
    # Taking part (a check-in) is what earns Ana the join reward, at the next job run.
    await console("/checkin")
    assert await console(":clock +10m") == [
        "(sandbox time 2026-01-05 09:10 UTC; jobs run: orders, subscriptions, referrals, pushes,"
        " payments_reconcile)",
        "bot→Ana> Ben, whom you invited, has joined in.",
        "bot→Ana> +20 points for your invitation.",
    ]
    out = await console("/buy py101", ":pay")
    assert "bot→Ana> Ben, whom you invited, made a first purchase." in out
    assert "bot→Ana> You earned a commission of $1.99 on Ben's order; it is available from 2026-01-19." in out
    assert (
        "bot→Omar> You earned a commission of $0.99 on Ben's order; it is available from 2026-01-19." in out
    )
    assert await console(":as Ana", "/ref") == [
        "(you are Ana, learner, in dm)",
        f"bot> Your invitation link: /start {ana}",
        "bot> Invited 1 · took part 1 · first purchases 1",
        "bot> Points from invitations: 70",
        "bot> Commissions: $1.99 earned ($0.00 available, $1.99 pending, $0.00 paid)",
    ]
    # Past the hold the commissions are available; the creator sees who is owed and pays.
    out = await console(":clock +15d")
    assert "bot> A commission of $1.99 is now available to you (/commissions)." in out
    assert await console("/commissions") == [
        "bot> Your commissions:",
        "bot> Commissions: $1.99 earned ($1.99 available, $0.00 pending, $0.00 paid)",
        "bot> Latest:",
        "bot> Order #1 (level 1): $1.99 · available",
    ]
    assert await console(":as Mei", "/payouts") == [
        "(you are Mei, creator, in dm)",
        "bot> Commissions owed:",
        "bot> Ana: $1.99 available, $0.00 held",
        "bot> Omar: $0.99 available, $0.00 held",
        "bot> /payouts pay @member REFERENCE once you have paid them.",
    ]
    assert await console("/payouts pay @Ana wise-778", "/payouts pay @Ana wise-778") == [
        "bot> Recorded: Ana was paid $1.99.",
        "bot→Ana> Mei paid you $1.99 in commissions (reference wise-778).",
        "bot> Ana has nothing available to pay.",
    ]
    assert (await console(":as Ana", "/commissions"))[2] == (
        "bot> Commissions: $1.99 earned ($0.00 available, $0.00 pending, $1.99 paid)"
    )


async def test_a_refund_during_the_hold_cancels_and_after_it_claws_back(console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Mei", "/course add ml 10 USD ML", "/commission set all 20%")
    omar = await link_of(console, "Omar")
    await console(":as Ana", f"/start {omar}", "/buy py101", ":pay")
    # Refunded in the hold: Omar's commission is cancelled, and his first-purchase points go.
    out = await console(":as Mei", "/refund 1")
    assert "bot→Omar> Order #1 was refunded: $1.99 of your commission is cancelled." in out
    assert (await console(":as Omar", "/commissions"))[
        -1
    ] == "bot> Order #1 (level 1): $0.00 · cancelled by a refund"
    # A second order (the ml course, at the 20% "all" rate) is refunded after the hold.
    await console(":as Ana", "/buy ml", ":pay", ":clock +15d")
    out = await console(":as Mei", "/refund 2 5")
    assert "bot→Omar> Order #2 was refunded after the hold: $1.00 is taken back from your commissions." in out
    assert (await console(":as Omar", "/commissions"))[2] == (
        "bot> Commissions: $1.00 earned ($1.00 available, $0.00 pending, $0.00 paid)"
    )


async def test_links_that_do_not_count_change_nothing(app: App, console: ConsoleDriver) -> None:
    await console(*SETUP)
    omar = await link_of(console, "Omar")
    ana = await link_of(console, "Ana")
    mei = await link_of(console, "Mei")
    await console(":as Ana", f"/start {omar}")  # Ana is Omar's referee
    before = await snapshot(app.db)
    for who, line in [
        ("Omar", f"/start {omar}"),  # his own link
        ("Omar", f"/start {ana}"),  # a cycle: Ana came through Omar
        ("Ana", f"/start {mei}"),  # a second code: the first one stays (and Mei is staff)
        ("Ana", f"/start {omar}"),  # the same link again
        ("Ben", "/start ref_zzzzzzzz"),  # no such code
        ("Ben", "/start ref_bad!"),  # not a code at all
        ("Ben", f"/start {mei}"),  # staff links do not count unless referral.staff is on
    ]:
        out = await console(f":as {who}", line)
        assert not any("invited you" in line for line in out), (who, line, out)
    after = await snapshot(app.db)
    # Ben is a new member (that is all): no referral, no points, no transfer.
    assert after["referrals"] == before["referrals"]
    assert after["ledger_transfers"] == before["ledger_transfers"]


async def test_a_link_counts_only_within_the_window_after_first_contact(console: ConsoleDriver) -> None:
    await console(*SETUP)
    omar = await link_of(console, "Omar")
    await console(":as Ana", "/help", ":clock +31d")
    assert not any("invited you" in line for line in await console(f"/start {omar}"))
    await console(":as Ben", "/help", ":clock +29d")
    assert "bot> Omar invited you. +10 welcome points." in await console(":as Ben", f"/start {omar}")


async def test_bad_commission_and_payout_input_changes_nothing(app: App, console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana", "/help", ":as Mei", "/help")
    before = await snapshot(app.db)
    for who, line, reply in [
        ("Mei", "/commission set py101 120%", "bot> A commission is at most 100%."),
        ("Mei", "/commission set py101 ten", "bot> A commission is a percentage like 10 or 12.5, not ten."),
        ("Mei", "/commission set py101 60% 50%", "bot> Both levels together are at most 100%."),
        ("Mei", "/commission set nope 10%", "bot> There is no course, bundle or plan nope."),
        ("Mei", "/commission drop py101", "bot> Usage: /commission set CODE|all PERCENT"),
        ("Mei", "/payouts pay @Ana", "bot> Usage: /payouts"),
        ("Mei", "/payouts pay @Nobody ref", "bot> No member called @Nobody here."),
        ("Ana", "/payouts", "bot> Only creators can use /payouts."),
        ("Ana", "/commission list", "bot> Only creators can use /commission."),
    ]:
        out = await console(f":as {who}", line)
        assert out[1].startswith(reply), (line, out)
    assert await snapshot(app.db) == before


async def test_on_telegram_the_link_is_a_deep_link_to_the_bot(app: App, clock: ManualClock) -> None:
    chat = ChatRef("telegram", "100", ChatKind.PRIVATE, "Ana")
    ana = UserRef("telegram", "100", "Ana")
    event = Event("telegram", app.config.community, chat, ana, EventKind.COMMAND, clock.now(), text="/ref")
    [outgoing] = await app.handle(event, bot_username="studyhall_bot")
    text = render_plain(outgoing.reply, "en").text
    assert re.search(r"https://t\.me/studyhall_bot\?start=ref_[a-z0-9]{8}", text), text
