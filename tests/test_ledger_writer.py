"""core/ledger/writer.py: the single writer's batches, and real concurrency between writers.

Two ``Database`` objects are two engines with their own connections, as two bot processes
would be.  On PostgreSQL, a third connection can hold ``ledger_transfers`` in SHARE mode so
that both writers are provably inside their transactions at the same moment before either
may insert (``racing``); on SQLite the write lock (``BEGIN IMMEDIATE``) serialises them anyway.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asyncpg.exceptions import DeadlockDetectedError
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from bench.common import insert_community
from bot.app import App
from core.events import UserRef
from core.ledger.models import (
    AccountRef,
    Cap,
    CapScope,
    Kind,
    MemberAccount,
    Outcome,
    Posting,
    PostingResult,
    SystemAccount,
    SystemCode,
)
from core.ledger.service import Balance, Ledger
from core.ledger.tables import ledger_accounts, ledger_tiers, ledger_transfers
from core.members.models import Member, Role
from core.storage.database import Database
from tests.conftest import START, sessions_waiting_on_a_lock
from tests.ledger_fixtures import stale_reads
from tests.ledger_worker import SHARED, round_postings

# The database refusing a row: SQLAlchemy's wrapper, or pysqlite's own where the writer's SQLite
# hot path runs raw statements.
DB_REFUSED = (IntegrityError, sqlite3.IntegrityError)
ON_PG = bool(os.environ.get("STUDYHALL_TEST_PG", "").strip())
DAY = timedelta(days=1)
ISSUANCE = SystemAccount(SystemCode.ISSUANCE)
REDEMPTION = SystemAccount(SystemCode.REDEMPTION)
ROUNDS = 20  # of the two-process test
WORKERS = ("one", "two")


@dataclass
class People:
    community_id: int
    ana: Member
    ben: Member
    cai: Member
    sam: Member

    def posting(
        self, debit: AccountRef | Member, credit: AccountRef | Member, amount: int, key: str, **extra: Any
    ) -> Posting:
        extra.setdefault("kind", Kind.TRANSFER)
        extra.setdefault("at", START)
        return Posting(
            community_id=self.community_id,
            debit=_ref(debit),
            credit=_ref(credit),
            amount=amount,
            key=key,
            **extra,
        )


def _ref(party: AccountRef | Member) -> AccountRef:
    return MemberAccount(party.id) if isinstance(party, Member) else party


@pytest.fixture
async def people(app: App) -> People:
    community = await app.community()
    members = app.services.members
    found = [
        await members.ensure_member(community, UserRef("console", name.lower(), name))
        for name in ("Ana", "Ben", "Cai", "Sam")
    ]
    sam = await members.assign_role(community, found[3], Role.MODERATOR, via="test")
    return People(community.id, found[0], found[1], found[2], sam)


@pytest.fixture
async def ledgers(db_url: str) -> AsyncIterator[tuple[Ledger, Ledger]]:
    """Two ledgers on two separate engines: two processes sharing one database."""
    databases = (Database(db_url), Database(db_url))
    first, second = Ledger(databases[0]), Ledger(databases[1])
    yield first, second
    for ledger in (first, second):
        await ledger.close()
    for database in databases:
        await database.dispose()


@asynccontextmanager
async def racing(
    db_url: str, table: str = "ledger_transfers"
) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Hold inserts into ``table`` until ``wait_for(n)`` has seen n sessions wait on a lock.

    PostgreSQL only; on SQLite there is nothing to hold and ``wait_for`` returns at once.
    """
    if not ON_PG:

        async def no_wait(_: int) -> None:
            return None

        yield no_wait
        return
    db = Database(db_url)
    try:
        async with db.engine.connect() as holder:
            await holder.begin()
            await holder.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))

            async def wait_for(sessions: int) -> None:
                await sessions_waiting_on_a_lock(db, sessions)

            yield wait_for
            await holder.rollback()
    finally:
        await db.dispose()


def bug_check(ok: bool, message: str) -> None:
    """Fail with ``message`` only, no traceback, for the checks an xfail-ed bug trips.

    An xfail-ed test still has its failure formatted; pytest's source formatting can hit
    CPython 3.11.7's "AST constructor recursion depth mismatch" and stop the whole run.
    """
    if not ok:
        pytest.fail(message, pytrace=False)


def _describe(result: object) -> str:
    if isinstance(result, BaseException):
        return f"{type(result).__name__}: {str(result).splitlines()[0] if str(result) else ''}"
    return str(getattr(result, "outcome", result))


async def assert_books_balance(ledger: Ledger, community_id: int) -> None:
    assert await ledger.totals(community_id) == (0, 0)
    assert await ledger.balances_match_transfers(community_id)


async def fund(ledger: Ledger, people: People, member: Member, amount: int) -> None:
    result = await ledger.post(people.posting(ISSUANCE, member, amount, f"fund:{member.id}", kind=Kind.AWARD))
    assert result.outcome is Outcome.POSTED


# -- real concurrency between two writers -------------------------------------------------------


