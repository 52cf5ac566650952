"""A paid Telegram channel end to end, through the real python-telegram-bot Application with the
adapter on a recording Bot API, fed update payloads as the Bot API sends them: the bot made an
admin of a channel records it (``my_chat_member``); /bind in the creator's private chat offers it
as a button, takes ``@channel`` (getChat), or takes a post forwarded from it (``forward_origin``);
join requests in the channel are approved or declined; reconciliation sends single-use invites
and takes out members whose access lapsed (ban, then unban only if banned); channel posts are
nobody's activity."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.telegram import adapter as telegram_adapter
from bot.adapters.telegram.ratelimit import PerChatRateLimiter
from bot.app import App
from core.access.tables import chat_bindings, chat_memberships
from core.audit.tables import audit_log
from core.catalog.money import Money
from core.clock import ManualClock
from core.events import UserRef
from core.members.models import Member, Role
from core.members.tables import chats
from core.storage.state import get_state
from tests.conftest import START, snapshot
from tests.telegram_peer import BotApiError, RecordedBot, recorded_bot

DATE = int(START.timestamp())
BOT = {"id": 42, "is_bot": True, "first_name": "Study", "username": "studyhall_bot"}
MEI = {"id": 9, "is_bot": False, "first_name": "Mei", "language_code": "en"}  # the creator
ANA = {"id": 100, "is_bot": False, "first_name": "Ana", "language_code": "en"}
BEN = {"id": 11, "is_bot": False, "first_name": "Ben", "language_code": "en"}
CHANNEL = {"id": -1002001, "type": "channel", "title": "Data club premium"}  # private: no username
OPEN = {"id": -1002002, "type": "channel", "title": "Data club open", "username": "dataclubopen"}
RIGHTS = dict.fromkeys(
    [
        "can_manage_chat",
        "can_change_info",
        "can_post_messages",
        "can_edit_messages",
        "can_delete_messages",
        "can_invite_users",
        "can_restrict_members",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    ],
    True,
) | {"can_be_edited": False, "can_promote_members": False, "can_manage_video_chats": False}
BOT_ADMIN = {"status": "administrator", "user": BOT, "is_anonymous": False, **RIGHTS}
FULL_OPEN = {  # getChat("@dataclubopen") as the Bot API answers it
    **OPEN,
    "active_usernames": ["dataclubopen"],
    "accent_color_id": 3,
    "max_reaction_count": 11,
    "accepted_gift_types": {
        "unlimited_gifts": False,
        "limited_gifts": False,
        "unique_gifts": False,
        "premium_subscription": False,
        "gifts_from_channels": False,
    },
    "description": "Free notes from the data club",
    "has_visible_history": True,
}
INVITE = {
    "invite_link": "https://t.me/+kQ3xV9aZpLw1ZDQy",
    "creator": BOT,
    "creates_join_request": False,
    "is_primary": False,
    "is_revoked": False,
    "name": "studyhall 11",
    "member_limit": 1,
    "expire_date": DATE + 86400,
}


def private_chat(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


SENT = {"message_id": 900, "date": DATE, "chat": private_chat(MEI), "text": "ok"}
RESULTS: dict[str, Any] = {
    "sendMessage": SENT,
    "getChatMember": BOT_ADMIN,
    "getChat": FULL_OPEN,
    "createChatInviteLink": INVITE,
}


def dm(update_id: int, user: dict[str, Any], text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": DATE,
        "chat": private_chat(user),
        "from": user,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def forwarded_post(update_id: int, user: dict[str, Any]) -> dict[str, Any]:
    """A photo post of the channel (no caption), forwarded to the bot privately."""
    message = {
        "message_id": update_id,
        "date": DATE,
        "chat": private_chat(user),
        "from": user,
        "forward_origin": {"type": "channel", "chat": CHANNEL, "message_id": 314, "date": DATE - 3600},
        "forward_from_chat": CHANNEL,
        "forward_from_message_id": 314,
        "forward_date": DATE - 3600,
        "photo": [
            {
                "file_id": "AgAD-small",
                "file_unique_id": "AQAD1",
                "width": 90,
                "height": 60,
                "file_size": 1200,
            },
            {
                "file_id": "AgAD-big",
                "file_unique_id": "AQAD2",
                "width": 1280,
                "height": 853,
                "file_size": 98000,
            },
        ],
    }
    return {"update_id": update_id, "message": message}


def made_admin(update_id: int) -> dict[str, Any]:
    """The creator adds the bot to the channel as an administrator with every right."""
    change = {
        "chat": CHANNEL,
        "from": MEI,
        "date": DATE,
        "old_chat_member": {"status": "left", "user": BOT},
        "new_chat_member": BOT_ADMIN,
    }
    return {"update_id": update_id, "my_chat_member": change}


def join_request(update_id: int, user: dict[str, Any]) -> dict[str, Any]:
    """``user`` asks to join through the channel's join-request link."""
    request = {
        "chat": CHANNEL,
        "from": user,
        "user_chat_id": user["id"],
        "date": DATE + update_id,
        "invite_link": {
            "invite_link": "https://t.me/+Zx1RequestOnly",
            "creator": MEI,
            "creates_join_request": True,
            "is_primary": False,
            "is_revoked": False,
            "name": "Members",
        },
    }
    return {"update_id": update_id, "chat_join_request": request}


