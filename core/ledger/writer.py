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
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

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
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

TIER_CACHE_SECONDS = 10.0
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
    def __init__(self, db: Database, *, max_batch: int = 1000) -> None:
        self._db = db
        self._ids: dict[tuple[int, AccountRef], int] = {}  # account ids never change
        self._tiers: dict[int, tuple[float, tuple[Tier, ...]]] = {}
        self.commits = GroupCommit(db, self._apply, name="ledger", max_batch=max_batch)

    async def post(self, posting: Posting) -> PostingResult:
        return await self.commits.submit(posting)

    async def close(self) -> None:
        await self.commits.close()

    def forget_tiers(self, community_id: int) -> None:
        self._tiers.pop(community_id, None)

    async def account_id(self, conn: AsyncConnection, community_id: int, ref: AccountRef) -> int:
        return (await self._account_ids(conn, {(community_id, ref)}))[(community_id, ref)]

    # -- one batch ------------------------------------------------------------------------

    async def _apply(self, conn: AsyncConnection, postings: Sequence[Posting]) -> list[PostingResult]:
        refs = {(p.community_id, ref) for p in postings for ref in (p.debit, p.credit)}
        refs |= {(p.community_id, _actor(p)) for p in postings if _actor_capped(p)}
        ids = await self._account_ids(conn, refs)
        batch = _Batch()
        batch.accounts = await self._lock_accounts(conn, sorted(set(ids.values())))
        batch.replays = await self._existing(conn, postings)
        await self._load_reversals(conn, postings, batch)
        await self._load_usage(conn, postings, ids, batch)
        tiers = await self._tiers_for(conn, {p.community_id for p in postings if p.tiered})

        results: list[PostingResult | None] = [None] * len(postings)
        accepted: list[tuple[int, Posting, int, int]] = []  # (index, posting as posted, debit, credit)
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
                    accepted.append((index, replace(posting, amount=amount), debit, credit))

        transfers = await self._insert(conn, [(p, d, c) for _, p, d, c in accepted])
        for (index, _posting, _debit, _credit), transfer in zip(accepted, transfers, strict=True):
            before, after = batch.earned.get(index, (None, None))
            results[index] = PostingResult(Outcome.POSTED, transfer, earned_before=before, earned_after=after)
        for index, first in repeats:
            first_result = results[first]
            assert first_result is not None and first_result.transfer is not None
            results[index] = PostingResult(Outcome.REPLAYED, first_result.transfer)
        await self._update_balances(conn, batch)
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

    async def _account_ids(
        self, conn: AsyncConnection, refs: Iterable[tuple[int, AccountRef]]
    ) -> dict[tuple[int, AccountRef], int]:
        found = {ref: self._ids[ref] for ref in refs if ref in self._ids}
        missing = [ref for ref in refs if ref not in found]
        if missing:
            rows = [
                {
                    "community_id": community_id,
                    "member_id": ref.member_id if isinstance(ref, MemberAccount) else None,
                    "code": ref.code.value if isinstance(ref, SystemAccount) else None,
                    "balance": 0,
                    "earned": 0,
                }
                for community_id, ref in missing
            ]
            await conn.execute(insert_or_ignore(self._db.dialect, ledger_accounts), rows)
            for community_id in {c for c, _ in missing}:
                wanted = [ref for c, ref in missing if c == community_id]
                member_ids = [r.member_id for r in wanted if isinstance(r, MemberAccount)]
                codes = [r.code.value for r in wanted if isinstance(r, SystemAccount)]
                for chunk_members, chunk_codes in _pairs(member_ids, codes):
                    query = select(
                        ledger_accounts.c.id, ledger_accounts.c.member_id, ledger_accounts.c.code
                    ).where(
                        ledger_accounts.c.community_id == community_id,
                        (ledger_accounts.c.member_id.in_(chunk_members))
                        | (ledger_accounts.c.code.in_(chunk_codes)),
                    )
                    for row in await conn.execute(query):
                        ref = (
                            MemberAccount(row.member_id)
                            if row.member_id is not None
                            else SystemAccount(SystemCode(row.code))
                        )
                        self._ids[(community_id, ref)] = row.id
                        found[(community_id, ref)] = row.id
        return found

    async def _lock_accounts(self, conn: AsyncConnection, account_ids: list[int]) -> dict[int, _Account]:
        accounts: dict[int, _Account] = {}
        columns = (
            ledger_accounts.c.id,
            ledger_accounts.c.member_id,
            ledger_accounts.c.balance,
            ledger_accounts.c.earned,
        )
        for chunk in _chunks(account_ids):
            query = select(*columns).where(ledger_accounts.c.id.in_(chunk)).order_by(ledger_accounts.c.id)
            if not self._db.is_sqlite:
                query = query.with_for_update()
            for row in await conn.execute(query):
                accounts[row.id] = _Account(row.id, row.member_id, row.balance, row.earned)
        return accounts

    async def _existing(
        self, conn: AsyncConnection, postings: Sequence[Posting]
    ) -> dict[tuple[int, str], Transfer]:
        by_community: dict[int, set[str]] = defaultdict(set)
        for posting in postings:
            by_community[posting.community_id].add(posting.key)
        found: dict[tuple[int, str], Transfer] = {}
        for community_id, keys in by_community.items():
            for chunk in _chunks(sorted(keys)):
                query = select(ledger_transfers).where(
                    ledger_transfers.c.community_id == community_id,
                    ledger_transfers.c.idempotency_key.in_(chunk),
                )
                for row in await conn.execute(query):
                    found[(community_id, row.idempotency_key)] = transfer_from_row(row)
        return found

    async def _load_reversals(
        self, conn: AsyncConnection, postings: Sequence[Posting], batch: _Batch
    ) -> None:
        wanted = sorted({p.reverses_id for p in postings if p.reverses_id is not None})
        for chunk in _chunks(wanted):
            for row in await conn.execute(select(ledger_transfers).where(ledger_transfers.c.id.in_(chunk))):
                batch.originals[row.id] = transfer_from_row(row)
            done = select(ledger_transfers.c.reverses_id).where(ledger_transfers.c.reverses_id.in_(chunk))
            batch.reversed_ids.update(row.reverses_id for row in await conn.execute(done))

    async def _load_usage(
        self,
        conn: AsyncConnection,
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
                for row in await conn.execute(query):
                    batch.usage[(shape, to_account[row.subject])] = int(row.used or 0)

    async def _tiers_for(self, conn: AsyncConnection, community_ids: set[int]) -> dict[int, tuple[Tier, ...]]:
        now = time.monotonic()
        result: dict[int, tuple[Tier, ...]] = {}
        for community_id in community_ids:
            cached = self._tiers.get(community_id)
            if cached is None or now - cached[0] > TIER_CACHE_SECONDS:
                rows = await conn.execute(
                    select(ledger_tiers).where(ledger_tiers.c.community_id == community_id)
                )
                tiers = tuple(Tier(r.name, r.threshold, r.multiplier_pct) for r in rows) or DEFAULT_TIERS
                cached = self._tiers[community_id] = (now, tiers)
            result[community_id] = cached[1]
        return result

    async def _insert(
        self, conn: AsyncConnection, accepted: list[tuple[Posting, int, int]]
    ) -> list[Transfer]:
        if not accepted:
            return []
        rows = [
            {
                "community_id": p.community_id,
                "debit_account_id": debit,
                "credit_account_id": credit,
                "amount": p.amount,
                "kind": str(p.kind),
                "memo": p.memo[:300],
                "actor_member_id": p.actor_member_id,
                "at": p.at,
                "idempotency_key": p.key,
                "reverses_id": p.reverses_id,
            }
            for p, debit, credit in accepted
        ]
        statement = insert(ledger_transfers).returning(ledger_transfers.c.id, sort_by_parameter_order=True)
        new_ids = (await conn.execute(statement, rows)).scalars().all()
        return [
            Transfer(
                new_id,
                row["community_id"],
                row["debit_account_id"],
                row["credit_account_id"],
                row["amount"],
                row["kind"],
                row["memo"],
                row["actor_member_id"],
                row["at"],
                row["idempotency_key"],
                row["reverses_id"],
            )
            for new_id, row in zip(new_ids, rows, strict=True)
        ]

    async def _update_balances(self, conn: AsyncConnection, batch: _Batch) -> None:
        changes = [
            {"account": a.id, "delta": a.delta, "earned_delta": a.earned_delta}
            for a in batch.accounts.values()
            if a.delta or a.earned_delta
        ]
        if not changes:
            return
        statement = (
            update(ledger_accounts)
            .where(ledger_accounts.c.id == bindparam("account"))
            .values(
                balance=ledger_accounts.c.balance + bindparam("delta"),
                earned=ledger_accounts.c.earned + bindparam("earned_delta"),
            )
        )
        await conn.execute(statement, changes)


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


def _pairs(members: list[int], codes: list[str]) -> Iterable[tuple[list[int], list[str]]]:
    longest = max(len(members), len(codes))
    for start in range(0, longest, _CHUNK):
        yield members[start : start + _CHUNK], codes[start : start + _CHUNK]
