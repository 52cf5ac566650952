"""bot/adapters/discord/adapter.py end to end: the real discord.py Client and the real adapter
on dpytest's simulated gateway and HTTP (messages, prefix commands, DMs, members, roles), and
recorded interaction payloads for slash commands and buttons parsed by discord.py itself."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import discord
import discord.ext.test as dpytest
import pytest

from bot.adapters.discord.adapter import DiscordAdapter, ShardedStudyhallClient, StudyhallClient
from bot.adapters.discord.commands import slash_commands
from bot.adapters.discord.inbound import guild_ref, user_ref
from bot.adapters.discord.outbound import callback_data
from bot.app import App
from bot.config import Config
from core.clock import ManualClock
from core.i18n import msg
from core.members.models import Member, Role
from core.orders.models import Checkout, Order
from core.replies import Reply
from tests.discord_peer import (
    Component,
    Peer,
    components_of,
    give_role,
    make_private,
    make_role,
    running_peer,
)


class FakeResponse(NamedTuple):
    status: int
    reason: str


@pytest.fixture
async def peer(app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Peer]:
    monkeypatch.chdir(tmp_path)  # dpytest writes sent attachments into the working directory
    async with running_peer(app) as running:
        running.sent()
        yield running


async def test_prefix_commands_in_a_channel_answer_there(peer: Peer) -> None:
    await peer.say("!points")
    (answer,) = peer.sent()
    assert answer.channel == peer.lounge
    assert "Points: 0" in (answer.embeds[0].title or "")


async def test_slash_words_typed_as_text_and_help_work_too(peer: Peer) -> None:
    await peer.say("/help")
    (answer,) = peer.texts()
    assert "/points" in answer and "/checkin" in answer


async def test_group_messages_earn_points_silently_and_dms_do_not(peer: Peer, app: App) -> None:
    await peer.say("this is a long enough message to earn")
    await peer.dm("and this private message is long enough too")
    assert peer.texts() == []
    community = await app.community()
    member = await app.services.members.find_by_identity(community.id, "discord", str(peer.ana.id))
    assert member is not None
    balance = await app.services.ledger.balance(community.id, member.id)
    assert balance.balance == 1


async def test_checkin_then_points_in_a_dm(peer: Peer) -> None:
    await peer.dm("!checkin")
    await peer.dm("!points")
    checkin, points = peer.sent()
    assert "5" in (checkin.content or "")
    assert isinstance(checkin.channel, discord.DMChannel)
    assert "Points: 5" in (points.embeds[0].title or "")


async def test_unknown_words_after_the_prefix_are_quiet_in_a_channel_but_hinted_in_a_dm(peer: Peer) -> None:
    await peer.say("!nosuchcommand")
    assert peer.texts() == []
    await peer.dm("!nosuchcommand")
    (hint,) = peer.texts()
    assert "Unknown command /nosuchcommand" in hint


async def test_an_exclamation_alone_is_a_plain_message(peer: Peer) -> None:
    await peer.say("! not a command")
    await peer.say("!!!")
    assert peer.texts() == []


async def test_a_discord_mention_names_the_member(peer: Peer, app: App) -> None:
    community = await app.community()
    members = app.services.members
    await peer.say("hello everyone, Mei here", member=peer.mei)  # Mei talks first: she is a member
    mei = await members.find_by_identity(community.id, "discord", str(peer.mei.id))
    assert mei is not None
    await members.assign_role(community, mei, Role.CREATOR, via="test")
    await peer.say("hi, I am new here")  # Ana too
    peer.sent()
    await peer.say(f"!award <@{peer.ana.id}> 30 great first question", member=peer.mei)
    announced, note = peer.sent()
    assert announced.channel == peer.lounge
    assert "received 30 points" in announced.content and "Ana" in announced.content
    assert isinstance(note.channel, discord.DMChannel)  # and Ana is told privately
    assert "gave you 30 points" in note.content
    ana = await members.find_by_identity(community.id, "discord", str(peer.ana.id))
    assert ana is not None
    assert (await app.services.ledger.balance(community.id, ana.id)).balance == 31


async def test_learners_are_refused_staff_commands_with_a_clear_message(peer: Peer) -> None:
    await peer.say(f"!award <@{peer.mei.id}> 30 nice")
    (answer,) = peer.texts()
    assert "Only moderators and creators can use /award." in answer


async def test_a_slash_command_for_a_personal_answer_is_ephemeral_in_a_channel(peer: Peer) -> None:
    sent = await peer.interact("slash_points")
    assert [s.kind for s in sent] == ["defer", "followup"]
    assert all(s.ephemeral for s in sent)
    assert "Points: 0" in sent[1].text
    assert peer.sent() == []  # nothing in the channel for everyone


async def test_a_slash_command_in_chinese_answers_in_chinese(peer: Peer) -> None:
    sent = await peer.interact("slash_points", locale="zh-CN")
    assert "积分" in sent[-1].text


async def test_a_slash_command_with_typed_options_reaches_the_core(peer: Peer, app: App) -> None:
    community = await app.community()
    members = app.services.members
    await peer.say("hello, Ana is here to learn")
    mei = await members.ensure_member(community, user_ref(peer.mei))
    await members.assign_role(community, mei, Role.CREATOR, via="test")
    sent = await peer.interact(
        "slash_award", member=peer.mei, target_id=str(peer.ana.id), target_name=peer.ana.name
    )
    assert [s.kind for s in sent] == ["defer", "followup"]
    assert not any(s.ephemeral for s in sent)  # an award is announced where it was given
    assert "25" in sent[1].text
    ana = await members.find_by_identity(community.id, "discord", str(peer.ana.id))
    assert ana is not None
    assert (await app.services.ledger.balance(community.id, ana.id)).balance == 26


async def test_a_button_press_runs_its_command(peer: Peer, app: App) -> None:
    await peer.say("!lang")
    (choose,) = peer.texts()  # dpytest keeps no components; outbound's tests check them
    assert "Choose your language" in choose
    sent = await peer.interact("button", custom_id="cmd:/lang zh")
    assert sent[0].kind == "defer"
    assert "语言已切换为中文" in sent[-1].text


async def test_a_slash_command_with_nothing_to_say_takes_the_thinking_away(peer: Peer) -> None:
    sent = await peer.interact("slash_points", command="gone")  # registered by an older version
    assert [s.kind for s in sent] == ["defer", "delete"]
    sent = await peer.interact("slash_points", command="checkin")
    assert [s.kind for s in sent] == ["defer", "followup"] and not sent[0].ephemeral  # not personal
    assert "Checked in" in sent[1].text


async def test_an_unknown_button_has_expired(peer: Peer) -> None:
    sent = await peer.interact("button", custom_id="h:" + "0" * 32)
    assert [(s.kind, s.ephemeral) for s in sent] == [("message", True)]
    assert "expired" in sent[0].payload["content"]


async def test_a_button_rendered_by_another_process_works_here(
    peer: Peer, config: Config, clock: ManualClock
) -> None:
    other = await App.open(config, clock=clock)  # a second process on the same database
    try:
        callbacks = callback_data(other.services.callback_tokens)
        token = callbacks.pack("cmd:/lang zh" + " " * 120)  # too long for a custom_id
        await callbacks.save()
    finally:
        await other.close()
    sent = await peer.interact("button", custom_id=token)
    assert sent[0].kind == "defer"
    assert "语言已切换为中文" in sent[-1].text


async def _creator(app: App, member: discord.Member) -> None:
    community = await app.community()
    mei = await app.services.members.ensure_member(community, user_ref(member))
    await app.services.members.assign_role(community, mei, Role.CREATOR, via="test")


async def _paid_vip(peer: Peer) -> discord.Role:
    """#vip made private to the role Paid (below the bot's role), the bot allowed to see it."""
    paid = make_role(peer.guild, "Paid", 5)
    make_private(peer.vip, paid, bot=peer.bot)
    return paid


