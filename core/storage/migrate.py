"""Applying and checking Alembic migrations on the async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from core.storage.database import Database, safe_url

MIGRATIONS = Path(__file__).parent / "migrations"


class NotMigrated(Exception):
    """The database schema is not at the code's head revision."""

    def __init__(self, url: str, current: str | None, head: str) -> None:
        super().__init__(
            f"the database at {safe_url(url)} is at revision {current or 'none'}, "
            f"this studyhall needs {head}. Run: studyhall migrate"
        )


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(db: Database, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent).

    On PostgreSQL, when a revision was applied, ``ANALYZE`` follows: new tables, columns and
    indexes have no statistics until autovacuum gets round to them, and the planner's guesses
    meanwhile can be far off. Without a revision nothing changed, so statistics stay
    autovacuum's business (``migrate`` may run on every deploy)."""

    def _run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(config, revision)
        changed = MigrationContext.configure(connection).get_current_revision() != before
        if changed and connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")

    async with db.engine.begin() as conn:
        await conn.run_sync(_run)


async def current_revision(db: Database) -> str | None:
    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(_read)


async def ensure_migrated(db: Database) -> None:
    """Raise NotMigrated unless the schema is at head."""
    current, head = await current_revision(db), head_revision()
    if current != head:
        raise NotMigrated(db.url, current, head)
