"""core/storage/unavailable.py: a database that cannot be reached or opened raises
DatabaseUnavailable with one line naming where and what to check, never the password.

PostgreSQL's refusals come from peers on loopback: a closed port, the test server (a
database or role that does not exist), and tests/postgres_peer.py, which refuses the
password (the test server trusts every local connection)."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from core.storage.database import Database
from core.storage.migrate import ensure_migrated, upgrade
from core.storage.unavailable import WHERE, DatabaseUnavailable, connection_problem
from tests.conftest import PG_URL
from tests.postgres_peer import refusing_password
from tests.telegram_peer import free_port

PASSWORD = "hunter2-db-password"
needs_pg = pytest.mark.skipif(not PG_URL, reason="needs STUDYHALL_TEST_PG")


async def _open_error(url: str) -> str:
    db = Database(url)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await ensure_migrated(db)
    finally:
        await db.dispose()
    text = str(caught.value)
    assert "\n" not in text and PASSWORD not in text
    return text


async def test_a_refused_postgresql_port_names_host_port_and_database() -> None:
    port = free_port()  # nothing listens there
    text = await _open_error(f"postgresql+asyncpg://postgres:{PASSWORD}@127.0.0.1:{port}/nope")
    assert text.startswith(
        f"cannot connect to PostgreSQL at 127.0.0.1:{port} (database nope): connection refused"
    )
    assert "check that PostgreSQL is running" in text and "STUDYHALL_DATABASE_URL" in text


async def test_a_refused_password_is_one_line_without_the_password() -> None:
    async with refusing_password() as port:
        text = await _open_error(f"postgresql+asyncpg://ana:{PASSWORD}@127.0.0.1:{port}/shop")
    assert text == (
        f"PostgreSQL at 127.0.0.1:{port} refused the password of user ana: check the password in "
        "the database URL (STUDYHALL_DATABASE_URL or --db)"
    )


@needs_pg
async def test_a_database_that_does_not_exist_says_how_to_create_it() -> None:
    url = make_url(PG_URL)
    name = f"nosuchdb_{uuid.uuid4().hex[:8]}"
    missing = url.set(database=name, password=PASSWORD).render_as_string(hide_password=False)
    db = Database(missing)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await upgrade(db)  # `studyhall migrate`
    finally:
        await db.dispose()
    where = f"{url.host}:{url.port or 5432}"
    assert (
        str(caught.value)
        == f"database {name} does not exist on {where}: create it first, e.g. createdb {name}"
    )


@needs_pg
async def test_a_role_that_does_not_exist_is_named() -> None:
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    url = make_url(PG_URL).set(username=role, password=PASSWORD).render_as_string(hide_password=False)
    text = await _open_error(url)
    assert text.startswith(f"role {role} does not exist on ") and f"createuser {role}" in text


def test_a_host_name_that_does_not_resolve_is_named() -> None:
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    text = connection_problem(f"postgresql+asyncpg://u:{PASSWORD}@db.example.invalid:6543/app", error)
    assert text == (
        "cannot connect to PostgreSQL at db.example.invalid:6543 (database app): the host name "
        "db.example.invalid does not resolve; check the host in " + WHERE
    )


def test_errors_that_are_not_about_connecting_are_left_alone() -> None:
    assert connection_problem("postgresql+asyncpg://u@h/app", ValueError("no")) is None
    assert connection_problem("sqlite+aiosqlite:///x.db", sqlite3.IntegrityError("UNIQUE")) is None


async def test_a_sqlite_path_that_is_a_folder(tmp_path: Path) -> None:
    text = await _open_error(f"sqlite+aiosqlite:///{tmp_path}")
    assert text.startswith(f"cannot open the SQLite database {tmp_path}: check that it names a file")


async def test_a_file_that_is_not_a_sqlite_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, but long enough to look like a header " * 20)
    text = await _open_error(f"sqlite+aiosqlite:///{notes}")
    assert text == f"{notes} is not a SQLite database: choose another path in {WHERE}"


async def test_a_read_only_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    plain = sqlite3.connect(path)
    plain.execute("CREATE TABLE t (x)")
    plain.commit()
    plain.close()
    # Opened read-only (as a file without write permission is): WAL mode cannot be set.
    text = await _open_error(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    assert text.startswith(f"the SQLite database file:{path} is read-only")
