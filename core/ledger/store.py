"""The ledger writer's SQL, run inside a batch's write transaction.

``LedgerStore`` is SQLAlchemy Core for PostgreSQL (its id allocation uses a sequence).
``SqliteLedgerStore`` does the same work on the raw pysqlite connection with one step per
statement: pysqlite releases the GIL around every row it steps, and while the event loop
thread is busy each re-take waits for it (a convoy, LIMITS.md), so a query returning 1,000
rows can cost more than its SQL. Results come back packed in one JSON value and sets of
keys go in as one JSON parameter, which also keeps the SQL text constant (statement cache).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, insert, select, text, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from core.ledger.models import CapScope, Transfer
from core.ledger.tables import ledger_accounts, ledger_tiers, ledger_transfers
from core.ledger.tiers import Tier
from core.storage.database import from_sqlite_time, sqlite_time
from core.storage.sqlite_bulk import add_to_columns, as_json, insert_values, select_all
from core.storage.upsert import insert_or_ignore

_CHUNK = 500  # values per IN (...) list
_BALANCES = "studyhall_ledger_balances"  # key of the balance cache in a connection's info
MAX_CACHED_BALANCES = 500_000
TRANSFER_COLUMNS = (
    "id",
    "community_id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "kind",
    "memo",
    "actor_member_id",
    "at",
    "idempotency_key",
    "reverses_id",
)

AccountRow = tuple[int, int | None, str | None]  # id, member_id, code
# An account as a cheap dict key: (community id, member id) or (community id, system code).
# Hashing two plain values is several times cheaper than hashing the AccountRef dataclasses,
# and a batch does it for every posting (ints and strings never collide as keys).
AccountKey = tuple[int, int | str]
UsageShape = tuple[CapScope, tuple[str, ...], datetime]  # a cap's (scope, kinds, since)
Moved = tuple[str, datetime, int, int | None, int]  # kind, at, credit account, actor account, amount
MAX_CACHED_USAGE = 200_000  # (shape, subject) usage sums kept between batches
MAX_USAGE_SHAPES = 64  # a few per day (message and check-in caps, award budgets)


@dataclass(slots=True)
class LockedAccount:
    """An account row locked by a batch: its committed values and what the batch moves."""

    id: int
    member_id: int | None
    balance: int
    earned: int
    delta: int = 0
    earned_delta: int = 0
    # For a batch that read its balances without locks (LedgerStore.read_accounts): the lowest
    # ``delta`` reached, so the balance it needs at write time is ``-low``; and whether a
    # decision used the values themselves (a refusal, a partial amount, lifetime earned), so
    # the write needs exactly these.
    low: int = 0
    exact: bool = False


class BalancesMoved(Exception):
    """Raised by ``LedgerStore.write_checked``: balances read without locks no longer allow
    what the batch decided (another writer moved them); nothing was written."""


class _Committed:
    """What one SQLite connection knows was committed: account rows and cap usage sums.

    Valid only while no other connection has committed since (PRAGMA data_version), and only
    if the last batch that locked accounts here told what it committed (``dirty`` is False).
    The cached accounts are the very objects batches work on: a committed batch folds its
    deltas into them (``remember_balances``), so nothing is copied per account."""

    __slots__ = ("balances", "dirty", "usage", "usage_size", "version")

    def __init__(self, version: int | None) -> None:
        self.version = version
        self.dirty = False
        self.balances: dict[int, LockedAccount] = {}
        self.usage: dict[UsageShape, dict[int, int]] = {}  # shape -> subject account -> points
        self.usage_size = 0


# Transfers by idempotency key on PostgreSQL: one probe of the unique (community, key) index
# per key, whatever the statistics say. Until a table is analysed the planner guesses a
# community's share of it, and for ``key IN (500 keys)`` or a plain join it read the
# community's every transfer instead (65 ms a batch at 100,000). A LATERAL subquery with a
# LIMIT cannot be flattened into a join, so each key is looked up on its own.
_KEYS = func.unnest(bindparam("keys", type_=ARRAY(String))).table_valued("key").render_derived(name="k")
_FOUND = (
    select(ledger_transfers)
    .where(
        ledger_transfers.c.community_id == bindparam("community"),
        ledger_transfers.c.idempotency_key == _KEYS.c.key,
    )
    .limit(1)
    .lateral("found")
)
_BY_KEY = select(_FOUND).select_from(_KEYS).join(_FOUND, true())


class LedgerStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- accounts ------------------------------------------------------------------------

    def count_accounts(self, community_id: int) -> int:
        query = (
            select(func.count())
            .select_from(ledger_accounts)
            .where(ledger_accounts.c.community_id == community_id)
        )
        return self.conn.execute(query).scalar_one()

    def community_accounts(self, community_id: int) -> list[AccountRow]:
        columns = (ledger_accounts.c.id, ledger_accounts.c.member_id, ledger_accounts.c.code)
        query = select(*columns).where(ledger_accounts.c.community_id == community_id)
        return [tuple(row) for row in self.conn.execute(query)]  # type: ignore[misc]

    def find_accounts(
        self, community_id: int, member_ids: Sequence[int], codes: Sequence[str]
    ) -> list[AccountRow]:
        columns = (ledger_accounts.c.id, ledger_accounts.c.member_id, ledger_accounts.c.code)
        conditions = [
            *(ledger_accounts.c.member_id.in_(chunk) for chunk in _chunks(member_ids)),
            *(ledger_accounts.c.code.in_(chunk) for chunk in _chunks(codes)),
        ]
        found: list[AccountRow] = []
        for condition in conditions:
            query = select(*columns).where(ledger_accounts.c.community_id == community_id, condition)
            found.extend(tuple(row) for row in self.conn.execute(query))  # type: ignore[misc]
        return found

    def create_accounts(self, keys: Iterable[AccountKey]) -> None:
        """Create the accounts of ``keys`` that do not exist yet (existing ones are left alone).

        The rows go in in one global order (``account_order``): an insert of a key that another
        open transaction has just inserted waits for that transaction, so two writers creating
        overlapping accounts in orders of their own could each wait for the other (a deadlock)."""
        rows = [
            {
                "community_id": community_id,
                "member_id": None if isinstance(key, str) else key,
                "code": key if isinstance(key, str) else None,
                "balance": 0,
                "earned": 0,
            }
            for community_id, key in sorted(keys, key=account_order)
        ]
        if rows:
            self.conn.execute(insert_or_ignore(self.conn.dialect.name, ledger_accounts), rows)

    def lock_accounts(
        self, account_ids: Iterable[int], system: Collection[int] = frozenset()
    ) -> dict[int, LockedAccount]:
        """The accounts' balances by id, locked until commit (``FOR UPDATE`` in id order).
        ``system``: which of them are system accounts (a store may leave those unlocked)."""
        columns = (
            ledger_accounts.c.id,
            ledger_accounts.c.member_id,
            ledger_accounts.c.balance,
            ledger_accounts.c.earned,
        )
        locked: dict[int, LockedAccount] = {}
        for chunk in _chunks(sorted(account_ids)):
            query = select(*columns).where(ledger_accounts.c.id.in_(chunk)).order_by(ledger_accounts.c.id)
            for row in self.conn.execute(query.with_for_update()):
                locked[row[0]] = LockedAccount(*row)
        return locked

    # Whether a batch may decide from balances read without locks (read_accounts) and write
    # them with write_checked, which moves them only if they still allow what was decided.
    checks_balances_on_write = False

    def read_accounts(
        self, account_ids: Iterable[int], system: Collection[int] = frozenset()
    ) -> dict[int, LockedAccount]:
        """The accounts' committed balances by id, not locked (a store that cannot check them
        on write locks them)."""
        return self.lock_accounts(account_ids, system)

    def write_checked(
        self, transfers: Sequence[Transfer], accounts: Collection[LockedAccount], *, skip_taken: bool
    ) -> list[Transfer] | None:
        """write_batch for accounts from read_accounts: raises BalancesMoved, writing nothing,
        unless each account still has the balance its lowest point needs (and exactly the
        values read where ``exact``). Only stores that check balances on write override it."""
        raise NotImplementedError

    def remember_balances(self, accounts: Iterable[LockedAccount]) -> None:
        """Called after commit with the batch's accounts, deltas not yet folded in (a store
        may cache them)."""

    def keeps_usage(self) -> bool:
        """Whether this store keeps committed usage sums between batches (see remember_usage)."""
        return False

    def cached_usage(self, shape: UsageShape) -> dict[int, int]:
        """Committed usage sums of ``shape`` per subject account that this store knows (the
        writer queries only the others). This store keeps none."""
        return {}

    def remember_usage(self, sums: dict[tuple[UsageShape, int], int], accepted: Sequence[Moved]) -> None:
        """After commit: ``sums`` are the committed usage of the (shape, subject) pairs the batch
        loaded; ``accepted`` what it moved, for any other pairs a store keeps."""

    def add_to_balances(self, changes: Sequence[tuple[int, int, int]]) -> None:
        """For each (account id, balance delta, earned delta): relative updates."""
        statement = (
            update(ledger_accounts)
            .where(ledger_accounts.c.id == bindparam("account"))
            .values(
                balance=ledger_accounts.c.balance + bindparam("delta"),
                earned=ledger_accounts.c.earned + bindparam("earned_delta"),
            )
        )
        self.conn.execute(statement, [{"account": a, "delta": d, "earned_delta": e} for a, d, e in changes])

    # -- transfers -----------------------------------------------------------------------

    def transfers_with_keys(self, community_id: int, keys: Sequence[str]) -> list[Transfer]:
        if self.conn.dialect.name == "postgresql":
            rows = self.conn.execute(_BY_KEY, {"community": community_id, "keys": sorted(keys)})
            return [transfer_from_row(row) for row in rows]
        found: list[Transfer] = []
        for chunk in _chunks(sorted(keys)):
            query = select(ledger_transfers).where(
                ledger_transfers.c.community_id == community_id,
                ledger_transfers.c.idempotency_key.in_(chunk),
            )
            found.extend(transfer_from_row(row) for row in self.conn.execute(query))
        return found

    def transfers_with_any_key(self, keys: Iterable[tuple[int, str]]) -> list[Transfer]:
        """The transfers with any of these (community id, idempotency key) pairs."""
        by_community: dict[int, set[str]] = {}
        for community_id, key in keys:
            by_community.setdefault(community_id, set()).add(key)
        return [
            transfer
            for community_id, wanted in by_community.items()
            for transfer in self.transfers_with_keys(community_id, list(wanted))
        ]

    def transfers_by_id(self, transfer_ids: Sequence[int]) -> list[Transfer]:
        found: list[Transfer] = []
        for chunk in _chunks(sorted(transfer_ids)):
            query = select(ledger_transfers).where(ledger_transfers.c.id.in_(chunk))
            found.extend(transfer_from_row(row) for row in self.conn.execute(query))
        return found

    def reversed_among(self, transfer_ids: Sequence[int]) -> set[int]:
        """Which of ``transfer_ids`` already have a reversing transfer."""
        done: set[int] = set()
        for chunk in _chunks(sorted(transfer_ids)):
            query = select(ledger_transfers.c.reverses_id).where(ledger_transfers.c.reverses_id.in_(chunk))
            done.update(row.reverses_id for row in self.conn.execute(query))
        return done

    def usage(
        self, *, by_actor: bool, subjects: Sequence[int], kinds: Sequence[str], since: datetime
    ) -> list[tuple[int, int]]:
        """(subject, points) moved since ``since`` in ``kinds``, per credited account, or per
        acting member when ``by_actor``."""
        column = ledger_transfers.c.actor_member_id if by_actor else ledger_transfers.c.credit_account_id
        found: list[tuple[int, int]] = []
        for chunk in _chunks(sorted(subjects)):
            query = (
                select(column, func.sum(ledger_transfers.c.amount))
                .where(column.in_(chunk), ledger_transfers.c.kind.in_(kinds), ledger_transfers.c.at >= since)
                .group_by(column)
            )
            found.extend((subject, int(used or 0)) for subject, used in self.conn.execute(query))
        return found

    def allocate_ids(self, count: int) -> list[int]:
        sequence = text(
            "SELECT nextval(pg_get_serial_sequence('ledger_transfers', 'id')) FROM generate_series(1, :n)"
        )
        return sorted(self.conn.execute(sequence, {"n": count}).scalars())

    # Whether insert_transfers_unless_taken is cheaper than looking the keys up first (the
    # writer then skips the lookup, see LedgerWriter._apply).
    skips_taken_keys = False
    # Whether the store writes a batch's transfers and balance moves in one statement
    # (write_batch, ids from the insert) instead of insert_* and add_to_balances.
    writes_in_one_statement = False

    def write_batch(
        self, transfers: Sequence[Transfer], changes: Sequence[tuple[int, int, int]], *, skip_taken: bool
    ) -> list[Transfer] | None:
        """Insert ``transfers`` (their ids given here) and apply ``changes`` (see
        add_to_balances); the transfers with their ids, or None if ``skip_taken`` and a key
        was taken (then nothing is written). Here in steps; a store writing in one statement
        overrides it."""
        ids = self.allocate_ids(len(transfers)) if transfers else []
        written = [t._replace(id=new_id) for t, new_id in zip(transfers, ids, strict=True)]
        if skip_taken:
            if not self.insert_transfers_unless_taken(written):
                return None
        else:
            self.insert_transfers(written)
        if changes:
            self.add_to_balances(changes)
        return written

    def insert_transfers(self, transfers: Sequence[Transfer]) -> None:
        if transfers:
            # A Transfer is a tuple in TRANSFER_COLUMNS order.
            self.conn.execute(
                insert(ledger_transfers), [dict(zip(TRANSFER_COLUMNS, t, strict=True)) for t in transfers]
            )

    def insert_transfers_unless_taken(self, transfers: Sequence[Transfer]) -> bool:
        """Insert the transfers only if none of their idempotency keys is taken; whether it did."""
        if self.transfers_with_any_key((t.community_id, t.key) for t in transfers):
            return False
        self.insert_transfers(transfers)
        return True

    # -- tiers ---------------------------------------------------------------------------

    def tiers(self, community_id: int) -> tuple[Tier, ...]:
        rows = self.conn.execute(select(ledger_tiers).where(ledger_tiers.c.community_id == community_id))
        return tuple(Tier(r.name, r.threshold, r.multiplier_pct) for r in rows)


class SqliteLedgerStore(LedgerStore):
    """The hot statements in raw SQL, one step each (see the module docstring)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.raw = conn.connection.driver_connection

    def community_accounts(self, community_id: int) -> list[AccountRow]:
        sql = "SELECT id, member_id, code FROM ledger_accounts WHERE community_id = ?"
        return select_all(self.raw, sql, ("id", "member_id", "code"), (community_id,))  # type: ignore[return-value]

    def find_accounts(
        self, community_id: int, member_ids: Sequence[int], codes: Sequence[str]
    ) -> list[AccountRow]:
        found: list[AccountRow] = []
        for column, values in (("member_id", member_ids), ("code", codes)):
            if values:
                sql = (
                    "SELECT id, member_id, code FROM ledger_accounts WHERE community_id = ?"
                    f" AND {column} IN (SELECT value FROM json_each(?))"
                )
                found.extend(
                    select_all(self.raw, sql, ("id", "member_id", "code"), (community_id, as_json(values)))
                )
        return found

    def create_accounts(self, keys: Iterable[AccountKey]) -> None:
        # The order does not matter here: the batch holds SQLite's only write lock.
        for community_id, member_ids, codes in split_keys(keys):
            for column, values in (("member_id", member_ids), ("code", codes)):
                if values:
                    self.raw.execute(
                        f"INSERT INTO ledger_accounts (community_id, {column}, balance, earned)"
                        " SELECT ?, value, 0, 0 FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
                        (community_id, as_json(values)),
                    )

    def lock_accounts(
        self, account_ids: Iterable[int], system: Collection[int] = frozenset()
    ) -> dict[int, LockedAccount]:
        # The batch already holds SQLite's only write lock (BEGIN IMMEDIATE). Balances this
        # connection committed are cached; the cache holds only while no other connection
        # has committed since (PRAGMA data_version), so it is exact, never merely recent.
        committed = self._committed()
        if committed.dirty:  # the last batch rolled back, or never said what it committed
            committed.balances.clear()
        committed.dirty = True
        cache = committed.balances
        locked: dict[int, LockedAccount] = {}
        missing: list[int] = []
        for account_id in account_ids:
            account = cache.get(account_id)
            if account is None:
                missing.append(account_id)
            else:
                locked[account_id] = account
        if missing:
            sql = (
                "SELECT id, member_id, balance, earned FROM ledger_accounts"
                " WHERE id IN (SELECT value FROM json_each(?))"
            )
            columns = ("id", "member_id", "balance", "earned")
            for row in select_all(self.raw, sql, columns, (as_json(missing),)):
                locked[row[0]] = cache[row[0]] = LockedAccount(*row)
        return locked

    def remember_balances(self, accounts: Iterable[LockedAccount]) -> None:
        committed = self._committed(check=False)
        for account in accounts:
            if account.delta or account.earned_delta:
                account.balance += account.delta
                account.earned += account.earned_delta
                account.delta = account.earned_delta = 0
        committed.dirty = False

    def keeps_usage(self) -> bool:
        return bool(self._committed(check=False).usage)

    def cached_usage(self, shape: UsageShape) -> dict[int, int]:
        # Like balances: exact while no other connection has committed (lock_accounts checks
        # at the start of every batch, before usage is asked for).
        return self._committed(check=False).usage.get(shape, {})

    def remember_usage(self, sums: dict[tuple[UsageShape, int], int], accepted: Sequence[Moved]) -> None:
        committed = self._committed(check=False)
        usage = committed.usage
        # Pairs kept from earlier batches that this one did not load: add what it moved.
        for shape, per_subject in usage.items():
            scope, kinds, since = shape
            for kind, at, credit, actor, amount in accepted:
                if kind in kinds and at >= since:
                    subject = credit if scope is CapScope.CREDIT else actor
                    if subject in per_subject and (shape, subject) not in sums:
                        per_subject[subject] += amount
        if committed.usage_size + len(sums) > MAX_CACHED_USAGE or len(usage) > MAX_USAGE_SHAPES:
            usage.clear()
            committed.usage_size = 0
        for (shape, subject), used in sums.items():
            per_subject = usage.setdefault(shape, {})
            committed.usage_size += subject not in per_subject
            per_subject[subject] = used

    def _committed(self, *, check: bool = True) -> _Committed:
        """This connection's cache of committed rows, emptied when another connection has
        committed since it was filled, or when it grows past MAX_CACHED_BALANCES."""
        info = self.conn.info
        committed: _Committed = info.get(_BALANCES) or _Committed(None)
        if check:
            (now,) = self.raw.execute("PRAGMA data_version").fetchone()
            if now != committed.version or len(committed.balances) > MAX_CACHED_BALANCES:
                committed = _Committed(now)
        info[_BALANCES] = committed
        return committed

    def add_to_balances(self, changes: Sequence[tuple[int, int, int]]) -> None:
        # UPDATE … FROM changes each row once: an account listed twice gets its deltas summed.
        rows: Sequence[tuple[int, int, int]] = changes
        if len({account for account, _, _ in changes}) != len(changes):
            merged: dict[int, tuple[int, int]] = {}
            for account, delta, earned_delta in changes:
                before = merged.get(account, (0, 0))
                merged[account] = (before[0] + delta, before[1] + earned_delta)
            rows = [(account, delta, earned) for account, (delta, earned) in merged.items()]
        # The cached rows are stale until remember_balances folds the batch's deltas in.
        self._committed(check=False).dirty = True
        add_to_columns(self.raw, "ledger_accounts", ("balance", "earned"), rows)

    def transfers_with_keys(self, community_id: int, keys: Sequence[str]) -> list[Transfer]:
        sql = (
            f"SELECT {', '.join(TRANSFER_COLUMNS)} FROM ledger_transfers WHERE community_id = ?"
            " AND idempotency_key IN (SELECT value FROM json_each(?))"
        )
        rows = select_all(self.raw, sql, TRANSFER_COLUMNS, (community_id, as_json(keys)))
        return [_transfer_from_sqlite(row) for row in rows]

    def usage(
        self, *, by_actor: bool, subjects: Sequence[int], kinds: Sequence[str], since: datetime
    ) -> list[tuple[int, int]]:
        column = "actor_member_id" if by_actor else "credit_account_id"
        sql = (
            f"SELECT {column} AS subject, sum(amount) AS used FROM ledger_transfers"
            f" WHERE {column} IN (SELECT value FROM json_each(?))"
            " AND kind IN (SELECT value FROM json_each(?)) AND at >= ? GROUP BY 1"
        )
        params = (as_json(subjects), as_json(kinds), sqlite_time(since))
        return [
            (subject, int(used or 0))
            for subject, used in select_all(self.raw, sql, ("subject", "used"), params)
        ]

    def allocate_ids(self, count: int) -> list[int]:
        # Safe: the batch holds SQLite's write lock (BEGIN IMMEDIATE) until it commits.
        (top,) = self.raw.execute("SELECT coalesce(max(id), 0) FROM ledger_transfers").fetchone()
        return list(range(top + 1, top + 1 + count))

    skips_taken_keys = True

    def insert_transfers(self, transfers: Sequence[Transfer]) -> None:
        self._insert_transfers(transfers, skip_taken=False)

    def insert_transfers_unless_taken(self, transfers: Sequence[Transfer]) -> bool:
        # One statement that skips rows whose key is taken; if it skipped any, the rows it did
        # insert are deleted again (their ids are the batch's, allocated above the maximum).
        if self._insert_transfers(transfers, skip_taken=True) == len(transfers):
            return True
        self.raw.execute("DELETE FROM ledger_transfers WHERE id >= ?", (transfers[0].id,))
        return False

    def _insert_transfers(self, transfers: Sequence[Transfer], *, skip_taken: bool) -> int:
        times: dict[datetime, str] = {}  # a batch's postings often share their time
        values: list[Any] = []
        for transfer in transfers:  # a Transfer is a tuple in TRANSFER_COLUMNS order
            values += transfer
            at = transfer.at
            values[-3] = times[at] if at in times else times.setdefault(at, sqlite_time(at))
        return insert_values(
            self.raw, "ledger_transfers", TRANSFER_COLUMNS, values, skip_conflicts=skip_taken
        )


