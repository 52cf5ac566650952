"""The ingest benchmark on PostgreSQL (``STUDYHALL_BENCH_PG``): bench/ingest.py's 200,000 group
messages from 5,000 members through App.handle (router → activity log → earning rules →
ledger) with /points probes, on a scratch database migrated by the product's migrations.

Reference, in the same run on an identical copy: set-based asyncpg doing the storage work
alone, 1,000 events a transaction: the activity rows as one insert from unnest() arrays, and
as many ledger postings as the product made, each as in the ledger reference (transfers from
arrays with ON CONFLICT on the unique key, the issuance debit and the member credits from
arrays).

Printed beside the rates: what the product sent per transaction (statements, by kind).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import asyncpg

from bench.common import START, emit, insert_community
from bench.ingest import CHATS, EVENTS, MEMBERS, PLATFORM, WORKERS, make_events, run_app
from bench.ledger_pg import per_batch
from bench.pg import Scratch, Statements, asyncpg_args, bench_url, counting
from core.events import Event
from core.storage.database import Database

ACTIVITY_INSERT = """
INSERT INTO activity (community_id, member_id, chat_id, at, kind, text_length)
SELECT $1, m, c, t, 'message', n FROM unnest($2::bigint[], $3::bigint[], $4::timestamp[], $5::int[])
    AS r(m, c, t, n)
"""
TRANSFER_INSERT = """
INSERT INTO ledger_transfers (community_id, debit_account_id, credit_account_id, amount, kind, memo,
                              actor_member_id, at, idempotency_key, reverses_id)
SELECT $1, $2, c, 1, 'message', '', NULL, t, k, NULL
FROM unnest($3::bigint[], $4::timestamp[], $5::text[]) AS r(c, t, k)
ON CONFLICT (community_id, idempotency_key) DO NOTHING
RETURNING credit_account_id
"""
DEBIT_SYSTEM = "UPDATE ledger_accounts SET balance = balance - $2 WHERE id = $1"
CREDIT = """
UPDATE ledger_accounts AS a SET balance = a.balance + r.amount, earned = a.earned + r.amount
FROM unnest($1::bigint[], $2::bigint[]) AS r(id, amount) WHERE a.id = r.id
"""


async def seed(scratch: Scratch) -> int:
    url = await scratch.migrated("base")
    db = Database(url)
    try:
        async with db.write() as conn:
            community_id, _ = await insert_community(conn, "bench", MEMBERS, platform=PLATFORM)
    finally:
        await db.dispose()
    return community_id


async def run_reference(url: str, community_id: int, events: list[Event], postings: int) -> float:
    """Set-based asyncpg: the activity rows and ``postings`` ledger postings, 1,000 events a
    transaction."""
    conn = await asyncpg.connect(**asyncpg_args(url))
    try:
        member_of = dict(await conn.fetch("SELECT external_id, member_id FROM identities"))
        at = START.replace(tzinfo=None)
        chat_of = {}
        for i in range(CHATS):
            chat_of[f"g{i}"] = await conn.fetchval(
                "INSERT INTO chats (community_id, platform, external_id, kind, title, created_at,"
                " bot_present)"
                " VALUES ($1, $2, $3, 'group', $4, $5, true) RETURNING id",
                community_id,
                PLATFORM,
                f"ref-g{i}",
                f"group {i}",
                at,
            )
        issuance = await conn.fetchval(
            "INSERT INTO ledger_accounts (community_id, member_id, code, balance, earned)"
            " VALUES ($1, NULL, 'ref', 0, 0) RETURNING id",
            community_id,
        )
        await conn.execute(
            "INSERT INTO ledger_accounts (community_id, member_id, balance, earned)"
            " SELECT $1, m, 0, 0 FROM unnest($2::bigint[]) AS m ON CONFLICT DO NOTHING",
            community_id,
            list(member_of.values()),
        )
        account_of = dict(
            await conn.fetch("SELECT member_id, id FROM ledger_accounts WHERE member_id IS NOT NULL")
        )
        every = max(1, len(events) // max(1, postings))
        started = asyncio.get_running_loop().time()
        for start in range(0, len(events), 1000):
            await _store_set(
                conn, community_id, events, start, every, member_of, chat_of, account_of, issuance
            )
        return asyncio.get_running_loop().time() - started
    finally:
        await conn.close()


async def _store_set(
    conn: asyncpg.Connection,
    community_id: int,
    events: list[Event],
    start: int,
    every: int,
    member_of: dict[str, int],
    chat_of: dict[str, int],
    account_of: dict[int, int],
    issuance: int,
) -> None:
    members, chats, times, lengths = [], [], [], []
    credits, credit_times, keys = [], [], []
    for n, event in enumerate(events[start : start + 1000], start=start):
        member_id = member_of[event.sender.external_id]
        at = event.timestamp.replace(tzinfo=None)
        members.append(member_id)
        chats.append(chat_of[event.chat.external_id])
        times.append(at)
        lengths.append(len(event.text))
        if n % every == 0:
            credits.append(account_of[member_id])
            credit_times.append(at)
            keys.append(f"ref:{n}")
    async with conn.transaction():
        await conn.execute(ACTIVITY_INSERT, community_id, members, chats, times, lengths)
        if not credits:
            return
        rows = await conn.fetch(TRANSFER_INSERT, community_id, issuance, credits, credit_times, keys)
        gain: dict[int, int] = defaultdict(int)
        for row in rows:
            gain[row[0]] += 1
        await conn.execute(DEBIT_SYSTEM, issuance, len(rows))
        ids = sorted(gain)
        await conn.execute(CREDIT, ids, [gain[i] for i in ids])


async def run(admin_url: str, events_count: int = EVENTS) -> dict[str, object]:
    scratch = Scratch(admin_url)
    events = make_events("bench")[:events_count]
    try:
        community_id = await seed(scratch)
        base = scratch.name_of("base")
        ours_url = await scratch.create("ours", template=base)
        ref_url = await scratch.create("ref", template=base)
        counts = Statements()
        with tempfile.TemporaryDirectory(prefix="studyhall-bench-") as folder:
            ours = await run_app(
                ours_url, Path(folder), "bench", events, watch=lambda db: counting(db, counts)
            )
        ours["activity"] = await _count(ours_url, "activity")
        ref_seconds = await run_reference(ref_url, community_id, events, int(ours["postings"]))
    finally:
        await scratch.drop_all()
    rate, ref_rate = len(events) / ours["seconds"], len(events) / ref_seconds
    return {
        "bench": "ingest",
        "db": "postgresql",
        "events": len(events),
        "rate": round(rate),
        "ref_rate": round(ref_rate),
        "ratio": round(rate / ref_rate, 3),
        "p50_ms": round(ours["p50"], 2),
        "p99_ms": round(ours["p99"], 2),
        "postings": int(ours["postings"]),
        "activity_rows": int(ours["activity"]),
        "probes": int(ours["probes"]),
        "in_flight": WORKERS,
        **per_batch(counts),
    }


async def _count(url: str, table: str) -> int:
    conn = await asyncpg.connect(**asyncpg_args(url))
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


def main() -> None:
    url = bench_url()
    if url is None:
        print("ingest on PostgreSQL: skipped (set STUDYHALL_BENCH_PG to a postgresql+asyncpg URL)")
        return
    emit(asyncio.run(run(url, int(sys.argv[1]) if len(sys.argv) > 1 else EVENTS)))


if __name__ == "__main__":
    main()
