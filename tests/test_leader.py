"""core/storage/leader.py: one process at a time leads the scheduler (PostgreSQL advisory
lock); on SQLite the one process always does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from core.storage.database import Database
from core.storage.leader import LOCK_KEY, SchedulerLeader


@pytest.fixture
async def leaders(db_url: str) -> AsyncIterator[tuple[SchedulerLeader, SchedulerLeader]]:
    """Two would-be leaders, as in two processes: each with its own engine."""
    first_db, second_db = Database(db_url), Database(db_url)
    first, second = SchedulerLeader(first_db), SchedulerLeader(second_db)
    try:
        yield first, second
    finally:
        await first.release()
        await second.release()
        await first_db.dispose()
        await second_db.dispose()


def postgresql_only(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("PostgreSQL only: SQLite has one process")


async def test_one_leader_at_a_time_and_the_next_takes_over(
    leaders: tuple[SchedulerLeader, SchedulerLeader], backend: str
) -> None:
    first, second = leaders
    assert await first.try_lead()
    if backend == "sqlite":
        assert await second.try_lead()  # one machine, one process: nothing to share
        return
    assert not await second.try_lead()
    assert await first.try_lead()  # still leading
    await first.release()
    assert await second.try_lead()
    assert not await first.try_lead()


async def test_a_leader_whose_process_dies_is_replaced(
    leaders: tuple[SchedulerLeader, SchedulerLeader], backend: str
) -> None:
    postgresql_only(backend)
    first, second = leaders
    assert await first.try_lead()
    await first._connection.invalidate()  # the connection drops, as when the process dies
    assert await second.try_lead()
    assert not await first.try_lead()  # it notices, and does not lead again


async def test_a_leader_cancelled_mid_query_releases_and_another_can_lead(
    leaders: tuple[SchedulerLeader, SchedulerLeader], backend: str
) -> None:
    postgresql_only(backend)
    first, second = leaders
    assert await first.try_lead()
    # As when the scheduler shuts down during a tick: the query on the held connection is
    # cancelled, and the connection is left in a failed transaction.
    query = asyncio.ensure_future(first._connection.execute(text("SELECT pg_sleep(5)")))
    await asyncio.sleep(0.2)
    query.cancel()
    with pytest.raises(asyncio.CancelledError):
        await query
    await first.release()  # no error, and the session (with its lock) is gone
    assert not first.leading
    assert await second.try_lead()


async def test_locks_under_other_keys_are_independent(db_url: str, backend: str) -> None:
    """Other one-process duties (e.g. registering the Telegram webhook) take locks of their own."""
    postgresql_only(backend)
    first_db, second_db = Database(db_url), Database(db_url)
    scheduler = SchedulerLeader(first_db)
    other = SchedulerLeader(second_db, key=LOCK_KEY + 1, role="other", duty="does the other thing")
    rival = SchedulerLeader(first_db, key=LOCK_KEY + 1)
    try:
        assert await scheduler.try_lead()
        assert await other.try_lead()  # a different key: not held by the scheduler's leader
        assert not await rival.try_lead()  # the same key: one holder
    finally:
        for leader in (scheduler, other, rival):
            await leader.release()
        await first_db.dispose()
        await second_db.dispose()
