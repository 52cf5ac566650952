"""A ledger in a process of its own, for the two-process test in test_ledger_writer.py:
``python -m tests.ledger_worker DATABASE_URL NAME``.

For each line on stdin (JSON: round, community, members, seed) it posts one round through
the public Ledger API: points from a few system accounts to a random share of the round's
members (its own keys), plus postings under keys both workers use. It answers each round with
one JSON line on stdout (outcome counts) and exits 0 at the end of its input. Warnings and
errors go to stderr, which the test reads for deadlocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
from collections import Counter
from datetime import UTC, datetime

from core.ledger.models import Kind, MemberAccount, Posting, SystemAccount, SystemCode
from core.ledger.service import Ledger
from core.storage.database import Database

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SOURCES = (SystemCode.ISSUANCE, SystemCode.BENCH, SystemCode.DEDUCTIONS, SystemCode.EXPIRY)
SHARED = 10  # members who also get a posting under a key both workers post


def round_postings(
    name: str, round_no: int, community_id: int, members: list[int], seed: int
) -> list[Posting]:
    """This worker's postings of one round, in an order of its own."""
    rng = random.Random(f"{seed}:{name}")
    mine = rng.sample(members, rng.randint(len(members) // 8, len(members)))
    postings = [
        Posting(
            community_id=community_id,
            debit=SystemAccount(rng.choice(SOURCES)),
            credit=MemberAccount(member_id),
            amount=rng.randint(1, 20),
            kind=Kind.TRANSFER,
            key=f"r{round_no}:{name}:{member_id}",
            at=AT,
        )
        for member_id in mine
    ]
    postings += [
        Posting(
            community_id=community_id,
            debit=SystemAccount(SystemCode.ISSUANCE),
            credit=MemberAccount(member_id),
            amount=5,
            kind=Kind.TRANSFER,
            key=f"r{round_no}:shared:{member_id}",
            at=AT,
        )
        for member_id in members[:SHARED]
    ]
    rng.shuffle(postings)
    return postings


async def main(database_url: str, name: str) -> int:
    db = Database(database_url)
    ledger = Ledger(db)
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            job = json.loads(line)
            postings = round_postings(name, job["round"], job["community"], job["members"], job["seed"])
            results = await asyncio.gather(*(ledger.post(p) for p in postings), return_exceptions=True)
            outcomes = Counter(
                type(r).__name__ if isinstance(r, BaseException) else r.outcome.value for r in results
            )
            print(json.dumps({"round": job["round"], "outcomes": outcomes}), flush=True)
        return 0
    finally:
        await ledger.close()
        await db.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
