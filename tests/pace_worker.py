"""One process drawing from a shared pace bucket, for the cross-process pacing test:
``python -m tests.pace_worker DATABASE_URL RATE START_AT DURATION``.

From the wall-clock time START_AT for DURATION seconds, SENDERS tasks (as the outbox's
senders) each wait for the pacer and note the wall-clock time they were let through; the
times go to stdout as JSON. (Wall-clock times only measure: every process of the test runs on
one machine. The pacer itself uses the database server's clock.)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from core.pushes.delivery import Pace
from core.pushes.shared_pacing import SharedPacer
from core.storage.database import Database

SENDERS = 8


async def main(database_url: str, rate: float, start_at: float, duration: float) -> int:
    db = Database(database_url)
    pacer = SharedPacer(db, "fake", "bot", Pace(rate, burst=5))
    sent: list[float] = []
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        end = start_at + duration

        async def sender(number: int) -> None:
            count = 0
            while time.time() < end:
                await pacer.wait(f"chat-{number}-{count}")
                if time.time() < end:
                    sent.append(time.time())
                count += 1

        await asyncio.gather(*(sender(i) for i in range(SENDERS)))
    finally:
        await db.dispose()
    print(json.dumps({"sent": sent, "dropped": pacer.dropped}))
    return 0


if __name__ == "__main__":
    url, rate, start_at, duration = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    sys.exit(asyncio.run(main(url, rate, start_at, duration)))
