"""Processes: the ledger benchmark's workload (bench/ledger.py) split over 1, 2 and 4 OS
processes on one PostgreSQL database (``STUDYHALL_BENCH_PG``), each process with its own
Database and Ledger (bench/ledger_process.py). Without PostgreSQL it says so and skips.

Each count starts from an identical fresh copy of the funded database. The processes start,
build their plans, and are released together; the aggregate rate is all postings over the
time from the release to the last process's end. After each count the ledger is checked:
every posting exactly once (by key count), balances summing to zero, no negative balance.
Printed per count: the lock pattern the batches showed (rows locked per batch, whether in
id order, how long each waited for and held its locks) and how many lost a deadlock.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

from bench.common import emit
from bench.ledger import POSTINGS
from bench.ledger_pg import check, seed
from bench.pg import Locks, Scratch, bench_url

COUNTS = (1, 2, 4)


def run_count(url: str, community_id: int, processes: int, postings: int) -> dict[str, object]:
    """Run the workload split over ``processes`` processes; their results and the wall time."""
    command = [sys.executable, "-m", "bench.ledger_process", url, str(community_id)]
    children = [
        subprocess.Popen(
            [*command, str(n), str(processes), str(postings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for n in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child in children:
            assert child.stdout is not None
            results.append(json.loads(child.stdout.readline()))
        seconds = time.perf_counter() - started
    finally:
        for child in children:
            child.wait(timeout=600)
    failed = [child.returncode for child in children if child.returncode]
    if failed:
        raise RuntimeError(f"a ledger process failed (exit {failed})")
    locks = Locks()
    for result in results:
        for name in ("rows", "waited", "held"):
            getattr(locks, name).extend(result["locks"][name])
        locks.unsorted += result["locks"]["unsorted"]
    return {
        "seconds": seconds,
        "posted": sum(r["posted"] for r in results),
        "batches": sum(r["batches"] for r in results),
        "redone_under_locks": sum(r["redone_under_locks"] for r in results),
        "conflicts_retried": sum(r["conflicts_retried"] for r in results),
        **locks.summary(),
    }


async def run(admin_url: str, postings: int = POSTINGS) -> dict[str, object]:
    scratch = Scratch(admin_url)
    line: dict[str, object] = {"bench": "processes", "db": "postgresql", "postings": postings}
    try:
        community_id, _ = await seed(scratch)
        rates = {}
        for processes in COUNTS:
            url = await scratch.create(f"p{processes}", template=scratch.name_of("base"))
            ran = await asyncio.to_thread(run_count, url, community_id, processes, postings)
            checked = await check(url, community_id, postings)
            rates[processes] = postings / float(ran.pop("seconds"))  # type: ignore[arg-type]
            line[f"rate_{processes}"] = round(rates[processes])
            line[f"run_{processes}"] = {**ran, **checked}
        line["ratio_4_to_1"] = round(rates[4] / rates[1], 3)
    finally:
        await scratch.drop_all()
    return line


def main() -> None:
    url = bench_url()
    if url is None:
        print("processes: skipped, it needs PostgreSQL (set STUDYHALL_BENCH_PG to a postgresql+asyncpg URL)")
        return
    emit(asyncio.run(run(url, int(sys.argv[1]) if len(sys.argv) > 1 else POSTINGS)))


if __name__ == "__main__":
    main()
