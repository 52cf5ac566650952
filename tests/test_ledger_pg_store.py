"""core/ledger/pg_store.py: the ledger writer's statements on PostgreSQL. A system account is
neither locked nor updated in its row: its changes go to stripes, so two batches moving it
(two processes issuing points in one community) do not wait for each other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.common import insert_community
from core.ledger.models import Kind, SystemCode, Transfer
from core.ledger.pg_store import PostgresLedgerStore
from core.ledger.store import TRANSFER_COLUMNS
from core.ledger.tables import effective_balance, ledger_accounts, ledger_balance_stripes, ledger_transfers
from core.storage.database import Database
from tests.conftest import PG_URL, START

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only")


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


async def _accounts(db: Database) -> tuple[int, int, int, int]:
    """A community with two members: (community, issuance, the first's, the second's account ids)."""
    async with db.write() as conn:
        community, ids = await insert_community(conn, "hall", 2)
        accounts = [{"code": SystemCode.ISSUANCE.value}, *({"member_id": member} for member in ids)]
        made = []
        for account in accounts:
            statement = insert(ledger_accounts).values(community_id=community, **account)
            made.append((await conn.execute(statement.returning(ledger_accounts.c.id))).scalar_one())
    return community, made[0], made[1], made[2]


def _earn(community: int, issuance: int, member_account: int, key: str) -> object:
    """A batch's work: lock, then write one earning of 5 points from issuance."""

    def write(conn: Connection) -> None:
        store = PostgresLedgerStore(conn)
        store.lock_accounts({issuance, member_account}, system={issuance})
        transfer = Transfer(
            0, community, issuance, member_account, 5, Kind.MESSAGE, "", None, START, key, None
        )
        written = store.write_batch([transfer], [(issuance, -5, 0), (member_account, 5, 5)], skip_taken=True)
        assert written is not None and written[0].id > 0

    return write


async def _begin_waiting_at_most(conn: AsyncConnection, seconds: int) -> None:
    await conn.begin()
    await conn.execute(text(f"SET LOCAL lock_timeout = '{seconds}s'"))


async def test_two_batches_issuing_points_do_not_wait_for_each_other(
    two_processes: tuple[Database, Database],
) -> None:
    first, second = two_processes
    community, issuance, ana, ben = await _accounts(first)
    async with first.engine.connect() as a, second.engine.connect() as b:
        await _begin_waiting_at_most(a, 2)
        await a.run_sync(_earn(community, issuance, ana, "a"))  # open: its locks are held
        await _begin_waiting_at_most(b, 2)
        await b.run_sync(_earn(community, issuance, ben, "b"))  # a lock on issuance would time out here
        await b.commit()
        await a.commit()
    async with first.read() as conn:
        balances = dict((await conn.execute(select(ledger_accounts.c.id, effective_balance()))).all())
        row = (
            await conn.execute(select(ledger_accounts.c.balance).where(ledger_accounts.c.id == issuance))
        ).scalar()
        stripes = (await conn.execute(select(ledger_balance_stripes.c.balance))).scalars().all()
    assert balances == {issuance: -10, ana: 5, ben: 5}  # the sum stays zero
    assert row == 0 and sum(stripes) == -10  # the row untouched; each connection's own stripe


async def test_the_same_system_account_in_one_stripe_adds_up(
    two_processes: tuple[Database, Database],
) -> None:
    first, _ = two_processes
    community, issuance, ana, ben = await _accounts(first)
    for n, account in enumerate((ana, ben, ana)):
        async with first.engine.connect() as conn:
            await conn.begin()
            await conn.run_sync(_earn(community, issuance, account, f"k{n}"))
            await conn.commit()
    async with first.read() as conn:
        issued = (
            await conn.execute(select(effective_balance()).where(ledger_accounts.c.id == issuance))
        ).scalar()
        stripes = (await conn.execute(select(ledger_balance_stripes.c.stripe))).scalars().all()
    assert issued == -15
    assert len(stripes) == len(set(stripes)) <= 3  # one row per stripe used, updated in place


async def test_cap_usage_sums_each_subjects_kinds_since_a_time(db: Database) -> None:
    community, issuance, ana, ben = await _accounts(db)
    rows = [
        (ana, Kind.MESSAGE, START, None),
        (ana, Kind.MESSAGE, START - timedelta(days=1), None),  # before the day: not counted
        (ana, Kind.CHECKIN, START, None),  # another kind
        (ben, Kind.AWARD, START, None),
        (ben, Kind.AWARD, START + timedelta(hours=1), None),
    ]
    async with db.write() as conn:
        # Awards are also counted by who gave them (an award budget): Ana gave Ben's.
        ana_member, ben_member = (
            await conn.execute(
                select(ledger_accounts.c.member_id)
                .where(ledger_accounts.c.id.in_((ana, ben)))
                .order_by(ledger_accounts.c.id)
            )
        ).scalars()
        for n, (account, kind, at, _) in enumerate(rows):
            actor = ana_member if kind is Kind.AWARD else None
            transfer = Transfer(0, community, issuance, account, 2, kind, "", actor, at, f"u{n}", None)
            values = dict(zip(TRANSFER_COLUMNS[1:], transfer[1:], strict=True))
            await conn.execute(insert(ledger_transfers).values(**values))

        def usage(sync: Connection) -> tuple[list[tuple[int, int]], ...]:
            store = PostgresLedgerStore(sync)
            return (
                store.usage(by_actor=False, subjects=[ana, ben], kinds=[Kind.MESSAGE], since=START),
                store.usage(
                    by_actor=False, subjects=[ben, ana], kinds=[Kind.MESSAGE, Kind.AWARD], since=START
                ),
                store.usage(
                    by_actor=True, subjects=[ana_member, ben_member], kinds=[Kind.AWARD], since=START
                ),
            )

        messages, both, by_actor = await conn.run_sync(usage)
        # Planned each time until the batch commits (a generic plan may be a stale scan).
        assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "force_custom_plan"
    assert messages == [(ana, 2)]  # no row for a subject that used nothing
    assert both == [(ana, 2), (ben, 4)]
    assert by_actor == [(ana_member, 4)]
