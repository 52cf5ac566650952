"""Loading what the analytics need, aggregated in SQL (GROUP BY) so that a million activity
rows never become a million Python objects: per member one row, per (member, week) one row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Integer, and_, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.access.tables import plans, subscriptions
from core.activity.tables import activity
from core.analytics.tables import marketing_spend
from core.ledger.tables import ledger_accounts, ledger_tiers, ledger_transfers
from core.ledger.tiers import DEFAULT_TIERS
from core.members.models import Role
from core.members.tables import members
from core.orders.tables import orders
from core.qa.tables import answers, questions
from core.referrals.tables import referrals

PAID = ("paid", "fulfilled", "refunded")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a Thursday: +3 days puts week starts on Mondays


def week_of(dt: datetime) -> int:
    """The week number of ``dt`` (weeks start on Monday), as :func:`week_expr` computes it."""
    return int(((dt - EPOCH).total_seconds() / 86400 + 3) // 7)


def week_start(week: int) -> datetime:
    return EPOCH + timedelta(days=week * 7 - 3)


def week_expr(column: Any, dialect: str) -> Any:
    """SQL for :func:`week_of` on ``column``."""
    if dialect == "sqlite":
        days = func.julianday(column) - 2440587.5
    else:
        days = func.extract("epoch", column) / 86400
    return cast(func.floor((days + 3) / 7), Integer)


@dataclass(frozen=True)
class Loaded:
    """One community's members and their aggregates, aligned by index."""

    member_ids: NDArray
    joined_at: list[datetime]
    last_active: list[datetime | None]
    active_days_30: NDArray
    messages: NDArray
    checkins: NDArray
    answers: NDArray
    accepted: NDArray
    orders: NDArray
    monetary: NDArray  # in ``currency``
    currency: str
    top_tier: NDArray
    referred: NDArray  # bool: came through a referral
    coupon_orders: NDArray  # paid orders that used a coupon


async def load_members(conn: AsyncConnection, community_id: int, now: datetime) -> Loaded:
    staff = [Role.MODERATOR.value, Role.CREATOR.value]
    rows = (
        await conn.execute(
            select(members.c.id, members.c.created_at)
            .where(members.c.community_id == community_id, members.c.role.not_in(staff))
            .order_by(members.c.id)
        )
    ).all()
    ids = np.array([r.id for r in rows], dtype=np.int64)
    position = {int(member_id): i for i, member_id in enumerate(ids)}

    def column(pairs: Any, dtype: Any = np.float64) -> NDArray:
        out = np.zeros(len(ids), dtype=dtype)
        for member_id, value in pairs:
            i = position.get(member_id)
            if i is not None and value is not None:
                out[i] = value
        return out

    last = [None] * len(ids)
    for member_id, at in await conn.execute(
        select(activity.c.member_id, func.max(activity.c.at))
        .where(activity.c.community_id == community_id)
        .group_by(activity.c.member_id)
    ):
        i = position.get(member_id)
        if i is not None:
            last[i] = at
    days = func.count(func.distinct(func.date(activity.c.at)))
    active_30 = column(
        await conn.execute(
            select(activity.c.member_id, days)
            .where(activity.c.community_id == community_id, activity.c.at >= now - timedelta(days=30))
            .group_by(activity.c.member_id)
        )
    )
    since = now - timedelta(days=90)
    by_kind: dict[str, list[tuple[int, int]]] = {"message": [], "checkin": []}
    for member_id, kind, count in await conn.execute(
        select(ledger_accounts.c.member_id, ledger_transfers.c.kind, func.count())
        .join(ledger_accounts, ledger_accounts.c.id == ledger_transfers.c.credit_account_id)
        .where(
            ledger_transfers.c.community_id == community_id,
            ledger_transfers.c.kind.in_(tuple(by_kind)),
            ledger_transfers.c.at >= since,
        )
        .group_by(ledger_accounts.c.member_id, ledger_transfers.c.kind)
    ):
        by_kind[kind].append((member_id, count))
    answered = column(
        await conn.execute(
            select(answers.c.answerer_member_id, func.count())
            .where(answers.c.community_id == community_id, answers.c.created_at >= since)
            .group_by(answers.c.answerer_member_id)
        )
    )
    accepted = column(
        await conn.execute(
            select(answers.c.answerer_member_id, func.count())
            .join(questions, questions.c.accepted_answer_id == answers.c.id)
            .where(answers.c.community_id == community_id, questions.c.closed_at >= since)
            .group_by(answers.c.answerer_member_id)
        )
    )
    currency = await main_currency(conn, community_id)
    net = orders.c.amount_minor - orders.c.refunded_minor
    order_rows = (
        await conn.execute(
            select(orders.c.member_id, func.count(), func.sum(net), func.count(orders.c.coupon_id))
            .where(
                orders.c.community_id == community_id,
                orders.c.status.in_(PAID),
                orders.c.currency == currency,
                orders.c.amount_minor > 0,
            )
            .group_by(orders.c.member_id)
        )
    ).all()
    top = await top_tier_threshold(conn, community_id)
    top_tier = column(
        await conn.execute(
            select(ledger_accounts.c.member_id, literal_column("1"))
            .where(ledger_accounts.c.community_id == community_id, ledger_accounts.c.earned >= top)
            .where(ledger_accounts.c.member_id.is_not(None))
        ),
        bool,
    )
    referred = column(
        await conn.execute(
            select(referrals.c.referee_member_id, literal_column("1")).where(
                referrals.c.community_id == community_id
            )
        ),
        bool,
    )
    return Loaded(
        ids,
        [r.created_at for r in rows],
        last,
        active_30,
        column(by_kind["message"]),
        column(by_kind["checkin"]),
        answered,
        accepted,
        column([(r[0], r[1]) for r in order_rows]),
        column([(r[0], r[2]) for r in order_rows]),
        currency,
        top_tier,
        referred,
        column([(r[0], r[3]) for r in order_rows]),
    )


