"""The neutral inbound event every adapter produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


class EventKind(StrEnum):
    MESSAGE = "message"
    COMMAND = "command"
    BUTTON = "button"
    MEMBER_JOINED = "joined"
    MEMBER_LEFT = "left"
    JOIN_REQUEST = "join_request"
    PAYMENT = "payment"


@dataclass(frozen=True)
class ChatRef:
    """A chat as the platform names it."""

    platform: str
    external_id: str
    kind: ChatKind
    title: str = ""


@dataclass(frozen=True)
class UserRef:
    """A platform account as the platform names it."""

    platform: str
    external_id: str
    display_name: str
    is_bot: bool = False
    language: str | None = None  # the platform's language hint, if any


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (adapters attach it only where a command needs it)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Event:
    """One inbound thing that happened in a chat.

    ``text`` is the whole message; adapters leave command parsing to the core's parser so
    every platform parses the same way.  ``data`` carries a button's callback data.
    ``mentions`` maps a mention token as written (``@ana``) to the account it points at,
    where the platform tells us.
    """

    platform: str
    community: str
    chat: ChatRef
    sender: UserRef
    kind: EventKind
    timestamp: datetime
    text: str = ""
    data: str = ""
    message_id: str | None = None
    reply_to: str | None = None
    thread: str | None = None  # the thread within the chat (a Telegram forum topic), if any
    mentions: dict[str, UserRef] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    forwarded_from: ChatRef | None = None  # the channel a forwarded post came from
    raw: Any = None
