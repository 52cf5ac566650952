"""bot/handlers/paid_chats.py: a paid chat's whole life cycle, travelled through in the console; and
naming the chat to bind by @name or by a forwarded post, with events handed to the App."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.adapters.render import render_plain
from bot.app import App
from core.audit.tables import audit_log
from core.clock import ManualClock
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from core.i18n import Msg, msg
from tests.conftest import ALL_JOBS as JOBS
from tests.conftest import START, ConsoleDriver, snapshot
from tests.shop_fixtures import Shop

SETUP = (
    ":as Mei creator",
    "/plan add monthly 9.99 USD month trial=7 grace=2 Monthly membership",
    ":in vip",
    "/bind plan monthly",
    ":dm",
)


async def test_trial_pay_renew_fail_grace_removal_pay_again_back_in(console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana")
    assert await console(":in vip") == [
        "(you are not let into vip)",
        "bot> vip is for members only. To get in: /subscribe monthly.",
    ]
    await console("/subscribe monthly")  # the trial
    assert await console(":in vip", "Hello from the trial!", ":dm") == [
        "bot→Ana> Welcome to vip!",
        "(in group chat vip)",
        "(in your private chat with the bot)",
    ]
    # Past the trial, unpaid: out of the chat.
    assert await console(":clock +8d") == [
        f"(sandbox time 2026-01-13 09:00 UTC; jobs run: {JOBS})",
        "bot> Your access to Monthly membership has ended. /subscribe monthly to come back.",
        "bot> vip is for members only. To get in: /subscribe monthly.",
    ]
    # Pay: invited back by the next check.
    await console("/subscribe monthly", ":pay")
    assert await console(":clock +30m") == [
        "(sandbox time 2026-01-13 09:30 UTC; jobs run: orders, subscriptions, paid_chats, referrals,"
        " pushes, payments_reconcile)",
        "bot> You have access to vip: join with :in vip (for you only, valid 24 hours).",
    ]
    await console(":in vip", ":dm")
    # Renew in time, then let the next renewal fail: grace keeps her in, the end takes her out.
    await console(":clock 2026-02-10T09:00", "/subscribe monthly", ":pay")
    assert (await console("/subscription"))[-1] == "bot> Monthly membership · active · renews on 2026-03-13"
    out = await console(":clock 2026-03-13T09:30")
    assert (
        "bot> Your renewal of Monthly membership is not paid yet. Your access continues until 2026-03-15:"
        in (out[1])
    )
    assert len(out) == 2  # in grace: still in the chat
    out = await console(":clock 2026-03-15T09:30")
    assert out[1:] == [
        "bot> Your subscription to Monthly membership has ended. /subscribe monthly to come back.",
        "bot> vip is for members only. To get in: /subscribe monthly.",
    ]
    # Pay again: back in.
    await console("/subscribe monthly", ":pay")
    assert await console(":in vip") == ["bot→Ana> Welcome to vip!", "(in group chat vip)"]
    assert await console(":as Mei", "/access check") == [
        "(you are Mei, creator, in vip)",
        "bot> Paid chats are in order: nothing to do.",
    ]


async def test_creators_see_bindings_and_a_dry_run(console: ConsoleDriver) -> None:
    await console(*SETUP, ":as Ana", ":in lounge", ":as Mei", ":in lounge", "/bind plan monthly", ":dm")
    assert await console("/bindings", "/access check") == [
        "bot> Paid chats:",
        "bot> vip (console): plan monthly",
        "bot> lounge (console): plan monthly",
        "bot> 1 change would be made:",
        "bot> remove Ana · lounge · no course, plan or tier that grants it",
        "bot> /access fix to do it now (the scheduled check does it every 30 minutes).",
    ]
    assert await console("/access fix", "/access fix") == [
        "bot> Done: 1 change.",
        "bot> remove Ana · lounge · no course, plan or tier that grants it",
        "bot→Ana> lounge is for members only. To get in: /subscribe monthly.",
        "bot> Paid chats are in order: nothing to do.",
    ]
    # From the private chat: the groups the bot is in, as buttons that bind the one pressed.
    assert await console("/bind tier premium") == [
        "bot> Which chat needs tier premium?",
        "bot> [1] lounge",
        "bot> [2] vip",
    ]
    assert (await console("2"))[0] == "bot> vip is now paid: it needs tier premium."
    assert "bot> vip (console): tier premium" in await console("/bindings")
    refused = await console("/bind tier premium vip")
    assert refused == ["bot> Choose the chat with one of the buttons of /bind tier premium."]
    # From the private chat, /unbind offers the paid chats (a deleted one too) as buttons.
    assert await console("/unbind") == [
        "bot> Which chat should be free again?",
        "bot> [1] vip (plan monthly, tier premium)",
        "bot> [2] lounge (plan monthly)",
    ]
    assert await console("1") == ["bot> vip is free again."]
    assert await console(":in lounge", "/unbind", "/unbind") == [
        "(in group chat lounge)",
        "bot> lounge is free again.",
        "bot> lounge was not paid.",
    ]
    assert await console(":dm", "/unbind") == [
        "(in your private chat with the bot)",
        "bot> No paid chats yet. Send /bind course|plan|tier ID inside a group.",
    ]


async def test_a_tier_chat_lets_in_whom_a_plan_gives_the_tier(console: ConsoleDriver) -> None:
    await console(":as Mei creator", "/plan add gold 20 USD month grace=0 tier=VIP Gold", ":in lounge")
    await console("/bind tier VIP", ":dm", ":as Ana")
    assert await console(":in lounge") == [
        "(you are not let into lounge)",
        "bot> lounge is for members only. To get in: tier VIP.",
    ]
    await console("/subscribe gold", ":pay")
    assert await console(":in lounge", ":dm") == [
        "bot→Ana> Welcome to lounge!",
        "(in group chat lounge)",
        "(in your private chat with the bot)",
    ]
    # The plan ends: the tier goes with it, and so does the chat.
    out = await console(":clock +32d")
    assert out[-1] == "bot> lounge is for members only. To get in: tier VIP."


# -- naming the chat from the private chat: @name, or a forwarded post -------------------------

CLUB = ChatRef("console", "channel:club", ChatKind.CHANNEL, "Data club")
_ids = itertools.count(1)


class FindingPort:
    """A platform whose groups and channels have public names (as Telegram's @channel)."""

    platform = "console"

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def find_chat(self, handle: str) -> ChatRef | None:
        self.asked.append(handle)
        return CLUB if handle == "@dataclub" else None

    async def missing_rights(self, chat_id: str) -> list[Msg]:
        return [msg("give the bot the {right} right", right="Ban users")]


@pytest.fixture
def finding(app: App) -> FindingPort:
    port = FindingPort()
    app.services.paid_chats.ports["console"] = port  # type: ignore[assignment]
    return port


def said(who: str, text: str = "", *, chat: ChatRef | None = None, forwarded: ChatRef | None = None) -> Event:
    sender = UserRef("console", who.lower(), who)
    where = chat or ChatRef("console", f"dm:{who.lower()}", ChatKind.PRIVATE, who)
    kind = EventKind.COMMAND if text.startswith("/") else EventKind.MESSAGE
    return Event(
        "console",
        "testhall",
        where,
        sender,
        kind,
        START,
        text=text,
        message_id=f"m{next(_ids)}",
        forwarded_from=forwarded,
    )


async def told(app: App, event: Event) -> list[str]:
    return [render_plain(out.reply, "en").text for out in await app.handle(event)]


async def bound(app: App) -> list[tuple[str, str, str]]:
    return [
        (b.chat.title, b.kind, b.target)
        for b in await app.services.paid_chats.bindings(await app.community())
    ]


async def test_bind_names_a_public_chat_by_its_handle(app: App, shop: Shop, finding: FindingPort) -> None:
    assert await told(app, said("Mei", "/bind course py101")) == [
        "The bot is in no group or channel yet: add it as an administrator there, then send this again.\n"
        "Or forward a post from the channel here, or send /bind course py101 @channel."
    ]
    assert await told(app, said("Mei", "/bind course py101 @dataclub")) == [
        "Data club is now paid: it needs course py101.\n"
        "Members without it are taken out when they join or lapse; /access check shows what would change.\n"
        "Before it works, fix this:\n"
        "give the bot the Ban users right"
    ]
    assert finding.asked == ["@dataclub"] and await bound(app) == [("Data club", "course", "py101")]
    before = await snapshot(app.db)
    assert await told(app, said("Mei", "/bind plan none @nobody")) == [
        "The bot finds no public group or channel @nobody: check the name, or forward a post from the"
        " channel here instead."
    ]
    assert await told(app, said("Mei", "/bind course py101 club")) == [
        "Choose the chat with one of the buttons of /bind course py101.\n"
        "Or forward a post from the channel here, or send /bind course py101 @channel."
    ]
    assert await snapshot(app.db) == before


async def test_where_chats_have_no_public_names_at_names_are_refused(app: App, shop: Shop) -> None:
    await told(app, said("Mei", "/help"))  # the private chat is known
    before = await snapshot(app.db)
    assert await told(app, said("Mei", "/bind course py101 @dataclub")) == [
        "Chats cannot be named by @name here: send /bind course|plan|tier ID and choose the chat with its"
        " buttons."
    ]
    assert await snapshot(app.db) == before


async def test_a_creators_forwarded_post_binds_its_channel_after_bind(
    app: App, shop: Shop, finding: FindingPort, clock: ManualClock
) -> None:
    first = await told(app, said("Mei", forwarded=CLUB))
    assert first == [
        "To make Data club paid, send /bind course|plan|tier ID first, then forward its post here again."
    ]
    await told(app, said("Mei", "/bind course py101"))
    clock.advance(timedelta(minutes=11))  # too late: the choice waits ten minutes
    assert await told(app, said("Mei", forwarded=CLUB)) == first
    await told(app, said("Mei", "/bind course py101"))
    group = ChatRef("console", "group:g", ChatKind.GROUP, "g")
    assert await told(app, said("Mei", "Fwd: new lesson", chat=group, forwarded=CLUB)) == []  # not there
    # A forwarded post is the channel's text, never a command, even when it starts with "/".
    [answer] = await told(app, said("Mei", "/points: how to see yours (week 3 notes)", forwarded=CLUB))
    assert answer.startswith("Data club is now paid: it needs course py101.")
    assert await bound(app) == [("Data club", "course", "py101")]
    assert await told(app, said("Mei", forwarded=CLUB)) == first  # used up
    async with app.db.read() as conn:
        details = (
            await conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "chat.bind"))
        ).scalars()
        assert [json.loads(d)["via"] for d in details] == ["forward"]


async def test_anyone_elses_forwarded_post_does_nothing(app: App, shop: Shop, finding: FindingPort) -> None:
    await told(app, said("Ana", "/help"))
    before = await snapshot(app.db)
    assert await told(app, said("Ana", forwarded=CLUB)) == []
    assert await told(app, said("Ana", "Week 3 notes are up", forwarded=CLUB)) == []
    assert await told(app, said("Ana", "/points", forwarded=CLUB)) == []  # not run: the channel's text
    assert await snapshot(app.db) == before