@pytest.mark.parametrize("second_credit", ["redemption", "ben"])
async def test_two_writers_spending_the_same_ten_points_post_once(
    ledgers: tuple[Ledger, Ledger], people: People, db_url: str, second_credit: str
) -> None:
    one, two = ledgers
    await fund(one, people, people.ana, 10)
    other = REDEMPTION if second_credit == "redemption" else people.ben

    async with racing(db_url) as wait_for:
        both = asyncio.gather(
            one.post(people.posting(people.ana, REDEMPTION, 10, "spend:one", kind=Kind.SPEND)),
            two.post(people.posting(people.ana, other, 10, "spend:two", kind=Kind.SPEND)),
        )
        await wait_for(2)  # PostgreSQL: one holds Ana's row and waits to insert, one waits for the row
    results = await both

    assert sorted(r.outcome for r in results) == [Outcome.INSUFFICIENT, Outcome.POSTED]
    [refused] = [r for r in results if r.outcome is Outcome.INSUFFICIENT]
    assert refused.available == 0
    assert await one.balance(people.community_id, people.ana.id) == Balance(0, 10)
    assert len(await two.history(people.community_id, people.ana.id)) == 2
    await assert_books_balance(one, people.community_id)


async def test_many_concurrent_spends_from_two_writers_never_overdraw(
    ledgers: tuple[Ledger, Ledger], people: People
) -> None:
    one, two = ledgers
    await fund(one, people, people.ana, 10)

    results = await asyncio.gather(
        *(
            ledger.post(people.posting(people.ana, REDEMPTION, 1, f"spend:{name}:{i}", kind=Kind.SPEND))
            for i in range(8)
            for name, ledger in (("one", one), ("two", two))
        )
    )

    assert [r.outcome for r in results].count(Outcome.POSTED) == 10
    assert [r.outcome for r in results].count(Outcome.INSUFFICIENT) == 6
    assert await two.balance(people.community_id, people.ana.id) == Balance(0, 10)
    await assert_books_balance(one, people.community_id)


async def test_two_writers_crediting_at_once_lose_no_update(
    ledgers: tuple[Ledger, Ledger], people: People
) -> None:
    one, two = ledgers

    results = await asyncio.gather(
        *(
            ledger.post(people.posting(ISSUANCE, people.ana, 1, f"msg:{name}:{i}", kind=Kind.MESSAGE))
            for i in range(20)
            for name, ledger in (("one", one), ("two", two))
        )
    )

    assert all(r.outcome is Outcome.POSTED for r in results)
    assert await one.balance(people.community_id, people.ana.id) == Balance(40, 40)
    await assert_books_balance(two, people.community_id)


async def test_the_same_posting_from_two_writers_at_once_posts_once(
    ledgers: tuple[Ledger, Ledger], people: People
) -> None:
    one, two = ledgers
    delivery = people.posting(ISSUANCE, people.ana, 50, "stripe:pi_1", kind=Kind.PURCHASE)

    results = await asyncio.gather(one.post(delivery), two.post(delivery))

    assert sorted(r.outcome for r in results) == [Outcome.POSTED, Outcome.REPLAYED]
    assert results[0].transfer == results[1].transfer
    assert await one.balance(people.community_id, people.ana.id) == Balance(50, 50)
    await assert_books_balance(one, people.community_id)


async def test_the_same_key_racing_on_different_accounts_is_replayed_not_raised(
    ledgers: tuple[Ledger, Ledger], people: People, db_url: str
) -> None:
    one, two = ledgers
    await fund(one, people, people.ana, 5)
    await fund(one, people, people.cai, 5)

    async with racing(db_url) as wait_for:
        both = asyncio.gather(
            one.post(people.posting(people.ana, people.ben, 1, "bounty:42")),
            two.post(people.posting(people.cai, people.sam, 1, "bounty:42")),
            return_exceptions=True,
        )
        await wait_for(2)  # both have checked the key and wait to insert
    results = await both

    bug_check(
        all(isinstance(r, PostingResult) for r in results),
        "Ledger.post raised: " + ", ".join(_describe(r) for r in results),
    )
    assert sorted(r.outcome for r in results) == [Outcome.POSTED, Outcome.REPLAYED]
    assert results[0].transfer == results[1].transfer
    await assert_books_balance(one, people.community_id)


async def test_a_key_race_inside_a_batch_is_retried_alone_and_replayed(
    ledgers: tuple[Ledger, Ledger], people: People, db_url: str
) -> None:
    """The recovery the writer promises: a batch that loses a key race is retried posting by
    posting, and the retried posting sees the winner's transfer."""
    one, two = ledgers
    for member in (people.ana, people.cai):
        await fund(one, people, member, 5)
    for member in (people.ben, people.sam):
        await fund(one, people, member, 1)  # no account is opened inside the racing batches

    async with racing(db_url) as wait_for:
        both = asyncio.gather(
            one.post(people.posting(people.ana, people.ben, 1, "bounty:42")),
            one.post(people.posting(ISSUANCE, people.ben, 2, "one:extra", kind=Kind.AWARD)),
            two.post(people.posting(people.cai, people.sam, 1, "bounty:42")),
            two.post(people.posting(ISSUANCE, people.sam, 3, "two:extra", kind=Kind.AWARD)),
        )
        await wait_for(2)
    first, one_extra, second, two_extra = await both

    assert sorted([first.outcome, second.outcome]) == [Outcome.POSTED, Outcome.REPLAYED]
    assert first.transfer == second.transfer
    assert (one_extra.outcome, two_extra.outcome) == (Outcome.POSTED, Outcome.POSTED)
    assert (
        len(await one.history(people.community_id, people.ben.id))
        + len(await one.history(people.community_id, people.sam.id))
        == 5  # their funding, the two extras, and the bounty once
    )
    await assert_books_balance(one, people.community_id)


