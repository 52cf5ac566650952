"""bot/adapters/telegram/access.py: the exact Bot API requests behind paid access (the
emulator has none of them), and Telegram's refusals turned into messages a creator can act on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import Bot

from bot.adapters.telegram.access import TelegramChatAccess
from core.access.ports import ChatAccess, FindsChats, PlatformRefused
from core.events import ChatKind, ChatRef
from core.i18n import render
from tests.telegram_peer import BotApiError, RecordingRequest

CHAT = "-100777"
EXPIRES = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
INVITE = {
    "invite_link": "https://t.me/+AbCdEf123",
    "creator": {"id": 42, "is_bot": True, "first_name": "Study"},
    "creates_join_request": False,
    "is_primary": False,
    "is_revoked": False,
    "member_limit": 1,
    "expire_date": int(EXPIRES.timestamp()),
}


def member(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "user": {"id": 5, "is_bot": False, "first_name": "Ana"}, **extra}


async def _access(recorder: RecordingRequest) -> AsyncIterator[TelegramChatAccess]:
    bot = Bot("1:ACCESS", request=recorder, get_updates_request=RecordingRequest())
    async with bot:
        yield TelegramChatAccess(bot)


def calls(recorder: RecordingRequest) -> list[tuple[str, dict[str, Any]]]:
    return [(endpoint, params) for endpoint, params in recorder.calls if endpoint != "getMe"]


async def test_it_is_a_chat_access_port() -> None:
    access: ChatAccess = TelegramChatAccess(Bot("1:X"))
    assert access.platform == "telegram"


async def test_a_single_use_invite_is_limited_to_one_member_and_expires() -> None:
    recorder = RecordingRequest({"createChatInviteLink": INVITE})
    async for access in _access(recorder):
        link = await access.single_use_invite(CHAT, for_account="5", expires_at=EXPIRES)
    assert link == "https://t.me/+AbCdEf123"
    [(endpoint, params)] = calls(recorder)
    assert endpoint == "createChatInviteLink"
    assert params["chat_id"] == CHAT and params["member_limit"] == 1
    assert params["expire_date"] == int(EXPIRES.timestamp())


async def test_removal_is_a_ban_then_an_unban_only_if_banned() -> None:
    recorder = RecordingRequest()
    async for access in _access(recorder):
        await access.remove(CHAT, "5")
    assert [(e, p["user_id"]) for e, p in calls(recorder)] == [("banChatMember", 5), ("unbanChatMember", 5)]
    assert calls(recorder)[1][1]["only_if_banned"] is True


async def test_join_requests_are_approved_and_declined() -> None:
    recorder = RecordingRequest()
    async for access in _access(recorder):
        await access.approve_join(CHAT, "5")
        await access.decline_join(CHAT, "6")
    assert [(e, p["chat_id"], p["user_id"]) for e, p in calls(recorder)] == [
        ("approveChatJoinRequest", CHAT, 5),
        ("declineChatJoinRequest", CHAT, 6),
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (member("member"), True),
        (
            member(
                "administrator",
                **dict.fromkeys(
                    [
                        "can_be_edited",
                        "is_anonymous",
                        "can_manage_chat",
                        "can_delete_messages",
                        "can_manage_video_chats",
                        "can_restrict_members",
                        "can_promote_members",
                        "can_change_info",
                        "can_invite_users",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                    ],
                    False,
                ),
            ),
            True,
        ),
        (member("left"), False),
        (member("kicked", until_date=0), False),
    ],
)
async def test_membership_is_read_from_the_member_status(status: dict[str, Any], expected: bool) -> None:
    recorder = RecordingRequest({"getChatMember": status})
    async for access in _access(recorder):
        assert await access.is_member(CHAT, "5") is expected


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (BotApiError(400, "Bad Request: not enough rights to create chat invite link"), "administrator"),
        (BotApiError(403, "Forbidden: bot is not a member of the supergroup chat"), "administrator"),
        (BotApiError(400, "Bad Request: chat not found"), "not in that group"),
        (BotApiError(400, "Bad Request: something new"), "Telegram refused the request: Something new"),
    ],
)
async def test_refusals_become_a_message_the_creator_can_act_on(error: BotApiError, says: str) -> None:
    recorder = RecordingRequest({"createChatInviteLink": error})
    async for access in _access(recorder):
        with pytest.raises(PlatformRefused) as refused:
            await access.single_use_invite(CHAT, for_account="5", expires_at=EXPIRES)
    assert says in render(refused.value.message, "en")


ADMIN_RIGHTS = [
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
]


@pytest.mark.parametrize(
    ("status", "fixes"),
    [
        (member("administrator", **dict.fromkeys(ADMIN_RIGHTS, True)), []),
        (
            member("administrator", **{**dict.fromkeys(ADMIN_RIGHTS, True), "can_restrict_members": False}),
            ["give the bot the Ban users right"],
        ),
        (member("member"), ["make the bot an administrator that can invite users via link and ban users"]),
        (member("left"), ["the bot is not in the group any more; add it again as an administrator"]),
    ],
)
async def test_the_bots_own_rights_are_read_as_fixes_for_the_creator(
    status: dict[str, Any], fixes: list[str]
) -> None:
    recorder = RecordingRequest({"getChatMember": status})
    async for access in _access(recorder):
        found = await access.missing_rights(CHAT)
    assert [render(f, "en") for f in found] == fixes
    assert calls(recorder)[0] == ("getChatMember", {"chat_id": CHAT, "user_id": 42})


async def test_a_group_that_became_a_supergroup_is_moved_and_the_call_goes_there() -> None:
    upgraded = BotApiError(
        400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-100888
    )
    recorder = RecordingRequest({"banChatMember": [upgraded, True]})
    moved: list[tuple[str, str]] = []

    async def chat_moved(old: str, new: str) -> None:
        moved.append((old, new))

    bot = Bot("1:ACCESS", request=recorder, get_updates_request=RecordingRequest())
    async with bot:
        await TelegramChatAccess(bot, chat_moved).remove("-4001", "5")
    assert moved == [("-4001", "-100888")]
    assert [(e, p["chat_id"]) for e, p in calls(recorder)] == [
        ("banChatMember", "-4001"),
        ("banChatMember", "-100888"),
        ("unbanChatMember", "-100888"),
    ]


GIFTS = dict.fromkeys(
    ["unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"], False
)


def full_chat(chat_id: int, kind: str, **names: str) -> dict[str, Any]:
    """getChat's answer (a ChatFullInfo) for a chat of ``kind``."""
    return {
        "id": chat_id,
        "type": kind,
        "accent_color_id": 1,
        "max_reaction_count": 11,
        "accepted_gift_types": GIFTS,
        **names,
    }


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        (
            full_chat(-100555, "channel", title="Data club open", username="dataclubopen"),
            ChatRef("telegram", "-100555", ChatKind.CHANNEL, "Data club open"),
        ),
        (
            full_chat(-100556, "supergroup", title="Data club chat", username="dataclubopen"),
            ChatRef("telegram", "-100556", ChatKind.GROUP, "Data club chat"),
        ),
        (full_chat(555, "private", first_name="Zoe", username="dataclubopen"), None),  # a person
        (BotApiError(400, "Bad Request: chat not found"), None),
    ],
    ids=["channel", "supergroup", "person", "unknown"],
)
async def test_a_public_chat_is_found_by_its_username(answer: Any, found: ChatRef | None) -> None:
    recorder = RecordingRequest({"getChat": answer})
    async for access in _access(recorder):
        assert isinstance(access, FindsChats)
        assert await access.find_chat("@dataclubopen") == found
    assert calls(recorder) == [("getChat", {"chat_id": "@dataclubopen"})]


async def test_a_lookup_telegram_refuses_otherwise_is_a_refusal() -> None:
    recorder = RecordingRequest(
        {"getChat": BotApiError(403, "Forbidden: bot was kicked from the channel chat")}
    )
    async for access in _access(recorder):
        with pytest.raises(PlatformRefused) as refused:
            await access.find_chat("@dataclubopen")
    assert "make it an administrator" in render(refused.value.message, "en")
