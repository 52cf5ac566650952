"""One process of the processes benchmark (bench/processes.py):
``python -m bench.ledger_process URL COMMUNITY_ID PROCESS PROCESSES POSTINGS``.

It builds the ledger benchmark's plan, says ``ready`` on stdout, waits for a line on stdin,
then posts its part (the ledger benchmark's task shares PROCESS, PROCESS + PROCESSES, …, so
keys are the single-process run's, each task keeping PROCESSES times the postings in flight, so
every process has the single process's concurrency) through its own Database and Ledger, and prints one JSON
line: postings posted, seconds, batches, how many batches decided on balances read without
locks were decided again under them, the lock pattern (bench/pg.py Locks) and how many batches
lost a lock conflict and were run again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import asyncpg

from bench.ledger import TASKS, WINDOW, make_plan, run_ledger
from bench.pg import Locks, asyncpg_args, watching_locks


class _Conflicts(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "lost a lock conflict" in record.getMessage():
            self.count += 1


async def member_ids(url: str, community_id: int) -> list[int]:
    """The members in the order the seed inserted them (ascending ids), as the plan wants."""
    conn = await asyncpg.connect(**asyncpg_args(url))
    try:
        rows = await conn.fetch("SELECT id FROM members WHERE community_id = $1 ORDER BY id", community_id)
    finally:
        await conn.close()
    return [row[0] for row in rows]


def main(argv: list[str]) -> None:
    url, community_id, process, processes, postings = argv[0], *map(int, argv[1:5])
    plan = make_plan(asyncio.run(member_ids(url, community_id)))[:postings]
    conflicts = _Conflicts()
    logging.getLogger("core.storage.batching").addHandler(conflicts)
    locks = Locks()
    print("ready", flush=True)
    sys.stdin.readline()
    seconds, posted, batches, redone = asyncio.run(
        run_ledger(
            url,
            community_id,
            plan,
            # A process's concurrency is its own (each adapter handles its updates at once), so
            # each keeps as many postings in flight as the single process: its tasks' windows grow.
            window=WINDOW * processes,
            tasks=range(process, TASKS, processes),
            watch=lambda db: watching_locks(db, locks),
        )
    )
    result = {
        "posted": posted,
        "seconds": seconds,
        "batches": batches,
        "redone_under_locks": redone,
        "conflicts_retried": conflicts.count,
    }
    print(json.dumps({**result, "locks": locks.__dict__}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
