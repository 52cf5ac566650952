"""WeChat callback messages → neutral Events.

An Official Account talks to each follower one to one, so every event is in the follower's
private chat, named by their OpenID. What becomes what:

- a text message: a command when its first word is a command or one of its aliases, with or
  without the slash (``积分``, ``签到``, ``/points``); otherwise a plain message;
- a menu CLICK whose key is ``cmd:/points``: that button;
- following (``subscribe``), with or without a QR scene, and ``SCAN`` of a QR code by a
  follower: ``/start`` with the scene as its payload (``ref_CODE`` attributes a referral);
- unfollowing, locations, views and other events: nothing for the core (None).

Followers' language is Chinese unless they choose otherwise (WeChat reports none).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

import xmltodict
from wechatpy import parse_message
from wechatpy.events import (
    ClickEvent,
    ScanEvent,
    SubscribeEvent,
    SubscribeScanEvent,
)
from wechatpy.fields import DateTimeField, FloatField, IntegerField, StringField
from wechatpy.messages import BaseMessage, TextMessage

from core.commands.router import BUTTON_COMMAND_PREFIX, Router
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef

log = logging.getLogger(__name__)

PLATFORM = "wechat"
DEFAULT_LANGUAGE = "zh_CN"
MAX_TEXT = 4096
MAX_SCENE = 64  # WeChat's scene_str limit
MAX_MSG_ID = 2**64 - 1  # WeChat's MsgId is a 64-bit number
# OpenIDs (28 characters) and an account's own id (gh_…) are short ASCII; the database keeps
# external ids to 100 characters and deduplication keys to 200.
_ACCOUNT_ID = re.compile(r"[!-~]{1,64}")
# The scalar field types wechatpy declares, and what reading each gives. wechatpy converts on
# every read, lazily: a value that does not convert would fail wherever it is first read.
_SCALARS: dict[type, type] = {StringField: str, IntegerField: int, FloatField: float, DateTimeField: datetime}


class MalformedMessage(Exception):
    """The body is not a WeChat message (bad XML, or a required field missing)."""


@dataclass(frozen=True)
class Inbound:
    """One parsed callback: what the follower did, and how to tell its retries apart."""

    message: BaseMessage
    openid: str
    account: str  # the Official Account's own id (ToUserName): replies come from it
    dedup_key: str
    interaction: bool  # a click, follow or scan (WeChat's 1-minute allowance), not a message
    is_user_message: bool  # text, voice, image…: opens the 48-hour window


def parse(xml: str) -> Inbound:
    """Parse a decrypted callback body, or raise MalformedMessage: every field wechatpy
    declares for the message's type is read here, once, so that the rest of the adapter only
    ever sees values of the declared type."""
    try:
        message = parse_message(xml)
    except Exception as error:  # ExpatError, KeyError (no MsgType), AttributeError (nested MsgType)
        raise MalformedMessage(type(error).__name__) from None
    if message is None:
        raise MalformedMessage("empty body")
    _check_fields(message)
    if not message.source or not message.target:
        raise MalformedMessage("no FromUserName or ToUserName")
    for field, value in (("FromUserName", message.source), ("ToUserName", message.target)):
        if not _ACCOUNT_ID.fullmatch(value):
            raise MalformedMessage(f"{field} is not an account id")
    if message.time is None:
        raise MalformedMessage("no CreateTime")
    created = message.time
    kind = message.type
    if kind == "event":
        # Events have no MsgId: WeChat's own advice is FromUserName + CreateTime (+ the event).
        key = f"event:{message.source}:{created}:{message.event}"
        interaction = isinstance(message, ClickEvent | SubscribeEvent | SubscribeScanEvent | ScanEvent)
        return Inbound(message, message.source, message.target, key, interaction, False)
    if not 0 <= message.id <= MAX_MSG_ID:
        raise MalformedMessage("MsgId is out of range")
    msg_id = message.id or f"{message.source}:{created}"
    return Inbound(message, message.source, message.target, f"msg:{msg_id}", False, True)


def _check_fields(message: BaseMessage) -> None:
    """MalformedMessage unless each scalar field of the message's type reads as its type
    (``<MsgId>notanumber</MsgId>``, a ``CreateTime`` past the year 9999, a nested or repeated
    element where text belongs)."""
    for name, field in type(message)._fields.items():
        wanted = _SCALARS.get(type(field))  # composite fields (ScanCodeInfo…) are read as they come
        if wanted is None:
            continue
        try:
            value = getattr(message, name)
        except (TypeError, ValueError, OverflowError, OSError):  # int("x"), a time out of range
            raise MalformedMessage(f"{field.name} is not {wanted.__name__}") from None
        if value is not None and not isinstance(value, wanted):  # a nested or repeated element
            raise MalformedMessage(f"{field.name} is not {wanted.__name__}")


def envelope(xml: str) -> dict[str, str]:
    """The outer XML of a safe-mode body (``Encrypt`` and ``ToUserName``), or MalformedMessage."""
    try:
        parsed = xmltodict.parse(xml)["xml"]
    except Exception as error:
        raise MalformedMessage(type(error).__name__) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Encrypt"), str):
        raise MalformedMessage("no Encrypt")
    return parsed


def user_ref(openid: str) -> UserRef:
    # WeChat no longer tells an account its followers' nicknames: a short, stable name.
    return UserRef(PLATFORM, openid, f"微信用户{openid[-4:]}", language=DEFAULT_LANGUAGE)


def chat_ref(openid: str) -> ChatRef:
    return ChatRef(PLATFORM, openid, ChatKind.PRIVATE, "")


def command_text(text: str, router: Router) -> str | None:
    """``text`` as a command line when its first word names a command (``积分``, ``签到 ``,
    ``/points``), else None."""
    stripped = text.strip()
    if stripped.startswith(("/", "／")):
        return stripped
    first = stripped.split(None, 1)[0] if stripped else ""
    if first and router.find(first) is not None:
        return "/" + stripped
    return None


def to_event(inbound: Inbound, community: str, router: Router, now: datetime) -> Event | None:
    """The Event for a parsed callback, or None when the core has nothing to do with it."""
    message = inbound.message
    base = {
        "platform": PLATFORM,
        "community": community,
        "chat": chat_ref(inbound.openid),
        "sender": user_ref(inbound.openid),
        "timestamp": now,
        "message_id": inbound.dedup_key,
        "raw": message,
    }
    if isinstance(message, TextMessage):
        text = (message.content or "")[:MAX_TEXT]
        if not text.strip():
            return None
        command = command_text(text, router)
        if command is not None:
            return Event(kind=EventKind.COMMAND, text=command, **base)
        return Event(kind=EventKind.MESSAGE, text=text, **base)
    if isinstance(message, ClickEvent):
        key = message.key or ""
        if not key.startswith(BUTTON_COMMAND_PREFIX):
            return None
        return Event(kind=EventKind.BUTTON, data=key, **base)
    if isinstance(message, SubscribeScanEvent | ScanEvent):
        # parse_message strips the ``qrscene_`` prefix of a follow by scan already.
        words = str(message.scene_id or "").split()
        scene = words[0][:MAX_SCENE] if words else ""
        return Event(kind=EventKind.COMMAND, text=f"/start {scene}".rstrip(), **base)
    if isinstance(message, SubscribeEvent):
        return Event(kind=EventKind.COMMAND, text="/start", **base)
    return None