async def test_expiry_run_by_two_processes_at_once_expires_once(
    ledgers: tuple[Ledger, Ledger], people: People
) -> None:
    one, two = ledgers
    await fund(one, people, people.ana, 10)
    now = START + 31 * DAY

    expired = await asyncio.gather(
        one.expire(people.community_id, expiry_days=30, now=now),
        two.expire(people.community_id, expiry_days=30, now=now),
    )

    assert sorted(expired) == [0, 10]
    assert await one.balance(people.community_id, people.ana.id) == Balance(0, 10)
    await assert_books_balance(one, people.community_id)


async def _round_communities(db_url: str, rounds: int, size: int) -> list[tuple[int, list[int]]]:
    """A community per round with ``size`` members and no ledger account yet."""
    db = Database(db_url)
    try:
        async with db.write() as conn:
            return [await insert_community(conn, f"round{n}", size) for n in range(rounds)]
    finally:
        await db.dispose()


async def test_two_processes_posting_to_new_accounts_at_once_neither_deadlock_nor_lose_a_posting(
    db_url: str, tmp_path: Path
) -> None:
    """Two real processes (tests/ledger_worker.py) post, round after round, to overlapping
    accounts that do not exist yet, each in an order of its own, some under the same keys."""
    rounds = await _round_communities(db_url, ROUNDS, 400)
    log_path = tmp_path / "workers.log"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    expected: dict[tuple[int, str], int] = {}  # (community, key) -> amount
    with log_path.open("wb") as log:
        workers = [
            await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "tests.ledger_worker", db_url, name),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=env,
            )
            for name in WORKERS
        ]
        try:
            for round_no, (community_id, member_ids) in enumerate(rounds):
                job = {"round": round_no, "community": community_id, "members": member_ids, "seed": round_no}
                # PostgreSQL: both batches are let in to create their accounts at the same moment.
                async with racing(db_url, "ledger_accounts") as wait_for:
                    for worker in workers:
                        assert worker.stdin is not None
                        worker.stdin.write(json.dumps(job).encode() + b"\n")
                        await worker.stdin.drain()
                    await wait_for(2)
                answers = await asyncio.wait_for(
                    asyncio.gather(*(w.stdout.readline() for w in workers if w.stdout)), 60
                )
                outcomes: Counter[str] = Counter()
                for answer in answers:
                    outcomes.update(json.loads(answer)["outcomes"])
                posted = set()
                for name in WORKERS:
                    for p in round_postings(name, round_no, community_id, member_ids, round_no):
                        expected[(community_id, p.key)] = p.amount
                        posted.add(p.key)
                assert outcomes == {"posted": len(posted), "replayed": SHARED}, f"round {round_no}"
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.close()
            assert [await asyncio.wait_for(w.wait(), 60) for w in workers] == [0, 0]
        finally:
            for worker in workers:
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()
    logs = log_path.read_text()
    assert "deadlock" not in logs.lower(), logs[-4000:]
    assert "Traceback" not in logs, logs[-4000:]

    db = Database(db_url)
    ledger = Ledger(db)
    try:
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    select(
                        ledger_transfers.c.community_id,
                        ledger_transfers.c.idempotency_key,
                        func.count(),
                        func.sum(ledger_transfers.c.amount),
                    ).group_by(ledger_transfers.c.community_id, ledger_transfers.c.idempotency_key)
                )
            ).all()
        assert {(c, k): (n, a) for c, k, n, a in rows} == {key: (1, a) for key, a in expected.items()}
        for community_id, _ in rounds:
            await assert_books_balance(ledger, community_id)
    finally:
        await ledger.close()
        await db.dispose()


# -- one writer: postings in a batch are decided in order ----------------------------------------


async def gather_one_batch(ledger: Ledger, postings: Sequence[Posting]) -> list[PostingResult]:
    commits = ledger.writer.commits
    batches = commits.batches
    results = await asyncio.gather(*(ledger.post(p) for p in postings))
    assert commits.batches == batches + 1, "expected the postings to share one batch"
    return list(results)


