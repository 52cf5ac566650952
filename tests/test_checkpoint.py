"""core/storage/checkpoint.py: WAL checkpoints in a background thread."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from core.storage.checkpoint import CHECKPOINT_EVERY, Checkpointer


def wal_database(path: Path) -> sqlite3.Connection:
    """A WAL database whose own connection never checkpoints, with 2,000 rows in its WAL."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO notes (body) VALUES (?)", [("x" * 200,)] * 2_000)
    return conn


def wait_until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_every_few_commits_the_wal_is_copied_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "hall.db"
    conn = wal_database(path)
    before = path.stat().st_size
    checkpointer = Checkpointer(str(path), busy_timeout_ms=1_000)
    try:
        for _ in range(CHECKPOINT_EVERY - 1):
            checkpointer.nudge()
        time.sleep(0.05)
        assert checkpointer.runs == 0  # not after every commit
        checkpointer.nudge()
        wait_until(lambda: checkpointer.runs >= 1)
    finally:
        checkpointer.stop()
    assert path.stat().st_size > before + 2_000 * 200  # the rows' pages are in the file now
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (2_000,)
    conn.close()


def test_checkpoints_wait_for_the_minimum_interval_however_many_commits(tmp_path: Path) -> None:
    path = tmp_path / "hall.db"
    wal_database(path).close()
    checkpointer = Checkpointer(str(path), busy_timeout_ms=1_000, min_interval=60.0)
    try:
        for _ in range(CHECKPOINT_EVERY):
            checkpointer.nudge()
        wait_until(lambda: checkpointer.runs >= 1)
        for _ in range(10 * CHECKPOINT_EVERY):
            checkpointer.nudge()
        time.sleep(0.05)
        assert checkpointer.runs == 1  # the next one waits a minute
    finally:
        checkpointer.stop()


def test_nothing_runs_without_a_nudge_and_stop_ends_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "hall.db"
    wal_database(path).close()
    checkpointer = Checkpointer(str(path), busy_timeout_ms=1_000)
    time.sleep(0.05)
    assert checkpointer.runs == 0
    checkpointer.stop()
    assert not any(t.name == "studyhall-checkpoint" and t.is_alive() for t in threading.enumerate())


def test_a_failing_checkpoint_is_logged_and_the_thread_goes_on(tmp_path: Path, caplog: object) -> None:
    path = tmp_path / "not-a-database.db"
    path.write_bytes(b"this is not sqlite" * 100)
    checkpointer = Checkpointer(str(path), busy_timeout_ms=100)
    try:
        for _ in range(CHECKPOINT_EVERY):
            checkpointer.nudge()
        wait_until(lambda: "background WAL checkpoint failed" in caplog.text)  # type: ignore[attr-defined]
        assert checkpointer.runs == 0
        assert any(t.name == "studyhall-checkpoint" and t.is_alive() for t in threading.enumerate())
    finally:
        checkpointer.stop()
