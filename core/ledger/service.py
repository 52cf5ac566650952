"""The ledger's public API: post, reverse, and read balances, history and leaderboards."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from core.errors import InvalidInput
from core.i18n import msg
from core.ledger.models import (
    EARNING_KINDS,
    AccountRef,
    CapScope,
    Kind,
    MemberAccount,
    Outcome,
    Posting,
    PostingResult,
    SystemAccount,
    SystemCode,
    Transfer,
)
from core.ledger.store import transfer_from_row
from core.ledger.tables import effective_balance, ledger_accounts, ledger_transfers
from core.ledger.writer import LedgerWriter
from core.metrics import Metrics
from core.storage.batching import GroupCommit
from core.storage.database import Database

MAX_AMOUNT = 10**12
MAX_KEY = 200

# Built once: interactive reads skip building and cache-keying the statement each time.
_MEMBER_ACCOUNT = select(ledger_accounts.c.id, ledger_accounts.c.balance, ledger_accounts.c.earned).where(
    ledger_accounts.c.community_id == bindparam("community"),
    ledger_accounts.c.member_id == bindparam("member"),
)
_EARNED_BY_KIND = (
    select(ledger_transfers.c.kind, func.sum(ledger_transfers.c.amount).label("points"))
    .where(
        ledger_transfers.c.credit_account_id == bindparam("account"),
        ledger_transfers.c.at >= bindparam("since", type_=ledger_transfers.c.at.type),
    )
    .group_by(ledger_transfers.c.kind)
)


@dataclass(frozen=True)
class Balance:
    balance: int
    earned: int


@dataclass(frozen=True)
class HistoryLine:
    transfer: Transfer
    signed_amount: int  # + received, - given, from the member's side
    counterparty_member_id: int | None
    counterparty_code: str | None


@dataclass(frozen=True)
class Standing:
    member_id: int
    points: int


class Ledger:
    def __init__(
        self, db: Database, commits: GroupCommit[Any, Any] | None = None, metrics: Metrics | None = None
    ) -> None:
        self._db = db
        self.writer = LedgerWriter(db, commits, metrics)

    async def close(self) -> None:
        await self.writer.close()

    # -- writing -------------------------------------------------------------------------

    async def post(self, posting: Posting) -> PostingResult:
        """Post one transfer through the group-commit writer.

        The same idempotency key again returns the first result (REPLAYED) and changes nothing.
        """
        return await self.submit(posting)

    def submit(self, posting: Posting) -> Awaitable[PostingResult]:
        """Queue ``posting`` now and return an awaitable of its result.

        For callers that keep several postings in flight (bulk flows, busy handlers): the
        posting joins the writer's queue at once, so it can share a batch with the caller's
        next ones instead of waiting for its own commit first. Validation errors raise here.
        """
        _validate(posting)
        return self._settle(posting, self.writer.commits.enqueue(posting))

    async def _settle(self, posting: Posting, queued: Awaitable[PostingResult]) -> PostingResult:
        try:
            return await queued
        except (IntegrityError, sqlite3.IntegrityError):
            # Another process posted the same key between our check and our insert: asked
            # again, the writer finds that transfer and answers REPLAYED.
            return await self.writer.post(posting)

    async def post_many(self, postings: Sequence[Posting]) -> list[PostingResult]:
        """Post several transfers; they are decided in order and share transactions.

        For bulk flows (expiry, imports, campaign rewards): queued together, they fill whole
        batches instead of waiting for each other's commits.
        """
        for posting in postings:
            _validate(posting)
        return list(await asyncio.gather(*(self.submit(p) for p in postings)))

    async def reverse(
        self,
        transfer_id: int,
        *,
        community_id: int,
        actor_member_id: int | None,
        reason: str,
        at: datetime,
        key: str | None = None,
    ) -> PostingResult:
        """Post the reversing transfer of ``transfer_id`` (at most once per transfer: the unique
        reverses_id, whatever ``key`` a caller such as a dashboard form gives)."""
        original = await self.transfer(community_id, transfer_id)
        if original is None:
            return PostingResult(Outcome.INVALID)
        debit, credit = (
            await self._refs(original.credit_account_id),
            await self._refs(original.debit_account_id),
        )
        return await self.post(
            Posting(
                community_id=community_id,
                debit=debit,
                credit=credit,
                amount=original.amount,
                kind=Kind.REVERSAL,
                key=key or f"reverse:{original.id}",
                at=at,
                memo=reason,
                actor_member_id=actor_member_id,
                reverses_id=original.id,
            )
        )

    # -- reading -------------------------------------------------------------------------

    async def balance(self, community_id: int, member_id: int) -> Balance:
        query = select(ledger_accounts.c.balance, ledger_accounts.c.earned).where(
            ledger_accounts.c.community_id == community_id, ledger_accounts.c.member_id == member_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return Balance(row.balance, row.earned) if row else Balance(0, 0)

    async def standing(
        self, community_id: int, member_id: int, since: datetime
    ) -> tuple[Balance, dict[str, int]]:
        """The member's balance, and what they earned per kind since ``since`` (for /points),
        read together in one transaction."""

        def read(conn: Connection) -> tuple[Balance, dict[str, int]]:
            account = conn.execute(_MEMBER_ACCOUNT, {"community": community_id, "member": member_id}).first()
            if account is None:
                return Balance(0, 0), {}
            rows = conn.execute(_EARNED_BY_KIND, {"account": account.id, "since": since})
            return Balance(account.balance, account.earned), {row.kind: int(row.points) for row in rows}

        return await self._db.run_read(read)

    async def transfer(self, community_id: int, transfer_id: int) -> Transfer | None:
        query = select(ledger_transfers).where(
            ledger_transfers.c.id == transfer_id, ledger_transfers.c.community_id == community_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return transfer_from_row(row) if row else None

    async def reversal_of(self, community_id: int, transfer_id: int) -> Transfer | None:
        """The transfer that reversed ``transfer_id``, if any (uq_ledger_transfers_reverses)."""
        query = select(ledger_transfers).where(
            ledger_transfers.c.reverses_id == transfer_id, ledger_transfers.c.community_id == community_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return transfer_from_row(row) if row else None

    async def is_reversed(self, transfer_id: int) -> bool:
        async with self._db.read() as conn:
            query = select(ledger_transfers.c.id).where(ledger_transfers.c.reverses_id == transfer_id)
            return (await conn.execute(query)).first() is not None

    async def history(self, community_id: int, member_id: int, limit: int = 10) -> list[HistoryLine]:
        """The member's transfers, newest first, signed from the member's side."""
        mine = await self._member_account_id(community_id, member_id)
        if mine is None:
            return []
        other = aliased(ledger_accounts)
        query = (
            select(
                ledger_transfers, other.c.member_id.label("other_member"), other.c.code.label("other_code")
            )
            .join(
                other,
                other.c.id
                == func.coalesce(
                    func.nullif(ledger_transfers.c.debit_account_id, mine),
                    ledger_transfers.c.credit_account_id,
                ),
            )
            .where(
                (ledger_transfers.c.debit_account_id == mine) | (ledger_transfers.c.credit_account_id == mine)
            )
            .order_by(ledger_transfers.c.at.desc(), ledger_transfers.c.id.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        lines = []
        for row in rows:
            transfer = transfer_from_row(row)
            sign = 1 if transfer.credit_account_id == mine else -1
            lines.append(HistoryLine(transfer, sign * transfer.amount, row.other_member, row.other_code))
        return lines

    async def earned_since(
        self,
        community_id: int,
        since: datetime | None,
        *,
        kinds: Sequence[str] = tuple(EARNING_KINDS),
        exclude_member_ids: Sequence[int] = (),
        limit: int = 10,
    ) -> list[Standing]:
        """Members by points earned (not reversed) since ``since``, most first."""
        reversal = aliased(ledger_transfers)
        points = func.sum(ledger_transfers.c.amount).label("points")
        query = (
            select(ledger_accounts.c.member_id, points)
            .join(ledger_accounts, ledger_accounts.c.id == ledger_transfers.c.credit_account_id)
            .where(
                ledger_transfers.c.community_id == community_id,
                ledger_transfers.c.kind.in_([str(k) for k in kinds]),
                ledger_accounts.c.member_id.is_not(None),
                ~exists().where(reversal.c.reverses_id == ledger_transfers.c.id),
            )
            .group_by(ledger_accounts.c.member_id)
            .order_by(points.desc(), ledger_accounts.c.member_id)
            .limit(limit)
        )
        if since is not None:
            query = query.where(ledger_transfers.c.at >= since)
        if exclude_member_ids:
            query = query.where(ledger_accounts.c.member_id.not_in(list(exclude_member_ids)))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [Standing(row.member_id, int(row.points)) for row in rows]

    async def earned_by_kind_since(
        self, community_id: int, member_id: int, since: datetime
    ) -> dict[str, int]:
        """What the member earned per kind since ``since`` (for caps shown in /points)."""
        account = await self._member_account_id(community_id, member_id)
        if account is None:
            return {}
        query = (
            select(ledger_transfers.c.kind, func.sum(ledger_transfers.c.amount).label("points"))
            .where(ledger_transfers.c.credit_account_id == account, ledger_transfers.c.at >= since)
            .group_by(ledger_transfers.c.kind)
        )
        async with self._db.read() as conn:
            return {row.kind: int(row.points) for row in await conn.execute(query)}

    async def given_since(self, community_id: int, actor_member_id: int, kind: str, since: datetime) -> int:
        """Points of ``kind`` the member has handed out as actor since ``since``."""
        query = select(func.coalesce(func.sum(ledger_transfers.c.amount), 0)).where(
            ledger_transfers.c.community_id == community_id,
            ledger_transfers.c.actor_member_id == actor_member_id,
            ledger_transfers.c.kind == kind,
            ledger_transfers.c.at >= since,
        )
        async with self._db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def transfers_of_kinds(
        self,
        community_id: int,
        kinds: Sequence[str],
        *,
        member_id: int | None = None,
        actor_id: int | None = None,
        before: int | None = None,
        limit: int = 20,
    ) -> list[Transfer]:
        """Recent transfers of ``kinds``, newest first, optionally touching one member or made by
        one actor; ``before`` (a transfer id) gives the next older page."""
        query = select(ledger_transfers).where(
            ledger_transfers.c.community_id == community_id, ledger_transfers.c.kind.in_(list(kinds))
        )
        if actor_id is not None:
            query = query.where(ledger_transfers.c.actor_member_id == actor_id)
        if before is not None:
            query = query.where(ledger_transfers.c.id < before)
        if member_id is not None:
            account = await self._member_account_id(community_id, member_id)
            if account is None:
                return []
            query = query.where(
                (ledger_transfers.c.debit_account_id == account)
                | (ledger_transfers.c.credit_account_id == account)
            )
        query = query.order_by(ledger_transfers.c.id.desc()).limit(limit)
        async with self._db.read() as conn:
            return [transfer_from_row(row) for row in await conn.execute(query)]

    async def member_of_account(self, account_id: int) -> int | None:
        return (await self.members_of_accounts([account_id])).get(account_id)

    async def members_of_accounts(self, account_ids: Sequence[int]) -> dict[int, int | None]:
        """account id → member id (None for system accounts), in one query."""
        query = select(ledger_accounts.c.id, ledger_accounts.c.member_id).where(
            ledger_accounts.c.id.in_(sorted(set(account_ids)))
        )
        async with self._db.read() as conn:
            return {row.id: row.member_id for row in await conn.execute(query)}

    async def recent_transfer_times(
        self, community_id: int, member_id: int, kind: str, limit: int
    ) -> list[datetime]:
        account = await self._member_account_id(community_id, member_id)
        if account is None:
            return []
        query = (
            select(ledger_transfers.c.at)
            .where(ledger_transfers.c.credit_account_id == account, ledger_transfers.c.kind == kind)
            .order_by(ledger_transfers.c.at.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            return list((await conn.execute(query)).scalars())

    # -- expiry (first in, first out) ----------------------------------------------------

    async def expirable(self, community_id: int, *, cutoff: datetime) -> list[tuple[int, int, int]]:
        """(member id, account id, points) that have expired by ``cutoff``, first in, first out."""
        query = _fifo_query(cutoff).where(
            ledger_accounts.c.community_id == community_id,
            ledger_accounts.c.member_id.is_not(None),
            ledger_accounts.c.balance > 0,
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        due = [(row.member_id, row.id, _fifo_left(row)) for row in rows]
        return [item for item in due if item[2] > 0]

    async def expiring_within(
        self, community_id: int, member_id: int, *, expiry_days: int, now: datetime, window: timedelta
    ) -> int:
        """Points of the member that will have expired by ``now + window`` if none are spent."""
        if expiry_days <= 0:
            return 0
        cutoff = now + window - timedelta(days=expiry_days)
        query = _fifo_query(cutoff).where(
            ledger_accounts.c.community_id == community_id, ledger_accounts.c.member_id == member_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return _fifo_left(row) if row else 0

    async def expire(self, community_id: int, *, expiry_days: int, now: datetime) -> int:
        """Post every expiry due at ``now``; idempotent per account and day. Returns points expired."""
        if expiry_days <= 0:
            return 0
        cutoff = now - timedelta(days=expiry_days)
        total = 0
        for member_id, _account, amount in await self.expirable(community_id, cutoff=cutoff):
            result = await self.post(
                Posting(
                    community_id=community_id,
                    debit=MemberAccount(member_id),
                    credit=SystemAccount(SystemCode.EXPIRY),
                    amount=amount,
                    kind=Kind.EXPIRY,
                    key=f"expire:{member_id}:{cutoff.date().isoformat()}",
                    at=now,
                    memo=f"earned on or before {cutoff.date().isoformat()}",
                    partial=True,
                )
            )
            if result.outcome is Outcome.POSTED:
                total += result.amount
        return total

    # -- invariants (tests, reconciliation) ------------------------------------------------

    async def totals(self, community_id: int | None = None) -> tuple[int, int]:
        """(sum of all balances, the most negative member balance or 0)."""
        balance = effective_balance()
        query = select(
            func.coalesce(func.sum(balance), 0),
            func.coalesce(func.min(balance).filter(ledger_accounts.c.member_id.is_not(None)), 0),
        )
        if community_id is not None:
            query = query.where(ledger_accounts.c.community_id == community_id)
        async with self._db.read() as conn:
            total, lowest = (await conn.execute(query)).one()
        return int(total), min(0, int(lowest))

    async def system_balance(self, community_id: int, account: SystemAccount) -> int:
        """A system account's balance (escrow: the bounties held now)."""
        query = select(effective_balance()).where(
            ledger_accounts.c.community_id == community_id, ledger_accounts.c.code == str(account.code)
        )
        async with self._db.read() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    async def balances_match_transfers(self, community_id: int) -> bool:
        """Every account's balance equals credits minus debits of its transfers."""
        credits = _sum_of_transfers(ledger_transfers.c.credit_account_id)
        debits = _sum_of_transfers(ledger_transfers.c.debit_account_id)
        query = select(func.count()).where(
            ledger_accounts.c.community_id == community_id, effective_balance() != credits - debits
        )
        async with self._db.read() as conn:
            return (await conn.execute(query)).scalar_one() == 0

    # -- helpers -------------------------------------------------------------------------

    async def _member_account_id(self, community_id: int, member_id: int) -> int | None:
        query = select(ledger_accounts.c.id).where(
            ledger_accounts.c.community_id == community_id, ledger_accounts.c.member_id == member_id
        )
        async with self._db.read() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def _refs(self, account_id: int) -> AccountRef:
        query = select(ledger_accounts.c.member_id, ledger_accounts.c.code).where(
            ledger_accounts.c.id == account_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).one()
        return (
            MemberAccount(row.member_id) if row.member_id is not None else SystemAccount(SystemCode(row.code))
        )


