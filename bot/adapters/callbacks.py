"""Button data that fits in a platform's limit (Telegram: 64 bytes of callback_data; Discord:
100 characters of custom_id)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Protocol

from core.cache import Cache

log = logging.getLogger(__name__)

_LONG_DATA_PREFIX = "h:"
SAVE_AGAIN_AFTER = 24 * 3600.0  # seconds: keeps a token in use from expiring in the store


class TokenStore(Protocol):
    """Where tokens outlive the process (core/delivery/callback_tokens.py)."""

    async def remember(self, tokens: Mapping[str, str]) -> None: ...

    async def recall(self, token: str) -> str | None: ...


class CallbackData:
    """Button data that fits in ``max_bytes`` (UTF-8).

    Short data goes as it is. Longer data (a command with long arguments) is sent as a short
    token, a hash of the data. ``pack`` is synchronous (rendering is pure); the adapter calls
    ``save`` after rendering and before sending, which writes the new tokens to ``store`` so
    any process can ``unpack`` them, also after a restart. A token's data never changes, so
    the in-memory cache in front of the store is safe in every process. A token nobody knows
    (expired from the store, or no store and a restart) answers None: the button says it has
    expired instead of doing something else.
    """

    def __init__(
        self, store: TokenStore | None = None, *, max_size: int = 100_000, max_bytes: int = 64
    ) -> None:
        self._store = store
        self._long: Cache[str, str] = Cache(max_size=max_size)
        self._saved: Cache[str, bool] = Cache(max_size=max_size, ttl=SAVE_AGAIN_AFTER)
        self._unsaved: dict[str, str] = {}
        self._max_bytes = max_bytes

    def pack(self, data: str) -> str:
        if len(data.encode()) <= self._max_bytes and not data.startswith(_LONG_DATA_PREFIX):
            return data
        token = _LONG_DATA_PREFIX + hashlib.sha256(data.encode()).hexdigest()[:32]
        self._long.put(token, data)
        if self._store is not None and self._saved.get(token) is None:
            self._unsaved[token] = data
        return token

    async def save(self) -> None:
        """Store the tokens packed since the last save. When the store fails, the buttons
        still work in this process (they are cached) and the next save tries again."""
        if not self._unsaved or self._store is None:
            return
        tokens = dict(self._unsaved)
        try:
            await self._store.remember(tokens)
        except Exception:
            log.warning("could not store %d button tokens; they work in this process only", len(tokens))
            return
        for token in tokens:
            self._unsaved.pop(token, None)
            self._saved.put(token, True)

    async def unpack(self, sent: str) -> str | None:
        """The data a button carried, or None when it has expired."""
        if not sent.startswith(_LONG_DATA_PREFIX):
            return sent
        data = self._long.get(sent)
        if data is None and self._store is not None and len(sent) <= 40:
            data = await self._store.recall(sent)
            if data is not None:
                self._long.put(sent, data)
        return data