async def test_an_insufficient_posting_does_not_affect_its_neighbours(app: App, people: People) -> None:
    ledger = app.services.ledger
    await fund(ledger, people, people.ana, 10)

    award, overdraft, gift, rest, too_much = await gather_one_batch(
        ledger,
        [
            people.posting(ISSUANCE, people.ben, 5, "award:ben", kind=Kind.AWARD),
            people.posting(people.ana, REDEMPTION, 100, "spend:big", kind=Kind.SPEND),
            people.posting(people.ana, people.cai, 6, "gift:cai"),
            people.posting(people.ana, REDEMPTION, 4, "spend:rest", kind=Kind.SPEND),
            people.posting(people.ana, REDEMPTION, 1, "spend:more", kind=Kind.SPEND),
        ],
    )

    assert (award.outcome, gift.outcome, rest.outcome) == (Outcome.POSTED,) * 3
    assert (overdraft.outcome, overdraft.available) == (Outcome.INSUFFICIENT, 10)
    assert (too_much.outcome, too_much.available) == (Outcome.INSUFFICIENT, 0)  # sees the batch's own spends
    balances = [await ledger.balance(people.community_id, m.id) for m in (people.ana, people.ben, people.cai)]
    assert balances == [Balance(0, 10), Balance(5, 5), Balance(6, 0)]
    await assert_books_balance(ledger, people.community_id)


def capped_postings(people: People) -> tuple[Callable[..., Posting], Callable[..., Posting]]:
    """(message, award): issuance under a daily message cap of 20 (clamped) per member, and
    under Sam's daily award budget of 100; each takes (member, amount, key)."""
    day = START.replace(hour=0)
    daily = Cap(CapScope.CREDIT, (Kind.MESSAGE,), day, 20, clamp=True)
    budget = Cap(CapScope.ACTOR, (Kind.AWARD,), day, 100)

    def message(member: Member, amount: int, key: str) -> Posting:
        return people.posting(ISSUANCE, member, amount, key, kind=Kind.MESSAGE, caps=(daily,))

    def award(member: Member, amount: int, key: str) -> Posting:
        return people.posting(
            ISSUANCE, member, amount, key, kind=Kind.AWARD, actor_member_id=people.sam.id, caps=(budget,)
        )

    return message, award


async def test_caps_count_what_the_same_batch_already_posted(app: App, people: People) -> None:
    ledger = app.services.ledger
    message, award = capped_postings(people)

    results = await gather_one_batch(
        ledger,
        [
            message(people.ana, 15, "m:1"),
            award(people.ana, 60, "a:1"),
            message(people.ana, 10, "m:2"),
            award(people.ben, 50, "a:2"),
            message(people.ana, 1, "m:3"),
            award(people.cai, 40, "a:3"),
            message(people.ben, 10, "m:4"),
        ],
    )

    assert [(r.outcome, r.amount) for r in results] == [
        (Outcome.POSTED, 15),
        (Outcome.POSTED, 60),
        (Outcome.POSTED, 5),  # clamped to what is left of Ana's 20
        (Outcome.CAPPED, 0),  # Sam has 40 of his 100 left
        (Outcome.CAPPED, 0),
        (Outcome.POSTED, 40),
        (Outcome.POSTED, 10),
    ]
    assert await ledger.balance(people.community_id, people.ana.id) == Balance(80, 80)
    await assert_books_balance(ledger, people.community_id)


async def test_caps_hold_across_batches_and_see_what_another_process_posted(
    people: People, ledgers: tuple[Ledger, Ledger]
) -> None:
    first, second = ledgers
    message, award = capped_postings(people)

    # One batch each: the writer's usage from earlier batches (a cache on SQLite) must count,
    # and so must postings without the cap that move points of its kinds.
    assert (await first.post(message(people.ana, 8, "m:1"))).amount == 8
    assert (await first.post(people.posting(ISSUANCE, people.ana, 1, "m:2", kind=Kind.MESSAGE))).ok
    assert (await first.post(message(people.ben, 3, "m:3"))).amount == 3
    assert (await first.post(award(people.ben, 30, "a:1"))).amount == 30
    assert (await first.post(message(people.ana, 6, "m:4"))).amount == 6
    assert (await first.post(message(people.ana, 8, "m:5"))).amount == 5  # clamped: 15 of 20 used
    # Another process posts for the same subjects in between.
    assert (await second.post(message(people.ben, 4, "m:6"))).amount == 4
    assert (await second.post(award(people.cai, 60, "a:2"))).amount == 60
    over_budget = await first.post(award(people.ana, 20, "a:3"))
    ben = await first.post(message(people.ben, 30, "m:7"))

    assert over_budget.outcome is Outcome.CAPPED  # Sam gave 30 + 60 of his 100
    assert (ben.outcome, ben.amount) == (Outcome.POSTED, 13)  # 3 + 4 of Ben's 20 used
    assert (await first.post(message(people.ana, 1, "m:8"))).outcome is Outcome.CAPPED


async def test_a_tier_reached_in_a_batch_applies_to_the_next_posting_in_it(app: App, people: People) -> None:
    ledger = app.services.ledger
    await fund(ledger, people, people.ana, 495)

    def message(amount: int, key: str) -> Posting:
        return people.posting(ISSUANCE, people.ana, amount, key, kind=Kind.MESSAGE, tiered=True)

    reaching, premium = await gather_one_batch(ledger, [message(10, "m:1"), message(10, "m:2")])

    assert (reaching.amount, reaching.earned_before, reaching.earned_after) == (10, 495, 505)
    assert (premium.amount, premium.earned_before, premium.earned_after) == (12, 505, 517)
    await assert_books_balance(ledger, people.community_id)