async def test_paid_access_is_the_channel_role_from_bind_to_lapse(
    peer: Peer, app: App, clock: ManualClock
) -> None:
    await app.run_due_jobs()  # the jobs' schedules start now
    paid = await _paid_vip(peer)
    await _creator(app, peer.mei)
    await peer.dm("!plan add monthly 9.99 USD month trial=7 Monthly membership", member=peer.mei)
    await peer.say("!bind plan monthly", channel=peer.vip, member=peer.mei)
    texts = peer.texts()
    assert "#vip is now paid: it needs plan monthly." in texts[-1]
    assert "fix this" not in texts[-1]  # the roles are set up right

    await peer.dm("!subscribe monthly")  # the trial
    await peer.dm("!access fix", member=peer.mei)
    texts = peer.texts()
    assert any("You now have access to #vip." in text for text in texts)
    assert any("give access" in text and "Ana" in text for text in texts)
    assert paid in peer.ana.roles

    await peer.dm("!access check", member=peer.mei)  # joined through the role: nothing to do
    assert "Paid chats are in order: nothing to do." in peer.texts()[-1]

    clock.advance(timedelta(days=8))  # the trial ends; the scheduled check takes the role back
    assert "paid_chats" in await app.run_due_jobs()
    await dpytest.run_all_events()
    assert paid not in peer.ana.roles
    assert any("#vip is for members only. To get in: /subscribe monthly." in t for t in peer.texts())


