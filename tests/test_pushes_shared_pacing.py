"""core/pushes/shared_pacing.py on PostgreSQL: the bucket's arithmetic, the 429 pause shared
through the row, and three OS processes (each with its own Database) drawing from one bucket
without ever passing the rate in any one-second window."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from core.pushes.delivery import Pace
from core.pushes.shared_pacing import TOLERANCE, SharedPacer
from core.pushes.tables import pace_buckets
from core.storage.database import Database
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL only (STUDYHALL_TEST_PG): SQLite paces in memory"
)

ROOT = Path(__file__).resolve().parent.parent


async def _times(pacer: SharedPacer, n: int, prefix: str) -> list[float]:
    times = []
    for i in range(n):
        await pacer.wait(f"{prefix}{i}")
        times.append(time.monotonic())
    return times


async def test_two_pacers_on_one_bot_share_the_rate_with_no_burst(
    two_processes: tuple[Database, Database],
) -> None:
    a, b = (SharedPacer(db, "fake", "bot1", Pace(40, burst=10)) for db in two_processes)
    start = time.monotonic()
    first, second = await asyncio.gather(_times(a, 10, "a"), _times(b, 10, "b"))
    merged = sorted(first + second)
    # 20 sends at 40/s from an idle bucket: the first at once, then one every 25 ms (no burst
    # of 10 for each pacer).
    assert merged[0] - start < 0.1
    assert merged[-1] - merged[0] >= 19 / 40 - 2 * TOLERANCE
    # Slots are 25 ms apart whoever holds them; one used late moves closer by TOLERANCE at most.
    assert min(later - earlier for earlier, later in itertools.pairwise(merged)) >= 1 / 40 - TOLERANCE


async def test_another_bot_has_its_own_bucket(two_processes: tuple[Database, Database]) -> None:
    busy = SharedPacer(two_processes[0], "fake", "bot1", Pace(5))
    other = SharedPacer(two_processes[1], "fake", "bot2", Pace(5))
    await _times(busy, 3, "x")  # bot1's next slot is now ~0.4 s away
    start = time.monotonic()
    await other.wait("y")
    assert time.monotonic() - start < 0.1
    async with two_processes[0].read() as conn:
        bots = (await conn.execute(select(pace_buckets.c.bot).order_by(pace_buckets.c.bot))).scalars()
        assert list(bots) == ["bot1", "bot2"]


async def test_a_429_in_one_process_pauses_the_other(two_processes: tuple[Database, Database]) -> None:
    a, b = (SharedPacer(db, "fake", "bot1", Pace(100)) for db in two_processes)
    await a.wait("c1")
    await b.wait("c2")
    a.pause(0.5)
    start = time.monotonic()
    await a.wait("c3")  # writes the pause to the row with its reservation
    assert time.monotonic() - start >= 0.49
    started = time.monotonic()
    await b.wait("c4")  # b's next reservation starts after the pause
    assert time.monotonic() - started < 0.05  # the pause is over by now
    async with two_processes[0].read() as conn:
        row = (await conn.execute(select(pace_buckets))).one()
    assert row.paused_until > 0 and row.next_at >= row.paused_until
    assert a.throttled == 1


async def test_b_waits_out_a_pause_that_a_wrote(two_processes: tuple[Database, Database]) -> None:
    a, b = (SharedPacer(db, "fake", "bot1", Pace(100)) for db in two_processes)
    await b.wait("warm")  # b has measured its clock offset
    a.pause(0.4)
    asyncio.get_running_loop().create_task(a.wait("c1"))
    await asyncio.sleep(0.05)  # a's reservation has written the pause
    start = time.monotonic()
    await b.wait("c2")
    assert time.monotonic() - start >= 0.3


async def test_a_slot_found_too_late_is_dropped_not_used(two_processes: tuple[Database, Database]) -> None:
    pacer = SharedPacer(two_processes[0], "fake", "bot1", Pace(100))
    await pacer.wait("warm")
    pacer._slots.append(time.monotonic() - 1.0)  # reserved, then the loop was busy for a second
    await pacer.wait("next")
    assert pacer.dropped == 1


async def test_one_chat_waits_its_interval(two_processes: tuple[Database, Database]) -> None:
    pacer = SharedPacer(two_processes[0], "fake", "bot1", Pace(1000, per_chat_interval=0.2))
    times = await _times(pacer, 1, "same") + await _times(pacer, 1, "same")
    assert times[1] - times[0] >= 0.19
    start = time.monotonic()
    await pacer.wait("other")
    assert time.monotonic() - start < 0.05


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        most = max(most, i - j + 1)
    return most


def test_three_processes_on_one_bucket_keep_to_the_rate_together(db_url: str) -> None:
    rate, duration = 50.0, 4.0
    start_at = time.time() + 3.0  # every process is up and connected by then
    command = [sys.executable, "-m", "tests.pace_worker", db_url, str(rate), str(start_at), str(duration)]
    workers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        results.append(json.loads(out))
    sent = [t for result in results for t in result["sent"]]
    busiest = _busiest_second(sent)
    print(
        f"shared pacing: 3 processes at {rate}/s for {duration} s: {len(sent)} sent"
        f" ({[len(r['sent']) for r in results]} per process), busiest second {busiest},"
        f" dropped slots {[r['dropped'] for r in results]}"
    )
    assert busiest <= rate * 1.05 + 1
    assert len(sent) >= rate * duration * 0.9  # not starved
    assert all(len(r["sent"]) >= rate * duration / 3 * 0.5 for r in results)  # each gets a share