async def main_currency(conn: AsyncConnection, community_id: int) -> str:
    """The currency the community sells most in (by paid orders), USD when none."""
    row = (
        await conn.execute(
            select(orders.c.currency, func.count().label("n"))
            .where(orders.c.community_id == community_id, orders.c.status.in_(PAID))
            .group_by(orders.c.currency)
            .order_by(func.count().desc(), orders.c.currency)
            .limit(1)
        )
    ).first()
    return row.currency if row else "USD"


async def top_tier_threshold(conn: AsyncConnection, community_id: int) -> int:
    found = (
        await conn.execute(
            select(func.max(ledger_tiers.c.threshold)).where(ledger_tiers.c.community_id == community_id)
        )
    ).scalar()
    return int(found) if found is not None else max(t.threshold for t in DEFAULT_TIERS)


async def active_weeks(conn: AsyncConnection, community_id: int) -> tuple[NDArray, NDArray]:
    """Distinct (member, week) of activity: two aligned arrays."""
    week = week_expr(activity.c.at, conn.dialect.name).label("week")
    rows = (
        await conn.execute(
            select(activity.c.member_id, week)
            .where(activity.c.community_id == community_id)
            .group_by(activity.c.member_id, week)
        )
    ).all()
    return _pairs(rows)


async def paying_weeks(conn: AsyncConnection, community_id: int) -> tuple[NDArray, NDArray]:
    week = week_expr(orders.c.paid_at, conn.dialect.name).label("week")
    rows = (
        await conn.execute(
            select(orders.c.member_id, week)
            .where(
                orders.c.community_id == community_id, orders.c.status.in_(PAID), orders.c.amount_minor > 0
            )
            .group_by(orders.c.member_id, week)
        )
    ).all()
    return _pairs(rows)


async def paid_orders(conn: AsyncConnection, community_id: int) -> list[Any]:
    """Every paid order (id, member, title, currency, net amount, paid_at, coupon)."""
    return (
        await conn.execute(
            select(
                orders.c.id,
                orders.c.member_id,
                orders.c.title,
                orders.c.currency,
                (orders.c.amount_minor - orders.c.refunded_minor).label("net"),
                orders.c.paid_at,
                orders.c.coupon_id,
            )
            .where(
                orders.c.community_id == community_id, orders.c.status.in_(PAID), orders.c.amount_minor > 0
            )
            .order_by(orders.c.paid_at)
        )
    ).all()


async def live_subscriptions(conn: AsyncConnection, community_id: int) -> list[tuple[int, str, str]]:
    """(price minor units, currency, period) of each live paid subscription."""
    rows = await conn.execute(
        select(plans.c.price_minor, plans.c.currency, plans.c.period)
        .join(plans, plans.c.id == subscriptions.c.plan_id)
        .where(
            and_(
                subscriptions.c.community_id == community_id, subscriptions.c.status.in_(("active", "grace"))
            )
        )
    )
    return [(r.price_minor, r.currency, r.period) for r in rows]


def _pairs(rows: list[Any]) -> tuple[NDArray, NDArray]:
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    array = np.array([(r[0], r[1]) for r in rows], dtype=np.int64)
    return array[:, 0], array[:, 1]


async def spend_by_channel(
    conn: AsyncConnection, community_id: int, since: datetime
) -> list[tuple[str, str, int]]:
    """Marketing spend since ``since``: (currency, channel, total minor units), sorted."""
    t = marketing_spend.c
    rows = await conn.execute(
        select(t.currency, t.channel, func.sum(t.amount_minor))
        .where(t.community_id == community_id, t.spent_at >= since)
        .group_by(t.currency, t.channel)
        .order_by(t.currency, t.channel)
    )
    return [(currency, channel, int(total)) for currency, channel, total in rows]
