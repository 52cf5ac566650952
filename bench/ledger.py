"""Ledger throughput: 100,000 member-to-member transfers among 10,000 members, submitted by 64
concurrent tasks through the public Ledger API on a SQLite file.

Reference L, measured in the same run on a copy of the same funded database: the same postings
through raw sqlite3 (conditional debit update, credit update, transfer insert with its unique
key), 1,000 per transaction.

Each task keeps up to WINDOW postings in flight (``Ledger.submit``), as a busy handler
does: a caller that waits for each commit before queueing its next posting caps a group
commit at 64 postings. That mode is printed too (``serial_rate``) next to its ceiling
``ref64_rate``, raw sqlite3 at 64 postings per transaction; and ``bulk_rate``/``bulk_ratio`` for
the same 64 tasks using ``post_many`` with 100 postings per call.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from bench.common import START, bulk_community, copy_db, emit, migrated_file, raw_connection, url_of, workdir
from core.ledger.models import Kind, MemberAccount, Outcome, Posting, PostingResult, SystemAccount, SystemCode
from core.ledger.service import Ledger
from core.storage.database import Database

POSTINGS = 100_000
MEMBERS = int(os.environ.get("BENCH_LEDGER_MEMBERS", 10_000))  # fewer in tests
TASKS = 64
WINDOW = 16  # postings each task keeps in flight
FUNDING = 1_000


def make_plan(member_ids: list[int]) -> list[tuple[int, int, int]]:
    rng = random.Random(7)
    plan = []
    for _ in range(POSTINGS):
        debit, credit = rng.sample(member_ids, 2)
        plan.append((debit, credit, rng.randint(1, 10)))
    return plan


def key_of(task: int, n: int) -> str:
    """The idempotency key of a task's n-th posting; plan item i is task i % TASKS's (i // TASKS)-th,
    and the reference posts under the same keys (their order shapes the unique index's pages)."""
    return f"bench:{task}:{n}"


async def fund(url: str, community_id: int, member_ids: list[int]) -> None:
    db = Database(url)
    ledger = Ledger(db)
    try:
        postings = [
            Posting(
                community_id=community_id,
                debit=SystemAccount(SystemCode.BENCH),
                credit=MemberAccount(member_id),
                amount=FUNDING,
                kind=Kind.TRANSFER,
                key=f"fund:{member_id}",
                at=START,
            )
            for member_id in member_ids
        ]
        await asyncio.gather(*(ledger.post(p) for p in postings))
    finally:
        await ledger.close()
        await db.dispose()


class LedgerRun(NamedTuple):
    seconds: float
    posted: int
    batches: int
    # Batches decided on balances read without locks, then again under locks because another
    # writer had moved a balance too far meanwhile (PostgreSQL; core/ledger/writer.py).
    redone_under_locks: int


async def run_ledger(
    url: str,
    community_id: int,
    plan: list[tuple[int, int, int]],
    *,
    window: int = 1,
    chunk: int = 1,
    watch: Callable[[Database], AbstractContextManager[object]] = lambda _db: nullcontext(),
    tasks: Sequence[int] = range(TASKS),
) -> LedgerRun:
    """Each of TASKS tasks posts its share, keeping up to ``window`` postings in flight
    (``Ledger.submit``); ``chunk`` > 1 uses post_many with that many at a time instead.
    ``watch(database)`` is entered around the timed part (to count statements); ``tasks``: which
    of the TASKS shares this run posts (a process's part when the workload is split)."""
    db = Database(url)
    ledger = Ledger(db)
    posted = 0
    shares = {i: plan[i::TASKS] for i in tasks}
    # As the reference has its account ids and time string at hand, a caller has its account
    # references: what is timed is building each Posting and the ledger's work on it.
    accounts = {member_id: MemberAccount(member_id) for item in plan for member_id in item[:2]}
    at = START + timedelta(seconds=1)

    def posting(offset: int, n: int, debit: int, credit: int, amount: int) -> Posting:
        return Posting(
            community_id=community_id,
            debit=accounts[debit],
            credit=accounts[credit],
            amount=amount,
            kind=Kind.TRANSFER,
            key=key_of(offset, n),
            at=at,
        )

    async def worker(offset: int, items: list[tuple[int, int, int]]) -> int:
        done = 0
        if chunk == 1:
            in_flight: deque[Awaitable[PostingResult]] = deque()
            for n, (debit, credit, amount) in enumerate(items):
                in_flight.append(ledger.submit(posting(offset, n, debit, credit, amount)))
                if len(in_flight) >= window:
                    done += (await in_flight.popleft()).outcome is Outcome.POSTED
            for pending in in_flight:
                done += (await pending).outcome is Outcome.POSTED
            return done
        for start in range(0, len(items), chunk):
            part = [
                posting(offset, n, *item) for n, item in enumerate(items[start : start + chunk], start=start)
            ]
            done += sum(r.outcome is Outcome.POSTED for r in await ledger.post_many(part))
        return done

    try:
        with watch(db):
            started = time.perf_counter()
            posted = sum(await asyncio.gather(*(worker(i, items) for i, items in shares.items())))
            await ledger.close()
            elapsed = time.perf_counter() - started
        writer = ledger.writer
        return LedgerRun(elapsed, posted, writer.commits.batches, writer.balances_moved)
    finally:
        await db.dispose()


def run_reference(
    path: Path, community_id: int, plan: list[tuple[int, int, int]], per_transaction: int = 1000
) -> tuple[float, int]:
    conn = raw_connection(path)
    account = dict(
        conn.execute(
            "SELECT member_id, id FROM ledger_accounts WHERE community_id = ? AND member_id IS NOT NULL",
            (community_id,),
        ).fetchall()
    )
    at = (START + timedelta(seconds=1)).replace(tzinfo=None).isoformat(sep=" ")
    posted = 0
    started = time.perf_counter()
    for start in range(0, len(plan), per_transaction):
        conn.execute("BEGIN IMMEDIATE")
        for n, (debit, credit, amount) in enumerate(plan[start : start + per_transaction], start=start):
            moved = conn.execute(
                "UPDATE ledger_accounts SET balance = balance - ? WHERE id = ? AND balance >= ?",
                (amount, account[debit], amount),
            ).rowcount
            if not moved:
                continue
            conn.execute(
                "UPDATE ledger_accounts SET balance = balance + ? WHERE id = ?", (amount, account[credit])
            )
            conn.execute(
                "INSERT INTO ledger_transfers (community_id, debit_account_id, credit_account_id, amount,"
                " kind, memo, actor_member_id, at, idempotency_key, reverses_id)"
                " VALUES (?, ?, ?, ?, 'transfer', '', NULL, ?, ?, NULL)",
                (community_id, account[debit], account[credit], amount, at, key_of(n % TASKS, n // TASKS)),
            )
            posted += 1
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, posted


def main() -> None:
    folder = workdir()
    base = folder / "base.db"
    asyncio.run(migrated_file(base))
    community_id, member_ids = asyncio.run(bulk_community(base, "bench", MEMBERS))
    asyncio.run(fund(url_of(base), community_id, member_ids))
    plan = make_plan(member_ids)
    for name in ("ours", "serial", "bulk", "ref", "ref64"):
        copy_db(base, folder / f"{name}.db")

    ref_seconds, ref_posted = run_reference(folder / "ref.db", community_id, plan)
    # The ceiling for one-posting-at-a-time callers: 64 tasks make batches of at most 64.
    ref64_seconds, _ = run_reference(folder / "ref64.db", community_id, plan, per_transaction=TASKS)
    seconds, posted, batches, _ = asyncio.run(
        run_ledger(url_of(folder / "ours.db"), community_id, plan, window=WINDOW)
    )
    serial_seconds = asyncio.run(run_ledger(url_of(folder / "serial.db"), community_id, plan)).seconds
    bulk_seconds, bulk_posted, _, _ = asyncio.run(
        run_ledger(url_of(folder / "bulk.db"), community_id, plan, chunk=100)
    )
    rate, ref_rate = POSTINGS / seconds, POSTINGS / ref_seconds
    emit(
        {
            "bench": "ledger",
            "postings": POSTINGS,
            "rate": round(rate),
            "ref_rate": round(ref_rate),
            "ratio": round(rate / ref_rate, 3),
            "posted": posted,
            "ref_posted": ref_posted,
            "batches": batches,
            "in_flight_per_task": WINDOW,
            "serial_rate": round(POSTINGS / serial_seconds),
            "ref64_rate": round(POSTINGS / ref64_seconds),
            "bulk_rate": round(POSTINGS / bulk_seconds),
            "bulk_ratio": round(ref_seconds / bulk_seconds, 3),
            "bulk_posted": bulk_posted,
        }
    )


if __name__ == "__main__":
    main()
