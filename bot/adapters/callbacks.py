"""Button data that fits in a platform's limit (Telegram: 64 bytes of callback_data; Discord:
100 characters of custom_id)."""

from __future__ import annotations

import hashlib

from core.cache import Cache

_LONG_DATA_PREFIX = "h:"


class CallbackData:
    """Button data that fits in ``max_bytes`` (UTF-8).

    Short data goes as it is. Longer data (a command with long arguments) is kept here and
    sent as a short token; after a restart such a token is unknown and the button answers
    that it has expired instead of doing something else.
    """

    def __init__(self, max_size: int = 100_000, max_bytes: int = 64) -> None:
        self._long: Cache[str, str] = Cache(max_size=max_size)
        self._max_bytes = max_bytes

    def pack(self, data: str) -> str:
        if len(data.encode()) <= self._max_bytes and not data.startswith(_LONG_DATA_PREFIX):
            return data
        token = _LONG_DATA_PREFIX + hashlib.sha256(data.encode()).hexdigest()[:32]
        self._long.put(token, data)
        return token

    def unpack(self, sent: str) -> str | None:
        """The data a button carried, or None when it has expired."""
        if not sent.startswith(_LONG_DATA_PREFIX):
            return sent
        return self._long.get(sent)
