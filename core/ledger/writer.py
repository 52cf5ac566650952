"""The ledger's single writer: postings gathered into batches, each batch one transaction.

Inside the transaction the touched account rows are locked (``BEGIN IMMEDIATE`` on SQLite,
``SELECT … FOR UPDATE`` in id order on PostgreSQL), so the balances read there are the ones
the batch changes; every posting is then decided in order, and balances move by relative
``UPDATE … SET balance = balance + :delta``.  The CHECK on member balances and the unique
idempotency key stay the last word: if either fires, the batch is retried posting by posting.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection

from core.ledger.models import (
    EARNING_KINDS,
    AccountRef,
    Cap,
    CapScope,
    MemberAccount,
    Outcome,
    Posting,
    PostingResult,
    SystemAccount,
    SystemCode,
    Transfer,
)
from core.ledger.tables import ledger_accounts, ledger_tiers, ledger_transfers
from core.ledger.tiers import DEFAULT_TIERS, Tier, apply_multiplier, tier_for
from core.storage.batching import GroupCommit
from core.storage.database import Database, sqlite_time
from core.storage.sqlite_bulk import add_to_columns, insert_rows
from core.storage.upsert import insert_or_ignore

TIER_CACHE_SECONDS = 10.0
PRELOAD_LIMIT = 1_000_000  # accounts of a community whose ids are loaded in one query
_CHUNK = 500  # ids per IN (...) list


@dataclass
class _Account:
    id: int
    member_id: int | None
    balance: int
    earned: int
    delta: int = 0
    earned_delta: int = 0


CapShape = tuple[CapScope, tuple[str, ...], Any]  # (scope, kinds, since)


@dataclass
class _Batch:
    """Working state of one batch while its postings are decided in order."""

    accounts: dict[int, _Account] = field(default_factory=dict)
    replays: dict[tuple[int, str], Transfer] = field(default_factory=dict)
    originals: dict[int, Transfer] = field(default_factory=dict)
    reversed_ids: set[int] = field(default_factory=set)
    shapes: set[CapShape] = field(default_factory=set)
    usage: dict[tuple[CapShape, int], int] = field(default_factory=dict)  # (shape, subject account)
    earned: dict[int, tuple[int, int]] = field(default_factory=dict)  # posting index: before, after


def _shape(cap: Cap) -> CapShape:
    return (cap.scope, tuple(sorted(str(kind) for kind in cap.kinds)), cap.since)


class LedgerWriter:
    def __init__(self, db: Database, commits: GroupCommit[Any, Any] | None = None) -> None:
        """``commits``: a shared writer, so postings commit together with other writes."""
        self._db = db
        self._ids: dict[tuple[int, AccountRef], int] = {}  # account ids never change
        self._preloaded: set[int] = set()
        self._tiers: dict[int, tuple[float, tuple[Tier, ...]]] = {}
        self.commits = commits or GroupCommit(db, name="ledger")
        self.commits.register(Posting, self._apply)

    async def post(self, posting: Posting) -> PostingResult:
        return await self.commits.submit(posting)

    async def close(self) -> None:
        await self.commits.close()

    def forget_tiers(self, community_id: int) -> None:
        self._tiers.pop(community_id, None)

    # -- one batch ------------------------------------------------------------------------

    def _apply(self, conn: Connection, postings: Sequence[Posting]) -> list[PostingResult]:
        refs = {(p.community_id, ref) for p in postings for ref in (p.debit, p.credit)}
        refs |= {(p.community_id, _actor(p)) for p in postings if _actor_capped(p)}
        ids = self._account_ids(conn, refs)
        batch = _Batch()
        batch.accounts = self._lock_accounts(conn, sorted(set(ids.values())))
        batch.replays = self._existing(conn, postings)
        self._load_reversals(conn, postings, batch)
        self._load_usage(conn, postings, ids, batch)
        tiers = self._tiers_for(conn, {p.community_id for p in postings if p.tiered})

        results: list[PostingResult | None] = [None] * len(postings)
        accepted: list[tuple[int, Posting, int, int, int]] = []  # (index, posting, amount, debit, credit)
        first_with_key: dict[tuple[int, str], int] = {}
        repeats: list[tuple[int, int]] = []  # (index, index of the first posting with its key)
        for index, posting in enumerate(postings):
            key = (posting.community_id, posting.key)
            if key in batch.replays:
                results[index] = PostingResult(Outcome.REPLAYED, batch.replays[key])
            elif key in first_with_key:
                repeats.append((index, first_with_key[key]))
            else:
                debit = ids[(posting.community_id, posting.debit)]
                credit = ids[(posting.community_id, posting.credit)]
                refused, amount = self._decide(index, posting, debit, credit, ids, batch, tiers)
                if refused is not None:
                    results[index] = refused
                else:
                    first_with_key[key] = index
                    accepted.append((index, posting, amount, debit, credit))

        transfers = self._insert(conn, [(p, a, d, c) for _, p, a, d, c in accepted])
        for (index, *_rest), transfer in zip(accepted, transfers, strict=True):
            before, after = batch.earned.get(index, (None, None))
            results[index] = PostingResult(Outcome.POSTED, transfer, earned_before=before, earned_after=after)
        for index, first in repeats:
            first_result = results[first]
            assert first_result is not None and first_result.transfer is not None
            results[index] = PostingResult(Outcome.REPLAYED, first_result.transfer)
        self._update_balances(conn, batch)
        return [result for result in results if result is not None]

    def _decide(
        self,
        index: int,
        posting: Posting,
        debit: int,
        credit: int,
        ids: dict[tuple[int, AccountRef], int],
        batch: _Batch,
        tiers: dict[int, tuple[Tier, ...]],
    ) -> tuple[PostingResult | None, int]:
        """Decide one posting against the batch state; when accepted, apply it to that state."""
        if debit == credit:
            return PostingResult(Outcome.INVALID), 0
        if posting.reverses_id is not None:
            original = batch.originals.get(posting.reverses_id)
            if (
                original is None
                or original.community_id != posting.community_id
                or posting.reverses_id in batch.reversed_ids
                or (original.debit_account_id, original.credit_account_id) != (credit, debit)
            ):
                return PostingResult(Outcome.INVALID), 0
        debited, credited = batch.accounts[debit], batch.accounts[credit]
        amount = posting.amount
        if posting.tiered and credited.member_id is not None:
            community_tiers = tiers.get(posting.community_id, DEFAULT_TIERS)
            amount = apply_multiplier(
                amount, tier_for(community_tiers, credited.earned + credited.earned_delta)
            )
        actor = ids.get((posting.community_id, _actor(posting))) if posting.actor_member_id else None
        for cap_index, cap in enumerate(posting.caps):
            subject = credit if cap.scope is CapScope.CREDIT else actor
            left = cap.limit - batch.usage.get((_shape(cap), subject or 0), 0)
            if left <= 0 or (amount > left and not cap.clamp):
                return PostingResult(Outcome.CAPPED, capped_by=cap_index), 0
            amount = min(amount, left)
        if amount <= 0:
            return PostingResult(Outcome.CAPPED), 0
        if debited.member_id is not None:
            available = debited.balance + debited.delta
            if available < amount:
                if not posting.partial or available <= 0:
                    return PostingResult(Outcome.INSUFFICIENT, available=available), 0
                amount = available

        # Accepted: apply to the batch state so later postings in this batch see it.
        debited.delta -= amount
        credited.delta += amount
        if posting.reverses_id is not None:
            batch.reversed_ids.add(posting.reverses_id)
        for shape in batch.shapes:
            scope, kinds, since = shape
            if str(posting.kind) in kinds and posting.at >= since:
                subject = credit if scope is CapScope.CREDIT else actor
                if subject is not None:
                    batch.usage[(shape, subject)] = batch.usage.get((shape, subject), 0) + amount
        earned = _earned_change(posting, amount, batch)
        if earned > 0:
            before = credited.earned + credited.earned_delta
            credited.earned_delta += earned
            batch.earned[index] = (before, before + earned)
        elif earned < 0:
            debited.earned_delta = max(debited.earned_delta + earned, -debited.earned)
        return None, amount

    # -- database work ------------------------------------------------------------------

    def _account_ids(
        self, conn: Connection, refs: Iterable[tuple[int, AccountRef]]
    ) -> dict[tuple[int, AccountRef], int]:
        """Account ids for ``refs``, creating missing accounts (committed ids are cached)."""
        found = {ref: self._ids[ref] for ref in refs if ref in self._ids}
        missing = [ref for ref in refs if ref not in found]
        if missing:
            for community_id in {c for c, _ in missing} - self._preloaded:
                self._preload(conn, community_id)
            found.update((ref, self._ids[ref]) for ref in missing if ref in self._ids)
            missing = [ref for ref in missing if ref not in self._ids]
        if missing:
            found.update(self._lookup_accounts(conn, missing))
            absent = [ref for ref in missing if ref not in found]
            if absent:
                rows = [
                    {
                        "community_id": community_id,
                        "member_id": ref.member_id if isinstance(ref, MemberAccount) else None,
                        "code": ref.code.value if isinstance(ref, SystemAccount) else None,
                        "balance": 0,
                        "earned": 0,
                    }
                    for community_id, ref in absent
                ]
                conn.execute(insert_or_ignore(self._db.dialect, ledger_accounts), rows)
                # Not cached: this transaction may still roll back, and a cached id of an
                # account that never committed would credit whoever gets that id next.
                found.update(self._lookup_accounts(conn, absent, remember=False))
        return found

    def _preload(self, conn: Connection, community_id: int) -> None:
        """Learn every account id of a community at once, unless it is very large."""
        self._preloaded.add(community_id)
        count = conn.execute(
            select(func.count())
            .select_from(ledger_accounts)
            .where(ledger_accounts.c.community_id == community_id)
        ).scalar_one()
        if count > PRELOAD_LIMIT:
            return
        query = select(ledger_accounts.c.id, ledger_accounts.c.member_id, ledger_accounts.c.code).where(
            ledger_accounts.c.community_id == community_id
        )
        for row in conn.execute(query):
            ref = (
                MemberAccount(row.member_id)
                if row.member_id is not None
                else SystemAccount(SystemCode(row.code))
            )
            self._ids[(community_id, ref)] = row.id

    def _lookup_accounts(
        self, conn: Connection, refs: Sequence[tuple[int, AccountRef]], *, remember: bool = True
    ) -> dict[tuple[int, AccountRef], int]:
        """Ids of existing accounts among ``refs``; cached when ``remember`` (committed rows)."""
        found: dict[tuple[int, AccountRef], int] = {}
        columns = (ledger_accounts.c.id, ledger_accounts.c.member_id, ledger_accounts.c.code)
        for community_id in {c for c, _ in refs}:
            wanted = [ref for c, ref in refs if c == community_id]
            member_ids = [r.member_id for r in wanted if isinstance(r, MemberAccount)]
            codes = [r.code.value for r in wanted if isinstance(r, SystemAccount)]
            conditions = [
                *(ledger_accounts.c.member_id.in_(chunk) for chunk in _chunks(member_ids)),
                *(ledger_accounts.c.code.in_(chunk) for chunk in _chunks(codes)),
            ]
            for condition in conditions:
                query = select(*columns).where(ledger_accounts.c.community_id == community_id, condition)
                for row in conn.execute(query):
                    found[(community_id, _ref_of(row))] = row.id
        if remember:
            self._ids.update(found)
        return found

    def _lock_accounts(self, conn: Connection, account_ids: list[int]) -> dict[int, _Account]:
        accounts: dict[int, _Account] = {}
        columns = (
            ledger_accounts.c.id,
            ledger_accounts.c.member_id,
            ledger_accounts.c.balance,
            ledger_accounts.c.earned,
        )
        if self._db.is_sqlite:  # the hot path in raw SQL: see _sqlite
            for chunk in _chunks(account_ids):
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT id, member_id, balance, earned FROM ledger_accounts WHERE id IN ({marks})"
                for id_, member_id, balance, earned in _sqlite(conn).execute(sql, chunk):
                    accounts[id_] = _Account(id_, member_id, balance, earned)
            return accounts
        for chunk in _chunks(account_ids):
            query = select(*columns).where(ledger_accounts.c.id.in_(chunk)).order_by(ledger_accounts.c.id)
            if not self._db.is_sqlite:
                query = query.with_for_update()
            for row in conn.execute(query):
                accounts[row.id] = _Account(row.id, row.member_id, row.balance, row.earned)
        return accounts

    def _existing(self, conn: Connection, postings: Sequence[Posting]) -> dict[tuple[int, str], Transfer]:
        by_community: dict[int, set[str]] = defaultdict(set)
        for posting in postings:
            by_community[posting.community_id].add(posting.key)
        found: dict[tuple[int, str], Transfer] = {}
        for community_id, keys in by_community.items():
            if self._db.is_sqlite:
                for chunk in _chunks(sorted(keys)):
                    sql = f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE community_id = ? AND"
                    sql += f" idempotency_key IN ({','.join('?' * len(chunk))})"
                    for row in _sqlite(conn).execute(sql, (community_id, *chunk)):
                        found[(community_id, row[9])] = _transfer_from_sqlite(row)
                continue
            for chunk in _chunks(sorted(keys)):
                query = select(ledger_transfers).where(
                    ledger_transfers.c.community_id == community_id,
                    ledger_transfers.c.idempotency_key.in_(chunk),
                )
                for row in conn.execute(query):
                    found[(community_id, row.idempotency_key)] = transfer_from_row(row)
        return found

    def _load_reversals(self, conn: Connection, postings: Sequence[Posting], batch: _Batch) -> None:
        wanted = sorted({p.reverses_id for p in postings if p.reverses_id is not None})
        for chunk in _chunks(wanted):
            for row in conn.execute(select(ledger_transfers).where(ledger_transfers.c.id.in_(chunk))):
                batch.originals[row.id] = transfer_from_row(row)
            done = select(ledger_transfers.c.reverses_id).where(ledger_transfers.c.reverses_id.in_(chunk))
            batch.reversed_ids.update(row.reverses_id for row in conn.execute(done))

    def _load_usage(
        self,
        conn: Connection,
        postings: Sequence[Posting],
        ids: dict[tuple[int, AccountRef], int],
        batch: _Batch,
    ) -> None:
        """What each cap subject has used already: one grouped query per cap shape."""
        subjects: dict[CapShape, set[int]] = defaultdict(set)
        for posting in postings:
            for cap in posting.caps:
                shape = _shape(cap)
                ref = posting.credit if cap.scope is CapScope.CREDIT else _actor(posting)
                subjects[shape].add(ids[(posting.community_id, ref)])
        batch.shapes = set(subjects)
        for shape, accounts in subjects.items():
            scope, kinds, since = shape
            if scope is CapScope.CREDIT:
                column = ledger_transfers.c.credit_account_id
                to_account = {account: account for account in accounts}
            else:
                column = ledger_transfers.c.actor_member_id
                to_account = {batch.accounts[a].member_id: a for a in accounts if batch.accounts[a].member_id}
            keys = sorted(k for k in to_account if k is not None)
            for chunk in _chunks(keys):
                query = (
                    select(column.label("subject"), func.sum(ledger_transfers.c.amount).label("used"))
                    .where(
                        column.in_(chunk), ledger_transfers.c.kind.in_(kinds), ledger_transfers.c.at >= since
                    )
                    .group_by(column)
                )
                for row in conn.execute(query):
                    batch.usage[(shape, to_account[row.subject])] = int(row.used or 0)

    def _tiers_for(self, conn: Connection, community_ids: set[int]) -> dict[int, tuple[Tier, ...]]:
        now = time.monotonic()
        result: dict[int, tuple[Tier, ...]] = {}
        for community_id in community_ids:
            cached = self._tiers.get(community_id)
            if cached is None or now - cached[0] > TIER_CACHE_SECONDS:
                rows = conn.execute(select(ledger_tiers).where(ledger_tiers.c.community_id == community_id))
                tiers = tuple(Tier(r.name, r.threshold, r.multiplier_pct) for r in rows) or DEFAULT_TIERS
                cached = self._tiers[community_id] = (now, tiers)
            result[community_id] = cached[1]
        return result

    def _insert(self, conn: Connection, accepted: list[tuple[Posting, int, int, int]]) -> list[Transfer]:
        """Insert the accepted transfers (posting, amount, debit, credit); returns them with ids."""
        if not accepted:
            return []
        # Ids are allocated up front so the insert is a plain executemany: SQLite cannot promise
        # RETURNING order for a multi-row insert, which makes SQLAlchemy insert row by row.
        new_ids = self._allocate_ids(conn, len(accepted))
        transfers = [
            Transfer(
                new_id,
                p.community_id,
                debit,
                credit,
                amount,
                str(p.kind),
                p.memo[:300],
                p.actor_member_id,
                p.at,
                p.key,
                p.reverses_id,
            )
            for new_id, (p, amount, debit, credit) in zip(new_ids, accepted, strict=True)
        ]
        if self._db.is_sqlite:
            insert_rows(
                _sqlite(conn),
                "ledger_transfers",
                _TRANSFER_COLUMNS.split(", "),
                [
                    (
                        t.id,
                        t.community_id,
                        t.debit_account_id,
                        t.credit_account_id,
                        t.amount,
                        t.kind,
                        t.memo,
                        t.actor_member_id,
                        sqlite_time(t.at),
                        t.key,
                        t.reverses_id,
                    )
                    for t in transfers
                ],
            )
            return transfers
        conn.execute(
            insert(ledger_transfers),
            [
                {
                    "id": t.id,
                    "community_id": t.community_id,
                    "debit_account_id": t.debit_account_id,
                    "credit_account_id": t.credit_account_id,
                    "amount": t.amount,
                    "kind": t.kind,
                    "memo": t.memo,
                    "actor_member_id": t.actor_member_id,
                    "at": t.at,
                    "idempotency_key": t.key,
                    "reverses_id": t.reverses_id,
                }
                for t in transfers
            ],
        )
        return transfers

    def _allocate_ids(self, conn: Connection, count: int) -> list[int]:
        if self._db.is_sqlite:
            # Safe: the batch holds SQLite's write lock (BEGIN IMMEDIATE) until it commits.
            (top,) = _sqlite(conn).execute("SELECT coalesce(max(id), 0) FROM ledger_transfers").fetchone()
            return list(range(top + 1, top + 1 + count))
        sequence = text(
            "SELECT nextval(pg_get_serial_sequence('ledger_transfers', 'id')) FROM generate_series(1, :n)"
        )
        return sorted((conn.execute(sequence, {"n": count})).scalars())

    def _update_balances(self, conn: Connection, batch: _Batch) -> None:
        changes = [
            {"account": a.id, "delta": a.delta, "earned_delta": a.earned_delta}
            for a in batch.accounts.values()
            if a.delta or a.earned_delta
        ]
        if not changes:
            return
        if self._db.is_sqlite:
            add_to_columns(
                _sqlite(conn),
                "ledger_accounts",
                ("balance", "earned"),
                [(c["account"], c["delta"], c["earned_delta"]) for c in changes],
            )
            return
        statement = (
            update(ledger_accounts)
            .where(ledger_accounts.c.id == bindparam("account"))
            .values(
                balance=ledger_accounts.c.balance + bindparam("delta"),
                earned=ledger_accounts.c.earned + bindparam("earned_delta"),
            )
        )
        conn.execute(statement, changes)


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


_TRANSFER_COLUMNS = (
    "id, community_id, debit_account_id, credit_account_id, amount, kind, memo, actor_member_id, at, "
    "idempotency_key, reverses_id"
)


def _sqlite(conn: Connection) -> Any:
    """The pysqlite connection under ``conn``: the ledger's hottest statements skip the
    SQLAlchemy layer on SQLite, where its per-statement cost exceeds the SQL (LIMITS.md)."""
    return conn.connection.driver_connection


def _transfer_from_sqlite(row: tuple[Any, ...]) -> Transfer:
    at = datetime.fromisoformat(row[8]).replace(tzinfo=UTC)
    return Transfer(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], at, row[9], row[10])


def _actor(posting: Posting) -> MemberAccount:
    return MemberAccount(posting.actor_member_id or 0)


def _actor_capped(posting: Posting) -> bool:
    return posting.actor_member_id is not None and any(c.scope is CapScope.ACTOR for c in posting.caps)


def _earned_change(posting: Posting, amount: int, batch: _Batch) -> int:
    """Lifetime earned rises with earning credits from issuance and falls with their reversal."""
    if isinstance(posting.debit, SystemAccount) and posting.debit.code is SystemCode.ISSUANCE:
        return amount if posting.kind in EARNING_KINDS else 0
    if posting.reverses_id is not None and posting.credit == SystemAccount(SystemCode.ISSUANCE):
        original = batch.originals.get(posting.reverses_id)
        if original is not None and original.kind in EARNING_KINDS:
            return -amount
    return 0


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _ref_of(row: Any) -> AccountRef:
    return MemberAccount(row.member_id) if row.member_id is not None else SystemAccount(SystemCode(row.code))
