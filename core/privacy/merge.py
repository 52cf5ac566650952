"""Merging two members into one (/link when both already hold data).

The older member survives. In one transaction, every column core/privacy/coverage.py lists
is handled as it says: rows move to the survivor (a duplicate the survivor already has stays
the survivor's), derived rows go, history stays. Four need more than that:

- points: the merged member's balance moves to the survivor by a ledger transfer (history is
  never edited); lifetime earned points (tiers) move with it;
- subscriptions: of two to the same plan, the one whose access lasts longer stays;
- referrals: a referral between the two accounts is removed (no self-referral through a
  second account), and the points it paid are taken back; otherwise the survivor keeps its own
  referrer, or takes the merged member's;
- commissions: the merged member's commission accounts move to the survivor's.

The merged member's row stays as a tombstone pointing at the survivor (``merged_into``), so
every lookup of it — in this process or another — lands on the survivor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.access.tables import subscriptions
from core.ledger.tables import ledger_accounts
from core.members.tables import communities, members
from core.privacy.coverage import MEMBER_COLUMNS
from core.referrals.tables import commission_transfers, referrals
from core.storage.schema import load_all_tables

ROLE_RANK = {"learner": 0, "moderator": 1, "creator": 2}


def _table(name: str) -> Table:
    return load_all_tables().tables[name]


async def merge_rows(conn: AsyncConnection, survivor: int, merged: int) -> dict[str, int]:
    """Every covered column of ``merged`` handled for ``survivor``; rows touched per table."""
    touched: dict[str, int] = {}
    for (table_name, column_name), handling in MEMBER_COLUMNS.items():
        table, column = _table(table_name), _table(table_name).c[column_name]
        strategy = handling.merge
        if strategy in ("keep", "custom"):
            continue
        if strategy == "drop":
            done = await conn.execute(delete(table).where(column == merged))
        else:
            keys = strategy.partition(":")[2]
            if keys:
                other = table.alias("theirs")
                same = [other.c[k] == table.c[k] for k in keys.split(",") if k != column_name]
                duplicate = exists().where(other.c[column_name] == survivor, *same)
                await conn.execute(delete(table).where(column == merged, duplicate))
            done = await conn.execute(update(table).where(column == merged).values({column_name: survivor}))
        touched[table_name] = touched.get(table_name, 0) + (done.rowcount or 0)
    await _merge_subscriptions(conn, survivor, merged)
    await _merge_commission_accounts(conn, survivor, merged)
    return touched


async def _merge_subscriptions(conn: AsyncConnection, survivor: int, merged: int) -> None:
    rows = (
        await conn.execute(select(subscriptions).where(subscriptions.c.member_id.in_((survivor, merged))))
    ).all()
    by_plan: dict[int, list[Any]] = {}
    for row in rows:
        by_plan.setdefault(row.plan_id, []).append(row)
    for plan_rows in by_plan.values():
        if len(plan_rows) == 2:  # both subscribed: the one whose access lasts longer stays
            loser = min(plan_rows, key=lambda r: (r.status != "ended", r.grace_until or r.period_end))
            await conn.execute(
                delete(_table("subscription_reminders")).where(
                    _table("subscription_reminders").c.subscription_id == loser.id
                )
            )
            await conn.execute(delete(subscriptions).where(subscriptions.c.id == loser.id))
    await conn.execute(
        update(subscriptions).where(subscriptions.c.member_id == merged).values(member_id=survivor)
    )


async def _merge_commission_accounts(conn: AsyncConnection, survivor: int, merged: int) -> None:
    for side in ("debit_account", "credit_account"):
        for kind in ("pending", "available", "paid"):
            await conn.execute(
                update(commission_transfers)
                .where(commission_transfers.c[side] == f"{kind}:{merged}")
                .values({side: f"{kind}:{survivor}"})
            )
    await conn.execute(
        update(commission_transfers)
        .where(commission_transfers.c.member_id == merged)
        .values(member_id=survivor)
    )


async def mutual_referral(conn: AsyncConnection, a: int, b: int) -> Any:
    """The referral between ``a`` and ``b`` (either way), if any."""
    query = select(referrals).where(
        ((referrals.c.referee_member_id == a) & (referrals.c.referrer_member_id == b))
        | ((referrals.c.referee_member_id == b) & (referrals.c.referrer_member_id == a))
    )
    return (await conn.execute(query)).first()


async def merge_referrals(conn: AsyncConnection, survivor: int, merged: int) -> None:
    """After the mutual referral (if any) is gone: one referrer for the survivor, and the
    merged member's referees become the survivor's."""
    mine = (
        await conn.execute(
            select(referrals.c.referee_member_id).where(referrals.c.referee_member_id == survivor)
        )
    ).first()
    if mine is not None:
        await conn.execute(delete(referrals).where(referrals.c.referee_member_id == merged))
    else:
        await conn.execute(
            update(referrals)
            .where(referrals.c.referee_member_id == merged)
            .values(referee_member_id=survivor)
        )
    await conn.execute(
        update(referrals).where(referrals.c.referrer_member_id == merged).values(referrer_member_id=survivor)
    )


async def move_earned(conn: AsyncConnection, community_id: int, survivor: int, merged: int) -> None:
    """Lifetime earned points (what tiers follow) move with the member; not a value movement.

    Both account rows are locked first, in id order as the ledger writer locks them: updated
    survivor first, they could deadlock with a batch holding the merged member's row."""
    rows = (
        await conn.execute(
            select(ledger_accounts.c.member_id, ledger_accounts.c.earned)
            .where(
                ledger_accounts.c.community_id == community_id,
                ledger_accounts.c.member_id.in_((survivor, merged)),
            )
            .order_by(ledger_accounts.c.id)
            .with_for_update()
        )
    ).all()
    earned = next((row.earned for row in rows if row.member_id == merged), 0)
    if not earned:
        return
    if any(row.member_id == survivor for row in rows):
        await conn.execute(
            update(ledger_accounts)
            .where(
                and_(ledger_accounts.c.community_id == community_id, ledger_accounts.c.member_id == survivor)
            )
            .values(earned=ledger_accounts.c.earned + earned)
        )
    else:  # the survivor never had points: their account starts with what the other earned
        await conn.execute(
            insert(ledger_accounts).values(community_id=community_id, member_id=survivor, earned=earned)
        )
    await conn.execute(
        update(ledger_accounts)
        .where(ledger_accounts.c.community_id == community_id, ledger_accounts.c.member_id == merged)
        .values(earned=0)
    )


async def close_member(
    conn: AsyncConnection, community_id: int, survivor: int, merged: int, merged_role: str, now: datetime
) -> None:
    """The tombstone: ``merged`` points at ``survivor``, who keeps the higher role."""
    survivor_role = (await conn.execute(select(members.c.role).where(members.c.id == survivor))).scalar_one()
    if ROLE_RANK[merged_role] > ROLE_RANK[survivor_role]:
        await conn.execute(update(members).where(members.c.id == survivor).values(role=merged_role))
    await conn.execute(update(members).where(members.c.id == merged).values(merged_into=survivor))
    await conn.execute(
        update(communities)
        .where(communities.c.id == community_id, communities.c.owner_member_id == merged)
        .values(owner_member_id=survivor)
    )
