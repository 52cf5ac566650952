"""core/storage/migrate.py: applying and checking Alembic migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url

from bot.app import App
from bot.config import Config
from core.storage.database import Database
from core.storage.migrate import (
    MIGRATIONS,
    NotMigrated,
    current_revision,
    ensure_migrated,
    head_revision,
    upgrade,
)
from core.storage.schema import is_modelled, load_all_tables
from core.storage.state import get_state, set_state

PASSWORD = "hunter2-not-for-logs"


@pytest.fixture
async def empty_db(empty_db_url: str) -> AsyncIterator[Database]:
    database = Database(empty_db_url)
    yield database
    await database.dispose()


async def table_names(db: Database) -> set[str]:
    def names(connection: Connection) -> set[str]:
        # Full-text tables (SQLite's FTS5 and its shadow tables) are the migrations' own.
        return {n for n in inspect(connection).get_table_names() if is_modelled(None, n, "table", True, None)}

    async with db.engine.connect() as conn:
        return await conn.run_sync(names)


def test_head_revision_is_the_latest_migration() -> None:
    versions = sorted(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*.py"))
    assert head_revision() == versions[-1]


async def test_upgrade_on_an_empty_database_reaches_head(empty_db: Database) -> None:
    assert await current_revision(empty_db) is None
    assert await table_names(empty_db) == set()

    await upgrade(empty_db)

    assert await current_revision(empty_db) == head_revision()
    expected = {t.name for t in load_all_tables().sorted_tables} | {"alembic_version"}
    assert await table_names(empty_db) == expected


async def test_upgrade_twice_is_harmless_and_keeps_data(empty_db: Database) -> None:
    await upgrade(empty_db)
    await set_state(empty_db, "kept", "yes")

    await upgrade(empty_db)

    assert await current_revision(empty_db) == head_revision()
    assert await get_state(empty_db, "kept") == "yes"
    async with empty_db.read() as conn:
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    assert versions == [head_revision()]


async def reltuples(db: Database) -> dict[str, float]:
    """pg_class.reltuples per table: -1 until the table is first analysed (or vacuumed)."""
    query = text(
        "SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    )
    async with db.read() as conn:
        return {name: tuples for name, tuples in (await conn.execute(query)).all()}


async def test_upgrade_analyses_postgresql_when_it_applied_a_revision_and_only_then(
    empty_db: Database, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("PostgreSQL only: ANALYZE is for PostgreSQL's planner")
    await upgrade(empty_db)

    analysed = await reltuples(empty_db)
    assert analysed["ledger_transfers"] == 0 and analysed["alembic_version"] == 1
    assert min(analysed.values()) >= 0, analysed  # every table has been analysed

    # Nothing to apply: statistics are left to autovacuum.
    for n in range(10):
        await set_state(empty_db, f"key{n}", "value")
    await upgrade(empty_db)
    assert (await reltuples(empty_db))["app_state"] == 0


async def test_ensure_migrated_refuses_an_empty_database(empty_db: Database) -> None:
    with pytest.raises(NotMigrated) as refused:
        await ensure_migrated(empty_db)

    message = str(refused.value)
    assert "Run: studyhall migrate" in message
    assert "revision none" in message
    assert f"needs {head_revision()}" in message
    # Checking does not migrate.
    assert await table_names(empty_db) == set()


async def test_ensure_migrated_accepts_a_migrated_database(empty_db: Database) -> None:
    await upgrade(empty_db)

    await ensure_migrated(empty_db)  # no exception


async def test_ensure_migrated_refuses_an_unknown_revision(empty_db: Database) -> None:
    await upgrade(empty_db)
    async with empty_db.write() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))

    with pytest.raises(NotMigrated) as refused:
        await ensure_migrated(empty_db)

    assert "revision ffff" in str(refused.value)
    assert "studyhall migrate" in str(refused.value)


def test_not_migrated_message_hides_the_password() -> None:
    error = NotMigrated(f"postgresql+asyncpg://studyhall:{PASSWORD}@db.internal:5432/hall", None, "0001")

    message = str(error)
    assert PASSWORD not in message
    assert "postgresql+asyncpg://studyhall:***@db.internal:5432/hall" in message
    assert "studyhall migrate" in message


async def test_ensure_migrated_hides_the_password_of_the_database_url(
    empty_db_url: str, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite URLs cannot carry a password")
    url = make_url(empty_db_url).set(password=PASSWORD)  # trust auth: the password is not checked
    db = Database(url.render_as_string(hide_password=False))
    try:
        with pytest.raises(NotMigrated) as refused:
            await ensure_migrated(db)
    finally:
        await db.dispose()

    message = str(refused.value)
    assert PASSWORD not in message
    assert f"{url.username}:***@" in message
    assert "studyhall migrate" in message


async def test_live_schema_matches_the_table_definitions(db_url: str) -> None:
    db = Database(db_url)
    try:

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": is_modelled}
            )
            return compare_metadata(context, load_all_tables())

        async with db.engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await db.dispose()

    assert differences == []


async def test_app_open_refuses_an_unmigrated_database(empty_db_url: str, tmp_path: Path) -> None:
    config = Config(database_url=empty_db_url, data_dir=tmp_path / "data", community="testhall")

    with pytest.raises(NotMigrated, match="studyhall migrate"):
        await App.open(config)

    db = Database(empty_db_url)
    try:
        assert await table_names(db) == set()
    finally:
        await db.dispose()


async def test_app_open_accepts_a_migrated_database(empty_db_url: str, tmp_path: Path) -> None:
    db = Database(empty_db_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()
    config = Config(database_url=empty_db_url, data_dir=tmp_path / "data", community="testhall")

    app = await App.open(config)
    try:
        assert (await app.community()).name == "testhall"
    finally:
        await app.close()
