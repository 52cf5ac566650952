"""Pacing shared by every process sending on one bot (PostgreSQL): the overall rate is the
platform's however many processes send.

The bucket is one row of ``pace_buckets`` per (platform, bot), kept as the time the next
message may go (``next_at``, a token bucket of burst 1 written as its theoretical arrival
time: GCRA). A process reserves ``n`` consecutive slots in one UPDATE … RETURNING that moves
``next_at`` to ``max(next_at, now, paused_until) + n / rate``; slots are never handed out
twice and never closer than ``1 / rate`` apart, whichever process holds them. Times are the
database server's clock (``clock_timestamp()``) only; each process maps them to its own
monotonic clock by an offset measured on the quickest of a few round trips, so no two
processes' clocks are ever compared.

A slot is used only within ``TOLERANCE`` of its time; a process that wakes up later (a busy
event loop) drops it and reserves another, so any one-second window holds at most
``rate * (1 + TOLERANCE) + 1`` sends. Reservations look at most ``AHEAD`` seconds forward
(``n <= rate * AHEAD``, and no more than the senders waiting here), so a process that stops
wastes at most that much of the rate. Burst is 1 whatever ``Pace.burst`` says: a burst would
let every process fire at once at the start.

A 429 pauses this process at once and is written to the row with the next reservation (made
right away), which starts every process's next slots after it; slots another process reserved
before it may still go out (at most ``AHEAD`` seconds' worth). The per-chat interval stays per
process: the outbox hands each recipient's row to one worker.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import text

from core.pushes.delivery import Pace
from core.pushes.pacing import MAX_CHATS
from core.pushes.tables import pace_buckets
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

TOLERANCE = 0.02  # seconds a slot may be used late
AHEAD = 0.1  # seconds of slots reserved at once, at most
OFFSET_SAMPLES = 5  # round trips to measure the server clock's offset; the quickest counts
OFFSET_EVERY = 300.0  # seconds between measurements (monotonic clocks drift slowly)

_SERVER_NOW = text("SELECT extract(epoch FROM clock_timestamp())::double precision")
# The server's time is read once per statement; the row's values are the latest committed
# (the UPDATE waits for the row lock and re-reads it), so slots never overlap.
_RESERVE = text(
    """
    UPDATE pace_buckets AS b
    SET next_at = greatest(b.next_at, s.now, b.paused_until, s.now + :pause) + :span,
        paused_until = greatest(b.paused_until, s.now + :pause)
    FROM (SELECT extract(epoch FROM clock_timestamp())::double precision AS now) AS s
    WHERE b.platform = :platform AND b.bot = :bot
    RETURNING b.next_at, b.paused_until
    """
)


class SharedPacer:
    """A Pacer (core/pushes/pacing.py) whose overall bucket lives in the database."""

    def __init__(
        self, db: Database, platform: str, bot: str, pace: Pace, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.pace = pace
        self._db = db
        self._row = {"platform": platform, "bot": bot[:64]}
        self._now = now
        self._interval = 1.0 / pace.per_second
        self._most = max(1, int(pace.per_second * AHEAD))
        self._slots: deque[float] = deque()  # reserved send times, local monotonic
        self._offset: float | None = None  # server epoch seconds minus local monotonic
        self._offset_at = 0.0
        self._paused_until = 0.0  # local monotonic
        self._pause_to_share = 0.0  # seconds of a 429 not yet written to the row
        self._next_in_chat: dict[str, float] = {}
        self._lock = asyncio.Lock()  # waiters are served in the order they came
        self._waiting = 0
        self._created = False
        self.throttled = 0  # 429s seen
        self.dropped = 0  # slots used too late, given up

    async def wait(self, chat: str) -> None:
        """Return when one message to ``chat`` may go out now (and count it as sent)."""
        self._waiting += 1
        try:
            async with self._lock:
                await self._take(chat)
        finally:
            self._waiting -= 1
        if self.pace.per_chat_interval > 0:
            self._remember(chat, self._now() + self.pace.per_chat_interval)

    async def _take(self, chat: str) -> None:
        while True:
            now = self._now()
            if self._pause_to_share or not self._slots:
                # The chat's own wait first: a slot reserved now would only go stale.
                hold = self._next_in_chat.get(chat, 0.0) - now
                if not self._pause_to_share and hold > 0:
                    await asyncio.sleep(hold)
                    continue
                await self._reserve()
                continue
            slot = self._slots[0]
            if now > slot + TOLERANCE:
                self._slots.popleft()
                self.dropped += 1
                continue
            hold = max(slot - now, self._paused_until - now, self._next_in_chat.get(chat, 0.0) - now)
            if hold > 0:
                await asyncio.sleep(hold)
                continue
            self._slots.popleft()
            return

    def pause(self, retry_after: float) -> None:
        """The platform said 429: nothing goes out for ``retry_after`` seconds, here at once
        and in every process from their next reservation."""
        self.throttled += 1
        self._paused_until = max(self._paused_until, self._now() + retry_after)
        self._pause_to_share = max(self._pause_to_share, retry_after)
        self._slots.clear()

    async def _reserve(self) -> None:
        """Reserve the next slots (one round trip)."""
        if self._offset is None or self._now() - self._offset_at > OFFSET_EVERY:
            await self._measure_offset()
        assert self._offset is not None
        if not self._created:
            async with self._db.write() as conn:
                await conn.execute(insert_or_ignore(self._db.dialect, pace_buckets), [self._row])
            self._created = True
        n = max(1, min(self._waiting, self._most))
        pause, self._pause_to_share = self._pause_to_share, 0.0
        params = {**self._row, "pause": pause, "span": n * self._interval}
        async with self._db.write() as conn:
            next_at, paused_until = (await conn.execute(_RESERVE, params)).one()
        local = -self._offset
        self._paused_until = max(self._paused_until, paused_until + local)
        first = next_at - n * self._interval + local
        self._slots.extend(first + i * self._interval for i in range(n))

    async def _measure_offset(self) -> None:
        best: tuple[float, float] | None = None  # (round trip, offset)
        for _ in range(OFFSET_SAMPLES):
            async with self._db.read() as conn:
                before = self._now()
                server_now = float((await conn.execute(_SERVER_NOW)).scalar_one())
                after = self._now()
            if best is None or after - before < best[0]:
                best = (after - before, server_now - (before + after) / 2)
        assert best is not None
        self._offset, self._offset_at = best[1], self._now()

    def _remember(self, chat: str, at: float) -> None:
        if len(self._next_in_chat) >= MAX_CHATS:
            now = self._now()
            self._next_in_chat = {c: t for c, t in self._next_in_chat.items() if t > now}
        self._next_in_chat[chat] = at
