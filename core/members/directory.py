"""The member directory staff browse (the dashboard's Members page): search by name or platform
account, filters (role, segment, tier, paying, platform), keyset pages, the CSV of a filtered
list, and one member's profile gathered from every package.

Reads only: every change a page makes goes through the service that owns it (points, roles,
privacy). Pages are keyed on ``members.id`` (newest first) with ``ix_members_community_id``, and
what a row shows (accounts, spend) is read for the whole page in one query each.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.access.tables import plans, subscriptions
from core.activity.tables import activity
from core.analytics.tables import analytics_runs, member_scores
from core.catalog.money import Money
from core.clock import Clock
from core.errors import InvalidInput, NotFound
from core.i18n import msg
from core.ledger.points import PointsService
from core.ledger.service import HistoryLine
from core.ledger.tables import ledger_accounts
from core.ledger.tiers import Tier
from core.members.models import Community, Identity, Member, Role, require_creator, require_staff
from core.members.service import MemberService
from core.members.tables import identities, members
from core.orders.tables import orders
from core.qa.tables import answers, questions
from core.referrals.tables import referrals
from core.storage.database import Database

PAGE_SIZE = 50
EXPORT_BATCH = 500
SPENT = ("paid", "fulfilled", "refunded")  # orders whose net amount (less refunds) was spent
PAYING_ORDERS = ("paid", "fulfilled")  # a paid order not refunded in full
LIVE_SUBSCRIPTIONS = ("active", "grace")
PROFILE_ROWS = 20
STAFF_ONLY = msg("Only moderators and creators can see the members.")
NO_SUCH_MEMBER = msg("No such member.")


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; empty fields do not narrow it."""

    query: str = ""  # a part of the name, or a platform account id (a leading @ is ignored)
    role: Role | None = None
    segment: int | None = None  # a K-means cluster number of the latest analytics run
    tier: str | None = None
    paying: bool | None = None
    platform: str | None = None


@dataclass(frozen=True)
class Segment:
    number: int
    name: str | None  # the name a creator gave the cluster (/segments name), if any
    size: int


@dataclass(frozen=True)
class Choices:
    """What the filters may be set to in this community."""

    roles: tuple[Role, ...]
    segments: tuple[Segment, ...]
    tiers: tuple[Tier, ...]
    platforms: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    member: Member
    platforms: tuple[str, ...]
    balance: int
    spend: tuple[Money, ...]  # net of refunds, per currency
    forgotten: bool


@dataclass(frozen=True)
class DirectoryPage:
    rows: list[Row]
    before: int | None  # the key of the next (older) page, None on the last page


@dataclass(frozen=True)
class OrderLine:
    id: int
    title: str
    price: Money
    refunded: int
    status: str
    provider: str
    at: datetime


@dataclass(frozen=True)
class SubscriptionLine:
    plan: str
    status: str
    period_end: datetime


@dataclass(frozen=True)
class QALine:
    question_id: int
    text: str
    status: str
    hidden: bool
    at: datetime


@dataclass(frozen=True)
class Activity:
    total: int
    last: datetime | None
    days_30: int  # events in the last 30 days


@dataclass(frozen=True)
class Profile:
    member: Member
    owner: bool
    forgotten: bool
    accounts: list[Identity]
    balance: int
    earned: int
    tier: Tier
    history: list[HistoryLine]
    orders: list[OrderLine]
    subscriptions: list[SubscriptionLine]
    referred_by: Member | None
    referred: list[Member]
    referred_count: int
    questions: list[QALine]
    answers: list[QALine]
    activity: Activity
    spend: tuple[Money, ...] = field(default=())