def _sum_of_transfers(side: ColumnElement[Any], *conditions: ColumnElement[bool]) -> Any:
    """Sum of the amounts of transfers whose ``side`` (debit or credit) is the outer account."""
    return (
        select(func.coalesce(func.sum(ledger_transfers.c.amount), 0))
        .where(side == ledger_accounts.c.id, *conditions)
        .scalar_subquery()
    )


def _fifo_query(cutoff: datetime) -> Select[Any]:
    """Accounts with what they received up to ``cutoff`` and all they ever paid out."""
    return select(
        ledger_accounts.c.member_id,
        ledger_accounts.c.id,
        ledger_accounts.c.balance,
        _sum_of_transfers(ledger_transfers.c.credit_account_id, ledger_transfers.c.at <= cutoff).label("old"),
        _sum_of_transfers(ledger_transfers.c.debit_account_id).label("paid_out"),
    )


def _fifo_left(row: Any) -> int:
    """First in, first out: what is left of the old points is what came in up to the cutoff
    minus everything paid out since the account opened (never more than the balance)."""
    return max(0, min(int(row.balance), int(row.old) - int(row.paid_out)))


def _validate(posting: Posting) -> None:
    if not isinstance(posting.amount, int) or isinstance(posting.amount, bool):
        raise InvalidInput(msg("Points must be a whole number."))
    if not 0 < posting.amount <= MAX_AMOUNT:
        raise InvalidInput(msg("Points must be between 1 and {maximum}.", maximum=MAX_AMOUNT))
    if posting.debit == posting.credit:
        raise InvalidInput(msg("A transfer needs two different accounts."))
    if not posting.key or len(posting.key) > MAX_KEY:
        raise ValueError("an idempotency key of 1 to 200 characters is required")
    if posting.at.tzinfo is None:
        raise ValueError("posting time must be timezone-aware")
    if posting.actor_member_id is None and any(cap.scope is CapScope.ACTOR for cap in posting.caps):
        raise ValueError("a posting with an ACTOR cap needs actor_member_id")
