"""bot/adapters/telegram/identities.py through the real python-telegram-bot Application on a
recording Bot API, fed recorded update payloads: an anonymous admin's command gets a Verify
button that runs it as the admin who presses it (getChatMember says so) within a minute, and as
nobody otherwise; automatic forwards from the linked channel and posts on behalf of a channel
create no member, earn nothing and run nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.app import App
from core.clock import ManualClock
from tests.conftest import snapshot
from tests.telegram_peer import RecordedBot, recorded_bot

GROUP = {"id": -1006001, "type": "supergroup", "title": "Data club"}
CHANNEL = {"id": -1006999, "type": "channel", "title": "Data club news"}
ANONYMOUS = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
TELEGRAM = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
MEI = {"id": 9, "is_bot": False, "first_name": "Mei", "language_code": "en"}
BEN = {"id": 11, "is_bot": False, "first_name": "Ben", "language_code": "en"}
SENT = {"message_id": 900, "date": 0, "chat": GROUP, "text": "ok"}


def message(update_id: int, sender: dict[str, Any], text: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": update_id,
        "date": 0,
        "chat": GROUP,
        "from": sender,
        "text": text,
        **extra,
    }
    if text.startswith("/"):
        body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": body}


def owner(user: dict[str, Any]) -> dict[str, Any]:
    return {"status": "creator", "user": user, "is_anonymous": True}


async def _bot(app: App, results: dict[str, Any]) -> AsyncIterator[RecordedBot]:
    async with recorded_bot(app, {"sendMessage": SENT, **results}) as bot:
        yield bot


def _verify_button(calls: list[tuple[str, dict[str, Any]]]) -> str:
    [(_, sent)] = [(e, p) for e, p in calls if e == "sendMessage"]
    markup = sent["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    [[button]] = markup["inline_keyboard"]
    assert button["text"] == "Verify"
    return str(button["callback_data"])


def press(update_id: int, user: dict[str, Any], data: str) -> dict[str, Any]:
    query = {"id": f"q{update_id}", "from": user, "chat_instance": "c", "message": SENT, "data": data}
    return {"update_id": update_id, "callback_query": query}


async def _is_member(app: App, telegram_id: int) -> bool:
    community = await app.community()
    return await app.services.members.find_by_identity(community.id, "telegram", str(telegram_id)) is not None


@pytest.mark.parametrize("presser", ["admin", "not an admin", "too late"])
async def test_an_anonymous_admins_command_runs_as_the_admin_who_verifies_it(
    app: App, clock: ManualClock, presser: str
) -> None:
    answer = owner(MEI) if presser != "not an admin" else {"status": "member", "user": BEN}
    async for bot in _bot(app, {"getChatMember": answer}):
        calls = await bot(message(1, ANONYMOUS, "/points", sender_chat=GROUP))
        sent = [p for e, p in calls if e == "sendMessage"]
        assert "An anonymous admin sent /points." in sent[0]["text"] and sent[0]["chat_id"] == str(
            GROUP["id"]
        )
        data = _verify_button(calls)
        assert not await _is_member(app, ANONYMOUS["id"])  # GroupAnonymousBot is nobody
        if presser == "too late":
            clock.advance(timedelta(seconds=61))
        user = MEI if presser == "admin" else BEN
        calls = await bot(press(2, user, data))
        answered = [p for e, p in calls if e == "answerCallbackQuery"]
        ran = [p for e, p in calls if e == "sendMessage"]
        if presser == "admin":
            assert ("getChatMember", {"chat_id": str(GROUP["id"]), "user_id": 9}) in calls
            assert ran and "Points" in ran[0]["text"] and ran[0]["chat_id"] == str(GROUP["id"])
            assert await _is_member(app, MEI["id"])  # it ran as her
        else:
            assert ran == [] and answered[0]["show_alert"] is True
            expected = (
                "over a minute old" if presser == "too late" else "Only an admin of this chat can verify."
            )
            assert expected in answered[0]["text"]


@pytest.mark.parametrize(
    "payload",
    [
        message(
            3, TELEGRAM, "New lesson out: Group and summarise", sender_chat=CHANNEL, is_automatic_forward=True
        ),
        message(4, CHANNEL_BOT, "Posting as the channel here", sender_chat=CHANNEL),
        message(5, CHANNEL_BOT, "/points", sender_chat=CHANNEL),
    ],
)
async def test_a_channels_messages_are_nobodys_activity(app: App, payload: dict[str, Any]) -> None:
    async for bot in _bot(app, {}):
        before = await snapshot(app.db)
        assert await bot(payload) == []
        assert await snapshot(app.db) == before  # no member, no activity, no points, no command
