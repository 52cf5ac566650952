"""The ledger benchmark on PostgreSQL (``STUDYHALL_BENCH_PG``): the workload of bench/ledger.py
(100,000 transfers among 10,000 funded members, 64 tasks with 16 postings in flight each)
through the public Ledger API, on a scratch database migrated by the product's migrations.

Reference, in the same run on an identical copy: set-based asyncpg, 1,000 postings a
transaction, under the same idempotency keys: the transfers go in as one multi-row insert
from unnest() arrays (ON CONFLICT on the unique key skips replays), then one conditional debit
(``balance >= amount``, per account summed over the batch) and one credit, both from arrays.
A debit refused for want of points takes that account's postings of the batch out again.

Printed beside the rates: how many statements and executemany rows the product sent per
batch (counted through SQLAlchemy's events), and the correctness of both databases.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from datetime import timedelta

import asyncpg

from bench.common import START, emit, insert_community
from bench.ledger import MEMBERS, POSTINGS, TASKS, WINDOW, fund, key_of, make_plan, run_ledger
from bench.pg import Scratch, Statements, asyncpg_args, bench_url, counting
from core.ledger.tables import effective_sql
from core.storage.database import Database

PER_TRANSACTION = 1000
TRANSFER_INSERT = """
INSERT INTO ledger_transfers (community_id, debit_account_id, credit_account_id, amount, kind, memo,
                              actor_member_id, at, idempotency_key, reverses_id)
SELECT $1, d, c, a, 'transfer', '', NULL, $2, k, NULL
FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::text[]) AS t(d, c, a, k)
ON CONFLICT (community_id, idempotency_key) DO NOTHING
RETURNING idempotency_key
"""
DEBIT = """
UPDATE ledger_accounts AS a SET balance = a.balance - t.amount
FROM unnest($1::bigint[], $2::bigint[]) AS t(id, amount)
WHERE a.id = t.id AND a.balance >= t.amount
RETURNING a.id
"""
CREDIT = """
UPDATE ledger_accounts AS a SET balance = a.balance + t.amount
FROM unnest($1::bigint[], $2::bigint[]) AS t(id, amount)
WHERE a.id = t.id
"""
UNDO = "DELETE FROM ledger_transfers WHERE community_id = $1 AND idempotency_key = ANY($2::text[])"


async def seed(scratch: Scratch) -> tuple[int, list[int]]:
    """The base database: migrated, MEMBERS members, each funded through the Ledger API."""
    url = await scratch.migrated("base")
    db = Database(url)
    try:
        async with db.write() as conn:
            community_id, member_ids = await insert_community(conn, "bench", MEMBERS)
    finally:
        await db.dispose()
    await fund(url, community_id, member_ids)
    return community_id, member_ids


async def run_reference(url: str, community_id: int, plan: list[tuple[int, int, int]]) -> tuple[float, int]:
    conn = await asyncpg.connect(**asyncpg_args(url))
    try:
        rows = await conn.fetch(
            "SELECT member_id, id FROM ledger_accounts WHERE community_id = $1 AND member_id IS NOT NULL",
            community_id,
        )
        account = {row["member_id"]: row["id"] for row in rows}
        at = (START + timedelta(seconds=1)).replace(tzinfo=None)
        posted = 0
        started = time.perf_counter()
        for start in range(0, len(plan), PER_TRANSACTION):
            chunk = plan[start : start + PER_TRANSACTION]
            part = [
                (account[debit], account[credit], amount, key_of(n % TASKS, n // TASKS))
                for n, (debit, credit, amount) in enumerate(chunk, start=start)
            ]
            async with conn.transaction():
                posted += await _post_set(conn, community_id, at, part)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return elapsed, posted


async def _post_set(
    conn: asyncpg.Connection, community_id: int, at: object, part: list[tuple[int, int, int, str]]
) -> int:
    """One batch, set-based: insert (skipping taken keys), debit where the balance allows,
    credit; a refused debit takes its account's postings out again. How many were posted."""
    debits, credits, amounts, keys = (list(column) for column in zip(*part, strict=True))
    rows = await conn.fetch(TRANSFER_INSERT, community_id, at, debits, credits, amounts, keys)
    inserted = {row[0] for row in rows}
    new = [p for p in part if p[3] in inserted]
    spend: dict[int, int] = defaultdict(int)
    for debit, _credit, amount, _key in new:
        spend[debit] += amount
    ids = sorted(spend)  # rows locked in id order, as the product does
    moved = {r[0] for r in await conn.fetch(DEBIT, ids, [spend[i] for i in ids])}
    if len(moved) < len(ids):
        refused = [p for p in new if p[0] not in moved]
        await conn.execute(UNDO, community_id, [p[3] for p in refused])
        new = [p for p in new if p[0] in moved]
    gain: dict[int, int] = defaultdict(int)
    for _debit, credit, amount, _key in new:
        gain[credit] += amount
    ids = sorted(gain)
    await conn.execute(CREDIT, ids, [gain[i] for i in ids])
    return len(new)