async def test_a_communitys_own_tiers_replace_the_defaults(app: App, people: People) -> None:
    ledger = app.services.ledger
    async with app.db.write() as conn:
        await conn.execute(
            insert(ledger_tiers),
            [
                {"community_id": people.community_id, "name": "muted", "threshold": 0, "multiplier_pct": 0},
                {
                    "community_id": people.community_id,
                    "name": "keen",
                    "threshold": 100,
                    "multiplier_pct": 250,
                },
            ],
        )
    ledger.writer.forget_tiers(people.community_id)

    muted = await ledger.post(people.posting(ISSUANCE, people.ana, 10, "m:1", kind=Kind.MESSAGE, tiered=True))
    await fund(ledger, people, people.ben, 100)
    keen = await ledger.post(people.posting(ISSUANCE, people.ben, 3, "m:2", kind=Kind.MESSAGE, tiered=True))

    assert (muted.outcome, muted.capped_by, muted.transfer) == (Outcome.CAPPED, None, None)
    assert (keen.outcome, keen.amount) == (Outcome.POSTED, 7)  # 3 x 2.5 = 7.5, rounded down
    await assert_books_balance(ledger, people.community_id)


async def test_reversals_in_one_batch_see_each_other_and_the_batchs_spends(app: App, people: People) -> None:
    ledger = app.services.ledger
    first = await ledger.post(people.posting(ISSUANCE, people.ana, 40, "award:1", kind=Kind.AWARD))
    second = await ledger.post(people.posting(ISSUANCE, people.ben, 30, "award:2", kind=Kind.AWARD))
    assert first.transfer is not None and second.transfer is not None

    def reversal(original: PostingResult, member: Member, key: str) -> Posting:
        assert original.transfer is not None
        return people.posting(
            member,
            ISSUANCE,
            original.transfer.amount,
            key,
            kind=Kind.REVERSAL,
            reverses_id=original.transfer.id,
        )

    spend, undo_ana, undo_ben, undo_ben_again, undo_ben_replayed = await gather_one_batch(
        ledger,
        [
            people.posting(people.ana, REDEMPTION, 30, "spend:1", kind=Kind.SPEND),
            reversal(first, people.ana, "reverse:a"),
            reversal(second, people.ben, "reverse:b"),
            reversal(second, people.ben, "reverse:b-other-key"),
            reversal(second, people.ben, "reverse:b"),
        ],
    )

    assert spend.outcome is Outcome.POSTED
    assert (undo_ana.outcome, undo_ana.available) == (Outcome.INSUFFICIENT, 10)
    assert undo_ben.outcome is Outcome.POSTED and undo_ben.transfer is not None
    assert undo_ben.transfer.reverses_id == second.transfer.id
    assert undo_ben_again.outcome is Outcome.INVALID
    assert undo_ben_replayed.outcome is Outcome.REPLAYED and undo_ben_replayed.transfer == undo_ben.transfer
    assert await ledger.balance(people.community_id, people.ben.id) == Balance(0, 0)
    assert await ledger.balance(people.community_id, people.ana.id) == Balance(10, 40)
    await assert_books_balance(ledger, people.community_id)


async def test_keys_from_earlier_batches_are_replayed_inside_a_new_batch(app: App, people: People) -> None:
    ledger = app.services.ledger
    earlier = await ledger.post(people.posting(ISSUANCE, people.ana, 5, "k:1", kind=Kind.AWARD))

    again, fresh = await gather_one_batch(
        ledger,
        [
            people.posting(ISSUANCE, people.ana, 500, "k:1", kind=Kind.AWARD),
            people.posting(ISSUANCE, people.ana, 7, "k:2", kind=Kind.AWARD),
        ],
    )

    assert again.outcome is Outcome.REPLAYED and again.transfer == earlier.transfer
    assert fresh.outcome is Outcome.POSTED
    assert await ledger.balance(people.community_id, people.ana.id) == Balance(12, 12)
    await assert_books_balance(ledger, people.community_id)


async def test_a_replayed_spend_is_replayed_even_where_it_could_no_longer_be_paid(
    app: App, people: People
) -> None:
    """The writer inserts before it looks keys up; a posting it refused must still be checked
    for a replay, or a retried spend would read as "too few points"."""
    ledger = app.services.ledger
    await fund(ledger, people, people.ana, 10)
    spent = await ledger.post(people.posting(people.ana, REDEMPTION, 8, "spend:1", kind=Kind.SPEND))

    again, other = await gather_one_batch(
        ledger,
        [
            people.posting(people.ana, REDEMPTION, 8, "spend:1", kind=Kind.SPEND),
            people.posting(people.ana, people.ben, 2, "gift:1"),
        ],
    )

    assert again.outcome is Outcome.REPLAYED and again.transfer == spent.transfer
    assert other.outcome is Outcome.POSTED
    assert await ledger.balance(people.community_id, people.ana.id) == Balance(0, 10)
    await assert_books_balance(ledger, people.community_id)