async def test_a_paid_role_given_by_hand_to_someone_without_access_is_taken_back(
    peer: Peer, app: App
) -> None:
    paid = await _paid_vip(peer)
    await _creator(app, peer.mei)
    await peer.dm("!plan add monthly 9.99 USD month trial=7 Monthly membership", member=peer.mei)
    await peer.say("!bind plan monthly", channel=peer.vip, member=peer.mei)
    await peer.say("hello there, I would like to join")
    peer.sent()
    await give_role(peer.ana, paid)
    assert paid not in peer.ana.roles
    assert any("#vip is for members only" in text for text in peer.texts())


async def test_bind_says_precisely_what_the_roles_lack(peer: Peer, app: App) -> None:
    paid = make_role(peer.guild, "Paid", 20)  # above the bot's own role
    make_private(peer.vip, paid, bot=peer.bot)
    await _creator(app, peer.mei)
    await peer.dm("!plan add monthly 9.99 USD month Monthly membership", member=peer.mei)
    peer.sent()
    await peer.say("!bind plan monthly", channel=peer.vip, member=peer.mei)
    (answer,) = peer.texts()
    assert "Before it works, fix this:" in answer
    assert "Move the studyhall role above Paid in Server Settings → Roles" in answer


async def test_joining_and_leaving_the_server_are_recorded(peer: Peer, app: App) -> None:
    omar = await dpytest.member_join(peer.guild, name="Omar")
    await dpytest.run_all_events()
    community = await app.community()
    members = app.services.members
    member = await members.find_by_identity(community.id, "discord", str(omar.id))
    assert member is not None
    chat = await members.ensure_chat(community, guild_ref(peer.guild))
    assert await app.services.paid_chats.in_chat(chat, member)
    await peer.guild.kick(omar)
    await dpytest.run_all_events()
    assert not await app.services.paid_chats.in_chat(chat, member)


async def test_job_notes_reach_discord_members_by_dm(peer: Peer, app: App) -> None:
    await peer.say("hello there, a message from Ana")
    community = await app.community()
    ana = await app.services.members.find_by_identity(community.id, "discord", str(peer.ana.id))
    assert ana is not None
    app.services.notices.add(
        community.id, Reply.text(msg("You now have access to {chat}.", chat="#vip"), to_member=ana.id)
    )
    await app.send(await app.pending_notices())
    (note,) = peer.sent()
    assert isinstance(note.channel, discord.DMChannel)
    assert note.content == "You now have access to #vip."


