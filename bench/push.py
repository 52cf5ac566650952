"""Push throughput: 20,000 recipients through the outbox to a fake platform on 127.0.0.1 that
enforces ALLOWED_RATE messages a second and answers anything over it with 429 and
``retry_after`` (bench/push_platform.py, in a process of its own).

The reference is the platform's own limit, ``allowed_rate``; ``rate`` is recipients sent per
second of the whole ``send_due`` call (claims, pacing, sends and recording included), so
``ratio`` = rate / allowed_rate says how close to the ceiling the sender runs. ``throttled``
counts the 429s the platform answered; ``duplicates`` the messages an account got beyond its
first (the platform counts them, the outbox is checked too).

A second line (``"mode": "overdriven"``) repeats the run with the sender told a limit 25%
higher than the platform's: only the 429s and their ``retry_after`` hold it back then.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bench.common import bulk_community, emit, migrated_file, url_of, workdir
from bench.push_platform import HttpPushChannel
from core.clock import SystemClock
from core.events import UserRef
from core.members.models import Role
from core.pushes.delivery import Pace
from core.pushes.tables import push_outbox
from core.services import Services
from core.storage.database import Database

RECIPIENTS = 20_000
ALLOWED_RATE = float(os.environ.get("PUSH_BENCH_RATE", "1000"))  # messages a second (Telegram: 30)
OVERDRIVE = 1.25  # the second run's sender believes the limit is this much higher
PLATFORM_BURST = 20  # what the platform lets through at once
ROOT = str(Path(__file__).resolve().parent.parent)  # so the platform's process finds bench/
SENDER_BURST = 5  # what the sender allows itself (less, so network jitter stays under the limit)


async def start_platform() -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.push_platform",
        str(ALLOWED_RATE),
        str(PLATFORM_BURST),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert process.stdout is not None
    url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
    return process, url


async def platform_stats(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/stats") as response:
        return json.loads(await response.text())


async def run(sender_pace: float) -> dict[str, object]:
    """One push to RECIPIENTS members on a fresh database and a fresh platform, the sender
    pacing itself at ``sender_pace`` messages a second."""
    path = workdir() / "push.db"
    await migrated_file(path)
    community_id, _ = await bulk_community(path, "pushbench", RECIPIENTS)
    db = Database(url_of(path))
    services = Services.build(db, SystemClock())
    process, url = await start_platform()
    channel = HttpPushChannel(url, Pace(sender_pace, burst=SENDER_BURST))
    try:
        community = await services.members.community_by_id(community_id)
        owner = await services.members.ensure_member(community, UserRef("console", "owner", "Owner"))
        owner = await services.members.assign_role(community, owner, Role.CREATOR, via="bench")
        for key in ("push.quiet_start", "push.quiet_end"):  # whatever the hour of the run
            await services.settings.set(community.id, key, "0", actor=owner)
        pushes = services.pushes
        pushes.channels["bench"] = channel
        draft = await pushes.draft(community, owner, "all", "The live class starts in an hour")
        await pushes.confirm(community, owner, draft.campaign.id)
        started = time.perf_counter()
        report = await pushes.send_due()
        elapsed = time.perf_counter() - started
        stats = await platform_stats(url)
        async with db.read() as conn:
            sent_rows = (
                await conn.execute(select(func.count()).where(push_outbox.c.status == "sent"))
            ).scalar_one()
        rate = report.sent / elapsed
        return {
            "bench": "push",
            "recipients": RECIPIENTS,
            "allowed_rate": ALLOWED_RATE,
            "rate": round(rate, 1),
            "ratio": round(rate / ALLOWED_RATE, 3),
            "throttled": int(stats["throttled"]),
            "duplicates": int(stats["duplicates"]) + max(0, int(stats["accepted"]) - sent_rows),
            "sent": report.sent,
            "delivered_accounts": int(stats["accounts"]),
            "seconds": round(elapsed, 2),
        }
    finally:
        await channel.close()
        process.terminate()
        await process.wait()
        await services.close()
        await db.dispose()


async def main() -> None:
    # The sender paced at the platform's limit, then told a limit 25% too high: the platform's
    # 429s and their retry_after must then keep it at the real limit, with nothing sent twice.
    emit(await run(ALLOWED_RATE))
    emit(
        {**await run(ALLOWED_RATE * OVERDRIVE), "mode": "overdriven", "sender_pace": ALLOWED_RATE * OVERDRIVE}
    )


if __name__ == "__main__":
    asyncio.run(main())
