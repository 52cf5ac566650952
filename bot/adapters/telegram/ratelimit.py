"""Sending within Telegram's limits: about 30 messages a second overall, one a second in a
private chat, 20 a minute in a group; a 429's ``retry_after`` is waited out in the chat it
came from only (PTB's AIORateLimiter halts every chat for it).

A 429 for a request without a chat (rare: those requests are not rate-limited by chat) pauses
everything, since its scope is unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

JSON = bool | dict[str, Any] | list[dict[str, Any]]
MAX_LIMITERS = 4096  # idle chats' limiters are dropped past this many


class PerChatRateLimiter(BaseRateLimiter[int]):
    def __init__(
        self,
        *,
        overall: tuple[float, float] = (30, 1),
        private: tuple[float, float] = (1, 1),
        group: tuple[float, float] = (20, 60),
        max_retries: int = 3,
        on_rate_limited: Callable[[], None] | None = None,
    ) -> None:
        self._overall = AsyncLimiter(*overall)
        self._private, self._group = private, group
        self._limiters: dict[int | str, AsyncLimiter] = {}
        self._paused_until: dict[int | str | None, float] = {}  # None: every chat
        self._max_retries = max_retries
        # Counts each 429 waited out here; one given up on surfaces as RateLimited (counted there).
        self._on_rate_limited = on_rate_limited

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        chat = _chat_key(data.get("chat_id"))
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            await self._wait_out_pauses(chat)
            try:
                if chat is None:
                    return await callback(*args, **kwargs)
                async with self._limiter(chat), self._overall:
                    return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt == retries:
                    log.warning("telegram: %s still rate-limited after %d retries", endpoint, retries)
                    raise
                if self._on_rate_limited is not None:
                    self._on_rate_limited()
                wait = retry_seconds(error) + 0.1
                log.info("telegram: 429 on %s for chat %s; waiting %.1f s in that chat", endpoint, chat, wait)
                until = asyncio.get_running_loop().time() + wait
                self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), until)
        raise AssertionError("unreachable")

    async def _wait_out_pauses(self, chat: int | str | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            until = max(self._paused_until.get(None, 0.0), self._paused_until.get(chat, 0.0))
            left = until - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(left)

    def _limiter(self, chat: int | str) -> AsyncLimiter:
        limiter = self._limiters.get(chat)
        if limiter is None:
            if len(self._limiters) >= MAX_LIMITERS:
                for key, idle in list(self._limiters.items()):
                    if idle.has_capacity(idle.max_rate):
                        del self._limiters[key]
            is_group = isinstance(chat, str) or chat < 0
            limiter = self._limiters[chat] = AsyncLimiter(*(self._group if is_group else self._private))
        return limiter


def _chat_key(chat_id: object) -> int | str | None:
    if chat_id is None:
        return None
    with contextlib.suppress(ValueError, TypeError):
        return int(chat_id)  # type: ignore[call-overload]
    return str(chat_id)  # an @channelusername


def retry_seconds(error: RetryAfter) -> float:
    delay = getattr(error, "_retry_after", None)  # a timedelta since PTB 22.2 (the int is deprecated)
    if isinstance(delay, timedelta):
        return delay.total_seconds()
    return float(error.retry_after)  # type: ignore[arg-type]