async def check(url: str, community_id: int, keys: int | None = None) -> dict[str, object]:
    """The ledger invariants after a run: transfers counted by distinct key (every posting once),
    balances summing to zero, no member below zero."""
    conn = await asyncpg.connect(**asyncpg_args(url))
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS transfers, count(DISTINCT idempotency_key) AS distinct_keys,"
            " count(*) FILTER (WHERE idempotency_key LIKE 'bench:%') AS bench_keys"
            " FROM ledger_transfers WHERE community_id = $1",
            community_id,
        )
        balance = effective_sql()  # with system accounts' stripes
        total = await conn.fetchval(f"SELECT coalesce(sum({balance}), 0) FROM ledger_accounts a")
        negative = await conn.fetchval(
            "SELECT count(*) FROM ledger_accounts WHERE member_id IS NOT NULL AND balance < 0"
        )
        mismatched = await conn.fetchval(
            f"SELECT count(*) FROM ledger_accounts a WHERE {balance} <>"
            " coalesce((SELECT sum(amount) FROM ledger_transfers WHERE credit_account_id = a.id), 0)"
            " - coalesce((SELECT sum(amount) FROM ledger_transfers WHERE debit_account_id = a.id), 0)"
        )
    finally:
        await conn.close()
    result: dict[str, object] = {
        "bench_keys": row["bench_keys"],
        "keys_unique": row["transfers"] == row["distinct_keys"],
        "sum_zero": total == 0,
        "negative_balances": negative,
        "balances_match_transfers": mismatched == 0,
    }
    if keys is not None:
        result["each_once"] = row["bench_keys"] == keys and row["transfers"] == row["distinct_keys"]
    return result


def per_batch(counts: Statements) -> dict[str, object]:
    batches = max(1, counts.batches)
    return {
        "statements_per_batch": round(counts.statements / batches, 2),
        # each statement, BEGIN and COMMIT, and the ping of each pool checkout
        "round_trips_per_batch": round(
            (counts.statements + 2 * counts.batches + counts.checkouts) / batches, 2
        ),
        "executemany_rows_per_batch": round(counts.executemany_rows / batches, 1),
        "sql_ms_per_batch": round(counts.seconds_in_sql * 1000 / batches, 2),
        # per batch: [statements, milliseconds] of each kind
        "statement_kinds": {
            k: [round(n / batches, 2), round(t * 1000 / batches, 2)]
            for k, (n, t) in sorted(counts.by_kind.items())
        },
    }


async def run(admin_url: str, postings: int = POSTINGS) -> dict[str, object]:
    scratch = Scratch(admin_url)
    try:
        community_id, member_ids = await seed(scratch)
        plan = make_plan(member_ids)[:postings]
        base = scratch.name_of("base")
        ours_url = await scratch.create("ours", template=base)
        ref_url = await scratch.create("ref", template=base)
        ref_seconds, ref_posted = await run_reference(ref_url, community_id, plan)
        counts = Statements()
        seconds, posted, batches, redone = await run_ledger(
            ours_url, community_id, plan, window=WINDOW, watch=lambda db: counting(db, counts)
        )
        ours_check = await check(ours_url, community_id, posted)
        ref_check = await check(ref_url, community_id, ref_posted)
    finally:
        await scratch.drop_all()
    rate, ref_rate = len(plan) / seconds, len(plan) / ref_seconds
    return {
        "bench": "ledger",
        "db": "postgresql",
        "postings": len(plan),
        "rate": round(rate),
        "ref_rate": round(ref_rate),
        "ratio": round(rate / ref_rate, 3),
        "posted": posted,
        "ref_posted": ref_posted,
        "batches": batches,
        "redone_under_locks": redone,
        "in_flight_per_task": WINDOW,
        **per_batch(counts),
        "check": ours_check,
        "ref_check": ref_check,
    }


def main() -> None:
    url = bench_url()
    if url is None:
        print("ledger on PostgreSQL: skipped (set STUDYHALL_BENCH_PG to a postgresql+asyncpg URL)")
        return
    postings = int(sys.argv[1]) if len(sys.argv) > 1 else POSTINGS
    emit(asyncio.run(run(url, postings)))


if __name__ == "__main__":
    main()
