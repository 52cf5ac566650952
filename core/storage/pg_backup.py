"""PostgreSQL backups through ``pg_dump --format=custom`` and restores through ``pg_restore``.

The client programs come from the PostgreSQL client package (not Python): without them a
backup is refused with one line saying what to install. They get the database as a libpq URL
without the password; the password goes through ``PGPASSWORD`` in their environment, never
their arguments (``ps`` shows arguments to every user of the machine).

The manifest's row counts and ledger sums are read in a REPEATABLE READ transaction whose
snapshot ``pg_dump --snapshot`` then uses: they describe exactly what the archive holds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, make_url

from core.storage.backup import (
    VERSION_TABLE,
    BackupError,
    Manifest,
    Restored,
    Summary,
    check_against_manifest,
    check_revision,
    new_manifest,
    read_manifest,
    schema_tables,
    summarize,
    write_manifest,
)
from core.storage.database import Database, safe_url

# Query parameters libpq understands that may come with a SQLAlchemy URL; others are dropped.
LIBPQ_PARAMS = frozenset(
    {
        "host",
        "port",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "application_name",
        "connect_timeout",
        "options",
        "target_session_attrs",
    }
)
NOT_INSTALLED = (
    "{program} is not installed: install the PostgreSQL client programs of the server's major "
    "version (Debian/Ubuntu: apt-get install postgresql-client), or back up with your provider's tools"
)


def client_program(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``; BackupError when it is not installed."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(NOT_INSTALLED.format(program=name))
    return found


def libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """``postgresql+asyncpg://user:pw@host/db?ssl=require`` → (``postgresql://user@host/db?sslmode=require``,
    environment with ``PGPASSWORD``)."""
    parsed = make_url(url)
    query: dict[str, str] = {}
    for key, value in parsed.query.items():
        value = value[-1] if isinstance(value, tuple) else value
        if key == "ssl":  # asyncpg's name; true/false as well as libpq's modes
            key, value = "sslmode", {"true": "require", "false": "disable"}.get(value.lower(), value)
        if key in LIBPQ_PARAMS:
            query[key] = value
    plain = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=query,
    )
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return plain.render_as_string(hide_password=False), env


async def _run(program: str, *args: str, env: dict[str, str]) -> bytes:
    """Run a client program; its stdout, or BackupError with the last line it printed."""
    process = await asyncio.create_subprocess_exec(
        program,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {process.returncode}"
        raise BackupError(f"{Path(program).name} failed: {last}")
    return out


def _pg_tables(conn: Connection) -> set[str]:
    rows = conn.exec_driver_sql(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    )
    return {row[0] for row in rows}


def pg_summary(conn: Connection) -> Summary:
    return summarize(lambda sql: conn.exec_driver_sql(sql).all(), _pg_tables(conn))


async def backup_postgresql(url: str, target: Path) -> Manifest:
    """``pg_dump`` the database at ``url`` into ``target`` (custom format) and write its manifest."""
    pg_dump = client_program("pg_dump")
    dsn, env = libpq_url(url)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                await conn.execute(text("SET TRANSACTION READ ONLY"))
                snapshot = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
                summary = await conn.run_sync(pg_summary)
                if summary.revision is None:
                    raise BackupError(
                        f"{safe_url(url)} has no migration revision: run studyhall migrate first"
                    )
                # pg_dump reads the same snapshot while this transaction stays open.
                await _run(
                    pg_dump,
                    "--format=custom",
                    "--no-password",
                    f"--snapshot={snapshot}",
                    f"--file={partial}",
                    f"--dbname={dsn}",
                    env=env,
                )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        await db.dispose()
    os.replace(partial, target)
    manifest = new_manifest("postgresql", safe_url(url), target, "pg_dump", summary)
    write_manifest(target, manifest)
    return manifest


async def archive_revision(pg_restore: str, backup: Path) -> str | None:
    """The migration revision inside a pg_dump archive (its alembic_version rows)."""
    script = await _run(
        pg_restore, "--data-only", f"--table={VERSION_TABLE}", "--file=-", str(backup), env={}
    )
    lines = script.decode("utf-8", errors="replace").splitlines()
    for index, line in enumerate(lines):
        if line.startswith("COPY ") and f"{VERSION_TABLE} " in line:
            value = lines[index + 1] if index + 1 < len(lines) else "\\."
            return None if value == "\\." else value.strip()
    return None


async def _is_empty(db: Database) -> bool:
    def check(conn: Connection) -> bool:
        present = _pg_tables(conn) & set(schema_tables()[1:])
        return not any(conn.exec_driver_sql(f'SELECT 1 FROM "{name}" LIMIT 1').first() for name in present)

    async with db.read() as conn:
        return await conn.run_sync(check)


async def restore_postgresql(backup: Path, url: str, *, force: bool) -> Restored:
    """``pg_restore --clean`` ``backup`` into the database at ``url``, checked against its manifest.

    Refuses (BackupError) a non-empty database without ``force`` and an archive from a revision
    this code does not know. Objects are restored without their owner (``--no-owner``): the
    database's user owns them, whichever user made the dump."""
    pg_restore = client_program("pg_restore")
    manifest = read_manifest(backup)
    if manifest is not None and manifest.backend != "postgresql":
        raise BackupError(f"{backup}'s manifest says it is a {manifest.backend} backup, not PostgreSQL")
    check_against_manifest(backup, manifest)
    revision = await archive_revision(pg_restore, backup)
    needs_migration = check_revision(revision, f"the backup {backup}")
    dsn, env = libpq_url(url)
    db = Database(url)
    try:
        if not force and not await _is_empty(db):
            raise BackupError(
                f"the database {safe_url(url)} is not empty; restoring would replace everything in it. "
                "Stop studyhall and add --force to overwrite it"
            )
        await _run(
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={dsn}",
            str(backup),
            env=env,
        )
        async with db.read() as conn:
            restored = await conn.run_sync(pg_summary)
    finally:
        await db.dispose()
    if manifest is None:
        return Restored(restored, needs_migration, "nothing (no manifest beside the backup)")
    differences = restored.differences(manifest.summary)
    if differences:
        raise BackupError(f"the restored database differs from the backup: {'; '.join(differences[:3])}")
    return Restored(restored, needs_migration, "the backup's manifest")
