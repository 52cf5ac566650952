"""A push worker in a process of its own, for the crash test:
``python -m tests.push_worker DATABASE_URL PLATFORM_URL``.

It sends every due push to the fake platform (bench/push_platform.py) under a short lease
and exits 0 once no row is waiting or in flight; rows a killed worker left ``sending`` are
taken over when their lease runs out.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from sqlalchemy import func, select

from bench.push_platform import HttpPushChannel
from core.clock import SystemClock
from core.pushes.delivery import Pace
from core.pushes.tables import push_outbox
from core.services import Services
from core.storage.database import Database

LEASE = timedelta(seconds=1)


async def main(database_url: str, platform_url: str) -> int:
    db = Database(database_url)
    services = Services.build(db, SystemClock())
    channel = HttpPushChannel(platform_url, Pace(1000, burst=20))
    services.pushes.channels["fake"] = channel
    services.pushes.lease = LEASE
    try:
        for _ in range(600):
            await services.pushes.send_due()
            async with db.read() as conn:
                left = (
                    await conn.execute(
                        select(func.count()).where(push_outbox.c.status.in_(("pending", "sending")))
                    )
                ).scalar_one()
            if not left:
                return 0
            await asyncio.sleep(0.1)
        return 1
    finally:
        await channel.close()
        await services.close()
        await db.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
