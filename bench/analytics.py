"""Analytics: 1,000,000 activity events from 50,000 members over 180 days; the whole analytics
run (engagement, cohorts, revenue, rule segments and K-means segments), as the nightly job
does it, with its peak memory.

Reference, measured in the same run on the same file: one raw SQL ``GROUP BY`` over the
activity table (events and last time per member), through plain sqlite3.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import time
from datetime import timedelta
from pathlib import Path

from bench.common import START, bulk_community, emit, migrated_file, raw_connection, url_of, workdir
from bot.app import App
from bot.config import Config
from core.clock import ManualClock

EVENTS = int(os.environ.get("BENCH_EVENTS", 1_000_000))
MEMBERS = int(os.environ.get("BENCH_MEMBERS", 50_000))
DAYS = 180
KINDS = ("message", "message", "message", "command", "button")


def _stamp(dt: object) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")  # type: ignore[attr-defined]


def fill(path: Path, community_id: int, member_ids: list[int]) -> None:
    """Members joining over the 180 days; each active from joining on, some much more than others."""
    rng = random.Random(5)
    conn = raw_connection(path)
    chat = conn.execute(
        "INSERT INTO chats (community_id, platform, external_id, kind, title, created_at, bot_present)"
        " VALUES (?, 'bench', 'g0', 'group', 'g0', ?, 1) RETURNING id",
        (community_id, _stamp(START)),
    ).fetchone()[0]
    joined = {m: rng.uniform(0, DAYS - 1) for m in member_ids}
    conn.execute("BEGIN")
    conn.executemany(
        "UPDATE members SET created_at = ? WHERE id = ?",
        [(_stamp(START + timedelta(days=day)), m) for m, day in joined.items()],
    )
    conn.execute("COMMIT")
    weights = [rng.paretovariate(1.2) for _ in member_ids]
    chosen = rng.choices(member_ids, weights=weights, k=EVENTS)
    rows = []
    for member in chosen:
        day = rng.uniform(joined[member], DAYS)
        rows.append((community_id, member, chat, _stamp(START + timedelta(days=day)), rng.choice(KINDS), 20))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO activity (community_id, member_id, chat_id, at, kind, text_length)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def reference(path: Path) -> float:
    conn = raw_connection(path)
    started = time.perf_counter()
    rows = conn.execute(
        "SELECT member_id, COUNT(*), MAX(at) FROM activity WHERE community_id = 1 GROUP BY member_id"
    ).fetchall()
    seconds = time.perf_counter() - started
    conn.close()
    assert len(rows) > MEMBERS // 2
    return seconds


async def main() -> None:
    folder = workdir()
    path = folder / "analytics.db"
    await migrated_file(path)
    community_id, member_ids = await bulk_community(path, "bench", MEMBERS)
    fill(path, community_id, member_ids)
    ref_seconds = min(reference(path) for _ in range(3))
    clock = ManualClock(START + timedelta(days=DAYS))
    app = await App.open(Config(database_url=url_of(path), data_dir=folder, community="bench"), clock=clock)
    try:
        community = await app.community("bench")
        started = time.perf_counter()
        summary = await app.services.analytics.run(community)
        seconds = time.perf_counter() - started
    finally:
        await app.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: kilobytes
    assert summary["members"] == MEMBERS
    emit(
        {
            "bench": "analytics",
            "events": EVENTS,
            "members": MEMBERS,
            "seconds": round(seconds, 2),
            "ref_seconds": round(ref_seconds, 3),
            "ratio": round(seconds / ref_seconds, 2),
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "k": summary["k"],
            "silhouette": summary["silhouette"],
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
