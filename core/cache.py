"""A small in-process cache with a size bound and an optional time to live.

Used for lookups on every event (community, chat, identity → member).  Entries that can
change in another process (a member's role, say) get a short TTL; the writing process
invalidates its own entries at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

log = logging.getLogger(__name__)

_now = time.monotonic  # a module name, so tests can move time for caches alone

# Reads a fresh value for a key (None: it no longer exists).
Loader = Callable[[K], Awaitable[V | None]]


class Cache(Generic[K, V]):
    def __init__(self, *, max_size: int = 100_000, ttl: float | None = None) -> None:
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._max_size = max_size
        self._ttl = ttl
        self._refreshing: dict[K, asyncio.Task[None]] = {}

    def get(self, key: K, refresh: Loader[K, V] | None = None) -> V | None:
        """The value, or None when absent or past its time to live.

        With ``refresh``, an entry past its time to live still answers while one task
        reads it again with ``refresh(key)``: every event of a busy community needs the
        entry, and without this all of them would wait for the database together."""
        entry = self._data.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if self._ttl is not None and _now() - stored_at > self._ttl:
            if refresh is None:
                del self._data[key]
                return None
            if key not in self._refreshing:
                self._start_refresh(key, entry, refresh)
            return value
        if len(self._data) > self._max_size >> 1:  # recency matters only near the bound
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self._data[key] = (_now(), value)
        self._data.move_to_end(key)
        if len(self._data) > self._max_size:
            self._data.popitem(last=False)
        return value

    def drop(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def _start_refresh(self, key: K, entry: tuple[float, V], refresh: Loader[K, V]) -> None:
        async def run() -> None:
            try:
                value = await refresh(key)
            except Exception:  # the stale entry keeps answering; the next read tries again
                log.warning("cache refresh failed", exc_info=True)
                return
            finally:
                del self._refreshing[key]
            # Only over the entry it replaces: a put or drop meanwhile knows better.
            if self._data.get(key) is entry:
                if value is None:
                    del self._data[key]
                else:
                    self.put(key, value)

        self._refreshing[key] = asyncio.get_running_loop().create_task(run())
