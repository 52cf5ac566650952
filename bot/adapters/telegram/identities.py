"""Who a Telegram group message is really from, when it is not a person writing as themselves.

- An anonymous admin writes as the group itself (``sender_chat`` is the chat; ``from`` is
  GroupAnonymousBot). Their command is not run as "Group": the bot answers with a Verify button
  that only a real admin of that chat can press (checked with getChatMember), within a minute,
  and the command then runs as that admin.
- Automatic forwards from a linked channel (``is_automatic_forward``, from "Telegram") and
  messages sent on behalf of a channel (``sender_chat`` a channel, from Channel_Bot) are the
  channel's, not a member's: they create no member, earn nothing and run no command.
"""

from __future__ import annotations

from datetime import datetime

from telegram import ChatMember, Message, MessageEntity

ANON_PREFIX = "anon:"  # a Verify button's data: anon:UNIX_TIME:COMMAND
VERIFY_SECONDS = 60
# Telegram's service accounts: "Telegram" (automatic forwards), GroupAnonymousBot, Channel_Bot.
SERVICE_ACCOUNTS = frozenset({777000, 1087968824, 136817688})
ADMINS = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)


def not_a_person(message: Message) -> bool:
    """Whether ``message`` speaks for a chat (a channel, an anonymous admin) or a service account."""
    sender = message.from_user
    return (
        message.sender_chat is not None
        or bool(message.is_automatic_forward)
        or (sender is not None and sender.id in SERVICE_ACCOUNTS)
    )


def anonymous_command(message: Message) -> str | None:
    """The command an anonymous admin sent in their own group, else None."""
    text = message.text or ""
    command = any(e.type == MessageEntity.BOT_COMMAND and e.offset == 0 for e in message.entities)
    if message.sender_chat is None or message.sender_chat.id != message.chat.id or not command:
        return None
    return text


def verify_data(command: str, at: datetime) -> str:
    return f"{ANON_PREFIX}{int(at.timestamp())}:{command}"


def parse_verify(data: str, now: datetime) -> str | None:
    """The command a Verify button carries, or None when it is older than VERIFY_SECONDS."""
    stamp, _, command = data.removeprefix(ANON_PREFIX).partition(":")
    if not stamp.isdigit() or not command:
        return None
    return command if 0 <= now.timestamp() - int(stamp) <= VERIFY_SECONDS else None
