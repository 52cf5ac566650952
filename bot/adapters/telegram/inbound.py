"""Telegram updates → neutral Events.

Only the shape changes here: which update kinds matter, who sent them, in which chat. The
core parses commands itself (``/cmd@bot args``), so a command's text is passed as written.
Updates the core has no use for give ``None``; a malformed one is logged and skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import Chat as TgChat
from telegram import ChatMember, ChatMemberUpdated, Message, MessageEntity, MessageOriginChannel, Update
from telegram import User as TgUser

from core.events import ChatKind, ChatRef, Event, EventKind, UserRef

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MAX_TEXT = 4096  # Telegram's own limit; anything longer did not come from Telegram

_KINDS = {
    TgChat.PRIVATE: ChatKind.PRIVATE,
    TgChat.GROUP: ChatKind.GROUP,
    TgChat.SUPERGROUP: ChatKind.GROUP,
    TgChat.CHANNEL: ChatKind.CHANNEL,
}
_PRESENT = {ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER}
_GONE = {ChatMember.LEFT, ChatMember.BANNED}


def user_ref(user: TgUser) -> UserRef:
    return UserRef(
        PLATFORM,
        str(user.id),
        user.full_name or user.username or str(user.id),
        is_bot=user.is_bot,
        language=user.language_code,
    )


def chat_ref(chat: TgChat) -> ChatRef:
    title = chat.title or chat.full_name or chat.username or ""
    return ChatRef(PLATFORM, str(chat.id), _KINDS.get(chat.type, ChatKind.GROUP), title)


def event_from_update(update: Update, community: str, now: datetime) -> Event | None:
    """The Event for ``update``, or None when the core has nothing to do with it."""
    try:
        if not isinstance(update, Update):
            raise TypeError(f"not an Update: {type(update).__name__}")
        return _event(update, community, now)
    except Exception:  # a malformed update must never stop the others
        log.warning(
            "skipped a malformed Telegram update %s", getattr(update, "update_id", "?"), exc_info=True
        )
        return None


def _event(update: Update, community: str, now: datetime) -> Event | None:
    if update.message is not None:
        return _from_message(update.message, community)
    if update.callback_query is not None:
        query = update.callback_query
        if not query.data:
            return None  # a game or an inline-mode button: not ours
        message = query.message
        chat = chat_ref(message.chat) if message is not None else _private_chat(query.from_user)
        return Event(
            PLATFORM,
            community,
            chat,
            user_ref(query.from_user),
            EventKind.BUTTON,
            now,
            data=query.data,
            message_id=f"callback:{query.id}",
            thread=_topic_of(message) if isinstance(message, Message) else None,
            raw=update,
        )
    if update.chat_member is not None:
        return _from_membership(update.chat_member, community, update)
    if update.chat_join_request is not None:
        request = update.chat_join_request
        return Event(
            PLATFORM,
            community,
            chat_ref(request.chat),
            user_ref(request.from_user),
            EventKind.JOIN_REQUEST,
            request.date,
            message_id=f"join:{request.chat.id}:{request.from_user.id}:{int(request.date.timestamp())}",
            raw=update,
        )
    return None  # edited messages, polls, inline queries, …: nothing the core does


def _from_message(message: Message, community: str) -> Event | None:
    sender = message.from_user
    text = message.text or message.caption or ""
    forwarded = _forwarded_from(message)
    # A channel's post forwarded to the bot privately names the channel (a creator binding it
    # as a paid chat): it counts with or without text.
    named = forwarded is not None and message.chat.type == TgChat.PRIVATE
    if sender is None or not (text or named) or len(text) > MAX_TEXT:
        return None  # a channel post, a service message or a sticker; or not from Telegram
    command = any(
        entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0 for entity in message.entities
    )
    mentions = {
        message.parse_entity(entity): user_ref(entity.user)
        for entity in message.entities
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None
    }
    reply_to = message.reply_to_message
    return Event(
        PLATFORM,
        community,
        chat_ref(message.chat),
        user_ref(sender),
        EventKind.COMMAND if command or text.startswith("/") else EventKind.MESSAGE,
        message.date,
        text=text,
        message_id=f"{message.chat.id}:{message.message_id}",
        reply_to=f"{message.chat.id}:{reply_to.message_id}" if reply_to is not None else None,
        thread=_topic_of(message),
        mentions=mentions,
        forwarded_from=forwarded,
        raw=message,
    )


def _from_membership(change: ChatMemberUpdated, community: str, update: Update) -> Event | None:
    before, after = change.old_chat_member, change.new_chat_member
    was_in = before.status in _PRESENT or (before.status == ChatMember.RESTRICTED and before.is_member)
    is_in = after.status in _PRESENT or (after.status == ChatMember.RESTRICTED and after.is_member)
    if was_in == is_in:
        return None  # a promotion or a restriction: not a join or a leave
    if not is_in and after.status not in _GONE and after.status != ChatMember.RESTRICTED:
        return None
    return Event(
        PLATFORM,
        community,
        chat_ref(change.chat),
        user_ref(after.user),
        EventKind.MEMBER_JOINED if is_in else EventKind.MEMBER_LEFT,
        change.date,
        message_id=f"member:{update.update_id}",
        raw=update,
    )


def _topic_of(message: Message) -> str | None:
    """The forum topic ``message`` is in, if any (``message_thread_id`` alone is also set on
    replies outside forums)."""
    return str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None


def _forwarded_from(message: Message) -> ChatRef | None:
    """The channel ``message`` was forwarded from, if it was a channel's post."""
    origin = message.forward_origin
    return chat_ref(origin.chat) if isinstance(origin, MessageOriginChannel) else None


def _private_chat(user: TgUser) -> ChatRef:
    return ChatRef(PLATFORM, str(user.id), ChatKind.PRIVATE, user.full_name)
