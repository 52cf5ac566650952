"""bot/adapters/telegram/rights.py and its delivery: the bot's rights in a group change
(``my_chat_member``, recorded Bot API shapes) and the creators hear exactly what to fix."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot, ChatMemberUpdated, Update

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.adapters.telegram.rights import rights_report
from bot.app import App
from core.catalog.money import Money
from core.events import UserRef
from core.i18n import render
from core.members.models import Role
from tests.telegram_peer import RecordingRequest

BOT_USER = {"id": 42, "is_bot": True, "first_name": "Study", "username": "studyhall_bot"}
OWNER = {"id": 9, "is_bot": False, "first_name": "Mei"}
GROUP = {"id": -100123, "type": "supergroup", "title": "Python club"}
ALL_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}
MEMBER = {"status": "member", "user": BOT_USER}
LEFT = {"status": "left", "user": BOT_USER}
KICKED = {"status": "kicked", "user": BOT_USER, "until_date": 0}


def admin(**changes: bool) -> dict[str, Any]:
    return {"status": "administrator", "user": BOT_USER, **ALL_RIGHTS, **changes}


def change(before: dict[str, Any], after: dict[str, Any], chat: dict[str, Any] = GROUP) -> dict[str, Any]:
    return {
        "chat": chat,
        "from": OWNER,
        "date": 1767600000,
        "old_chat_member": before,
        "new_chat_member": after,
    }


def report(before: dict[str, Any], after: dict[str, Any], chat: dict[str, Any] = GROUP) -> list[str] | None:
    parsed = ChatMemberUpdated.de_json(change(before, after, chat), Bot("1:X"))
    lines = rights_report(parsed)
    return None if lines is None else [render(line, "en") for line in lines]


def test_added_as_a_plain_member_says_to_make_it_an_administrator_with_both_rights() -> None:
    lines = report(LEFT, MEMBER)
    assert lines is not None
    assert "not an administrator" in lines[0] and "Python club" in lines[0]
    assert lines[-2:] == ["Invite users via link", "Ban users"]


def test_an_administrator_missing_a_right_names_only_that_right() -> None:
    lines = report(MEMBER, admin(can_invite_users=False))
    assert lines is not None
    assert "missing rights" in lines[0]
    assert lines[-1] == "Invite users via link" and "Ban users" not in lines


def test_getting_every_right_is_confirmed_once() -> None:
    assert report(admin(can_restrict_members=False), admin()) == [
        "The bot now has every right it needs in Python club."
    ]
    assert report(admin(), admin(can_pin_messages=True)) is None  # nothing that matters changed


@pytest.mark.parametrize("after", [LEFT, KICKED])
def test_removal_is_reported(after: dict[str, Any]) -> None:
    lines = report(admin(), after)
    assert lines is not None and "removed from Python club" in lines[0]


def test_private_chats_are_not_reported() -> None:
    assert report(LEFT, MEMBER, {"id": 9, "type": "private", "first_name": "Mei"}) is None


async def test_the_creators_get_the_report_by_private_message_in_their_language(app: App) -> None:
    community = await app.community()
    members = app.services.members
    mei = await members.ensure_member(community, UserRef("telegram", "9", "Mei", language="zh-hans"))
    await members.assign_role(community, mei, Role.CREATOR, via="test")
    await members.ensure_member(community, UserRef("telegram", "10", "Ana"))  # a learner: not told
    recorder = RecordingRequest()
    adapter = TelegramAdapter(app, {"token": "1:REC"}, request=recorder, updates_request=RecordingRequest())
    await adapter.application.initialize()
    try:
        update = Update.de_json({"update_id": 1, "my_chat_member": change(LEFT, MEMBER)}, adapter.bot)
        await adapter._on_update(update, None)  # type: ignore[arg-type]
    finally:
        await adapter.application.shutdown()
    sent = [parameters for endpoint, parameters in recorder.calls if endpoint == "sendMessage"]
    assert [str(p["chat_id"]) for p in sent] == ["9"]  # the creator only, not the learner
    assert "管理员" in sent[0]["text"]


CHANNEL = {"id": -1006999, "type": "channel", "title": "Data club news"}


async def test_a_channel_the_bot_is_made_admin_of_is_offered_for_binding_until_it_leaves(app: App) -> None:
    """A channel's posts never reach the bot: my_chat_member is how it learns of one, and /bind in
    the creator's private chat then offers it; once the bot is removed it is offered no more."""
    community = await app.community()
    members = app.services.members
    mei = await members.ensure_member(community, UserRef("telegram", "9", "Mei", language="en"))
    mei = await members.assign_role(community, mei, Role.CREATOR, via="test")
    await app.services.catalog.add_course(community, mei, "py101", Money("USD", 1999), "Python")
    recorder = RecordingRequest(
        {"sendMessage": {"message_id": 1, "date": 0, "chat": {"id": 9, "type": "private"}}}
    )
    adapter = TelegramAdapter(app, {"token": "1:REC"}, request=recorder, updates_request=RecordingRequest())
    await adapter.application.initialize()
    try:

        async def feed(payload: dict[str, Any]) -> list[dict[str, Any]]:
            start = len(recorder.calls)
            await adapter._on_update(Update.de_json(payload, adapter.bot), None)  # type: ignore[arg-type]
            return [p for e, p in recorder.calls[start:] if e == "sendMessage"]

        told = await feed({"update_id": 1, "my_chat_member": change(LEFT, admin(), CHANNEL)})
        assert "Data club news" in told[0]["text"] and "every right" in told[0]["text"]
        [offered] = [c.title for c in await app.services.paid_chats.group_chats(community)]
        assert offered == "Data club news"
        dm = {"id": 9, "type": "private", "first_name": "Mei"}
        entity = [{"type": "bot_command", "offset": 0, "length": 5}]
        text = "/bind course py101"
        asked = {"message_id": 2, "date": 0, "chat": dm, "from": OWNER, "text": text, "entities": entity}
        [choose] = await feed({"update_id": 2, "message": asked})
        assert "Which chat needs course py101?" in choose["text"] and "Data club news" in str(
            choose["reply_markup"]
        )
        await feed({"update_id": 3, "my_chat_member": change(admin(), LEFT, CHANNEL)})
        assert await app.services.paid_chats.group_chats(community) == []
    finally:
        await adapter.application.shutdown()
