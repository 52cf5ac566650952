"""core/cache.py: the bounded in-process cache with an optional time to live."""

from __future__ import annotations

import pytest

from core import cache as cache_module
from core.cache import Cache


def test_a_stored_value_is_found_until_dropped() -> None:
    cache: Cache[str, int] = Cache()
    assert cache.get("a") is None
    assert cache.put("a", 1) == 1
    assert cache.get("a") == 1
    cache.drop("a")
    cache.drop("never there")
    assert cache.get("a") is None and len(cache) == 0


def test_the_oldest_entry_goes_first_past_the_bound() -> None:
    cache: Cache[int, int] = Cache(max_size=3)
    for key in (1, 2, 3, 4):
        cache.put(key, key)
    assert [cache.get(key) for key in (1, 2, 3, 4)] == [None, 2, 3, 4]


def test_near_the_bound_a_recently_read_entry_outlives_older_ones() -> None:
    cache: Cache[int, int] = Cache(max_size=3)
    for key in (1, 2, 3):
        cache.put(key, key)
    assert cache.get(1) == 1  # read again: now the most recent
    cache.put(4, 4)
    assert [cache.get(key) for key in (1, 2, 3, 4)] == [1, None, 3, 4]


def test_an_entry_older_than_its_time_to_live_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    cache: Cache[str, str] = Cache(ttl=10.0)
    cache.put("a", "x")
    now[0] += 9.9
    assert cache.get("a") == "x"
    now[0] += 0.2
    assert cache.get("a") is None and len(cache) == 0


def test_clear_empties_it() -> None:
    cache: Cache[int, int] = Cache()
    cache.put(1, 1)
    cache.clear()
    assert len(cache) == 0