async def test_a_replay_beside_a_new_account_undoes_nothing_it_should_keep(app: App, people: People) -> None:
    ledger = app.services.ledger
    earlier = await ledger.post(people.posting(ISSUANCE, people.ana, 5, "k:1", kind=Kind.AWARD))

    results = await gather_one_batch(
        ledger,
        [
            people.posting(ISSUANCE, people.cai, 3, "k:new", kind=Kind.AWARD),  # Cai's first account
            people.posting(ISSUANCE, people.ana, 5, "k:1", kind=Kind.AWARD),
            people.posting(ISSUANCE, people.ana, 4, "k:2", kind=Kind.AWARD),
        ],
    )

    assert [r.outcome for r in results] == [Outcome.POSTED, Outcome.REPLAYED, Outcome.POSTED]
    assert results[1].transfer == earlier.transfer
    assert await ledger.balance(people.community_id, people.cai.id) == Balance(3, 3)
    assert await ledger.balance(people.community_id, people.ana.id) == Balance(9, 9)
    assert [line.transfer.key for line in await ledger.history(people.community_id, people.ana.id)] == [
        "k:2",
        "k:1",
    ]
    await assert_books_balance(ledger, people.community_id)


# -- a batch that fails as a whole ----------------------------------------------------------------


async def open_accounts(ledger: Ledger, people: People, *members: Member) -> None:
    """Give each member an account (and 1 point), so a test's failing batch creates none."""
    for member in members:
        await fund(ledger, people, member, 1)


