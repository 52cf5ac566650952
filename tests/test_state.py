"""core/storage/state.py: the app's own small key/value state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.storage.database import Database
from core.storage.state import get_state, set_state
from core.storage.state_tables import app_state


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


async def test_a_missing_key_reads_as_none(db: Database) -> None:
    assert await get_state(db, "never.set") is None


async def test_set_then_get(db: Database) -> None:
    await set_state(db, "console.clock_offset_seconds", "3600.5")

    assert await get_state(db, "console.clock_offset_seconds") == "3600.5"


async def test_set_overwrites_without_a_second_row(db: Database) -> None:
    await set_state(db, "k", "first")
    await set_state(db, "k", "second")
    await set_state(db, "k", "")

    assert await get_state(db, "k") == ""
    async with db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(app_state))).scalar_one() == 1


async def test_keys_are_independent(db: Database) -> None:
    await set_state(db, "a", "1")
    await set_state(db, "b", "2")
    await set_state(db, "a", "3")

    assert (await get_state(db, "a"), await get_state(db, "b")) == ("3", "2")


async def test_values_keep_unicode_and_length(db: Database) -> None:
    value = "学习小组 ✓ " + "x" * 10_000

    await set_state(db, "long", value)

    assert await get_state(db, "long") == value


async def test_state_is_shared_between_database_objects(db: Database, db_url: str) -> None:
    await set_state(db, "k", "from the first")
    other = Database(db_url)
    try:
        assert await get_state(other, "k") == "from the first"
        await set_state(other, "k", "from the second")
    finally:
        await other.dispose()

    assert await get_state(db, "k") == "from the second"


class PausingDatabase(Database):
    """Each write transaction pauses after its first statement until every writer got there
    (or ``patience`` runs out, as it does on SQLite, where the writers queue instead)."""

    def __init__(self, url: str, arrived: list[int], everyone: asyncio.Event, parties: int) -> None:
        super().__init__(url)
        self._arrived, self._everyone, self._parties = arrived, everyone, parties

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with super().write() as conn:
            yield _Pausing(conn, self)  # type: ignore[misc]

    async def pause(self) -> None:
        self._arrived.append(1)
        if len(self._arrived) >= self._parties:
            self._everyone.set()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._everyone.wait(), timeout=0.5)


class _Pausing:
    def __init__(self, conn: AsyncConnection, db: PausingDatabase) -> None:
        self._conn, self._db, self._paused = conn, db, False

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._conn.execute(*args, **kwargs)
        if not self._paused:
            self._paused = True
            await self._db.pause()
        return result


async def test_concurrent_first_writes_of_one_key_both_succeed(db: Database, db_url: str) -> None:
    arrived: list[int] = []
    everyone = asyncio.Event()
    writers = [PausingDatabase(db_url, arrived, everyone, 2) for _ in range(2)]
    try:
        async with asyncio.timeout(20):
            await asyncio.gather(*(set_state(w, "shared", f"v{i}") for i, w in enumerate(writers)))
    finally:
        for writer in writers:
            await writer.dispose()

    assert await get_state(db, "shared") in {"v0", "v1"}
    async with db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(app_state))).scalar_one() == 1
