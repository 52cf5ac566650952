"""bot/adapters/telegram/inbound.py: Bot API updates (built from their JSON shapes) → Events."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from unittest.mock import MagicMock

import pytest
from telegram import Bot, Update

from bot.adapters.telegram.inbound import MAX_TEXT, PLATFORM, event_from_update
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef

COMMUNITY = "testhall"
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)  # what the adapter passes as "now"
DATE = 1767603600  # 2026-01-05 09:00:00 UTC, as Telegram sends it
SENT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

ANA: dict[str, Any] = {
    "id": 42,
    "is_bot": False,
    "first_name": "Ana",
    "last_name": "Li",
    "username": "ana",
    "language_code": "zh-hans",
}
BO: dict[str, Any] = {"id": 77, "is_bot": False, "first_name": "Bo"}
ADMIN: dict[str, Any] = {"id": 5, "is_bot": False, "first_name": "Admin"}
PRIVATE: dict[str, Any] = {
    "id": 42,
    "type": "private",
    "first_name": "Ana",
    "last_name": "Li",
    "username": "ana",
}
GROUP: dict[str, Any] = {"id": -4012345, "type": "group", "title": "Study Hall"}
SUPERGROUP: dict[str, Any] = {"id": -1001234567890, "type": "supergroup", "title": "Study Hall+"}


@pytest.fixture(scope="module")
def bot() -> Bot:
    return Bot("123:abc")  # constructing it makes no request


def update(bot: Bot, payload: dict[str, Any]) -> Update:
    parsed = Update.de_json(payload, bot)
    assert parsed is not None
    return parsed


def message(chat: dict[str, Any] | None = None, sender: dict[str, Any] | None = ANA, **fields: Any) -> dict:
    body: dict[str, Any] = {"message_id": 17, "date": DATE, "chat": chat or PRIVATE, **fields}
    if sender is not None:
        body["from"] = sender
    return body


def event(bot: Bot, payload: dict[str, Any]) -> Event | None:
    return event_from_update(update(bot, payload), COMMUNITY, NOW)


def message_event(bot: Bot, **fields: Any) -> Event:
    found = event(bot, {"update_id": 1001, "message": message(**fields)})
    assert found is not None
    return found


# -- messages --------------------------------------------------------------------------------


def test_private_text_message(bot: Bot) -> None:
    parsed = update(bot, {"update_id": 1001, "message": message(text="hello <there>")})
    found = event_from_update(parsed, COMMUNITY, NOW)
    assert found == Event(
        PLATFORM,
        COMMUNITY,
        ChatRef(PLATFORM, "42", ChatKind.PRIVATE, "Ana Li"),
        UserRef(PLATFORM, "42", "Ana Li", is_bot=False, language="zh-hans"),
        EventKind.MESSAGE,
        SENT,
        text="hello <there>",
        message_id="42:17",
        reply_to=None,
        mentions={},
        raw=parsed.message,
    )


def test_timestamp_is_the_message_date_in_aware_utc(bot: Bot) -> None:
    found = message_event(bot, text="hi")
    assert found.timestamp.tzinfo is not None
    assert found.timestamp.utcoffset() == SENT.utcoffset()
    assert found.timestamp == SENT
    assert found.timestamp != NOW  # the message's own date, not the time it was processed


def test_sender_without_last_name_or_language(bot: Bot) -> None:
    found = message_event(bot, sender=BO, text="hi")
    assert found.sender == UserRef(PLATFORM, "77", "Bo", is_bot=False, language=None)


@pytest.mark.parametrize(
    ("chat", "chat_id"),
    [(GROUP, "-4012345"), (SUPERGROUP, "-1001234567890")],
    ids=["group", "supergroup"],
)
def test_group_and_supergroup_messages(bot: Bot, chat: dict[str, Any], chat_id: str) -> None:
    found = message_event(bot, chat=chat, text="good morning")
    assert found.chat == ChatRef(PLATFORM, chat_id, ChatKind.GROUP, chat["title"])
    assert found.kind is EventKind.MESSAGE
    assert found.message_id == f"{chat_id}:17"
    assert found.sender.external_id == "42"


def test_command_with_bot_suffix_is_passed_as_written(bot: Bot) -> None:
    text = "/points@studyhall_bot @bo 5"
    entities = [
        {"type": "bot_command", "offset": 0, "length": 21},
        {"type": "mention", "offset": 22, "length": 3},
    ]
    found = message_event(bot, chat=SUPERGROUP, text=text, entities=entities)
    assert found.kind is EventKind.COMMAND
    assert found.text == text


def test_start_deep_link_keeps_its_payload(bot: Bot) -> None:
    found = message_event(
        bot, text="/start ref_ABC", entities=[{"type": "bot_command", "offset": 0, "length": 6}]
    )
    assert found.kind is EventKind.COMMAND
    assert found.text == "/start ref_ABC"


def test_bot_command_entity_later_in_the_text_is_not_a_command(bot: Bot) -> None:
    found = message_event(bot, text="try /help", entities=[{"type": "bot_command", "offset": 4, "length": 5}])
    assert found.kind is EventKind.MESSAGE


def test_reply_sets_reply_to(bot: Bot) -> None:
    replied = message(chat=GROUP, sender=BO, text="question?") | {"message_id": 15}
    found = message_event(bot, chat=GROUP, text="answer", reply_to_message=replied)
    assert found.reply_to == "-4012345:15"
    assert found.message_id == "-4012345:17"


def test_text_mention_maps_the_written_name_to_the_user(bot: Bot) -> None:
    # offsets count UTF-16 code units: the emoji takes two
    text = "🎉 thanks Bo Wu for the notes"
    entities = [{"type": "text_mention", "offset": 10, "length": 5, "user": BO | {"last_name": "Wu"}}]
    found = message_event(bot, chat=GROUP, text=text, entities=entities)
    assert found.mentions == {"Bo Wu": UserRef(PLATFORM, "77", "Bo Wu", is_bot=False, language=None)}
    assert found.kind is EventKind.MESSAGE


def test_plain_at_mention_has_no_user_to_map(bot: Bot) -> None:
    found = message_event(
        bot, chat=GROUP, text="hi @bo", entities=[{"type": "mention", "offset": 3, "length": 3}]
    )
    assert found.mentions == {}


def test_photo_caption_counts_as_text(bot: Bot) -> None:
    photo = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 60, "file_size": 1200}]
    found = message_event(bot, chat=GROUP, photo=photo, caption="my notes for today")
    assert found.kind is EventKind.MESSAGE
    assert found.text == "my notes for today"


def test_sticker_gives_none(bot: Bot) -> None:
    sticker = {
        "file_id": "CAAC",
        "file_unique_id": "AgAD",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }
    assert event(bot, {"update_id": 1002, "message": message(chat=GROUP, sticker=sticker)}) is None


def test_service_message_gives_none(bot: Bot) -> None:
    payload = {"update_id": 1003, "message": message(chat=GROUP, new_chat_members=[BO])}
    assert event(bot, payload) is None


def test_message_without_sender_gives_none(bot: Bot) -> None:
    payload = {"update_id": 1004, "message": message(chat=GROUP, sender=None, text="from nowhere")}
    assert event(bot, payload) is None


def test_text_over_the_telegram_limit_gives_none(bot: Bot) -> None:
    assert message_event(bot, text="x" * MAX_TEXT).text == "x" * MAX_TEXT
    assert event(bot, {"update_id": 1005, "message": message(text="x" * (MAX_TEXT + 1))}) is None


# -- buttons ---------------------------------------------------------------------------------


def callback(**fields: Any) -> dict[str, Any]:
    return {
        "update_id": 2001,
        "callback_query": {"id": "4382", "from": ANA, "chat_instance": "-99", **fields},
    }


def test_callback_query_with_data_is_a_button(bot: Bot) -> None:
    parsed = update(bot, callback(data="cmd:/help", message=message(chat=GROUP, sender=BO, text="Pick one")))
    found = event_from_update(parsed, COMMUNITY, NOW)
    assert found == Event(
        PLATFORM,
        COMMUNITY,
        ChatRef(PLATFORM, "-4012345", ChatKind.GROUP, "Study Hall"),
        UserRef(PLATFORM, "42", "Ana Li", is_bot=False, language="zh-hans"),
        EventKind.BUTTON,
        NOW,
        data="cmd:/help",
        message_id="callback:4382",
        raw=parsed,
    )


def test_callback_query_without_message_falls_back_to_the_private_chat(bot: Bot) -> None:
    found = event(bot, callback(data="cmd:/help", inline_message_id="AAEAAA"))
    assert found is not None
    assert found.kind is EventKind.BUTTON
    assert found.chat == ChatRef(PLATFORM, "42", ChatKind.PRIVATE, "Ana Li")
    assert found.data == "cmd:/help"


def test_callback_query_without_data_gives_none(bot: Bot) -> None:
    assert event(bot, callback(game_short_name="quiz", message=message(chat=GROUP, text="play"))) is None


# -- membership ------------------------------------------------------------------------------

ADMINISTRATOR_RIGHTS: dict[str, Any] = {
    "can_be_edited": True,
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
    "can_pin_messages": True,
    "can_manage_topics": False,
}
RESTRICTIONS: dict[str, Any] = {
    "can_send_messages": False,
    "can_send_audios": False,
    "can_send_documents": False,
    "can_send_photos": False,
    "can_send_videos": False,
    "can_send_video_notes": False,
    "can_send_voice_notes": False,
    "can_send_polls": False,
    "can_send_other_messages": False,
    "can_add_web_page_previews": False,
    "can_change_info": False,
    "can_invite_users": False,
    "can_pin_messages": False,
    "can_manage_topics": False,
    "can_edit_tag": False,
    "can_react_to_messages": False,
    "until_date": 0,
}

LEFT = {"status": "left"}
MEMBER = {"status": "member"}
KICKED = {"status": "kicked", "until_date": 0}
PROMOTED = {"status": "administrator", **ADMINISTRATOR_RIGHTS}
RESTRICTED_IN = {"status": "restricted", "is_member": True, **RESTRICTIONS}
RESTRICTED_OUT = {"status": "restricted", "is_member": False, **RESTRICTIONS}


def membership(old: dict[str, Any], new: dict[str, Any], chat: dict[str, Any] = SUPERGROUP) -> dict:
    return {
        "update_id": 3001,
        "chat_member": {
            "chat": chat,
            "from": ADMIN,
            "date": DATE,
            "old_chat_member": {**old, "user": BO},
            "new_chat_member": {**new, "user": BO},
        },
    }


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (LEFT, MEMBER, EventKind.MEMBER_JOINED),
        (KICKED, MEMBER, EventKind.MEMBER_JOINED),
        (LEFT, RESTRICTED_IN, EventKind.MEMBER_JOINED),
        (MEMBER, LEFT, EventKind.MEMBER_LEFT),
        (MEMBER, KICKED, EventKind.MEMBER_LEFT),
        (PROMOTED, KICKED, EventKind.MEMBER_LEFT),
        (RESTRICTED_IN, RESTRICTED_OUT, EventKind.MEMBER_LEFT),
        (MEMBER, PROMOTED, None),
        (PROMOTED, MEMBER, None),
        (MEMBER, RESTRICTED_IN, None),
        (LEFT, KICKED, None),
    ],
    ids=[
        "left-member",
        "kicked-member",
        "left-restricted_member",
        "member-left",
        "member-kicked",
        "admin-kicked",
        "restricted_member-restricted_nonmember",
        "promotion",
        "demotion",
        "restriction",
        "left-kicked",
    ],
)
def test_chat_member_changes(
    bot: Bot, old: dict[str, Any], new: dict[str, Any], kind: EventKind | None
) -> None:
    found = event(bot, membership(old, new))
    if kind is None:
        assert found is None
        return
    assert found is not None
    assert found.kind is kind
    assert found.chat == ChatRef(PLATFORM, "-1001234567890", ChatKind.GROUP, "Study Hall+")
    assert found.sender == UserRef(PLATFORM, "77", "Bo", is_bot=False, language=None)  # the member, not ADMIN
    assert found.timestamp == SENT
    assert found.message_id == "member:3001"


def test_chat_join_request_names_the_requester(bot: Bot) -> None:
    payload = {
        "update_id": 4001,
        "chat_join_request": {
            "chat": SUPERGROUP,
            "from": ANA,
            "user_chat_id": 42,
            "date": DATE,
            "bio": "learning Go",
        },
    }
    found = event(bot, payload)
    assert found is not None
    assert found.kind is EventKind.JOIN_REQUEST
    assert found.sender == UserRef(PLATFORM, "42", "Ana Li", is_bot=False, language="zh-hans")
    assert found.chat == ChatRef(PLATFORM, "-1001234567890", ChatKind.GROUP, "Study Hall+")
    assert found.timestamp == SENT
    assert found.message_id == f"join:-1001234567890:42:{DATE}"


# -- what the core does not see --------------------------------------------------------------


def test_edited_message_gives_none(bot: Bot) -> None:
    payload = {"update_id": 5001, "edited_message": message(chat=GROUP, text="/points", edit_date=DATE + 60)}
    assert event(bot, payload) is None


def test_channel_post_gives_none(bot: Bot) -> None:
    channel = {"id": -1009, "type": "channel", "title": "News"}
    payload = {"update_id": 5002, "channel_post": message(chat=channel, sender=None, text="news")}
    assert event(bot, payload) is None


class _Broken:
    """An update whose attributes are missing."""

    update_id = 6001

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


@pytest.mark.parametrize(
    "broken",
    [_Broken(), MagicMock(spec=[])],
    ids=["attributes-raise", "mock-without-attributes"],
)
def test_malformed_update_is_logged_and_skipped(broken: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.adapters.telegram.inbound"):
        assert event_from_update(broken, COMMUNITY, NOW) is None
    assert any("malformed" in record.getMessage() for record in caplog.records)


def test_malformed_update_names_its_update_id(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.adapters.telegram.inbound"):
        assert event_from_update(_Broken(), COMMUNITY, NOW) is None
    assert any("6001" in record.getMessage() for record in caplog.records)


def test_message_whose_sender_breaks_is_logged_and_skipped(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    parsed = MagicMock(spec=Update)
    parsed.update_id = 6002
    parsed.message.from_user = _Broken()
    parsed.message.text = "hi"
    with caplog.at_level(logging.WARNING, logger="bot.adapters.telegram.inbound"):
        assert event_from_update(parsed, COMMUNITY, NOW) is None
    assert any("6002" in record.getMessage() for record in caplog.records)


def test_text_mention_on_a_message_without_text_is_skipped(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    # malformed: a caption's entities belong in caption_entities, not entities
    photo = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 60}]
    entities = [{"type": "text_mention", "offset": 0, "length": 2, "user": BO}]
    payload = {
        "update_id": 6003,
        "message": message(chat=GROUP, photo=photo, caption="Bo look", entities=entities),
    }
    with caplog.at_level(logging.WARNING, logger="bot.adapters.telegram.inbound"):
        assert event(bot, payload) is None
    assert any("6003" in record.getMessage() for record in caplog.records)


def test_bare_mock_update_is_skipped() -> None:
    assert event_from_update(MagicMock(), COMMUNITY, NOW) is None


# -- posts forwarded from a channel --------------------------------------------------------------

CHANNEL: dict[str, Any] = {"id": -1009876543210, "type": "channel", "title": "Study Hall Premium"}
FROM_CHANNEL: dict[str, Any] = {"type": "channel", "chat": CHANNEL, "message_id": 314, "date": DATE - 3600}
PHOTO = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 60}]


def test_a_channel_post_forwarded_privately_names_the_channel_even_without_text(bot: Bot) -> None:
    found = message_event(bot, forward_origin=FROM_CHANNEL, photo=PHOTO)
    assert found.forwarded_from == ChatRef(PLATFORM, "-1009876543210", ChatKind.CHANNEL, "Study Hall Premium")
    assert (found.kind, found.text, found.chat.kind) == (EventKind.MESSAGE, "", ChatKind.PRIVATE)
    assert found.message_id == "42:17"


def test_a_forwarded_channel_post_keeps_its_text_or_caption(bot: Bot) -> None:
    captioned = message_event(bot, forward_origin=FROM_CHANNEL, photo=PHOTO, caption="Week 3 slides")
    assert captioned.text == "Week 3 slides" and captioned.forwarded_from is not None
    in_group = message_event(bot, chat=SUPERGROUP, forward_origin=FROM_CHANNEL, text="Lesson 3 is out")
    assert in_group.text == "Lesson 3 is out"
    assert in_group.forwarded_from is not None and in_group.forwarded_from.external_id == "-1009876543210"


def test_a_textless_forward_in_a_group_is_skipped(bot: Bot) -> None:
    payload = {
        "update_id": 7001,
        "message": message(chat=SUPERGROUP, forward_origin=FROM_CHANNEL, photo=PHOTO),
    }
    assert event(bot, payload) is None  # it names the channel to nobody there


@pytest.mark.parametrize(
    "origin",
    [
        {"type": "user", "sender_user": BO, "date": DATE - 60},
        {"type": "hidden_user", "sender_user_name": "Someone", "date": DATE - 60},
        {"type": "chat", "sender_chat": SUPERGROUP, "date": DATE - 60},  # an anonymous admin's
    ],
    ids=["user", "hidden user", "group"],
)
def test_a_forward_from_anything_but_a_channel_names_no_channel(bot: Bot, origin: dict[str, Any]) -> None:
    assert message_event(bot, forward_origin=origin, text="look at this").forwarded_from is None
    payload = {"update_id": 7002, "message": message(forward_origin=origin, photo=PHOTO)}
    assert event(bot, payload) is None  # and without text it is nothing to the core