class MemberDirectory:
    def __init__(
        self, db: Database, clock: Clock, members_service: MemberService, points: PointsService
    ) -> None:
        self._db = db
        self._clock = clock
        self._members = members_service
        self._points = points

    # -- choices ---------------------------------------------------------------------------

    async def choices(self, community: Community, actor: Member) -> Choices:
        require_staff(community, actor, STAFF_ONLY)
        async with self._db.read() as conn:
            run = (
                await conn.execute(
                    select(analytics_runs.c.summary).where(analytics_runs.c.community_id == community.id)
                )
            ).scalar()
            platforms = (
                await conn.execute(
                    select(identities.c.platform)
                    .where(identities.c.community_id == community.id)
                    .group_by(identities.c.platform)
                    .order_by(identities.c.platform)
                )
            ).scalars()
            found_platforms = tuple(platforms)
        clusters = json.loads(run).get("clusters", []) if run else []
        segments = tuple(Segment(int(c["number"]), c.get("name"), int(c.get("size", 0))) for c in clusters)
        return Choices(tuple(Role), segments, await self._points.tiers(community), found_platforms)

    # -- the list --------------------------------------------------------------------------

    async def page(
        self,
        community: Community,
        actor: Member,
        filters: Filters,
        *,
        before: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> DirectoryPage:
        """Up to ``limit`` members, newest first, older than ``before`` (a member id)."""
        require_staff(community, actor, STAFF_ONLY)
        query = await self._query(community, filters)
        if before is not None:
            query = query.where(members.c.id < before)
        async with self._db.read() as conn:
            found = (await conn.execute(query.limit(limit + 1))).all()
            rows = await _rows(conn, community.id, found[:limit])
        return DirectoryPage(rows, rows[-1].member.id if len(found) > limit else None)

    async def export(
        self, community: Community, actor: Member, filters: Filters, *, batch: int = EXPORT_BATCH
    ) -> AsyncIterator[list[Row]]:
        """The whole filtered list in batches (keyset, one short read each), for creators."""
        require_creator(community, actor, msg("Only creators can export the members."))
        query = await self._query(community, filters)
        before: int | None = None
        while True:
            paged = query if before is None else query.where(members.c.id < before)
            async with self._db.read() as conn:
                found = (await conn.execute(paged.limit(batch))).all()
                rows = await _rows(conn, community.id, found)
            if rows:
                yield rows
            if len(found) < batch:
                return
            before = rows[-1].member.id

    async def _query(self, community: Community, filters: Filters) -> Select[Any]:
        """Members of ``community`` (merged ones answer as their survivor) with their balance,
        narrowed by ``filters``, newest first."""
        query = (
            select(members, func.coalesce(ledger_accounts.c.balance, 0).label("balance"))
            .outerjoin(
                ledger_accounts,
                and_(
                    ledger_accounts.c.community_id == community.id,
                    ledger_accounts.c.member_id == members.c.id,
                ),
            )
            .where(members.c.community_id == community.id, members.c.merged_into.is_(None))
            .order_by(members.c.id.desc())
        )
        text = " ".join(filters.query.split())
        if text:
            account = text.removeprefix("@") or text
            accounts = select(identities.c.member_id).where(
                identities.c.community_id == community.id, identities.c.external_id == account
            )
            if filters.platform:
                accounts = accounts.where(identities.c.platform == filters.platform)
            query = query.where(
                or_(members.c.name_key.contains(text.casefold(), autoescape=True), members.c.id.in_(accounts))
            )
        if filters.role is not None:
            query = query.where(members.c.role == filters.role.value)
        # Correlated EXISTS, not IN (a set of the community's members): each member probes an
        # index while the list walks newest first, and stops at a page.
        if filters.platform:
            query = query.where(
                select(identities.c.id)
                .where(identities.c.member_id == members.c.id, identities.c.platform == filters.platform)
                .exists()
            )
        if filters.segment is not None:
            query = query.where(
                select(member_scores.c.member_id)
                .where(
                    member_scores.c.community_id == community.id,
                    member_scores.c.member_id == members.c.id,
                    member_scores.c.cluster == filters.segment,
                )
                .exists()
            )
        if filters.paying is not None:
            query = query.where(_paying() if filters.paying else ~_paying())
        if filters.tier is not None:
            query = query.where(await self._in_tier(community, filters.tier))
        return query

    async def _in_tier(self, community: Community, name: str) -> Any:
        """Members whose tier (``PointsService.tier_of``: by lifetime points, or a higher one a
        plan grants) is ``name``, as a condition on the list's query."""
        tiers = await self._points.tiers(community)
        wanted = next((t for t in tiers if t.name.casefold() == name.casefold()), None)
        if wanted is None:
            raise InvalidInput(msg("There is no tier {name}.", name=name[:40]))

        def rank(tier: Tier) -> tuple[int, int]:
            return (tier.threshold, tier.multiplier_pct)

        above = [t.threshold for t in tiers if rank(t) > rank(wanted)]
        earned = func.coalesce(ledger_accounts.c.earned, 0)
        by_points = earned >= wanted.threshold
        if above:
            by_points = and_(by_points, earned < min(above))
        higher_grant, this_grant = [], []
        for member_id, grants in (await self._points.tier_grants(community.id)).items():
            best = max(
                (t for g in grants for t in tiers if t.name.casefold() == g.tier.casefold()),
                key=rank,
                default=None,
            )
            if best is not None and rank(best) > rank(wanted):
                higher_grant.append(member_id)
            elif best is not None and rank(best) == rank(wanted):
                this_grant.append(member_id)
        # By points, unless a plan grants a higher tier; or granted this one, points lower.
        points_tier = and_(by_points, members.c.id.not_in(higher_grant)) if higher_grant else by_points
        granted = and_(members.c.id.in_(this_grant), earned < wanted.threshold) if this_grant else false()
        return or_(points_tier, granted)

    # -- one member ------------------------------------------------------------------------

    async def member(self, community: Community, actor: Member, member_id: int) -> Member:
        """A member of ``community`` for staff; NotFound for anyone else's."""
        require_staff(community, actor, STAFF_ONLY)
        try:
            found = await self._members.get_member(member_id, fresh=True)
        except NotFound:
            raise NotFound(NO_SUCH_MEMBER) from None
        if found.community_id != community.id:
            raise NotFound(NO_SUCH_MEMBER)
        return found

    async def profile(self, community: Community, actor: Member, member_id: int) -> Profile:
        """Everything staff see about one member: accounts, points and recent history, orders,
        subscriptions, referrals, questions and answers, activity."""
        member = await self.member(community, actor, member_id)
        community = await self._members.community_by_id(community.id)  # the owner as stored now
        ledger = self._points.ledger
        balance = await ledger.balance(community.id, member.id)
        history = await ledger.history(community.id, member.id, limit=PROFILE_ROWS)
        tier = await self._points.tier_of(community, member.id, balance.earned)
        accounts = await self._members.identities_of(member.id)
        since = self._clock.now() - timedelta(days=30)
        async with self._db.read() as conn:
            forgotten = (
                await conn.execute(select(members.c.forgotten_at).where(members.c.id == member.id))
            ).scalar()
            order_lines = await _orders(conn, member.id)
            subs = await _subscriptions(conn, member.id)
            referrer = (
                await conn.execute(
                    select(referrals.c.referrer_member_id).where(referrals.c.referee_member_id == member.id)
                )
            ).scalar()
            referred_ids = (
                await conn.execute(
                    select(referrals.c.referee_member_id)
                    .where(referrals.c.referrer_member_id == member.id)
                    .order_by(referrals.c.attributed_at.desc())
                    .limit(PROFILE_ROWS)
                )
            ).scalars()
            referred_ids = list(referred_ids)
            referred_count = (
                await conn.execute(
                    select(func.count())
                    .select_from(referrals)
                    .where(referrals.c.referrer_member_id == member.id)
                )
            ).scalar_one()
            asked = await _questions(conn, member.id)
            answered = await _answers(conn, member.id)
            seen = await _activity(conn, member.id, since)
            spend = (await _spend(conn, [member.id])).get(member.id, ())
        return Profile(
            member=member,
            owner=member.is_owner_of(community),
            forgotten=forgotten is not None,
            accounts=accounts,
            balance=balance.balance,
            earned=balance.earned,
            tier=tier,
            history=history,
            orders=order_lines,
            subscriptions=subs,
            referred_by=await self._members.get_member(referrer) if referrer is not None else None,
            referred=[await self._members.get_member(i) for i in referred_ids],
            referred_count=referred_count,
            questions=asked,
            answers=answered,
            activity=seen,
            spend=spend,
        )


def _paying() -> Any:
    """A member with a paid order (not refunded in full) or a live subscription (probing
    ix_orders_member_status and uq_subscriptions_member)."""
    paid = select(orders.c.id).where(
        orders.c.member_id == members.c.id, orders.c.status.in_(PAYING_ORDERS), orders.c.amount_minor > 0
    )
    live = select(subscriptions.c.id).where(
        subscriptions.c.member_id == members.c.id, subscriptions.c.status.in_(LIVE_SUBSCRIPTIONS)
    )
    return or_(paid.exists(), live.exists())


async def _rows(conn: AsyncConnection, community_id: int, found: Sequence[Any]) -> list[Row]:
    """The page's rows, with every member's accounts and spend read in one query each."""
    ids = [r.id for r in found]
    platforms: dict[int, set[str]] = {}
    if ids:
        for member_id, platform in await conn.execute(
            select(identities.c.member_id, identities.c.platform).where(identities.c.member_id.in_(ids))
        ):
            platforms.setdefault(member_id, set()).add(platform)
    spend = await _spend(conn, ids)
    return [
        Row(
            member=Member(r.id, r.community_id, r.display_name, Role(r.role), r.locale, r.created_at),
            platforms=tuple(sorted(platforms.get(r.id, ()))),
            balance=int(r.balance),
            spend=spend.get(r.id, ()),
            forgotten=r.forgotten_at is not None,
        )
        for r in found
    ]


async def _spend(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, tuple[Money, ...]]:
    """What each member paid, net of refunds, per currency."""
    if not ids:
        return {}
    net = func.sum(orders.c.amount_minor - orders.c.refunded_minor)
    query = (
        select(orders.c.member_id, orders.c.currency, net.label("net"))
        .where(orders.c.member_id.in_(ids), orders.c.status.in_(SPENT))
        .group_by(orders.c.member_id, orders.c.currency)
        .order_by(orders.c.member_id, orders.c.currency)
    )
    spent: dict[int, list[Money]] = {}
    for row in await conn.execute(query):
        if row.net:
            spent.setdefault(row.member_id, []).append(Money(row.currency, int(row.net)))
    return {member_id: tuple(found) for member_id, found in spent.items()}


async def _orders(conn: AsyncConnection, member_id: int) -> list[OrderLine]:
    rows = await conn.execute(
        select(orders)
        .where(orders.c.member_id == member_id, orders.c.status != "pending")
        .order_by(orders.c.id.desc())
        .limit(PROFILE_ROWS)
    )
    return [
        OrderLine(
            r.id,
            r.title,
            Money(r.currency, r.amount_minor),
            r.refunded_minor,
            r.status,
            r.provider,
            r.paid_at or r.created_at,
        )
        for r in rows
    ]


async def _subscriptions(conn: AsyncConnection, member_id: int) -> list[SubscriptionLine]:
    rows = await conn.execute(
        select(plans.c.title, subscriptions.c.status, subscriptions.c.period_end)
        .join(plans, plans.c.id == subscriptions.c.plan_id)
        .where(subscriptions.c.member_id == member_id)
        .order_by(subscriptions.c.id.desc())
        .limit(PROFILE_ROWS)
    )
    return [SubscriptionLine(r.title, r.status, r.period_end) for r in rows]


async def _questions(conn: AsyncConnection, member_id: int) -> list[QALine]:
    rows = await conn.execute(
        select(questions)
        .where(questions.c.asker_member_id == member_id)
        .order_by(questions.c.id.desc())
        .limit(PROFILE_ROWS)
    )
    return [QALine(r.id, r.text, r.status, r.hidden, r.created_at) for r in rows]


async def _answers(conn: AsyncConnection, member_id: int) -> list[QALine]:
    rows = await conn.execute(
        select(answers.c.question_id, answers.c.text, answers.c.hidden, answers.c.created_at, answers.c.votes)
        .where(answers.c.answerer_member_id == member_id)
        .order_by(answers.c.id.desc())
        .limit(PROFILE_ROWS)
    )
    return [QALine(r.question_id, r.text, str(r.votes), r.hidden, r.created_at) for r in rows]


async def _activity(conn: AsyncConnection, member_id: int, since: datetime) -> Activity:
    mine = activity.c.member_id == member_id  # ix_activity_member_at answers each
    total = (await conn.execute(select(func.count()).select_from(activity).where(mine))).scalar_one()
    last = (
        await conn.execute(select(activity.c.at).where(mine).order_by(activity.c.at.desc()).limit(1))
    ).scalar()
    recent = (
        await conn.execute(select(func.count()).select_from(activity).where(mine, activity.c.at >= since))
    ).scalar_one()
    return Activity(int(total), last, int(recent))
