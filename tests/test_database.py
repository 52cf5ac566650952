"""core/storage/database.py: engine set-up per backend and the transaction helpers."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.members.tables import members
from core.storage.checkpoint import WRITER_AUTOCHECKPOINT_PAGES
from core.storage.database import SQLITE_BUSY_TIMEOUT_MS, Database, after_commit, safe_url
from core.storage.state import get_state
from core.storage.state_tables import app_state
from tests.conftest import PG_URL


class Boom(Exception):
    pass


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


def needs_sqlite(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite only")


# -- set-up -----------------------------------------------------------------------------------


async def test_the_dialect_follows_the_url(db: Database, backend: str) -> None:
    assert db.is_sqlite is (backend == "sqlite")
    assert db.dialect == backend


@pytest.mark.parametrize("use", ["read", "write"])
async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(
    db: Database, backend: str, use: str
) -> None:
    needs_sqlite(backend)
    async with getattr(db, use)() as conn:
        journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
        busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()

    assert journal == "wal"
    assert foreign_keys == 1
    assert busy == SQLITE_BUSY_TIMEOUT_MS


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.write() as conn:
            await conn.execute(
                insert(members).values(
                    community_id=987654,
                    display_name="ghost",
                    role="learner",
                    created_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )


# -- transactions -----------------------------------------------------------------------------


async def test_a_write_commits_when_the_block_ends(db: Database, db_url: str) -> None:
    async with db.write() as conn:
        await conn.execute(insert(app_state).values(key="k", value="v"))

    other = Database(db_url)
    try:
        assert await get_state(other, "k") == "v"
    finally:
        await other.dispose()


async def test_run_read_runs_blocking_reads_in_one_transaction_over_committed_rows(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(insert(app_state).values(key="k", value="v"))

    def read(conn: Connection) -> tuple[str, bool]:
        value = conn.execute(select(app_state.c.value).where(app_state.c.key == "k")).scalar_one()
        return value, conn.in_transaction()

    assert await db.run_read(read) == ("v", True)
    async with db.write() as conn:  # a later commit is seen by the next read
        await conn.execute(update(app_state).where(app_state.c.key == "k").values(value="w"))
    assert await db.run_read(read) == ("w", True)


async def test_a_write_rolls_back_on_an_exception(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(insert(app_state).values(key="kept", value="before"))

    with pytest.raises(Boom):
        async with db.write() as conn:
            await conn.execute(insert(app_state).values(key="new", value="x"))
            await conn.execute(update(app_state).where(app_state.c.key == "kept").values(value="after"))
            raise Boom

    assert await get_state(db, "new") is None
    assert await get_state(db, "kept") == "before"


async def test_a_failed_statement_rolls_back_the_whole_write(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.write() as conn:
            await conn.execute(insert(app_state).values(key="first", value="1"))
            await conn.execute(insert(app_state).values(key="first", value="duplicate"))

    assert await get_state(db, "first") is None


# -- safe_url ---------------------------------------------------------------------------------


def test_safe_url_hides_the_password() -> None:
    shown = safe_url("postgresql+asyncpg://studyhall:s3cr3t-p%40ss@db.internal:5432/hall")

    assert "s3cr3t" not in shown
    assert shown == "postgresql+asyncpg://studyhall:***@db.internal:5432/hall"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:////var/lib/studyhall/studyhall.db",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    ],
)
def test_safe_url_leaves_a_url_without_password_alone(url: str) -> None:
    assert safe_url(url) == url


# -- concurrent writers -----------------------------------------------------------------------


async def _increment(db: Database, spans: list[tuple[float, float]], hold: float) -> None:
    """Read a counter, wait while holding the transaction, write it back plus one."""
    async with db.write() as conn:
        began = time.monotonic()
        value = (
            await conn.execute(select(app_state.c.value).where(app_state.c.key == "counter"))
        ).scalar_one()
        await asyncio.sleep(hold)
        await conn.execute(
            update(app_state).where(app_state.c.key == "counter").values(value=str(int(value) + 1))
        )
        spans.append((began, time.monotonic()))


@pytest.mark.parametrize("writers", [2, 4])
async def test_sqlite_concurrent_writers_are_serialised_not_locked_out(
    db: Database, db_url: str, backend: str, writers: int
) -> None:
    needs_sqlite(backend)
    async with db.write() as conn:
        await conn.execute(insert(app_state).values(key="counter", value="0"))
    others = [Database(db_url) for _ in range(writers)]
    spans: list[tuple[float, float]] = []
    try:
        async with asyncio.timeout(20):
            # A "database is locked" OperationalError would surface here.
            await asyncio.gather(*(_increment(o, spans, hold=0.15) for o in others))
    finally:
        for other in others:
            await other.dispose()

    assert await get_state(db, "counter") == str(writers)  # no lost update
    spans.sort()
    assert len(spans) == writers
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert second_start >= first_end  # one write transaction at a time


async def test_sqlite_readers_are_not_blocked_by_a_writer(db: Database, db_url: str, backend: str) -> None:
    needs_sqlite(backend)
    async with db.write() as conn:
        await conn.execute(insert(app_state).values(key="k", value="old"))
    reader = Database(db_url)
    try:
        async with db.write() as conn:
            await conn.execute(update(app_state).where(app_state.c.key == "k").values(value="new"))
            started = time.monotonic()
            assert await get_state(reader, "k") == "old"  # WAL: the last committed value, at once
            assert time.monotonic() - started < 1.0
        assert await get_state(reader, "k") == "new"
    finally:
        await reader.dispose()


async def test_concurrent_writers_from_separate_databases_all_succeed(db: Database, db_url: str) -> None:
    others = [Database(db_url) for _ in range(4)]

    async def write(index: int, database: Database) -> None:
        async with database.write() as conn:
            await conn.execute(insert(app_state).values(key=f"w{index}", value=str(index)))
            await asyncio.sleep(0.05)

    try:
        async with asyncio.timeout(20):
            await asyncio.gather(*(write(i, o) for i, o in enumerate(others)))
    finally:
        for other in others:
            await other.dispose()

    assert [await get_state(db, f"w{i}") for i in range(4)] == ["0", "1", "2", "3"]


# -- batches ----------------------------------------------------------------------------------


async def test_after_commit_runs_once_the_batch_committed_and_never_after_a_rollback(db: Database) -> None:
    committed: list[str] = []

    def insert_state(key: str, *, fail: bool = False) -> Callable[[Connection, object], list[str]]:
        def apply(conn: Connection, _items: object) -> list[str]:
            conn.execute(insert(app_state).values(key=key, value="v"))
            after_commit(conn, lambda: committed.append(key))
            if fail:
                raise Boom
            return [key]

        return apply

    assert await db.run_batch(insert_state("kept"), [None]) == ["kept"]
    with pytest.raises(Boom):
        await db.run_batch(insert_state("lost", fail=True), [None])

    assert committed == ["kept"]
    assert await get_state(db, "kept") == "v"
    assert await get_state(db, "lost") is None


async def test_sqlite_batches_leave_checkpoints_to_a_thread_that_stops_with_the_database(
    db: Database, backend: str
) -> None:
    needs_sqlite(backend)

    def autocheckpoint(conn: Connection, _items: object) -> list[int]:
        return [conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()]

    assert await db.run_batch(autocheckpoint, [None]) == [WRITER_AUTOCHECKPOINT_PAGES]
    assert any(t.name == "studyhall-checkpoint" for t in threading.enumerate())

    await db.dispose()

    assert not any(t.name == "studyhall-checkpoint" for t in threading.enumerate())


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only")
async def test_postgresql_readers_plan_each_execution_writers_keep_plans(db: Database) -> None:
    # A generic plan made while a table was small stays a sequential scan as it grows (until
    # statistics change, and autovacuum may be off): readers plan each execution. Writers keep
    # cached plans, or every foreign-key check of every inserted row would be planned again.
    async with db.read() as conn:
        assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "force_custom_plan"
    async with db.write() as conn:
        assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "auto"
