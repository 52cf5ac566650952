"""The commissions' own double-entry ledger (``commission_transfers``): one immutable transfer
per step, each with a unique key, and balances as the sums of an earner's accounts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Clock
from core.referrals.commission_models import Balance
from core.referrals.tables import commission_transfers, commissions
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

EXPENSE = "expense"


class CommissionLedger:
    """CommissionService's transfers (core/referrals/commissions.py)."""

    _db: Database
    _clock: Clock

    async def _transfer(
        self,
        conn: AsyncConnection,
        community_id: int,
        debit: str,
        credit: str,
        amount: int,
        currency: str,
        kind: str,
        member_id: int,
        key: str,
        *,
        commission_id: int | None = None,
        reference: str = "",
        actor_member_id: int | None = None,
        ignore_replay: bool = False,
    ) -> bool:
        """One immutable transfer in the caller's transaction; False when ``key`` was used."""
        values: dict[str, Any] = {
            "community_id": community_id,
            "debit_account": debit,
            "credit_account": credit,
            "amount_minor": amount,
            "currency": currency,
            "kind": kind,
            "commission_id": commission_id,
            "member_id": member_id,
            "reference": reference,
            "actor_member_id": actor_member_id,
            "at": self._clock.now(),
            "idempotency_key": key,
        }
        if ignore_replay:
            done = await conn.execute(
                insert_or_ignore(self._db.dialect, commission_transfers).values(**values)
            )
            return bool(done.rowcount == 1)
        await conn.execute(insert(commission_transfers).values(**values))
        return True


async def cancel_commissions_between(
    conn: AsyncConnection, community_id: int, pair: tuple[int, int], now: datetime
) -> int:
    """Cancel, in the caller's transaction, every commission one of ``pair`` earned on the
    other's orders (they turned out to be one person: /link): what is left of each goes back to
    the expense account, from pending or available as it stands. Returns how many."""
    rows = (
        await conn.execute(
            select(commissions).where(
                commissions.c.earner_member_id.in_(pair), commissions.c.buyer_member_id.in_(pair)
            )
        )
    ).all()
    cancelled = 0
    for row in rows:
        left = row.amount_minor - row.reversed_minor
        if left <= 0:
            continue
        await conn.execute(
            update(commissions).where(commissions.c.id == row.id).values(reversed_minor=row.amount_minor)
        )
        await conn.execute(
            insert(commission_transfers).values(
                community_id=community_id,
                debit_account=f"{row.status}:{row.earner_member_id}",
                credit_account=EXPENSE,
                amount_minor=left,
                currency=row.currency,
                kind="cancel" if row.status == "pending" else "clawback",
                commission_id=row.id,
                member_id=row.earner_member_id,
                at=now,
                idempotency_key=f"self-referral:{row.id}",
            )
        )
        cancelled += 1
    return cancelled


async def _earners_after(
    conn: AsyncConnection, community_id: int, after: int | None, limit: int
) -> list[int]:
    """Up to ``limit`` ids of members with commission transfers, in order, after ``after``
    (walks ix_commission_transfers_member)."""
    t = commission_transfers
    query = (
        select(t.c.member_id)
        .where(t.c.community_id == community_id)
        .group_by(t.c.member_id)
        .order_by(t.c.member_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(t.c.member_id > after)
    return list((await conn.execute(query)).scalars())


async def _balances_on(
    conn: AsyncConnection,
    community_id: int,
    member_id: int | None = None,
    *,
    member_ids: list[int] | None = None,
) -> dict[int, list[Balance]]:
    """Each earner's balances by currency (of ``member_id`` or ``member_ids`` only, when
    given): the sums of their accounts' rows (credits less debits), read on ``conn``."""
    sums: dict[tuple[int, str, str], int] = {}
    t = commission_transfers
    for column, sign in ((t.c.credit_account, 1), (t.c.debit_account, -1)):
        query = (
            select(t.c.member_id, t.c.currency, column, func.sum(t.c.amount_minor))
            .where(t.c.community_id == community_id, column != EXPENSE)
            .group_by(t.c.member_id, t.c.currency, column)
        )
        if member_id is not None:
            query = query.where(t.c.member_id == member_id)
        if member_ids is not None:
            query = query.where(t.c.member_id.in_(member_ids))
        for earner, currency, account, total in await conn.execute(query):
            key = (earner, currency, account.split(":")[0])
            sums[key] = sums.get(key, 0) + sign * int(total)
    found: dict[int, list[Balance]] = {}
    for earner, currency in sorted({(e, c) for e, c, _ in sums}):
        found.setdefault(earner, []).append(
            Balance(
                currency,
                sums.get((earner, currency, "pending"), 0),
                sums.get((earner, currency, "available"), 0),
                sums.get((earner, currency, "paid"), 0),
            )
        )
    return found
