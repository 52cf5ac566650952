"""Telegram Mini App init data for the tests, signed here with the algorithm Telegram documents
(core.telegram.org/bots/webapps), independently of core/web_sessions/mini_app.py."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
USER = {
    "id": 279058397,
    "first_name": "Ana",
    "last_name": "Lee",
    "username": "ana",
    "language_code": "zh-hans",
}


def init_data(
    token: str = TOKEN, signed_at: datetime = NOW, user: dict[str, object] | None = None, **extra: str
) -> str:
    """What Telegram hands a Mini App, signed as core.telegram.org/bots/webapps describes."""
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(USER if user is None else user, separators=(",", ":")),
        "auth_date": str(int(signed_at.timestamp())),
        **extra,
    }
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)