def channel_post(update_id: int, text: str) -> dict[str, Any]:
    post = {
        "message_id": 400 + update_id,
        "date": DATE,
        "chat": CHANNEL,
        "sender_chat": CHANNEL,
        "text": text,
    }
    return {"update_id": update_id, "channel_post": post}


def press(update_id: int, user: dict[str, Any], data: str) -> dict[str, Any]:
    message = {"message_id": 900, "date": DATE, "chat": private_chat(user), "text": "ok", "from": BOT}
    query = {"id": f"q{update_id}", "from": user, "chat_instance": "c", "message": message, "data": data}
    return {"update_id": update_id, "callback_query": query}


def sent(calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """(chat id, text) of each message the bot sent."""
    return [(str(p["chat_id"]), p["text"]) for e, p in calls if e == "sendMessage"]


def buttons(calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """(label, callback data) of the buttons of the messages the bot sent."""
    found = []
    for endpoint, params in calls:
        markup = params.get("reply_markup") if endpoint == "sendMessage" else None
        if markup is None:
            continue
        markup = json.loads(markup) if isinstance(markup, str) else markup
        found.extend((b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row)
    return found


async def telegram_member(app: App, user: dict[str, Any], role: Role | None = None) -> Member:
    community = await app.community()
    members = app.services.members
    member = await members.ensure_member(community, UserRef("telegram", str(user["id"]), user["first_name"]))
    return await members.assign_role(community, member, role, via="test") if role else member


async def _world(app: App, results: dict[str, Any]) -> AsyncIterator[RecordedBot]:
    """Mei (a creator, on Telegram), the course py101 and the plan monthly (a 7-day trial)."""
    community = await app.community()
    mei = await telegram_member(app, MEI, Role.CREATOR)
    await app.services.catalog.add_course(community, mei, "py101", Money("USD", 1999), "Python for data")
    await app.services.plans.add(
        community,
        mei,
        code="monthly",
        title="Monthly membership",
        price=Money("USD", 999),
        period="month",
        trial_days=7,
        grace_days=0,
    )
    async with recorded_bot(app, {**RESULTS, **results}) as bot:
        yield bot


@pytest.fixture(autouse=True)
def _unpaced_private_chats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram's one message a second in a private chat is tests/test_telegram_ratelimit.py's
    business; here it would only make each test wait seconds."""
    unpaced = partial(PerChatRateLimiter, private=(100, 1))
    monkeypatch.setattr(telegram_adapter, "PerChatRateLimiter", unpaced)


@pytest.fixture
async def bot(app: App) -> AsyncIterator[RecordedBot]:
    async for running in _world(app, {}):
        yield running


async def bound(app: App) -> list[tuple[str, str, str, str]]:
    """(chat external id, chat kind, binding kind, target) of every binding."""
    query = select(chats.c.external_id, chats.c.kind, chat_bindings.c.kind, chat_bindings.c.target).join(
        chat_bindings, chat_bindings.c.chat_id == chats.c.id
    )
    async with app.db.read() as conn:
        return [tuple(row) for row in await conn.execute(query.order_by(chat_bindings.c.id))]


async def audited(app: App, action: str) -> list[dict[str, Any]]:
    query = select(audit_log.c.detail).where(audit_log.c.action == action).order_by(audit_log.c.id)
    async with app.db.read() as conn:
        return [json.loads(detail) for detail in (await conn.execute(query)).scalars()]


async def membership(app: App, user: dict[str, Any]) -> tuple[bool, bool] | None:
    """(in the channel, invited) as studyhall knows it, or None when it knows nothing."""
    community = await app.community()
    member = await app.services.members.find_by_identity(community.id, "telegram", str(user["id"]))
    assert member is not None
    query = (
        select(chat_memberships.c.in_chat, chat_memberships.c.invited_at)
        .join(chats, chats.c.id == chat_memberships.c.chat_id)
        .where(chats.c.external_id == str(CHANNEL["id"]), chat_memberships.c.member_id == member.id)
    )
    async with app.db.read() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else (bool(row.in_chat), row.invited_at is not None)


async def paid_channel(app: App, bot: RecordedBot, kind: str, target: str) -> None:
    """The bot made an admin of the channel, which Mei then binds with its button."""
    await bot(made_admin(1))
    [(_, data)] = buttons(await bot(dm(2, MEI, f"/bind {kind} {target}")))
    await bot(press(3, MEI, data))
    assert await bound(app) == [(str(CHANNEL["id"]), "channel", kind, target)]


# -- the bot learns of the channel; /bind offers it --------------------------------------------


async def test_made_an_admin_of_a_channel_the_bot_offers_it_to_bind_and_binds_the_one_pressed(
    app: App, bot: RecordedBot
) -> None:
    calls = await bot(made_admin(1))
    assert sent(calls) == [("9", "The bot now has every right it needs in Data club premium.")]
    async with app.db.read() as conn:
        row = (await conn.execute(select(chats).where(chats.c.external_id == str(CHANNEL["id"])))).one()
    assert (row.kind, row.title, row.bot_present) == ("channel", "Data club premium", True)

    calls = await bot(dm(2, MEI, "/bind course py101"))
    [(chat_id, text)] = sent(calls)
    assert chat_id == "9"
    assert text.splitlines() == [
        "Which chat needs course py101?",
        "Or forward a post from the channel here, or send /bind course py101 @channel.",
    ]
    assert buttons(calls) == [("Data club premium", f"cmd:/bind course py101 #{row.id}")]

    calls = await bot(press(3, MEI, f"cmd:/bind course py101 #{row.id}"))
    assert ("getChatMember", {"chat_id": str(CHANNEL["id"]), "user_id": 42}) in calls  # its rights
    [(_, text)] = sent(calls)
    assert text.splitlines()[0] == "Data club premium is now paid: it needs course py101."
    assert "fix this" not in text  # the bot has every right it needs there
    assert await bound(app) == [(str(CHANNEL["id"]), "channel", "course", "py101")]
    assert [(d["chat"], d["via"]) for d in await audited(app, "chat.bind")] == [
        ("Data club premium", "command")
    ]
    mei = await telegram_member(app, MEI)
    assert await get_state(app.db, f"bind.waiting.{mei.id}") is None  # bound: a forward binds nothing now


async def test_bind_with_at_channel_looks_the_channel_up_and_binds_it(app: App, bot: RecordedBot) -> None:
    calls = await bot(dm(1, MEI, "/bind plan monthly @dataclubopen"))
    assert ("getChat", {"chat_id": "@dataclubopen"}) in calls
    [(_, text)] = sent(calls)
    assert text.splitlines()[0] == "Data club open is now paid: it needs plan monthly."
    assert await bound(app) == [(str(OPEN["id"]), "channel", "plan", "monthly")]
    assert [d["chat"] for d in await audited(app, "chat.bind")] == ["Data club open"]


@pytest.mark.parametrize(
    ("answer", "handle", "says"),
    [
        (
            BotApiError(400, "Bad Request: chat not found"),
            "@nosuchchannel",
            "The bot finds no public group or channel @nosuchchannel: check the name, or forward a post from"
            " the channel here instead.",
        ),
        (  # a person's username: not a chat to bind
            {
                "id": 555,
                "type": "private",
                "first_name": "Zoe",
                "username": "zoe_l",
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": FULL_OPEN["accepted_gift_types"],
            },
            "@zoe_l",
            "The bot finds no public group or channel @zoe_l: check the name, or forward a post from"
            " the channel here instead.",
        ),
        (None, "@data-club", "@data-club is not a chat's public name: write it as @name."),
        (
            None,
            "dataclubopen",
            "Choose the chat with one of the buttons of /bind course py101.\n"
            "Or forward a post from the channel here, or send /bind course py101 @channel.",
        ),
    ],
)
async def test_a_channel_that_cannot_be_found_binds_nothing(
    app: App, answer: Any, handle: str, says: str
) -> None:
    async for bot in _world(app, {"getChat": answer or FULL_OPEN}):
        await bot(dm(1, MEI, "/points"))  # Mei's first private message: the chat is known
        before = await snapshot(app.db)
        calls = await bot(dm(2, MEI, f"/bind course py101 {handle}"))
        [(_, text)] = sent(calls)
        assert text == says
        assert [e for e, _ in calls if e == "getChat"] == (["getChat"] if answer else [])
        assert await snapshot(app.db) == before


async def test_a_handle_longer_than_telegrams_is_refused_as_too_long(app: App, bot: RecordedBot) -> None:
    calls = await bot(dm(1, MEI, "/bind course py101 @" + "a" * 40))
    [(_, text)] = sent(calls)
    assert text.startswith("chat is too long (at most 40 characters).")
    assert await bound(app) == []


# -- a forwarded post ----------------------------------------------------------------------------


async def test_a_post_forwarded_after_bind_binds_its_channel(app: App, bot: RecordedBot) -> None:
    await bot(dm(1, MEI, "/bind plan monthly"))
    await bot(dm(2, MEI, "/bind course py101"))  # the newest choice counts
    calls = await bot(forwarded_post(3, MEI))
    [(chat_id, text)] = sent(calls)
    assert chat_id == "9" and text.splitlines()[0] == "Data club premium is now paid: it needs course py101."
    assert ("getChatMember", {"chat_id": str(CHANNEL["id"]), "user_id": 42}) in calls
    assert await bound(app) == [(str(CHANNEL["id"]), "channel", "course", "py101")]
    assert [(d["chat"], d["via"]) for d in await audited(app, "chat.bind")] == [
        ("Data club premium", "forward")
    ]
    # Used up: the same post forwarded again asks for /bind first.
    [(_, again)] = sent(await bot(forwarded_post(4, MEI)))
    assert again == (
        "To make Data club premium paid, send /bind course|plan|tier ID first,"
        " then forward its post here again."
    )
    assert await bound(app) == [(str(CHANNEL["id"]), "channel", "course", "py101")]


async def test_a_forward_without_a_recent_bind_asks_for_it_first(
    app: App, bot: RecordedBot, clock: ManualClock
) -> None:
    [(_, text)] = sent(await bot(forwarded_post(1, MEI)))
    assert text.startswith("To make Data club premium paid, send /bind course|plan|tier ID first")
    await bot(dm(2, MEI, "/bind course py101"))
    clock.advance(timedelta(minutes=11))  # a choice waits ten minutes
    [(_, text)] = sent(await bot(forwarded_post(3, MEI)))
    assert text.startswith("To make Data club premium paid")
    assert await bound(app) == []


async def test_a_learners_forwarded_post_does_nothing(app: App, bot: RecordedBot) -> None:
    await telegram_member(app, ANA)
    calls = await bot(forwarded_post(1, ANA))
    assert sent(calls) == [] and await bound(app) == []
    async with app.db.read() as conn:
        known = list((await conn.execute(select(chats.c.external_id))).scalars())
    assert str(CHANNEL["id"]) not in known  # the channel is not even recorded


# -- access to the channel -----------------------------------------------------------------------


async def bought_py101(app: App, member: Member, ref: str) -> None:
    """``member`` ordered py101 and paid for it (sandbox payment ``ref``)."""
    community = await app.community()
    order = await app.services.orders.order_course(
        community, member, await app.services.catalog.course(community, "py101")
    )
    await app.services.orders.record_payment(
        order.id, provider="sandbox", provider_ref=ref, paid=order.amount
    )


async def test_join_requests_are_approved_for_buyers_and_declined_with_the_way_in(
    app: App, bot: RecordedBot
) -> None:
    await paid_channel(app, bot, "course", "py101")
    ana = await telegram_member(app, ANA)
    await bought_py101(app, ana, "p1")

    calls = await bot(join_request(10, ANA))
    assert [(e, p["chat_id"], p["user_id"]) for e, p in calls if "JoinRequest" in e] == [
        ("approveChatJoinRequest", str(CHANNEL["id"]), 100)
    ]
    assert sent(calls) == [("100", "Welcome to Data club premium!")]
    assert await membership(app, ANA) == (True, False)

    calls = await bot(join_request(11, BEN))
    assert [(e, p["chat_id"], p["user_id"]) for e, p in calls if "JoinRequest" in e] == [
        ("declineChatJoinRequest", str(CHANNEL["id"]), 11)
    ]
    assert sent(calls) == [("11", "Data club premium is for members only. To get in: /buy py101.")]
    assert await membership(app, BEN) is None  # never in


async def test_reconciliation_sends_a_buyer_a_single_use_invite_once(app: App, bot: RecordedBot) -> None:
    await paid_channel(app, bot, "course", "py101")
    ben = await telegram_member(app, BEN)
    await bought_py101(app, ben, "p2")
    start = len(bot.recorder.calls)

    assert await app.job_runner.run_job("paid_chats") is True
    await app.send(await app.pending_notices())
    calls = [(e, p) for e, p in bot.recorder.calls[start:] if e != "getMe"]
    [invite] = [p for e, p in calls if e == "createChatInviteLink"]
    assert invite["chat_id"] == str(CHANNEL["id"]) and invite["member_limit"] == 1
    assert invite["expire_date"] == DATE + 86400 and invite["name"] == "studyhall 11"
    assert "creates_join_request" not in invite  # Telegram refuses it together with member_limit
    assert sent(calls) == [
        (
            "11",
            "You have access to Data club premium: join with https://t.me/+kQ3xV9aZpLw1ZDQy"
            " (for you only, valid 24 hours).",
        )
    ]
    assert await membership(app, BEN) == (False, True)
    assert [d["reason"] for d in await audited(app, "chat.invite")] == ["entitled but not in the chat"]

    start = len(bot.recorder.calls)  # the next run, within a day: no second invite
    assert await app.job_runner.run_job("paid_chats") is True
    assert [e for e, _ in bot.recorder.calls[start:] if e == "createChatInviteLink"] == []


async def test_a_member_whose_trial_lapsed_is_taken_out_of_the_channel(
    app: App, bot: RecordedBot, clock: ManualClock
) -> None:
    await paid_channel(app, bot, "plan", "monthly")
    community = await app.community()
    ana = await telegram_member(app, ANA)
    plan = await app.services.plans.get(community, "monthly")
    await app.services.subscriptions.subscribe(community, ana, plan)  # the 7-day trial
    await bot(join_request(10, ANA))
    assert await membership(app, ANA) == (True, False)

    clock.advance(timedelta(days=8))
    assert await app.job_runner.run_job("subscriptions") is True  # the trial ends
    start = len(bot.recorder.calls)
    assert await app.job_runner.run_job("paid_chats") is True
    await app.send(await app.pending_notices())
    calls = [(e, p) for e, p in bot.recorder.calls[start:] if e not in ("getMe", "getChatMember")]
    assert calls[:2] == [
        ("banChatMember", {"chat_id": str(CHANNEL["id"]), "user_id": 100}),
        ("unbanChatMember", {"chat_id": str(CHANNEL["id"]), "user_id": 100, "only_if_banned": True}),
    ]
    assert ("100", "Data club premium is for members only. To get in: /subscribe monthly.") in sent(calls)
    assert await membership(app, ANA) == (False, False)
    [removed] = await audited(app, "chat.remove")
    assert removed["reason"] == "no course, plan or tier that grants it"


async def test_a_channel_post_is_nobodys_activity(app: App, bot: RecordedBot) -> None:
    await paid_channel(app, bot, "course", "py101")
    before = await snapshot(app.db, exclude=())
    post = "Lesson 3 is out: grouping and summarising with pandas, with the notebook and two exercises."
    assert await bot(channel_post(20, post)) == []
    assert await snapshot(app.db, exclude=()) == before  # no member, no activity, no points
