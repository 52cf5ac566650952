"""core/ledger/store.py: the ledger writer's SQL, run inside one batch's write transaction.

Every test runs against each store that serves the active backend: on SQLite the portable
``LedgerStore`` and the raw-pysqlite ``SqliteLedgerStore`` (which must give the same answers),
on PostgreSQL ``LedgerStore`` alone. Store calls go through ``Database.run_batch`` as the writer
makes them: a sync connection inside one write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError

from core.ledger.models import Kind, SystemCode, Transfer
from core.ledger.store import AccountKey, LedgerStore, LockedAccount, SqliteLedgerStore, account_order
from core.ledger.tables import ledger_accounts, ledger_tiers, ledger_transfers
from core.ledger.tiers import Tier
from core.members.tables import communities, members
from core.storage.database import Database, after_commit
from core.storage.migrate import upgrade
from tests.conftest import PG_URL, START

R = TypeVar("R")
Run = Callable[[Callable[[LedgerStore], R]], Awaitable[R]]

STORES = [LedgerStore] if PG_URL else [LedgerStore, SqliteLedgerStore]
ISSUANCE = SystemCode.ISSUANCE.value
ESCROW = SystemCode.ESCROW.value
PLUS_8 = timezone(timedelta(hours=8))
# The database refusing a row: SQLAlchemy's wrapper, or pysqlite's own for SqliteLedgerStore's raw SQL.
DB_REFUSED = (IntegrityError, sqlite3.IntegrityError)


@dataclass
class Hall:
    """Two communities: ``id`` with members ana, ben and cai, and ``other_id`` with zed."""

    id: int
    other_id: int
    ana: int
    ben: int
    cai: int
    zed: int


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture(params=STORES, ids=lambda cls: cls.__name__)
def store_class(request: pytest.FixtureRequest) -> type[LedgerStore]:
    return request.param


@pytest.fixture
def run(db: Database, store_class: type[LedgerStore]) -> Run[Any]:
    """``await run(lambda store: ...)``: the call on a fresh store in one write transaction."""

    async def call(work: Callable[[LedgerStore], R]) -> R:
        return await db.run_batch(lambda conn, _items: work(store_class(conn)), [None])

    return call


@pytest.fixture
async def hall(db: Database) -> Hall:
    async with db.write() as conn:

        async def community(name: str) -> int:
            values = {"name": name, "default_locale": "en", "timezone": "UTC", "created_at": START}
            return (
                await conn.execute(insert(communities).values(**values).returning(communities.c.id))
            ).scalar_one()

        async def member(community_id: int, name: str) -> int:
            values = {
                "community_id": community_id,
                "display_name": name,
                "name_key": name.casefold(),
                "role": "learner",
                "created_at": START,
            }
            return (await conn.execute(insert(members).values(**values).returning(members.c.id))).scalar_one()

        hall_id, other_id = await community("hall"), await community("other")
        return Hall(
            hall_id,
            other_id,
            await member(hall_id, "Ana"),
            await member(hall_id, "Ben"),
            await member(hall_id, "Cai"),
            await member(other_id, "Zed"),
        )


async def add_account(
    db: Database,
    community_id: int,
    *,
    member_id: int | None = None,
    code: str | None = None,
    balance: int = 0,
) -> int:
    values = {"community_id": community_id, "member_id": member_id, "code": code, "balance": balance}
    async with db.write() as conn:
        statement = insert(ledger_accounts).values(**values).returning(ledger_accounts.c.id)
        return (await conn.execute(statement)).scalar_one()


async def add_transfer(
    db: Database,
    community_id: int,
    debit: int,
    credit: int,
    amount: int,
    kind: str,
    at: datetime,
    **extra: Any,
) -> int:
    """A transfer row straight into the table (id from the database), for set-up."""
    values = {
        "community_id": community_id,
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount": amount,
        "kind": kind,
        "memo": "",
        "at": at,
        "idempotency_key": f"setup:{kind}:{amount}:{credit}:{at.isoformat()}",
        **extra,
    }
    async with db.write() as conn:
        statement = insert(ledger_transfers).values(**values).returning(ledger_transfers.c.id)
        return (await conn.execute(statement)).scalar_one()


def rows(found: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Result rows as sorted tuples: SqliteLedgerStore unpacks its JSON rows as lists, and neither
    store promises an order."""
    return sorted((tuple(row) for row in found), key=repr)


