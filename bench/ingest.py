"""Ingest: 200,000 group messages from 5,000 members across 20 chats through the whole path
(Event → router → activity log → earning rules → ledger), with /points commands interleaved
whose latency is measured.

Reference, measured in the same run on a copy of the same database: raw sqlite3 doing the
storage work alone — one activity row per event, plus the same number of ledger postings as
the run produced — 1,000 events per transaction.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.common import START, bulk_community, copy_db, emit, migrated_file, raw_connection, url_of, workdir
from bot.adapters.telegram.adapter import CONCURRENT_UPDATES
from bot.app import App
from bot.config import Config
from core.clock import ManualClock
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from core.ledger.tables import ledger_transfers
from core.storage.database import Database

EVENTS = int(__import__("os").environ.get("BENCH_EVENTS", 200_000))
MEMBERS = int(__import__("os").environ.get("BENCH_MEMBERS", 5_000))
CHATS = 20
# As many messages in flight as the Telegram adapter handles at once.
WORKERS = int(__import__("os").environ.get("BENCH_WORKERS", CONCURRENT_UPDATES))
PROBE_EVERY = 0.005  # seconds between /points probes
PLATFORM = "bench"
WORDS = """python pandas numpy lesson homework question answer thanks deadline project review chapter
exercise notebook dataset chart model error loop function class module test deploy server""".split()


def make_events(community: str) -> list[Event]:
    rng = random.Random(11)
    chats = [ChatRef(PLATFORM, f"g{i}", ChatKind.GROUP, f"group {i}") for i in range(CHATS)]
    users = [UserRef(PLATFORM, f"u{i}", f"m{i}") for i in range(MEMBERS)]
    events = []
    for n in range(EVENTS):
        words = rng.randint(1, 12)
        text = " ".join(rng.choice(WORDS) for _ in range(words))
        events.append(
            Event(
                PLATFORM,
                community,
                rng.choice(chats),
                rng.choice(users),
                EventKind.MESSAGE,
                START + timedelta(milliseconds=10 * n),
                text=text,
                message_id=str(n),
            )
        )
    return events


async def run_app(
    url: str,
    data_dir: Path,
    community: str,
    events: list[Event],
    *,
    watch: Callable[[Database], AbstractContextManager[object]] = lambda _db: nullcontext(),
) -> dict[str, float]:
    """The events through App.handle by WORKERS workers, /points probed meanwhile; ``watch``
    (database) is entered around the timed part (to count statements)."""
    config = Config(database_url=url, data_dir=data_dir, community=community)
    app = await App.open(config, clock=ManualClock(START))
    rng = random.Random(5)
    latencies: list[float] = []
    position = 0
    done = asyncio.Event()

    async def worker() -> None:
        nonlocal position
        while position < len(events):
            event = events[position]
            position += 1
            await app.handle(event)

    async def probe() -> None:
        n = 0
        while not done.is_set():
            member = rng.randrange(MEMBERS)
            user = UserRef(PLATFORM, f"u{member}", f"m{member}")
            chat = ChatRef(PLATFORM, f"dm{member}", ChatKind.PRIVATE, f"m{member}")
            event = Event(
                PLATFORM, community, chat, user, EventKind.COMMAND, START, text="/points", message_id=f"p{n}"
            )
            started = time.perf_counter()
            replies = await app.handle(event)
            latencies.append((time.perf_counter() - started) * 1000)
            assert replies, "/points must answer"
            n += 1
            await asyncio.sleep(PROBE_EVERY)

    try:
        with watch(app.db):
            started = time.perf_counter()
            prober = asyncio.create_task(probe())
            await asyncio.gather(*(worker() for _ in range(WORKERS)))
            done.set()
            await prober
            await app.services.close()  # everything committed
            elapsed = time.perf_counter() - started
        async with app.db.read() as conn:
            postings = (await conn.execute(select(func.count()).select_from(ledger_transfers))).scalar_one()
    finally:
        await app.db.dispose()
    latencies.sort()
    return {
        "seconds": elapsed,
        "postings": postings,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "probes": len(latencies),
    }


def run_reference(path: Path, community_id: int, events: list[Event], postings: int) -> float:
    """Raw sqlite3: the activity rows and ``postings`` ledger postings, 1,000 events a transaction."""
    conn = raw_connection(path)
    member_of = dict(conn.execute("SELECT external_id, member_id FROM identities").fetchall())
    chat_rows = []
    for i in range(CHATS):
        conn.execute(
            "INSERT INTO chats (community_id, platform, external_id, kind, title, created_at, bot_present)"
            " VALUES (?, ?, ?, 'group', ?, ?, 1)",
            (community_id, PLATFORM, f"ref-g{i}", f"group {i}", "2026-03-02 08:00:00.000000"),
        )
    chat_rows = dict(
        conn.execute("SELECT external_id, id FROM chats WHERE external_id LIKE 'ref-g%'").fetchall()
    )
    conn.execute(
        "INSERT INTO ledger_accounts (community_id, member_id, code, balance, earned)"
        " VALUES (?, NULL, 'ref', 0, 0)",
        (community_id,),
    )
    (issuance,) = conn.execute("SELECT id FROM ledger_accounts WHERE code = 'ref'").fetchone()
    accounts = {}
    for member_id in member_of.values():
        accounts[member_id] = conn.execute(
            "INSERT INTO ledger_accounts (community_id, member_id, balance, earned) VALUES (?, ?, 0, 0)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (community_id, member_id),
        ).fetchone()
    accounts = dict(
        conn.execute("SELECT member_id, id FROM ledger_accounts WHERE member_id IS NOT NULL").fetchall()
    )
    every = max(1, len(events) // max(1, postings))
    started = time.perf_counter()
    for start in range(0, len(events), 1000):
        conn.execute("BEGIN IMMEDIATE")
        for n, event in enumerate(events[start : start + 1000], start=start):
            member_id = member_of[event.sender.external_id]
            at = event.timestamp.replace(tzinfo=None).isoformat(sep=" ")
            conn.execute(
                "INSERT INTO activity (community_id, member_id, chat_id, at, kind, text_length)"
                " VALUES (?, ?, ?, ?, 'message', ?)",
                (community_id, member_id, chat_rows[f"ref-{event.chat.external_id}"], at, len(event.text)),
            )
            if n % every == 0:
                conn.execute("UPDATE ledger_accounts SET balance = balance - 1 WHERE id = ?", (issuance,))
                conn.execute(
                    "UPDATE ledger_accounts SET balance = balance + 1, earned = earned + 1 WHERE id = ?",
                    (accounts[member_id],),
                )
                conn.execute(
                    "INSERT INTO ledger_transfers (community_id, debit_account_id, credit_account_id, amount,"
                    " kind, memo, actor_member_id, at, idempotency_key, reverses_id)"
                    " VALUES (?, ?, ?, 1, 'message', '', NULL, ?, ?, NULL)",
                    (community_id, issuance, accounts[member_id], at, f"ref:{n}"),
                )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    folder = workdir()
    base = folder / "base.db"
    asyncio.run(migrated_file(base))
    community_id, _ = asyncio.run(bulk_community(base, "bench", MEMBERS, platform=PLATFORM))
    events = make_events("bench")
    copy_db(base, folder / "ours.db")
    copy_db(base, folder / "ref.db")
    ours = asyncio.run(run_app(url_of(folder / "ours.db"), folder, "bench", events))
    ref_seconds = run_reference(folder / "ref.db", community_id, events, int(ours["postings"]))
    rate, ref_rate = EVENTS / ours["seconds"], EVENTS / ref_seconds
    emit(
        {
            "bench": "ingest",
            "events": EVENTS,
            "rate": round(rate),
            "ref_rate": round(ref_rate),
            "ratio": round(rate / ref_rate, 3),
            "p50_ms": round(ours["p50"], 2),
            "p99_ms": round(ours["p99"], 2),
            "postings": int(ours["postings"]),
            "probes": int(ours["probes"]),
            "in_flight": WORKERS,
        }
    )


if __name__ == "__main__":
    main()
