"""core/storage/backup.py and pg_backup.py through `studyhall backup` and `studyhall restore`,
run as real subprocesses; the main test backs up a demo while it posts ledger transfers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.app import App
from bot.demo import seed_demo
from core.storage.backup import (
    BackupError,
    Manifest,
    Summary,
    manifest_path,
    restore_sqlite,
    sqlite_summary,
)
from core.storage.database import Database
from core.storage.migrate import head_revision, upgrade
from core.storage.pg_backup import libpq_url, pg_summary
from tests.conftest import PG_URL, _admin_execute
from tests.telegram_peer import free_port

pytestmark = pytest.mark.slow

AWARD_DONE = "bot> Li "  # Mei's demo language is Chinese: "bot> Li 获得 1 积分：backup 7"


def studyhall(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=_env(tmp_path, env),
    )


def _env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STUDYHALL_")}
    base.update({"STUDYHALL_DATA_DIR": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8"})
    base.update(extra or {})
    return base


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def summary_of(path: Path) -> Summary:
    conn = sqlite3.connect(path)
    try:
        return sqlite_summary(conn)
    finally:
        conn.close()


def manifest_of(backup: Path) -> Manifest:
    return Manifest.from_json(manifest_path(backup).read_text(encoding="utf-8"))


class RunningDemo:
    """`studyhall demo` on a SQLite file, fed `/award @Li 1 …` by Mei as fast as it answers."""

    def __init__(self, database: Path, tmp_path: Path) -> None:
        env = _env(tmp_path, {"STUDYHALL_HTTP_PORT": str(free_port())})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "demo", "--db", sqlite_url(database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        self.output: list[str] = []
        self.awarded = 0  # awards the demo confirmed (committed before it replies)
        self._changed = threading.Condition()
        self._stop = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._writer.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.output.append(line.rstrip("\n"))
                if line.startswith(AWARD_DONE) and "backup " in line:
                    self.awarded += 1
                self._changed.notify_all()

    def _write(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(":as Mei\n")
        sent = 0
        while not self._stop.is_set():
            ahead = sent - 3  # a few lines ahead of the answers: steady writes, no unbounded queue
            with self._changed:
                self._changed.wait_for(
                    lambda ahead=ahead: self.awarded >= ahead or self._stop.is_set(), timeout=1
                )
            if self._stop.is_set():
                break
            sent += 1
            try:
                self.process.stdin.write(f"/award @Li 1 backup {sent}\n")
                self.process.stdin.flush()
            except OSError:  # the demo ended: wait_for_awards reports it
                break

    def wait_for_awards(self, count: int, timeout: float = 120) -> int:
        with self._changed:
            if not self._changed.wait_for(
                lambda: self.awarded >= count or self.process.poll() is not None, timeout=timeout
            ):
                raise AssertionError(
                    f"the demo confirmed {self.awarded} awards, not {count}: {self.output[-5:]}"
                )
            assert self.process.poll() is None, self.output[-5:]
            return self.awarded

    def stop(self) -> tuple[int, str]:
        """End the demo with :quit (killed if it does not go); the awards and its stderr."""
        self._stop.set()
        self._writer.join(5)
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):  # it may have died already: its stderr says why
            self.process.stdin.write(":quit\n")
            self.process.stdin.close()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        assert self.process.stderr is not None
        return self.awarded, self.process.stderr.read()


def test_a_backup_of_a_running_demo_restores_with_equal_counts(tmp_path: Path) -> None:
    live, backup = tmp_path / "live" / "studyhall.db", tmp_path / "backups" / "nightly.db"
    live.parent.mkdir()  # the backup makes its own folder
    demo = RunningDemo(live, tmp_path)
    try:
        before = demo.wait_for_awards(5, timeout=300)  # the demo seeds itself first
        result = studyhall(["backup", "--db", sqlite_url(live), str(backup)], tmp_path)
        assert result.returncode == 0, result.stderr
        during = demo.awarded
        demo.wait_for_awards(during + 5)  # it went on writing after the backup
    finally:
        awarded, errors = demo.stop()
    assert demo.process.returncode == 0, errors
    assert "Traceback" not in errors
    assert result.stdout.startswith(f"studyhall: backed up {sqlite_url(live)} to {backup} (")
    assert "ledger balanced" in result.stdout

    manifest, final = manifest_of(backup), summary_of(live)
    assert manifest.backend == "sqlite" and manifest.integrity == "ok"
    assert manifest.summary.revision == head_revision()
    assert manifest.summary == summary_of(backup)  # the manifest describes the file
    # A snapshot from the middle of the run: every award confirmed before the backup started is
    # in it, some made after it are not, and its ledger balances.
    seeded = final.ledger["transfers"] - awarded
    assert seeded + before <= manifest.summary.ledger["transfers"] <= seeded + during
    assert manifest.summary.ledger["transfers"] < final.ledger["transfers"]
    assert manifest.summary.ledger_balanced and final.ledger_balanced
    assert manifest.summary.tables["members"] == final.tables["members"] > 0

    # Restored elsewhere: the same rows in every table and the same balance in every account.
    restored = tmp_path / "elsewhere" / "studyhall.db"
    result = studyhall(["restore", "--db", sqlite_url(restored), str(backup)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "checked against the backup file" in result.stdout
    assert summary_of(restored) == manifest.summary
    assert sqlite3.connect(restored).execute("PRAGMA journal_mode").fetchone() == ("wal",)

    # Once the demo stopped, a second backup equals the live database exactly.
    result = studyhall(["backup", "--db", sqlite_url(live), str(backup)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert manifest_of(backup).summary == final
    result = studyhall(["restore", "--db", sqlite_url(restored), str(backup), "--force"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary_of(restored) == final


def test_restore_refuses_a_database_that_is_not_empty_without_force(tmp_path: Path) -> None:
    source, target, backup = tmp_path / "source.db", tmp_path / "target.db", tmp_path / "backup.db"
    asyncio.run(_seeded(sqlite_url(source), tmp_path))
    assert studyhall(["backup", "--db", sqlite_url(source), str(backup)], tmp_path).returncode == 0
    # An empty, migrated database takes the backup without --force.
    asyncio.run(_migrated(sqlite_url(target)))
    result = studyhall(["restore", "--db", sqlite_url(target), str(backup)], tmp_path)
    assert result.returncode == 0, result.stderr
    # Now it holds data: refused, one line, nothing changed.
    conn = sqlite3.connect(target)
    conn.execute("DELETE FROM activity")
    conn.commit()
    conn.close()
    changed = summary_of(target)
    result = studyhall(["restore", "--db", sqlite_url(target), str(backup)], tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"studyhall: the database {target} is not empty; restoring would replace everything in it. "
        "Stop studyhall and add --force to overwrite it\n"
    )
    assert summary_of(target) == changed
    result = studyhall(["restore", "--db", sqlite_url(target), str(backup), "--force"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary_of(target) == summary_of(source)


def test_a_damaged_backup_is_refused(tmp_path: Path) -> None:
    source, backup = tmp_path / "source.db", tmp_path / "backup.db"
    asyncio.run(_migrated(sqlite_url(source)))
    assert studyhall(["backup", "--db", sqlite_url(source), str(backup)], tmp_path).returncode == 0
    with backup.open("r+b") as file:  # a bit flipped far from the header
        file.seek(backup.stat().st_size - 100)
        byte = file.read(1)
        file.seek(-1, os.SEEK_CUR)
        file.write(bytes([byte[0] ^ 1]))
    result = studyhall(["restore", "--db", sqlite_url(tmp_path / "new.db"), str(backup)], tmp_path)
    assert result.returncode == 1
    assert "does not match its manifest backup.db.json (SHA-256 differs)" in result.stderr
    assert not (tmp_path / "new.db").exists()


def test_a_backup_from_a_newer_studyhall_is_refused(tmp_path: Path) -> None:
    source, backup = tmp_path / "source.db", tmp_path / "backup.db"
    asyncio.run(_migrated(sqlite_url(source)))
    conn = sqlite3.connect(source)
    conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    conn.commit()
    conn.close()
    assert studyhall(["backup", "--db", sqlite_url(source), str(backup)], tmp_path).returncode == 0
    with pytest.raises(BackupError, match=r"revision 0099_future, which this studyhall .* does not know"):
        restore_sqlite(backup, tmp_path / "new.db", force=False)
    assert not (tmp_path / "new.db").exists()


def test_an_older_backup_is_restored_then_migrated(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from core.storage.migrate import alembic_config

    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision()).down_revision
    assert isinstance(previous, str)
    source, backup, target = tmp_path / "old.db", tmp_path / "old-backup.db", tmp_path / "new.db"
    asyncio.run(_migrated(sqlite_url(source), previous))
    result = studyhall(["backup", "--db", sqlite_url(source), str(backup)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert manifest_of(backup).summary.revision == previous
    result = studyhall(["restore", "--db", sqlite_url(target), str(backup)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"revision {previous}" in result.stdout and "is up to date" in result.stdout
    assert summary_of(target).revision == head_revision()


def test_backup_of_a_missing_database_and_to_a_folder(tmp_path: Path) -> None:
    result = studyhall(["backup", "--db", sqlite_url(tmp_path / "none.db"), str(tmp_path / "b.db")], tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        f"studyhall: no SQLite database at {tmp_path / 'none.db'}\n",
    )
    assert not (tmp_path / "none.db").exists()
    result = studyhall(["backup", "--db", sqlite_url(tmp_path / "none.db"), str(tmp_path)], tmp_path)
    assert result.returncode == 1 and "is a folder" in result.stderr


def test_postgresql_without_pg_dump_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://ana:s3cret-pw@127.0.0.1:9/studyhall"
    empty = tmp_path / "bin"
    empty.mkdir()
    result = studyhall(["backup", "--db", url, str(tmp_path / "b.dump")], tmp_path, {"PATH": str(empty)})
    assert result.returncode == 1
    assert result.stderr.startswith("studyhall: pg_dump is not installed: install the PostgreSQL client")
    assert result.stderr.count("\n") == 1 and "s3cret" not in result.stderr + result.stdout


def test_libpq_url_keeps_the_password_out_of_the_arguments() -> None:
    dsn, env = libpq_url(
        "postgresql+asyncpg://ana:p%40ss@db.internal:6432/hall?ssl=require&prepared_statement_cache_size=0"
    )
    assert dsn == "postgresql://ana@db.internal:6432/hall?sslmode=require"
    assert env == {"PGPASSWORD": "p@ss"}
    assert libpq_url("postgresql+asyncpg://postgres@127.0.0.1/test") == (
        "postgresql://postgres@127.0.0.1/test",
        {},
    )


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def fresh_pg_database() -> Iterator[str]:
    name = f"studyhall_restore_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL backups: set STUDYHALL_TEST_PG to a postgresql+asyncpg URL"
)
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_postgresql_backup_restores_into_a_fresh_database(
    db_url: str, fresh_pg_database: str, tmp_path: Path
) -> None:
    asyncio.run(_seeded(db_url, tmp_path))
    backup = tmp_path / "studyhall.dump"
    result = studyhall(["backup", "--db", db_url, str(backup)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert backup.read_bytes().startswith(b"PGDMP")
    manifest = manifest_of(backup)
    assert manifest.backend == "postgresql" and manifest.summary.revision == head_revision()
    assert manifest.summary.ledger_balanced and manifest.summary.ledger["transfers"] > 0
    assert manifest.summary == asyncio.run(_pg_summary(db_url))

    result = studyhall(["restore", "--db", fresh_pg_database, str(backup)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "checked against the backup's manifest" in result.stdout
    assert asyncio.run(_pg_summary(fresh_pg_database)) == manifest.summary

    # The source holds data: refused without --force; with it, replaced by the same data.
    result = studyhall(["restore", "--db", db_url, str(backup)], tmp_path)
    assert result.returncode == 1 and "is not empty" in result.stderr
    result = studyhall(["restore", "--db", fresh_pg_database, str(backup), "--force"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert asyncio.run(_pg_summary(fresh_pg_database)) == manifest.summary


# -- helpers ------------------------------------------------------------------------------------


async def _migrated(url: str, revision: str = "head") -> None:
    db = Database(url)
    try:
        await upgrade(db, revision)
    finally:
        await db.dispose()


async def _seeded(url: str, tmp_path: Path) -> None:
    """The demo community (members, transfers, orders, questions) in the database at ``url``."""
    from bot.config import Config

    await _migrated(url)
    app = await App.open(Config(database_url=url, data_dir=tmp_path / "data", community="demo"))
    try:
        await seed_demo(app, "demo")
    finally:
        await app.close()


async def _pg_summary(url: str) -> Summary:
    db = Database(url)
    try:
        async with db.read() as conn:
            return await conn.run_sync(pg_summary)
    finally:
        await db.dispose()


def test_manifest_round_trips(tmp_path: Path) -> None:
    source, backup = tmp_path / "source.db", tmp_path / "backup.db"
    asyncio.run(_migrated(sqlite_url(source)))
    assert studyhall(["backup", "--db", sqlite_url(source), str(backup)], tmp_path).returncode == 0
    body = json.loads(manifest_path(backup).read_text(encoding="utf-8"))
    assert (
        body["studyhall_backup"] == 1 and body["file"] == "backup.db" and body["revision"] == head_revision()
    )
    assert body["tables"]["alembic_version"] == 1 and body["tables"]["ledger_transfers"] == 0
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_an_unreachable_postgresql_is_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+asyncpg://postgres:s3cret-pw@127.0.0.1:{port}/nope"
    result = studyhall(["backup", "--db", url, str(tmp_path / "b.dump")], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"studyhall: cannot connect to PostgreSQL at 127.0.0.1:{port}")
    assert result.stderr.count("\n") == 1 and "s3cret" not in result.stderr
    assert list(tmp_path.glob("b.dump*")) == []