def locked(accounts: dict[int, LockedAccount]) -> list[tuple[Any, ...]]:
    """Locked accounts as sorted (id, member id, balance, earned) rows, each under its own id."""
    assert all(account_id == account.id for account_id, account in accounts.items())
    return rows((a.id, a.member_id, a.balance, a.earned) for a in accounts.values())


# -- accounts -----------------------------------------------------------------------------------


def keys(community_id: int, *members_and_codes: int | str) -> list[AccountKey]:
    return [(community_id, key) for key in members_and_codes]


async def test_create_accounts_makes_member_and_system_accounts_once(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    await run(lambda store: store.create_accounts(keys(hall.id, hall.ana, hall.ben, ISSUANCE, ESCROW)))
    before = rows(await run(lambda store: store.community_accounts(hall.id)))
    # Again, overlapping: the existing accounts are left alone, only Cai's is new.
    await run(lambda store: store.create_accounts(keys(hall.id, hall.ben, hall.cai, hall.ana, ISSUANCE)))
    after = rows(await run(lambda store: store.community_accounts(hall.id)))

    assert await run(lambda store: store.count_accounts(hall.id)) == 5
    assert rows((member_id, code) for _, member_id, code in after) == rows(
        [(hall.ana, None), (hall.ben, None), (hall.cai, None), (None, ISSUANCE), (None, ESCROW)]
    )
    assert set(before) < set(after)  # the same ids as before
    async with db.read() as conn:
        stored = (await conn.execute(select(ledger_accounts.c.id, ledger_accounts.c.balance))).all()
    assert rows(stored) == rows((account_id, 0) for account_id, _, _ in after)
    assert await run(lambda store: store.count_accounts(hall.other_id)) == 0
    assert await run(lambda store: store.community_accounts(hall.other_id)) == []


async def test_create_accounts_inserts_in_one_global_order_whatever_order_it_is_given(
    db: Database, hall: Hall
) -> None:
    """Community, then members by id, then codes: two writers creating overlapping accounts
    at once then never each hold a row the other waits for (PostgreSQL). Ids follow the
    insert order, so they show it (the portable store; SQLite's has the write lock anyway)."""
    given = [
        (hall.other_id, ISSUANCE),
        (hall.id, ESCROW),
        (hall.other_id, hall.zed),
        (hall.id, hall.cai),
        (hall.id, ISSUANCE),
        (hall.id, hall.ana),
        (hall.id, hall.ben),
    ]
    await db.run_batch(lambda conn, _: LedgerStore(conn).create_accounts(given), [None])

    async with db.read() as conn:
        made = (
            await conn.execute(
                select(
                    ledger_accounts.c.community_id, ledger_accounts.c.member_id, ledger_accounts.c.code
                ).order_by(ledger_accounts.c.id)
            )
        ).all()
    in_order = [(c, member_id if member_id is not None else code) for c, member_id, code in made]
    assert in_order == sorted(given, key=account_order)
    assert in_order[:3] == [(hall.id, hall.ana), (hall.id, hall.ben), (hall.id, hall.cai)]


async def test_find_accounts_returns_exactly_the_asked_accounts_of_that_community(
    run: Run[Any], hall: Hall
) -> None:
    await run(
        lambda store: store.create_accounts(keys(hall.id, hall.ana, hall.ben, hall.cai, ISSUANCE, ESCROW))
    )
    await run(lambda store: store.create_accounts(keys(hall.other_id, hall.zed, ISSUANCE)))
    everything = await run(lambda store: store.community_accounts(hall.id))
    in_hall = {(member_id, code): account_id for account_id, member_id, code in everything}

    # Zed and the other community's issuance account exist, but not in this community.
    found = await run(lambda store: store.find_accounts(hall.id, [hall.ana, hall.cai, hall.zed], [ISSUANCE]))

    assert rows(found) == rows(
        [
            (in_hall[(hall.ana, None)], hall.ana, None),
            (in_hall[(hall.cai, None)], hall.cai, None),
            (in_hall[(None, ISSUANCE)], None, ISSUANCE),
        ]
    )
    in_other = await run(lambda store: store.find_accounts(hall.other_id, [hall.ana, hall.zed], [ISSUANCE]))
    assert rows((member_id, code) for _, member_id, code in in_other) == rows(
        [(None, ISSUANCE), (hall.zed, None)]
    )
    assert set(in_hall.values()).isdisjoint(account_id for account_id, _, _ in in_other)
    assert await run(lambda store: store.find_accounts(hall.id, [], [])) == []


async def test_lock_accounts_returns_the_asked_rows_and_add_to_balances_adds(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    ana = await add_account(db, hall.id, member_id=hall.ana, balance=50)
    ben = await add_account(db, hall.id, member_id=hall.ben, balance=7)
    issuance = await add_account(db, hall.id, code=ISSUANCE)

    await run(lambda store: store.add_to_balances([(ana, -20, 0), (issuance, -30, 0)]))
    await run(lambda store: store.add_to_balances([(ana, 5, 5), (issuance, -5, 0)]))  # relative, not set

    found = await run(lambda store: store.lock_accounts([issuance, ana]))
    assert locked(found) == rows([(ana, hall.ana, 35, 5), (issuance, None, -35, 0)])
    assert locked(await run(lambda store: store.lock_accounts([ben]))) == [(ben, hall.ben, 7, 0)]
    assert await run(lambda store: store.lock_accounts([])) == {}


async def test_a_member_balance_below_zero_is_refused_and_nothing_changes(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    ana = await add_account(db, hall.id, member_id=hall.ana, balance=5)
    issuance = await add_account(db, hall.id, code=ISSUANCE)

    with pytest.raises(DB_REFUSED):
        await run(lambda store: store.add_to_balances([(issuance, 10, 0), (ana, -10, 0)]))

    found = await run(lambda store: store.lock_accounts([ana, issuance]))
    assert locked(found) == rows([(ana, hall.ana, 5, 0), (issuance, None, 0, 0)])


@pytest.mark.parametrize("store_class", [pytest.param(cls, id=cls.__name__) for cls in STORES])
async def test_add_to_balances_applies_every_change_even_two_for_one_account(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    ana = await add_account(db, hall.id, member_id=hall.ana)

    await run(lambda store: store.add_to_balances([(ana, 5, 1), (ana, 7, 2)]))

    assert locked(await run(lambda store: store.lock_accounts([ana]))) == [(ana, hall.ana, 12, 3)]


@pytest.mark.parametrize("store_class", [pytest.param(cls, id=cls.__name__) for cls in STORES])
async def test_lock_accounts_sees_a_change_made_on_the_same_connection(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    ana = await add_account(db, hall.id, member_id=hall.ana, balance=50)
    assert locked(await run(lambda store: store.lock_accounts([ana]))) == [(ana, hall.ana, 50, 0)]

    await run(lambda store: store.add_to_balances([(ana, -20, 0)]))

    assert locked(await run(lambda store: store.lock_accounts([ana]))) == [(ana, hall.ana, 30, 0)]


@pytest.mark.parametrize("store_class", [pytest.param(cls, id=cls.__name__) for cls in STORES])
async def test_lock_accounts_sees_a_change_another_connection_committed(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    ana = await add_account(db, hall.id, member_id=hall.ana, balance=50)
    assert locked(await run(lambda store: store.lock_accounts([ana]))) == [(ana, hall.ana, 50, 0)]

    async with db.write() as conn:  # the async engine: another connection, as another process would be
        await conn.execute(
            ledger_accounts.update()
            .where(ledger_accounts.c.id == ana)
            .values(balance=ledger_accounts.c.balance - 45)
        )

    assert locked(await run(lambda store: store.lock_accounts([ana]))) == [(ana, hall.ana, 5, 0)]


SqliteBatch = Callable[[Callable[[SqliteLedgerStore], R]], Awaitable[R]]


@pytest.fixture
def sqlite_batch(db: Database, backend: str) -> SqliteBatch[Any]:
    """Run a function of a SqliteLedgerStore as one writer batch (SQLite only)."""
    if backend != "sqlite":
        pytest.skip("SqliteLedgerStore only")

    async def batch(work: Callable[[SqliteLedgerStore], R]) -> R:
        return await db.run_batch(lambda conn, _items: work(SqliteLedgerStore(conn)), [None])

    return batch


async def test_sqlite_store_answers_from_the_balances_it_was_told_were_committed(
    db: Database, hall: Hall, sqlite_batch: SqliteBatch[Any]
) -> None:
    batch = sqlite_batch
    ana = await add_account(db, hall.id, member_id=hall.ana, balance=50)

    def move(store: SqliteLedgerStore) -> None:
        (account,) = store.lock_accounts([ana]).values()
        account.delta, account.earned_delta = -1, 1  # as the writer's decisions would
        # The writer calls remember_balances after its commit; deltas it never wrote to the
        # row show that the next batch answers from memory instead of reading the row.
        after_commit(store.conn, lambda: store.remember_balances([account]))

    await batch(move)
    assert locked(await batch(lambda store: store.lock_accounts([ana]))) == [(ana, hall.ana, 49, 1)]


async def test_sqlite_store_reads_the_rows_again_after_a_batch_that_did_not_commit(
    db: Database, hall: Hall, sqlite_batch: SqliteBatch[Any]
) -> None:
    batch = sqlite_batch
    ana = await add_account(db, hall.id, member_id=hall.ana, balance=50)

    def move_then_fail(store: SqliteLedgerStore) -> None:
        (account,) = store.lock_accounts([ana]).values()
        account.delta = -20
        store.add_to_balances([(ana, -20, 0)])
        after_commit(store.conn, lambda: store.remember_balances([account]))
        raise RuntimeError("the batch fails after its update")

    with pytest.raises(RuntimeError):
        await batch(move_then_fail)
    assert locked(await batch(lambda store: store.lock_accounts([ana]))) == [(ana, hall.ana, 50, 0)]


# -- transfers ----------------------------------------------------------------------------------


async def test_transfers_go_in_unless_a_key_is_taken_and_then_none_does(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    issuance = await add_account(db, hall.id, code=ISSUANCE)
    ana = await add_account(db, hall.id, member_id=hall.ana)
    first = Transfer(1, hall.id, issuance, ana, 5, Kind.CHECKIN, "", None, START, "day:1", None)
    assert await run(lambda store: store.insert_transfers_unless_taken([first]))

    fresh = Transfer(2, hall.id, issuance, ana, 3, Kind.CHECKIN, "", None, START, "day:2", None)
    again = Transfer(3, hall.id, issuance, ana, 7, Kind.CHECKIN, "", None, START, "day:1", None)
    later = Transfer(4, hall.id, issuance, ana, 1, Kind.CHECKIN, "", None, START, "day:3", None)
    assert not await run(lambda store: store.insert_transfers_unless_taken([fresh, again, later]))

    keys = ["day:1", "day:2", "day:3"]
    assert await run(lambda store: store.transfers_with_keys(hall.id, keys)) == [first]
    assert await run(lambda store: store.insert_transfers_unless_taken([fresh, later]))
    found = await run(lambda store: store.transfers_with_keys(hall.id, keys))
    assert sorted(found, key=lambda t: t.id) == [first, fresh, later]


async def test_inserted_transfers_are_found_by_key_with_every_field(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    issuance = await add_account(db, hall.id, code=ISSUANCE)
    ana = await add_account(db, hall.id, member_id=hall.ana)
    ben = await add_account(db, hall.id, member_id=hall.ben)
    other_issuance = await add_account(db, hall.other_id, code=ISSUANCE)
    zed = await add_account(db, hall.other_id, member_id=hall.zed)
    quoted = "tip:\"double\" 'single'"
    # Ids as the writer would have allocated them (allocate_ids has its own test).
    checkin = Transfer(1, hall.id, issuance, ana, 5, Kind.CHECKIN, "", None, START, "签到:1", None)
    tip = Transfer(
        2,
        hall.id,
        ana,
        ben,
        2,
        Kind.TRANSFER,
        'for "that" — 谢谢',
        hall.ana,
        START.astimezone(PLUS_8),
        quoted,
        None,
    )
    undo = Transfer(3, hall.id, ana, issuance, 5, Kind.REVERSAL, "undo", hall.ben, START, "undo:签到:1", 1)
    # The same key in another community is another transfer.
    elsewhere = Transfer(
        4, hall.other_id, other_issuance, zed, 9, Kind.CHECKIN, "", None, START, "签到:1", None
    )

    await run(lambda store: store.insert_transfers([checkin, tip, undo, elsewhere]))
    found = await run(lambda store: store.transfers_with_keys(hall.id, ["签到:1", quoted, "missing"]))

    assert sorted(found, key=lambda t: t.id) == [checkin, tip]
    for transfer in found:
        assert transfer.at == START
        assert transfer.at.utcoffset() == timedelta(0)
    assert await run(lambda store: store.transfers_with_keys(hall.other_id, ["签到:1"])) == [elsewhere]
    assert await run(lambda store: store.transfers_with_keys(hall.id, [])) == []


async def test_the_key_lookup_probes_the_unique_key_index_on_a_database_without_statistics(
    empty_db_url: str,
) -> None:
    """On a fresh PostgreSQL database nothing has been analysed yet; asked for 500 keys among
    many transfers, the planner must not read the community's every transfer to find them
    (the community index: 65 ms a batch at 100,000 transfers, 5 times the rest of the batch)."""
    if not PG_URL:
        pytest.skip("PostgreSQL only: SqliteLedgerStore has its own lookup, and SQLite its own planner")
    db = Database(empty_db_url)
    try:
        await upgrade(db)
        async with db.write() as conn:
            # No statistics may appear meanwhile (autovacuum analyses a table that grew).
            await conn.execute(text("ALTER TABLE ledger_transfers SET (autovacuum_enabled = off)"))
            community_id = (
                await conn.execute(
                    insert(communities)
                    .values(name="hall", default_locale="en", timezone="UTC", created_at=START)
                    .returning(communities.c.id)
                )
            ).scalar_one()
            issuance, bench = (
                await conn.execute(
                    insert(ledger_accounts).returning(ledger_accounts.c.id, sort_by_parameter_order=True),
                    [{"community_id": community_id, "code": code} for code in (ISSUANCE, "bench")],
                )
            ).scalars()
            await conn.execute(
                text(
                    "INSERT INTO ledger_transfers (community_id, debit_account_id, credit_account_id,"
                    " amount, kind, memo, at, idempotency_key)"
                    " SELECT :community, :debit, :credit, 1, 'transfer', '', now(), 'k:' || i"
                    " FROM generate_series(1, 20000) AS i"
                ),
                {"community": community_id, "debit": issuance, "credit": bench},
            )
            statistics = text("SELECT count(*) FROM pg_stats WHERE tablename = 'ledger_transfers'")
            assert (await conn.execute(statistics)).scalar_one() == 0
        keys = [f"k:{i}" for i in range(40, 20001, 40)] + ["missing"]  # 500 found, 1 not

        def explain_the_lookup(conn: Any, _: Any) -> tuple[list[Transfer], str]:
            executed: list[tuple[str, Any]] = []

            def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
                executed.append((statement, parameters))

            event.listen(conn, "before_cursor_execute", record)
            try:
                found = LedgerStore(conn).transfers_with_keys(community_id, keys)
            finally:
                event.remove(conn, "before_cursor_execute", record)
            plans = [
                "\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
                for statement, parameters in executed
            ]
            return found, "\n\n".join(plans)

        found, plan = await db.run_batch(explain_the_lookup, [None])
    finally:
        await db.dispose()

    assert len(found) == 500
    assert "uq_ledger_transfers_key" in plan, plan
    assert "ix_ledger_transfers_community_kind_at" not in plan, plan


async def test_transfers_by_id_and_which_are_already_reversed(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    issuance = await add_account(db, hall.id, code=ISSUANCE)
    ana = await add_account(db, hall.id, member_id=hall.ana)
    first = await add_transfer(db, hall.id, issuance, ana, 5, Kind.CHECKIN, START)
    second = await add_transfer(db, hall.id, issuance, ana, 7, Kind.MESSAGE, START)
    undo = await add_transfer(db, hall.id, ana, issuance, 5, Kind.REVERSAL, START, reverses_id=first)

    found = await run(lambda store: store.transfers_by_id([undo, first, 999]))

    assert [(t.id, t.amount, t.kind, t.reverses_id) for t in sorted(found, key=lambda t: t.id)] == [
        (first, 5, Kind.CHECKIN, None),
        (undo, 5, Kind.REVERSAL, first),
    ]
    assert await run(lambda store: store.reversed_among([first, second, 999])) == {first}
    assert await run(lambda store: store.reversed_among([second])) == set()


async def test_allocate_ids_continues_past_the_transfers_there_are(
    run: Run[Any], db: Database, hall: Hall, store_class: type[LedgerStore], backend: str
) -> None:
    if store_class is LedgerStore and backend == "sqlite":
        pytest.skip(
            "LedgerStore.allocate_ids uses PostgreSQL's nextval; SQLite's writer uses SqliteLedgerStore"
        )
    issuance = await add_account(db, hall.id, code=ISSUANCE)
    ana = await add_account(db, hall.id, member_id=hall.ana)
    existing = await add_transfer(db, hall.id, issuance, ana, 1, Kind.AWARD, START)

    def allocate_insert_allocate(store: LedgerStore) -> tuple[list[int], list[int]]:
        ids = store.allocate_ids(3)
        store.insert_transfers(
            [Transfer(i, hall.id, issuance, ana, i, Kind.AWARD, "", None, START, f"k{i}", None) for i in ids]
        )
        return ids, store.allocate_ids(2)

    first, second = await run(allocate_insert_allocate)

    assert first == [existing + 1, existing + 2, existing + 3]
    assert second == [existing + 4, existing + 5]
    found = await run(lambda store: store.transfers_by_id(first))
    assert sorted((t.id, t.key) for t in found) == [(i, f"k{i}") for i in first]


async def test_usage_sums_the_given_kinds_since_a_time_per_credited_account_or_actor(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    issuance = await add_account(db, hall.id, code=ISSUANCE)
    ana = await add_account(db, hall.id, member_id=hall.ana)
    ben = await add_account(db, hall.id, member_id=hall.ben)
    cai = await add_account(db, hall.id, member_id=hall.cai)
    earlier = START - timedelta(seconds=1)
    for credit, amount, kind, at in [
        (ana, 5, Kind.MESSAGE, START),
        (ana, 7, Kind.CHECKIN, START + timedelta(hours=1)),
        (ana, 100, Kind.MESSAGE, earlier),  # before ``since``
        (ana, 50, Kind.AWARD, START),  # a kind not asked about
        (ben, 3, Kind.MESSAGE, START),  # exactly at ``since`` counts
        (cai, 9, Kind.MESSAGE, START),  # not a subject asked about
    ]:
        await add_transfer(db, hall.id, issuance, credit, amount, kind, at)
    for debit, credit, amount, actor, at in [
        (ana, ben, 2, hall.ana, START),
        (ana, cai, 4, hall.ana, START + timedelta(days=1)),
        (ana, ben, 40, hall.ana, earlier),
        (ben, ana, 6, hall.ben, START),
        (cai, ana, 8, None, START),  # no actor
    ]:
        await add_transfer(db, hall.id, debit, credit, amount, Kind.TRANSFER, at, actor_member_id=actor)
    kinds = [Kind.MESSAGE.value, Kind.CHECKIN.value]

    credited = await run(
        lambda store: store.usage(by_actor=False, subjects=[ana, ben], kinds=kinds, since=START)
    )
    # ``since`` in another time zone means the same instant.
    acted = await run(
        lambda store: store.usage(
            by_actor=True,
            subjects=[hall.ana, hall.ben],
            kinds=[Kind.TRANSFER.value],
            since=START.astimezone(PLUS_8),
        )
    )

    assert sorted(credited) == [(ana, 12), (ben, 3)]
    assert sorted(acted) == [(hall.ana, 6), (hall.ben, 6)]
    assert (
        await run(lambda store: store.usage(by_actor=True, subjects=[hall.cai], kinds=kinds, since=START))
        == []
    )


# -- tiers --------------------------------------------------------------------------------------


async def test_tiers_are_empty_without_rows_and_the_community_rows_with_them(
    run: Run[Any], db: Database, hall: Hall
) -> None:
    assert await run(lambda store: store.tiers(hall.id)) == ()

    async with db.write() as conn:
        await conn.execute(
            insert(ledger_tiers),
            [
                {"community_id": hall.id, "name": "bronze", "threshold": 0, "multiplier_pct": 100},
                {"community_id": hall.id, "name": "金牌", "threshold": 300, "multiplier_pct": 175},
                {"community_id": hall.other_id, "name": "only there", "threshold": 10, "multiplier_pct": 200},
            ],
        )

    tiers = await run(lambda store: store.tiers(hall.id))
    assert isinstance(tiers, tuple)
    assert sorted(tiers, key=lambda t: t.threshold) == [Tier("bronze", 0, 100), Tier("金牌", 300, 175)]
    assert await run(lambda store: store.tiers(hall.other_id)) == (Tier("only there", 10, 200),)