def transfer_from_row(row: Any) -> Transfer:
    return Transfer(
        row.id,
        row.community_id,
        row.debit_account_id,
        row.credit_account_id,
        row.amount,
        row.kind,
        row.memo,
        row.actor_member_id,
        row.at,
        row.idempotency_key,
        row.reverses_id,
    )


def _transfer_from_sqlite(row: Sequence[Any]) -> Transfer:
    at = from_sqlite_time(row[8])
    return Transfer(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], at, row[9], row[10])


def account_order(key: AccountKey) -> tuple[int, bool, int | str]:
    """The one order in which writers create accounts: by community, then member accounts by
    member id, then system accounts by code. (Existing rows are locked in id order.)"""
    community_id, member_or_code = key
    return (community_id, isinstance(member_or_code, str), member_or_code)


def split_keys(keys: Iterable[AccountKey]) -> list[tuple[int, list[int], list[str]]]:
    """Per community: the member ids and the system codes among ``keys``."""
    split: dict[int, tuple[list[int], list[str]]] = {}
    for community_id, key in keys:
        member_ids, codes = split.setdefault(community_id, ([], []))
        (member_ids if isinstance(key, int) else codes).append(key)  # type: ignore[arg-type]
    return [(community_id, m, c) for community_id, (m, c) in split.items()]


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[start : start + _CHUNK] for start in range(0, len(values), _CHUNK)]
