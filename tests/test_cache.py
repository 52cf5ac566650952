"""core/cache.py: the bounded in-process cache with an optional time to live."""

from __future__ import annotations

import asyncio

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
    monkeypatch.setattr(cache_module, "_now", lambda: now[0])
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


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(cache_module, "_now", lambda: now[0])
    return now


async def test_past_its_time_a_refreshed_entry_answers_while_one_read_runs(clock: list[float]) -> None:
    cache: Cache[str, str] = Cache(ttl=10.0)
    cache.put("a", "old")
    reads: list[str] = []
    release = asyncio.Event()

    async def read(key: str) -> str:
        reads.append(key)
        await release.wait()
        return "new"

    clock[0] += 11
    # Many callers at once: all answered at once from the stale entry, one read started.
    assert [cache.get("a", read) for _ in range(50)] == ["old"] * 50
    await asyncio.sleep(0)
    assert reads == ["a"]
    release.set()
    await asyncio.sleep(0.01)
    assert cache.get("a", read) == "new" and reads == ["a"]


async def test_a_put_or_drop_during_a_refresh_wins_over_it(clock: list[float]) -> None:
    cache: Cache[str, str] = Cache(ttl=10.0)
    cache.put("a", "old")
    cache.put("b", "old")
    release = asyncio.Event()

    async def read(key: str) -> str:
        await release.wait()
        return "read before the change"

    clock[0] += 11
    cache.get("a", read)
    cache.get("b", read)
    cache.put("a", "written here")  # this process changed it while the read ran
    cache.drop("b")
    release.set()
    await asyncio.sleep(0.01)
    assert cache.get("a") == "written here" and cache.get("b") is None


async def test_a_refresh_that_finds_nothing_drops_the_entry(clock: list[float]) -> None:
    cache: Cache[str, str] = Cache(ttl=10.0)
    cache.put("a", "old")

    async def gone(key: str) -> None:
        return None

    clock[0] += 11
    assert cache.get("a", gone) == "old"
    await asyncio.sleep(0.01)
    assert cache.get("a", gone) is None and len(cache) == 0


async def test_a_failed_refresh_keeps_the_stale_entry_and_is_tried_again(
    clock: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    cache: Cache[str, str] = Cache(ttl=10.0)
    cache.put("a", "old")
    attempts: list[int] = []

    async def failing(key: str) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("database away")
        return "new"

    clock[0] += 11
    assert cache.get("a", failing) == "old"
    await asyncio.sleep(0.01)
    assert "cache refresh failed" in caplog.text
    assert cache.get("a", failing) == "old"  # still answering, and a second read started
    await asyncio.sleep(0.01)
    assert cache.get("a", failing) == "new" and len(attempts) == 2
