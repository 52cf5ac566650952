"""A Telegram group becoming a supergroup, through the real python-telegram-bot Application
with the adapter on a recording Bot API: the service messages Telegram sends in the old group
(``migrate_to_chat_id``) and the new one (``migrate_from_chat_id``), recorded as the Bot API
sends them, and a send answered "group chat was upgraded to a supergroup chat" (ChatMigrated)
in the middle of a reply. Nothing bound to the group is stranded; the creators are told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.app import App
from core.access.tables import chat_bindings, chat_memberships
from core.events import ChatKind, ChatRef, UserRef
from core.members.models import Role
from core.members.tables import chats
from tests.telegram_peer import BotApiError, RecordedBot, recorded_bot

OLD, NEW = -4001, -1004001
MEI = {"id": 9, "is_bot": False, "first_name": "Mei", "language_code": "en"}
ANA = {"id": 100, "is_bot": False, "first_name": "Ana", "language_code": "en"}
GROUP = {"id": OLD, "type": "group", "title": "Data club", "all_members_are_administrators": False}
SUPERGROUP = {"id": NEW, "type": "supergroup", "title": "Data club"}
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
SENT = {"message_id": 77, "date": 0, "chat": SUPERGROUP, "text": "ok"}


def migrate_to(update_id: int) -> dict[str, Any]:
    """What Telegram sends in the old group: the service message naming the supergroup."""
    message = {"message_id": 50, "date": 1765000000, "chat": GROUP, "from": MEI, "migrate_to_chat_id": NEW}
    return {"update_id": update_id, "message": message}


def migrate_from(update_id: int) -> dict[str, Any]:
    """…and in the new supergroup, from GroupAnonymousBot, naming the group it came from."""
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
    message = {
        "message_id": 1,
        "date": 1765000000,
        "chat": SUPERGROUP,
        "from": anonymous,
        "sender_chat": SUPERGROUP,
        "migrate_from_chat_id": OLD,
    }
    return {"update_id": update_id, "message": message}


def group_command(update_id: int, text: str) -> dict[str, Any]:
    entity = {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
    message = {
        "message_id": update_id,
        "date": 0,
        "chat": GROUP,
        "from": ANA,
        "text": text,
        "entities": [entity],
    }
    return {"update_id": update_id, "message": message}


async def _world(app: App, results: dict[str, Any]) -> AsyncIterator[RecordedBot]:
    community = await app.community()
    members = app.services.members
    mei = await members.ensure_member(community, UserRef("telegram", "9", "Mei"))
    await members.assign_role(community, mei, Role.CREATOR, via="test")
    chat = await members.ensure_chat(community, ChatRef("telegram", str(OLD), ChatKind.GROUP, "Data club"))
    async with app.db.write() as conn:
        await conn.execute(
            insert(chat_bindings).values(
                community_id=community.id,
                chat_id=chat.id,
                kind="tier",
                target="premium",
                created_at=app.clock.now(),
            )
        )
    async with recorded_bot(app, results) as bot:
        yield bot


@pytest.fixture
async def bot(app: App) -> AsyncIterator[RecordedBot]:
    async for running in _world(app, {"sendMessage": SENT}):
        yield running


async def _bound_chat_externals(app: App) -> list[str]:
    async with app.db.read() as conn:
        query = select(chats.c.external_id).join(chat_bindings, chat_bindings.c.chat_id == chats.c.id)
        return list((await conn.execute(query)).scalars())


@pytest.mark.parametrize("news", [migrate_to, migrate_from])
async def test_either_service_message_moves_the_group_and_tells_the_creators(
    bot: RecordedBot, app: App, news: Any
) -> None:
    calls = await bot(news(1))
    assert await _bound_chat_externals(app) == [str(NEW)]
    told = [p for e, p in calls if e == "sendMessage"]
    assert [p["chat_id"] for p in told] == ["9"]  # Mei, privately
    assert "Data club became a supergroup" in told[0]["text"]
    assert await bot(migrate_to(2)) == [] and await bot(migrate_from(3)) == []  # the other one: nothing left
    assert await _bound_chat_externals(app) == [str(NEW)]


async def test_a_send_refused_as_chat_migrated_moves_the_group_and_goes_to_the_supergroup(app: App) -> None:
    answers = {"sendMessage": [BotApiError(400, UPGRADED, migrate_to_chat_id=NEW), SENT]}
    async for bot in _world(app, answers):
        calls = await bot(group_command(5, "/points"))
        sent = [p["chat_id"] for e, p in calls if e == "sendMessage"]
        assert sent[:2] == [str(OLD), str(NEW)]  # refused there, then sent in the supergroup
        assert "9" in sent[2:]  # and Mei is told
        assert await _bound_chat_externals(app) == [str(NEW)]


ADMIN = {
    "status": "administrator",
    "user": {"id": 42, "is_bot": True, "first_name": "Study"},
    **dict.fromkeys(
        [
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_promote_members",
            "can_change_info",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ],
        False,
    ),
    "can_restrict_members": True,
    "can_invite_users": True,
}


async def test_the_access_job_refused_as_chat_migrated_moves_the_group_and_acts_in_the_supergroup(
    app: App,
) -> None:
    """A lapsed member is taken out by reconciliation: the ban is refused (the group became a
    supergroup), the group moves, and the ban goes to the supergroup."""
    answers = {
        "sendMessage": SENT,
        "getChatMember": ADMIN,
        "banChatMember": [BotApiError(400, UPGRADED, migrate_to_chat_id=NEW), True],
    }
    async for bot in _world(app, answers):
        community = await app.community()
        ana = await app.services.members.ensure_member(community, UserRef("telegram", "100", "Ana"))
        [binding] = await app.services.paid_chats.bindings(community)
        async with app.db.write() as conn:
            await conn.execute(
                insert(chat_memberships).values(
                    chat_id=binding.chat.id, member_id=ana.id, in_chat=True, updated_at=app.clock.now()
                )
            )
        start = len(bot.recorder.calls)
        mei = await app.services.members.find_by_identity(community.id, "telegram", "9")
        assert mei is not None
        done = await app.services.paid_chats.fix(community, mei)
        assert [action.verb for action in done.done] == ["remove"] and not done.failed
        calls = [(e, p.get("chat_id")) for e, p in bot.recorder.calls[start:] if e.endswith("ChatMember")]
        assert ("banChatMember", str(OLD)) in calls
        assert calls[-2:] == [("banChatMember", str(NEW)), ("unbanChatMember", str(NEW))]
        assert await _bound_chat_externals(app) == [str(NEW)]
        async with app.db.read() as conn:
            row = (await conn.execute(select(chat_memberships))).one()
        assert row.chat_id == binding.chat.id and row.in_chat is False  # the same row, moved


async def test_chat_migrated_in_the_middle_of_a_long_reply_sends_the_rest_to_the_supergroup(app: App) -> None:
    """A reply of two messages: the first reaches the group, the second is refused (the group
    became a supergroup meanwhile); the group moves and the second goes to the supergroup."""
    from bot.app import Outgoing
    from core.replies import Reply

    answers = {"sendMessage": [SENT, BotApiError(400, UPGRADED, migrate_to_chat_id=NEW), SENT]}
    async for bot in _world(app, answers):
        group = ChatRef("telegram", str(OLD), ChatKind.GROUP, "Data club")
        long_reply = Reply.text("a" * 3000, "b" * 3000)  # more than one Telegram message
        start = len(bot.recorder.calls)
        assert await bot.adapter.deliver(Outgoing(long_reply, "en", chat=group))
        sent = [(p["chat_id"], p["text"][:1]) for e, p in bot.recorder.calls[start:] if e == "sendMessage"]
        assert sent[:3] == [(str(OLD), "a"), (str(OLD), "b"), (str(NEW), "b")]
        assert any(chat == "9" for chat, _ in sent[3:])  # then Mei is told of the move
        assert await _bound_chat_externals(app) == [str(NEW)]
