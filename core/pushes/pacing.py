"""Pacing sends at a platform's limits: a token bucket overall, a minimum interval per chat,
and a pause for everyone when the platform answers 429 with ``retry_after``.

Real (monotonic) time, not the injected Clock: platforms count real seconds. One Pacer per
platform per process: right for SQLite, where one process sends. On PostgreSQL, where several
processes may send on one bot token, the outbox paces with core/pushes/shared_pacing.py
instead, whose bucket is shared through the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from core.pushes.delivery import Pace

MAX_CHATS = 100_000  # per-chat times older than the interval are dropped past this many


class Pacing(Protocol):
    """What the outbox asks of a pacer (Pacer here, SharedPacer across processes)."""

    pace: Pace
    throttled: int

    async def wait(self, chat: str) -> None: ...

    def pause(self, retry_after: float) -> None: ...


class Pacer:
    def __init__(self, pace: Pace, *, now: Callable[[], float] = time.monotonic) -> None:
        self.pace = pace
        self._now = now
        self._tokens = float(pace.burst)
        self._updated = now()
        self._paused_until = 0.0
        self._next_in_chat: dict[str, float] = {}
        self._lock = asyncio.Lock()  # waiters are served in the order they came
        self.throttled = 0  # 429s seen

    async def wait(self, chat: str) -> None:
        """Return when one message to ``chat`` may go out now (and count it as sent)."""
        async with self._lock:
            while True:
                now = self._now()
                wait = max(self._paused_until - now, self._next_in_chat.get(chat, 0.0) - now)
                if wait <= 0:
                    self._refill(now)
                    if self._tokens >= 1:
                        break
                    wait = (1 - self._tokens) / self.pace.per_second
                await asyncio.sleep(wait)
            self._tokens -= 1
            if self.pace.per_chat_interval > 0:
                self._remember(chat, now + self.pace.per_chat_interval)

    def pause(self, retry_after: float) -> None:
        """The platform said 429: nothing goes out for ``retry_after`` seconds, and the bucket
        starts empty after it (no burst straight into the same wall)."""
        self.throttled += 1
        until = self._now() + retry_after
        if until > self._paused_until:
            self._paused_until = until
        self._tokens = 0.0
        self._updated = max(self._updated, until)

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(
                float(self.pace.burst), self._tokens + (now - self._updated) * self.pace.per_second
            )
            self._updated = now

    def _remember(self, chat: str, at: float) -> None:
        if len(self._next_in_chat) >= MAX_CHATS:
            now = self._now()
            self._next_in_chat = {c: t for c, t in self._next_in_chat.items() if t > now}
        self._next_in_chat[chat] = at
