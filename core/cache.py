"""A small in-process cache with a size bound and an optional time to live.

Used for lookups on every event (community, chat, identity → member).  Entries that can
change in another process (a member's role, say) get a short TTL; the writing process
invalidates its own entries at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Cache(Generic[K, V]):
    def __init__(self, *, max_size: int = 100_000, ttl: float | None = None) -> None:
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._max_size = max_size
        self._ttl = ttl

    def get(self, key: K) -> V | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if self._ttl is not None and time.monotonic() - stored_at > self._ttl:
            del self._data[key]
            return None
        if len(self._data) > self._max_size >> 1:  # recency matters only near the bound
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self._data[key] = (time.monotonic(), value)
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