async def test_closed_dms_are_told_in_the_channel(
    peer: Peer, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def closed(user_id: int) -> None:
        raise discord.Forbidden(
            FakeResponse(403, "Forbidden"), {"code": 50007, "message": "Cannot send messages to this user"}
        )

    monkeypatch.setattr(peer.adapter.client.http, "start_private_message", closed)
    await _creator(app, peer.mei)
    await peer.say("hello, Ana is here to learn")
    await peer.say(f"!award <@{peer.ana.id}> 10 kind words", member=peer.mei)
    announced, notice = peer.sent()
    assert "received 10 points" in announced.content
    assert notice.channel == peer.lounge
    assert "I could not send you a direct message" in notice.content


async def test_closed_dms_after_a_slash_command_show_the_note_only_to_them(
    peer: Peer, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def closed(user_id: int) -> None:
        raise discord.Forbidden(
            FakeResponse(403, "Forbidden"), {"code": 50007, "message": "Cannot send messages to this user"}
        )

    await _creator(app, peer.mei)
    await peer.dm("!tier set premium 5 x1.2", member=peer.mei)  # the first check-in reaches it
    peer.sent()
    monkeypatch.setattr(peer.adapter.client.http, "start_private_message", closed)
    sent = await peer.interact("slash_points", command="checkin")
    assert [(s.kind, s.ephemeral) for s in sent] == [
        ("defer", False),
        ("followup", False),
        ("followup", True),
    ]
    assert "Checked in" in sent[1].text
    assert "You reached the premium tier" in sent[2].text
    assert peer.sent() == []  # nothing about it in the channel


async def test_slash_commands_sync_to_the_configured_servers(
    peer: Peer, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int, list[dict[str, Any]]]] = []

    async def upsert(application_id: int, guild_id: int, payload: list[dict[str, Any]]) -> list[Any]:
        calls.append((application_id, guild_id, payload))
        return []

    monkeypatch.setattr(peer.adapter.client.http, "bulk_upsert_guild_commands", upsert)
    peer.adapter.client._connection.application_id = 42
    peer.adapter.guild_ids = (peer.guild.id,)
    await peer.adapter.sync_commands()
    [(application_id, guild_id, payload)] = calls
    assert (application_id, guild_id) == (42, peer.guild.id)
    assert payload == slash_commands(app.router)
    assert "points" in [command["name"] for command in payload]


async def test_a_push_goes_by_dm_and_closed_dms_are_a_skip_reason(
    peer: Peer, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def closed(user_id: int) -> None:
        raise discord.Forbidden(
            FakeResponse(403, "Forbidden"), {"code": 50007, "message": "Cannot send messages to this user"}
        )

    await peer.say("hello there, a message from Ana")
    community = await app.community()
    await _creator(app, peer.mei)
    mei = await app.services.members.find_by_identity(community.id, "discord", str(peer.mei.id))
    assert mei is not None
    for key in ("push.quiet_start", "push.quiet_end"):
        await app.services.settings.set(community.id, key, "0", actor=mei)
    pushes = app.services.pushes
    monkeypatch.setattr(peer.adapter.client.http, "start_private_message", closed)
    first = await pushes.draft(community, mei, "all", "First notice")
    assert first.per_platform == {"discord": 1}
    await pushes.confirm(community, mei, first.campaign.id)
    assert (await pushes.send_due()).skipped == 1
    assert (await pushes.status(community, mei, first.campaign.id)).skipped == {"dms_closed": 1}
    monkeypatch.undo()
    again = await pushes.draft(community, mei, "all", "Live class at 8")
    await pushes.confirm(community, mei, again.campaign.id)
    assert (await pushes.send_due()).sent == 1
    (note,) = peer.sent()
    assert isinstance(note.channel, discord.DMChannel) and note.content == "Live class at 8"


# -- the shop, referrals and Q&A on Discord -------------------------------------------------


async def _member_of(app: App, user: discord.abc.User) -> Member:
    community = await app.community()
    found = await app.services.members.find_by_identity(community.id, "discord", str(user.id))
    assert found is not None
    return found


async def _in_dm(message: discord.Message, user: discord.Member) -> bool:
    return message.channel.id == (await user.create_dm()).id


async def _sell_py101(peer: Peer, app: App) -> None:
    """Mei (a creator) puts the course py101 with one lesson on sale, from her DMs."""
    await _creator(app, peer.mei)
    await peer.dm("!course add py101 19.99 USD Python for data analysis", member=peer.mei)
    await peer.dm("!lesson add py101 Setup | Install Python and pandas.", member=peer.mei)
    assert peer.texts() == [
        "Course py101 added: Python for data analysis, $19.99.\n"
        "Add lessons with /lesson add CODE [day=N] TITLE \\| CONTENT…",
        "Lesson 1 added: Setup",
    ]


async def _pay(app: App, user: discord.abc.User) -> None:
    """The sandbox provider's payment, delivered the way payments are (through app.send)."""
    paid = await app.pay_sandbox(await app.community(), await _member_of(app, user))
    assert paid is not None
    await app.send(paid)


async def test_a_course_is_listed_bought_with_its_button_paid_and_learned(peer: Peer, app: App) -> None:
    await _sell_py101(peer, app)
    await peer.say("!courses")
    assert peer.texts() == [
        "Courses:\n`py101`  Python for data analysis · $19.99\n/course CODE for details, /buy CODE to buy."
    ]
    await peer.say("!course py101")
    assert peer.texts() == ["**Python for data analysis** (py101)\nPrice: $19.99\n1 lesson\n1. Setup"]
    (buy,) = peer.components()  # a Discord button whose press is the command
    assert (buy.label, buy.custom_id, buy.url) == ("Buy", "cmd:/buy py101", "")

    sent = await peer.interact("button", custom_id=buy.custom_id)
    assert [(s.kind, s.ephemeral) for s in sent] == [("defer", False), ("followup", False)]
    assert sent[1].text == (
        "Order #1: Python for data analysis, $19.99. It stays open for 60 minutes.\n"
        "Sandbox payment: nothing is charged. Type :pay to complete it."
    )

    await _pay(app, peer.ana)
    (delivered,) = peer.sent()
    assert await _in_dm(delivered, peer.ana)
    assert delivered.content == (
        "Payment received for order #1: Python for data analysis.\n"
        "It is yours now: /learn py101 opens the first lesson.\n"
        "+19 points for your purchase."
    )
    await peer.dm("!learn py101")
    assert peer.texts() == [
        "Lesson 1 of 1: Setup\nInstall Python and pandas.",
        "You have finished Python for data analysis. Well done!",
    ]
    sent = await peer.interact("slash_points", command="orders")  # personal: only Ana sees it
    assert [(s.kind, s.ephemeral) for s in sent] == [("defer", True), ("followup", True)]
    assert sent[1].text == "Your orders:\n\\#1 Python for data analysis · $19.99 · delivered"


async def test_a_slash_course_and_buy_carry_their_buttons_and_typed_options(peer: Peer, app: App) -> None:
    await _sell_py101(peer, app)
    sent = await peer.interact("slash_points", command="course", options={"code": "py101"})
    assert sent[1].text == "**Python for data analysis** (py101)\nPrice: $19.99\n1 lesson\n1. Setup"
    assert components_of(sent[1].payload) == [Component("Buy", custom_id="cmd:/buy py101", style=2)]
    sent = await peer.interact("slash_points", command="buy", options={"code": "py101"})
    assert sent[1].text.startswith("Order #1: Python for data analysis, $19.99.")


class LinkCheckout:
    """A provider that answers like Stripe Checkout: a hosted page to open."""

    name = "stripe"

    def accepts(self, currency: str) -> bool:
        return currency == "USD"

    async def start(self, order: Order) -> Checkout:
        url = f"https://checkout.stripe.com/c/pay/cs_test_{order.id}"
        return Checkout(msg("Pay {price} securely with Stripe: press Pay.", price=order.amount), url=url)

    async def refund(self, order: Order, amount_minor: int) -> str:
        return f"re_test_{order.id}"


async def test_a_checkout_url_is_a_link_button_and_its_payment_is_delivered_by_dm(
    peer: Peer, app: App
) -> None:
    app.services.orders.register(LinkCheckout(), first=True)
    await _sell_py101(peer, app)
    await peer.dm("!buy py101")
    assert peer.texts() == [
        "Order #1: Python for data analysis, $19.99. It stays open for 60 minutes.\n"
        "Pay $19.99 securely with Stripe: press Pay."
    ]
    (pay,) = peer.components()
    assert pay == Component("Pay", url="https://checkout.stripe.com/c/pay/cs_test_1", style=5)  # a link

    sent = await peer.interact("slash_points", command="buy", options={"code": "py101"})  # again
    assert sent[1].text.startswith("Order #1: Python for data analysis, $19.99.")  # still open
    assert components_of(sent[1].payload) == [
        Component("Pay", url="https://checkout.stripe.com/c/pay/cs_test_1", style=5)
    ]

    order = await app.services.orders.get(1)  # what the Stripe webhook does once it is paid
    await app.send(await app.settle_payment(order.id, "stripe", "cs_test_1", order.amount))
    (delivered,) = peer.sent()
    assert await _in_dm(delivered, peer.ana)
    assert delivered.content.startswith("Payment received for order #1: Python for data analysis.\n")


async def test_a_mall_item_is_redeemed_with_its_button_and_with_redeem(peer: Peer, app: App) -> None:
    await _creator(app, peer.mei)
    await peer.dm("!mall add tshirt 5 reward Studyhall T-shirt | We post it to you", member=peer.mei)
    assert peer.texts() == ["Mall item tshirt added: Studyhall T-shirt, 5 points, stock unlimited."]
    await peer.say("!mall")
    assert peer.texts() == [
        "Mall (points):\n`tshirt`  Studyhall T-shirt · 5 · unlimited\n/redeem CODE to get one."
    ]
    (redeem,) = peer.components()
    assert (redeem.label, redeem.custom_id) == ("Studyhall T-shirt", "cmd:/redeem tshirt")

    sent = await peer.interact("button", custom_id=redeem.custom_id)
    assert sent[-1].text == "Studyhall T-shirt costs 5 points; you have 0."
    await peer.dm("!checkin")
    assert peer.texts() == ["Checked in: +5 points.\nStreak: 1 day."]
    sent = await peer.interact("button", custom_id=redeem.custom_id)
    assert sent[-1].text == "You redeemed Studyhall T-shirt for 5 points.\nHow you get it: We post it to you"
    await peer.dm("!redeem tshirt")  # typed, with nothing left
    assert peer.texts() == ["Studyhall T-shirt costs 5 points; you have 0."]
    ana = await _member_of(app, peer.ana)
    assert (await app.services.ledger.balance(ana.community_id, ana.id)).balance == 0


async def test_a_referral_by_slash_start_and_by_typed_start_pays_the_referrer_by_dm(
    peer: Peer, app: App, clock: ManualClock
) -> None:
    await app.run_due_jobs()  # the jobs' schedules start now
    await _sell_py101(peer, app)
    await peer.dm("!commission set py101 10%", member=peer.mei)
    assert peer.texts() == ["Referrers now earn 10% on py101."]
    await peer.dm("!ref")
    (link,) = peer.texts()
    match = re.fullmatch(
        r"\*\*Your invitation link:\*\* `/start (ref_\w+)`\n"
        r"Invited 0 · took part 0 · first purchases 0\nPoints from invitations: 0",
        link,
    )
    assert match is not None
    payload = match.group(1)

    omar = await dpytest.member_join(peer.guild, name="Omar")
    li = await dpytest.member_join(peer.guild, name="Li")
    await dpytest.run_all_events()
    sent = await peer.interact("slash_points", member=omar, command="start", options={"payload": payload})
    assert sent[1].text == (
        "Welcome to testhall, Omar!\nAna invited you. +10 welcome points.\n"
        "Send /help to see what you can do here."
    )
    assert [c.label for c in components_of(sent[1].payload)] == ["Help", "Language"]
    await peer.dm(f"/start {payload}", member=li)  # typed as text in a DM
    assert peer.texts() == [
        "Welcome to testhall, Li!\nAna invited you. +10 welcome points.\n"
        "Send /help to see what you can do here."
    ]
    ana = await _member_of(app, peer.ana)
    for referee in (omar, li):
        referral = await app.services.referrals.referral_of((await _member_of(app, referee)).id)
        assert referral is not None and referral.referrer_id == ana.id

    await peer.dm("!buy py101", member=omar)
    peer.sent()
    await _pay(app, omar)
    bought, first, commission = peer.sent()
    assert await _in_dm(bought, omar)
    assert bought.content.startswith("Payment received for order #1: Python for data analysis.")
    assert await _in_dm(first, peer.ana) and await _in_dm(commission, peer.ana)
    assert first.content == "Omar, whom you invited, made a first purchase.\n+50 points for your invitation."
    assert commission.content == (
        "You earned a commission of $1.99 on Omar's order; it is available from 2026-01-19."
    )
    await peer.dm("!commissions")
    assert peer.texts() == [
        "Your commissions:\nCommissions: $1.99 earned ($0.00 available, $1.99 pending, $0.00 paid)\n"
        "Latest:\nOrder #1 (level 1): $1.99 · held until 2026-01-19"
    ]

    clock.advance(timedelta(days=15))  # the hold ends; the referrals job tells Ana
    assert "referrals" in await app.run_due_jobs()
    await dpytest.run_all_events()
    (released,) = peer.sent()
    assert await _in_dm(released, peer.ana)
    assert released.content == "A commission of $1.99 is now available to you (/commissions)."


QUESTION = "How do I merge two DataFrames on a common column in pandas?"
POSTED = (
    "Question #1 is posted. Its bounty of 5 points is held until you accept an answer.\n"
    "Answer with /answer 1 TEXT, or reply to the question."
)


async def _answered_by_reply(peer: Peer, app: App, to: discord.Message | dict[str, Any]) -> None:
    """Mei answers question #1 by replying to it; Ana accepts; the bounty is Mei's."""
    mei = discord.utils.escape_markdown(peer.mei.display_name)
    await peer.reply("Use pd.merge(left, right, on='key').", to=to, member=peer.mei)
    answered, told = peer.sent()
    assert answered.channel == peer.lounge
    assert answered.content == "Your answer A1 to question #1 is in."
    assert await _in_dm(told, peer.ana)
    assert told.content == (
        f"{mei} answered your question #1: Use pd.merge(left, right, on='key').\n/accept A1 if it solves it."
    )

    await peer.say("!accept A1")
    accepted, paid = peer.sent()
    assert accepted.content == f"Answer A1 accepted: {mei} receives 15 points."  # the bounty and the bonus
    assert await _in_dm(paid, peer.mei)
    assert paid.content == "Your answer to question #1 was accepted: +15 points."
    mei_member = await _member_of(app, peer.mei)
    assert (await app.services.ledger.balance(mei_member.community_id, mei_member.id)).balance == 16


async def test_a_question_is_answered_by_a_discord_reply_accepted_and_found(peer: Peer, app: App) -> None:
    await peer.dm("!checkin")  # 5 points for the bounty
    peer.sent()
    asked = await peer.say(f"!ask {QUESTION} bounty 5")
    assert peer.texts() == [POSTED]
    await _answered_by_reply(peer, app, asked)

    await peer.say("!search merge dataframes")
    found = f"Found:\n\\#1 {QUESTION} (answered, 1 answer · bounty 5)"
    assert peer.texts() == [found]
    sent = await peer.interact("slash_points", command="search", options={"words": "merge dataframes"})
    assert sent[1].text == found


async def test_a_reply_to_a_slash_ask_answers_it(peer: Peer, app: App) -> None:
    await peer.dm("!checkin")
    peer.sent()
    sent = await peer.interact("slash_points", command="ask", options={"question": f"{QUESTION} bounty 5"})
    assert [(s.kind, s.ephemeral) for s in sent] == [("defer", False), ("followup", False)]
    assert sent[1].text == POSTED
    await _answered_by_reply(peer, app, sent[1].message)  # the bot's message is the question


async def test_a_reply_to_another_message_is_no_answer(peer: Peer, app: App) -> None:
    await peer.dm("!checkin")
    await peer.say(f"!ask {QUESTION} bounty 5")
    other = await peer.say("and a message that asks nothing at all", member=peer.mei)
    peer.sent()
    await peer.reply("Use pd.merge(left, right, on='key').", to=other)
    assert peer.texts() == []
    await peer.say("!q 1")
    ana = discord.utils.escape_markdown(peer.ana.display_name)
    assert peer.texts() == [
        f"**Question #1 by {ana}** · open · bounty 5\n{QUESTION}\n"
        "/answer 1 TEXT to answer; /up A… to upvote; the asker can /accept A…."
    ]


async def test_a_coupon_is_applied_through_the_slash_buy_option(peer: Peer, app: App) -> None:
    await _sell_py101(peer, app)
    await peer.dm("!coupon add SPRING 25%", member=peer.mei)
    peer.sent()
    sent = await peer.interact("slash_points", command="buy", options={"code": "py101", "coupon": "SPRING"})
    assert sent[1].text == (
        "Coupon applied: $4.99 off $19.99.\n"
        "Order #1: Python for data analysis, $15.00. It stays open for 60 minutes.\n"
        "Sandbox payment: nothing is charged. Type :pay to complete it."
    )
    await _pay(app, peer.ana)
    (delivered,) = peer.texts()
    assert delivered.startswith("Payment received for order #1: Python for data analysis.\n")


async def test_logging_in_tells_an_unreachable_discord_from_a_rejected_token(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against loopback peers: a closed port (retry later), then a server answering 401 as
    Discord does for a revoked token (give up: exit 2)."""
    from aiohttp import web

    from bot.adapters.discord.adapter import DiscordAdapter
    from bot.startup import Rejected, Unavailable
    from tests.telegram_peer import free_port

    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GxYz12.revoked-token-for-tests"
    adapter = DiscordAdapter(app, {"token": token})
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{free_port()}/api/v10")
    with pytest.raises(Unavailable) as unreachable:
        await adapter.start()
    assert "Cannot connect to host 127.0.0.1" in str(unreachable.value) and token not in str(
        unreachable.value
    )

    async def users_me(request: web.Request) -> web.Response:
        return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)

    server = web.Application()
    server.router.add_get("/api/v10/users/@me", users_me)
    runner = web.AppRunner(server)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    try:
        with pytest.raises(Rejected) as rejected:
            await adapter.start()  # the same adapter, once more: a retry after a failed attempt
    finally:
        await adapter.stop()
        await runner.cleanup()
    assert (
        str(rejected.value) == "discord: Discord rejected the token (401 Unauthorized); check DISCORD_TOKEN"
    )


async def test_without_sharding_the_client_is_a_plain_one_holding_the_dms(app: App) -> None:
    adapter = DiscordAdapter(app, {"token": "unused"})
    assert type(adapter.client) is StudyhallClient
    assert not isinstance(adapter.client, discord.AutoShardedClient)
    assert adapter.holds_shard_zero
    await adapter.client.close()


@pytest.mark.parametrize(
    ("ids", "shard_ids", "zero"), [("0,2", [0, 2], True), ("1,3", [1, 3], False), (None, None, True)]
)
async def test_shard_settings_make_an_auto_sharded_client_for_this_processs_shards(
    app: App, ids: str | None, shard_ids: list[int] | None, zero: bool
) -> None:
    settings = {"token": "unused", "shard_count": "4", **({"shard_ids": ids} if ids else {})}
    adapter = DiscordAdapter(app, settings)
    client = adapter.client
    assert isinstance(client, ShardedStudyhallClient) and isinstance(client, discord.AutoShardedClient)
    assert client.shard_count == 4 and client.shard_ids == shard_ids
    assert adapter.holds_shard_zero is zero
    assert client.intents == StudyhallClient(adapter).intents  # the same events as without shards
    await client.close()


async def test_only_the_process_holding_shard_zero_publishes_the_slash_commands(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    for ids in ("0", "1"):
        adapter = DiscordAdapter(app, {"token": "unused", "shard_count": "2", "shard_ids": ids})

        async def sync(ids: str = ids) -> None:
            synced.append(int(ids))

        monkeypatch.setattr(adapter, "sync_commands", sync)
        await adapter.on_ready()
        await adapter.on_ready()  # a reconnect: not again
        await adapter.client.close()
    assert synced == [0]
