"""WAL checkpoints off the writer thread (SQLite).

By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages, so the
single writer spends a large share of its time copying pages back into the database file
(on this machine about as long as the inserts themselves). Here the writer's connection only
checkpoints as a safety net, far later, and a background thread with its own connection runs
PASSIVE checkpoints every few commits. sqlite3 releases the GIL while it checkpoints, so the copy
runs on the other core while the writer goes on with the next batch.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

# The writer's own autocheckpoint, in pages: only reached if the background thread falls behind.
WRITER_AUTOCHECKPOINT_PAGES = 20_000
CHECKPOINT_EVERY = 4  # commits between background checkpoints


class Checkpointer:
    """A thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` on the file after it is nudged.

    Nudges that arrive while a checkpoint runs are merged into one more run. PASSIVE never
    waits for readers or writers: it copies what it can and the next run copies the rest.
    """

    def __init__(self, path: str, *, busy_timeout_ms: int) -> None:
        self._path = path
        self._commits = 0
        self._busy_timeout_ms = busy_timeout_ms
        self._wanted = threading.Event()
        self._stopping = False
        self.runs = 0  # observability, for tests
        self._thread = threading.Thread(target=self._loop, name="studyhall-checkpoint", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """After a commit: every CHECKPOINT_EVERY commits, ask for a checkpoint (a batch commit
        writes hundreds of pages; SQLite's own default checkpoints every 1,000)."""
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
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