async def test_a_batch_that_fails_as_a_whole_is_retried_one_by_one(
    app: App, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = app.services.ledger
    await open_accounts(ledger, people, people.ana, people.ben, people.cai)
    commits = ledger.writer.commits
    original = commits._apply
    seen: list[list[str]] = []

    def apply(conn: Any, postings: Sequence[Posting]) -> Any:
        seen.append([p.key for p in postings])
        results = original(conn, postings)  # all the batch's SQL runs, then the batch fails
        if any(p.key == "poison" for p in postings):
            raise RuntimeError("this batch cannot be written")
        return results

    monkeypatch.setattr(commits, "_apply", apply)
    batches = commits.batches

    results = await asyncio.gather(
        ledger.post(people.posting(ISSUANCE, people.ana, 5, "good:1", kind=Kind.AWARD)),
        ledger.post(people.posting(ISSUANCE, people.ben, 6, "poison", kind=Kind.AWARD)),
        ledger.post(people.posting(ISSUANCE, people.cai, 7, "good:2", kind=Kind.AWARD)),
        return_exceptions=True,
    )

    assert seen == [["good:1", "poison", "good:2"], ["good:1"], ["poison"], ["good:2"]]
    good_1, poison, good_2 = results
    assert isinstance(good_1, PostingResult) and good_1.outcome is Outcome.POSTED
    assert isinstance(good_2, PostingResult) and good_2.outcome is Outcome.POSTED
    assert isinstance(poison, RuntimeError)
    assert commits.batches == batches + 2
    balances = [await ledger.balance(people.community_id, m.id) for m in (people.ana, people.ben, people.cai)]
    assert balances == [Balance(6, 6), Balance(1, 1), Balance(8, 8)]  # nothing of the failed batch stayed
    await assert_books_balance(ledger, people.community_id)
    # The writer goes on afterwards.
    later = await ledger.post(people.posting(ISSUANCE, people.ben, 1, "later", kind=Kind.AWARD))
    assert later.outcome is Outcome.POSTED


async def test_a_batch_that_loses_a_deadlock_is_run_again_whole_and_posts_once(
    app: App, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything the lost attempt did is undone with it, and nothing the writer remembers
    comes from it: the account it created, the balances it read, the keys it inserted first."""
    ledger = app.services.ledger
    await fund(ledger, people, people.ana, 10)
    await fund(ledger, people, people.ben, 1)
    commits = ledger.writer.commits
    original = commits._apply
    attempts: list[list[str]] = []

    def apply(conn: Any, postings: Sequence[Posting]) -> Any:
        attempts.append([p.key for p in postings])
        results = original(conn, postings)  # all the batch's SQL runs, then it loses a deadlock
        if len(attempts) == 1:
            raise DeadlockDetectedError("deadlock detected")
        return results

    monkeypatch.setattr(commits, "_apply", apply)
    batches = commits.batches

    gift, award, replay = await asyncio.gather(
        ledger.post(people.posting(people.ana, people.ben, 3, "gift")),
        ledger.post(people.posting(ISSUANCE, people.cai, 5, "award:cai", kind=Kind.AWARD)),  # a new account
        ledger.post(people.posting(ISSUANCE, people.ben, 1, f"fund:{people.ben.id}", kind=Kind.AWARD)),
    )

    assert attempts == [["gift", "award:cai", f"fund:{people.ben.id}"]] * 2
    assert (gift.outcome, award.outcome, replay.outcome) == (Outcome.POSTED, Outcome.POSTED, Outcome.REPLAYED)
    assert commits.batches == batches + 1
    balances = [await ledger.balance(people.community_id, m.id) for m in (people.ana, people.ben, people.cai)]
    assert balances == [Balance(7, 10), Balance(4, 1), Balance(5, 5)]
    # The writer goes on with what committed: Cai's account is the one the second attempt made.
    later = await ledger.post(people.posting(people.ana, people.cai, 1, "later"))
    assert later.outcome is Outcome.POSTED
    assert await ledger.balance(people.community_id, people.cai.id) == Balance(6, 5)
    await assert_books_balance(ledger, people.community_id)


async def test_a_real_deadlock_with_another_transaction_never_reaches_the_callers(
    app: App, people: People, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A transaction locking two accounts against the ledger's id order deadlocks with a
    batch; PostgreSQL aborts the batch, which is run again whole once the other is done."""
    if not ON_PG:
        pytest.skip("PostgreSQL only: on SQLite one writer at a time holds the only write lock")
    ledger = app.services.ledger
    await open_accounts(ledger, people, people.ana, people.ben)
    async with app.db.read() as conn:
        low, high = sorted(
            (
                await conn.execute(
                    select(ledger_accounts.c.id).where(
                        ledger_accounts.c.member_id.in_((people.ana.id, people.ben.id))
                    )
                )
            ).scalars()
        )
    lock = "SELECT id FROM ledger_accounts WHERE id = :id FOR UPDATE"
    batches = ledger.writer.commits.batches
    other_db = Database(db_url)
    try:
        async with other_db.engine.connect() as other:
            await other.begin()
            # Only the batch looks for deadlocks soon, so it is the one PostgreSQL aborts.
            await other.execute(text("SET LOCAL deadlock_timeout = '20s'"))
            await other.execute(text(lock), {"id": high})
            posted = asyncio.gather(
                ledger.post(people.posting(people.ana, people.ben, 1, "gift")),
                ledger.post(people.posting(ISSUANCE, people.cai, 2, "award:cai", kind=Kind.AWARD)),
            )
            await sessions_waiting_on_a_lock(other_db, 1)  # the batch holds Ana's row, waits for Ben's
            await other.execute(text(lock), {"id": low})  # and now the other way round
            await other.rollback()
        gift, award = await asyncio.wait_for(posted, 30)
    finally:
        await other_db.dispose()

    assert (gift.outcome, award.outcome) == (Outcome.POSTED, Outcome.POSTED)
    assert ledger.writer.commits.batches == batches + 1  # run again whole, not item by item
    assert "deadlock detected" in caplog.text and "running it again" in caplog.text
    balances = [await ledger.balance(people.community_id, m.id) for m in (people.ana, people.ben, people.cai)]
    assert balances == [Balance(0, 1), Balance(2, 1), Balance(2, 2)]
    await assert_books_balance(ledger, people.community_id)


async def test_a_posting_the_database_refuses_fails_alone(app: App, people: People) -> None:
    ledger = app.services.ledger
    await open_accounts(ledger, people, people.ana, people.ben, people.cai)

    spend, bad_actor, award = await asyncio.gather(
        ledger.post(people.posting(people.ana, people.ben, 1, "gift:1")),
        # No such member: the foreign key on actor_member_id refuses the whole batch's insert.
        ledger.post(
            people.posting(ISSUANCE, people.ben, 3, "award:1", kind=Kind.AWARD, actor_member_id=999_999)
        ),
        ledger.post(people.posting(ISSUANCE, people.cai, 2, "award:2", kind=Kind.AWARD)),
        return_exceptions=True,
    )

    assert isinstance(bad_actor, DB_REFUSED)
    assert isinstance(spend, PostingResult) and spend.outcome is Outcome.POSTED
    assert isinstance(award, PostingResult) and award.outcome is Outcome.POSTED
    balances = [await ledger.balance(people.community_id, m.id) for m in (people.ana, people.ben, people.cai)]
    assert balances == [Balance(0, 1), Balance(2, 1), Balance(3, 3)]
    await assert_books_balance(ledger, people.community_id)


async def test_a_rolled_back_batch_leaves_no_stale_account_ids_behind(
    app: App, people: People, ledgers: tuple[Ledger, Ledger]
) -> None:
    ledger = app.services.ledger
    other_process, _ = ledgers
    await fund(ledger, people, people.ana, 1)  # the community's issuance account exists

    # Ben's first posting opens his account inside a batch that the database then refuses.
    with pytest.raises(DB_REFUSED):
        await ledger.post(
            people.posting(ISSUANCE, people.ben, 3, "award:1", kind=Kind.AWARD, actor_member_id=999_999)
        )
    # Meanwhile another process opens Cai's account.
    await fund(other_process, people, people.cai, 1)

    [retried] = await asyncio.gather(
        ledger.post(people.posting(ISSUANCE, people.ben, 3, "award:2", kind=Kind.AWARD)),
        return_exceptions=True,
    )

    ben = await ledger.balance(people.community_id, people.ben.id)
    cai = await ledger.balance(people.community_id, people.cai.id)
    bug_check(
        isinstance(retried, PostingResult) and (ben, cai) == (Balance(3, 3), Balance(1, 1)),
        f"Ben's award after the failed batch: {_describe(retried)}; Ben has {ben}, Cai has {cai}",
    )
    assert isinstance(retried, PostingResult) and retried.outcome is Outcome.POSTED
    await assert_books_balance(ledger, people.community_id)


async def test_a_spend_by_another_process_between_batches_is_seen_by_the_next_batch(
    ledgers: tuple[Ledger, Ledger], people: People
) -> None:
    one, two = ledgers
    await fund(one, people, people.ana, 10)
    # ``one`` has just committed Ana's balance (and may remember it); ``two`` spends it.
    spent = await two.post(people.posting(people.ana, REDEMPTION, 10, "spend:two", kind=Kind.SPEND))
    assert spent.outcome is Outcome.POSTED

    again = await one.post(people.posting(people.ana, REDEMPTION, 1, "spend:one", kind=Kind.SPEND))

    assert again.outcome is Outcome.INSUFFICIENT and again.available == 0
    await assert_books_balance(one, people.community_id)


# -- balances read without locks (PostgreSQL) ---------------------------------------------------


@pytest.fixture
async def unlocked(app: App, people: People) -> Ledger:
    """PostgreSQL only: Ana with 10 points, Ben and Cai with 1. Every account exists, so a batch
    of plain postings among them reads its balances without locks."""
    if not ON_PG:
        pytest.skip("PostgreSQL only: on SQLite a batch reads its balances under the write lock")
    ledger = app.services.ledger
    await fund(ledger, people, people.ana, 10)
    await open_accounts(ledger, people, people.ben, people.cai)  # so the batch creates none
    return ledger


@pytest.mark.parametrize(
    ("offset", "amount", "outcome", "ana", "ben"),
    [
        # read as 110 (a spend of 100 not seen yet): 50 seemed affordable, and is not
        (100, 50, Outcome.INSUFFICIENT, Balance(10, 10), Balance(1, 1)),
        # read as 0 (the funding not seen yet): 4 seemed unaffordable, and is not
        (-10, 4, Outcome.POSTED, Balance(6, 10), Balance(5, 1)),
    ],
)
async def test_a_posting_decided_on_a_balance_that_has_moved_is_decided_again_under_locks(
    unlocked: Ledger, people: People, offset: int, amount: int, outcome: Outcome, ana: Balance, ben: Balance
) -> None:
    ledger = unlocked
    with stale_reads(lambda _account: offset):
        result = await ledger.post(people.posting(people.ana, people.ben, amount, "give:1"))

    assert result.outcome is outcome
    assert result.available == (10 if outcome is Outcome.INSUFFICIENT else None)
    assert ledger.writer.balances_moved == 1
    assert await ledger.balance(people.community_id, people.ana.id) == ana
    assert await ledger.balance(people.community_id, people.ben.id) == ben
    await assert_books_balance(ledger, people.community_id)


async def test_a_balance_read_without_locks_that_still_suffices_is_written_as_decided(
    unlocked: Ledger, people: People
) -> None:
    """Ana was read with 40 and has 10: enough for the 4 she gives, so no second decision."""
    ledger = unlocked
    ana = people.ana.id
    with stale_reads(lambda account: 30 if account.member_id == ana else 0):
        results = await asyncio.gather(
            ledger.post(people.posting(people.ana, people.ben, 4, "give:1")),
            ledger.post(people.posting(people.ben, people.cai, 1, "give:2")),
        )

    assert [r.outcome for r in results] == [Outcome.POSTED, Outcome.POSTED]
    assert ledger.writer.balances_moved == 0
    assert await ledger.balance(people.community_id, ana) == Balance(6, 10)
    assert await ledger.balance(people.community_id, people.ben.id) == Balance(4, 1)
    assert await ledger.balance(people.community_id, people.cai.id) == Balance(2, 1)
    await assert_books_balance(ledger, people.community_id)


async def test_a_guard_decides_inside_the_transaction_and_a_refusal_fails_only_its_posting(
    app: App, people: People
) -> None:
    from core.storage.state_tables import app_state

    ledger = app.services.ledger
    await fund(ledger, people, people.ana, 10)
    seen: list[str] = []

    def guard(key: str, allow: bool) -> Callable[[Any], str | None]:
        def check(conn: Any) -> str | None:
            seen.append(key)
            if not allow:
                return "no"
            conn.execute(insert(app_state).values(key=key, value="written"))
            return None

        return check

    results = await asyncio.gather(
        *(
            ledger.post(
                people.posting(
                    people.ana, REDEMPTION, 3, key, kind=Kind.SPEND, guard=guard(key, allow=key != "g2")
                )
            )
            for key in ("g1", "g2", "g3", "g4")
        )
    )
    assert [r.outcome for r in results] == [Outcome.POSTED, Outcome.REFUSED, Outcome.POSTED, Outcome.POSTED]
    assert results[1].refused == "no"
    # A posting the ledger refuses never reaches its guard.
    short = await ledger.post(
        people.posting(people.ana, REDEMPTION, 3, "g5", kind=Kind.SPEND, guard=guard("g5", True))
    )
    assert short.outcome is Outcome.INSUFFICIENT and "g5" not in seen
    async with app.db.read() as conn:
        written = sorted(
            (await conn.execute(select(app_state.c.key).where(app_state.c.key.like("g%")))).scalars()
        )
    assert written == ["g1", "g3", "g4"]
    assert await ledger.balance(people.community_id, people.ana.id) == Balance(1, 10)
    await assert_books_balance(ledger, people.community_id)
