"""Tagged entry payloads: ``src_TAG``, optionally with a referral code, ``src_TAG-ref_CODE``.

Both fit where chat platforms carry them: Telegram's start parameter (1-64 of A-Z, a-z, 0-9,
``_`` and ``-``) and a WeChat QR scene (at most 64 characters): 4 + 32 + 5 + 8 = 49.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from core.links import telegram_start_link
from core.referrals.service import CODE_ALPHABET, CODE_LENGTH, PAYLOAD_PREFIX

SOURCE_PREFIX = "src_"
MAX_TAG = 32
TAG = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_TAG}}}$")
# The referral part is recognised only whole at the end, so a tag may hold "-" and "_" freely.
_COMBINED = re.compile(rf"^(?P<tag>.+?)-(?P<ref>{PAYLOAD_PREFIX}[{CODE_ALPHABET}]{{{CODE_LENGTH}}})$", re.I)


def is_tag(text: str) -> bool:
    return bool(TAG.match(text))


def entry_payload(tag: str, referral_code: str | None = None) -> str:
    """What a tagged entry link carries: ``src_TAG``, or ``src_TAG-ref_CODE`` with a code."""
    payload = f"{SOURCE_PREFIX}{tag}"
    return f"{payload}-{PAYLOAD_PREFIX}{referral_code}" if referral_code else payload


def split_payload(payload: str | None) -> tuple[str | None, str | None]:
    """A start payload → (the channel tag, lower case, or None; what is left for the referrals,
    e.g. ``ref_CODE``, or None). A payload that is no tagged entry is left whole."""
    if not payload or not payload.lower().startswith(SOURCE_PREFIX):
        return None, payload or None
    rest = payload[len(SOURCE_PREFIX) :]
    combined = _COMBINED.match(rest)
    tag, referral = (combined["tag"], combined["ref"]) if combined else (rest, None)
    return (tag.lower() if is_tag(tag) else None), referral


@dataclass(frozen=True)
class EntryLinks:
    """Where a tagged entry starts, per platform."""

    payload: str  # src_TAG[-ref_CODE]: also the WeChat QR scene
    chat: str  # what to send the bot on Discord, the console (and any chat): /start PAYLOAD
    telegram: str | None  # the bot's start link, once the Telegram bot's name is known
    web: str | None  # a course page with ?src=TAG (and &ref=CODE), when the web is served


def entry_links(
    tag: str,
    referral_code: str | None = None,
    *,
    telegram_bot: str | None = None,
    web_base: str | None = None,
    course_code: str | None = None,
) -> EntryLinks:
    payload = entry_payload(tag, referral_code)
    web = None
    if web_base and course_code:
        query = {"src": tag, **({"ref": referral_code} if referral_code else {})}
        web = f"{web_base.rstrip('/')}/c/{quote(course_code)}?{urlencode(query)}"
    return EntryLinks(
        payload=payload,
        chat=f"/start {payload}",
        telegram=telegram_start_link(telegram_bot, payload) if telegram_bot else None,
        web=web,
    )
