"""Who opened a Telegram Mini App: the init data Telegram hands the page, checked as Telegram
documents it (core.telegram.org/bots/webapps, "Validating data received via the Mini App").

The data-check string is every field but ``hash``, as ``key=value`` lines sorted by key; the
secret key is HMAC-SHA256 of the bot token keyed with the string "WebAppData"; ``hash`` must be
the hex HMAC-SHA256 of the data-check string under that secret key. Data older than MAX_AGE
(its ``auth_date``) is refused, so a copied URL stops working.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

MAX_AGE = timedelta(hours=1)
CLOCK_SKEW = timedelta(minutes=5)  # an auth_date this far ahead of our clock still passes
MAX_LENGTH = 8192


@dataclass(frozen=True)
class MiniAppUser:
    id: int
    name: str
    language_code: str | None


def data_check_hash(fields: dict[str, str], bot_token: str) -> str:
    """The ``hash`` Telegram sends with ``fields`` (every other field) for this bot."""
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()


def verified_user(
    init_data: str, bot_token: str, now: datetime, max_age: timedelta = MAX_AGE
) -> MiniAppUser | None:
    """The Telegram user ``init_data`` vouches for, or None: malformed, signed with another
    token (or not at all), stale, or without a user."""
    if not init_data or len(init_data) > MAX_LENGTH or not bot_token:
        return None
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs):  # a key given twice: which one was signed is anyone's guess
        return None
    received = fields.pop("hash", "")
    if not hmac.compare_digest(data_check_hash(fields, bot_token), received):
        return None
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
        user = json.loads(fields["user"])
        user_id = int(user["id"])
    except (KeyError, ValueError, TypeError, OverflowError, OSError):
        return None
    if not now - max_age <= signed_at <= now + CLOCK_SKEW:
        return None
    names = [str(user.get(key) or "") for key in ("first_name", "last_name")]
    name = " ".join(n for n in names if n) or str(user.get("username") or user_id)
    language = user.get("language_code")
    return MiniAppUser(user_id, name[:100], str(language) if language else None)
