"""WAL checkpoints off the writer thread (SQLite).

By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages, so the
single writer spends a large share of its time copying pages back into the database file
(on this machine about as long as the inserts themselves). Here the writer's connection only
checkpoints as a safety net, far later, and a background thread with its own connection runs
PASSIVE checkpoints every few commits. sqlite3 releases the GIL while it checkpoints, so the copy
runs on the other core while the writer goes on with the next batch.

Small batches commit hundreds of times a second, and each checkpoint copies the same hot
pages (the ends of the tables and indexes) and syncs the file twice: so checkpoints also wait
for a minimum interval, which bounds their cost by time rather than by commits.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

log = logging.getLogger(__name__)

# The writer's own autocheckpoint, in pages: only reached if the background thread falls behind.
WRITER_AUTOCHECKPOINT_PAGES = 20_000
CHECKPOINT_EVERY = 4  # commits between background checkpoints
CHECKPOINT_MIN_INTERVAL = 0.1  # seconds, at least, between two background checkpoints


class Checkpointer:
    """A thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` on the file after it is nudged.

    Nudges that arrive while a checkpoint runs are merged into one more run. PASSIVE never
    waits for readers or writers: it copies what it can and the next run copies the rest.
    """

    def __init__(
        self, path: str, *, busy_timeout_ms: int, min_interval: float = CHECKPOINT_MIN_INTERVAL
    ) -> None:
        self._path = path
        self._commits = 0
        self._min_interval = min_interval
        self._asked_at = -min_interval  # monotonic time of the last request
        self._busy_timeout_ms = busy_timeout_ms
        self._wanted = threading.Event()
        self._stopping = False
        self.runs = 0  # observability, for tests
        self._thread = threading.Thread(target=self._loop, name="studyhall-checkpoint", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """After a commit: every CHECKPOINT_EVERY commits, and no sooner than ``min_interval``
        after the last time, ask for a checkpoint (a big batch commit writes hundreds of pages;
        SQLite's own default checkpoints every 1,000)."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY:
            return
        now = time.monotonic()
        if now - self._asked_at >= self._min_interval:
            self._commits = 0
            self._asked_at = now
            self._wanted.set()

    def stop(self) -> None:
        """Finish any checkpoint under way and end the thread."""
        self._stopping = True
        self._wanted.set()
        self._thread.join()

    def _loop(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error:
                    # A busy database or a full disk: the writer's own autocheckpoint still
                    # bounds the WAL, and the next nudge tries again.
                    log.warning("background WAL checkpoint failed", exc_info=True)
        finally:
            conn.close()
