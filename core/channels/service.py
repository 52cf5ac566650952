"""Channel attribution: creators' tagged entry channels, members' touches through them, and
the report that credits purchases to channels by first touch and by last touch.

A touch is recorded whenever a member arrives through a tagged entry (``/start src_TAG`` on any
chat platform, a WeChat QR scene, a course page's ``?src=TAG`` kept until sign-in). The first
touch of a member never changes; each later one moves their last touch. A purchase counts for
the member's first-touch channel when it was paid after that touch, and for the channel of
their newest touch before it was paid (last touch). Unknown tags are ignored silently.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, distinct, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.activity.tables import activity
from core.analytics.tables import marketing_spend
from core.audit.log import record
from core.catalog.money import Money
from core.catalog.service import CatalogService
from core.channels.payload import MAX_TAG, EntryLinks, entry_links, is_tag
from core.channels.tables import channel_attribution, channel_touches, channels
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import msg
from core.links import telegram_username
from core.members.models import Community, Member, require_creator
from core.orders.tables import orders
from core.referrals.service import ReferralService
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

FOR_CREATORS = msg("Only creators can make and see channels.")
MAX_NAME = 64
MAX_CHANNELS = 200  # per community: a report and a list creators can still read
ACTIVE_WINDOW = timedelta(days=30)  # "active": took part in the last 30 days
PAID = ("paid", "fulfilled", "refunded")  # paid, whatever came after (refunds net out)


@dataclass(frozen=True)
class Channel:
    id: int
    community_id: int
    tag: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ModelStats:
    """One attribution model's figures for one channel."""

    members: int = 0  # first touch: came first through it; last touch: entered through it
    active: int = 0  # of those, took part in the last 30 days
    buyers: int = 0  # members with a purchase credited to it
    revenue: tuple[Money, ...] = ()  # net of refunds, per currency

    @property
    def conversion(self) -> float:
        return self.buyers / self.members if self.members else 0.0

    def cac(self, spend: tuple[Money, ...]) -> tuple[Money, ...]:
        """Spend per buyer, per currency of spend (none without buyers)."""
        if not self.buyers:
            return ()
        return tuple(Money(s.currency, (s.minor + self.buyers // 2) // self.buyers) for s in spend)

    def roi(self, spend: tuple[Money, ...]) -> tuple[tuple[str, int], ...]:
        """(currency, percent): what the credited revenue returned over the spend, per currency
        of spend; 0% is breaking even, -100% nothing back."""
        earned = {m.currency: m.minor for m in self.revenue}
        return tuple(
            (s.currency, round((earned.get(s.currency, 0) - s.minor) * 100 / s.minor)) for s in spend
        )


@dataclass(frozen=True)
class ChannelStats:
    channel: Channel
    spend: tuple[Money, ...] = ()  # all /spend recorded under the channel's tag
    first: ModelStats = field(default_factory=ModelStats)
    last: ModelStats = field(default_factory=ModelStats)


def _channel(row: object) -> Channel:
    return Channel(row.id, row.community_id, row.tag, row.name, row.created_at)  # type: ignore[attr-defined]


class ChannelService:
    def __init__(
        self, db: Database, clock: Clock, catalog: CatalogService, referrals: ReferralService
    ) -> None:
        self._db = db
        self._clock = clock
        self._catalog = catalog
        self._referrals = referrals

    # -- channels -------------------------------------------------------------------------

    async def add(self, community: Community, actor: Member, tag: str, name: str = "") -> Channel:
        """A new tagged channel (tags are case-insensitive, kept in lower case so that
        ``/spend add … TAG`` matches). InvalidInput for a bad or taken tag, a long name, or
        too many channels; nothing changes then."""
        require_creator(community, actor, FOR_CREATORS)
        tag = tag.strip()
        if not is_tag(tag):
            raise InvalidInput(
                msg(
                    "A channel tag is 1 to {max} letters, digits, _ or - (no spaces).",
                    max=MAX_TAG,
                ),
                field="tag",
            )
        tag = tag.lower()
        name = " ".join(name.split()) or tag
        if len(name) > MAX_NAME:
            raise InvalidInput(
                msg("Name the channel in at most {max} characters.", max=MAX_NAME), field="name"
            )
        now = self._clock.now()
        try:
            async with self._db.write() as conn:
                count = (
                    await conn.execute(
                        select(func.count())
                        .select_from(channels)
                        .where(channels.c.community_id == community.id)
                    )
                ).scalar_one()
                if count >= MAX_CHANNELS:
                    raise InvalidInput(msg("A community has at most {max} channels.", max=MAX_CHANNELS))
                new_id = (
                    await conn.execute(
                        insert(channels)
                        .values(
                            community_id=community.id, tag=tag, name=name, created_by=actor.id, created_at=now
                        )
                        .returning(channels.c.id)
                    )
                ).scalar_one()
                await record(
                    conn,
                    community_id=community.id,
                    at=now,
                    action="channel.add",
                    actor_member_id=actor.id,
                    tag=tag,
                )
        except IntegrityError:
            raise InvalidInput(msg("There is a channel {tag} already.", tag=tag), field="tag") from None
        return Channel(new_id, community.id, tag, name, now)

    async def find(self, community: Community, tag: str) -> Channel | None:
        """The channel with ``tag`` (any case), or None (also for a malformed tag)."""
        if not is_tag(tag):
            return None
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(channels).where(
                        channels.c.community_id == community.id, channels.c.tag == tag.lower()
                    )
                )
            ).first()
        return _channel(row) if row else None

    async def channels(self, community: Community) -> list[Channel]:
        """The community's channels, oldest first (at most MAX_CHANNELS exist)."""
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(channels).where(channels.c.community_id == community.id).order_by(channels.c.id)
            )
            return [_channel(row) for row in rows]

    async def links(
        self,
        community: Community,
        actor: Member,
        tag: str,
        referral_code: str | None = None,
        *,
        web_base: str | None = None,
    ) -> tuple[Channel, EntryLinks]:
        """The channel's entry links on every platform, with ``referral_code`` (someone's code)
        combined in if given; the web link opens the first published course. InvalidInput for
        an unknown channel or code."""
        require_creator(community, actor, FOR_CREATORS)
        channel = await self.find(community, tag)
        if channel is None:
            raise InvalidInput(
                msg("There is no channel {tag}. /channels lists them.", tag=tag[:MAX_TAG]), field="tag"
            )
        code = (referral_code or "").strip().lower() or None
        if code is not None and not await self._referrals.is_code(community, code):
            raise InvalidInput(
                msg("{code} is nobody's referral code.", code=code[:20]), field="referral_code"
            )
        telegram_bot, course_code = await self._link_places(community)
        return channel, entry_links(
            channel.tag, code, telegram_bot=telegram_bot, web_base=web_base, course_code=course_code
        )

    async def all_links(
        self, community: Community, actor: Member, *, web_base: str | None = None
    ) -> dict[int, EntryLinks]:
        """Every channel's entry links (without a referral code), by channel id."""
        require_creator(community, actor, FOR_CREATORS)
        telegram_bot, course_code = await self._link_places(community)
        return {
            channel.id: entry_links(
                channel.tag, telegram_bot=telegram_bot, web_base=web_base, course_code=course_code
            )
            for channel in await self.channels(community)
        }

    async def _link_places(self, community: Community) -> tuple[str | None, str | None]:
        """The Telegram bot's name (once its adapter has said it) and the course the web link
        opens (the first published one)."""
        first = await self._catalog.courses(community, limit=1)
        return await telegram_username(self._db), first[0].code if first else None

    # -- touches --------------------------------------------------------------------------

    async def touch(self, community: Community, member: Member, tag: str, via: str) -> Channel | None:
        """Record that ``member`` arrived through the channel ``tag`` (on ``via``): their first
        touch if they have none, and their last touch either way. An unknown or malformed tag,
        or a member of another community, is ignored silently (None)."""
        if member.community_id != community.id:
            return None
        channel = await self.find(community, tag)
        if channel is None:
            return None
        now = self._clock.now()
        async with self._db.write() as conn:
            await conn.execute(
                insert(channel_touches).values(
                    community_id=community.id,
                    member_id=member.id,
                    channel_id=channel.id,
                    via=via[:20],
                    touched_at=now,
                )
            )
            first = await conn.execute(
                insert_or_ignore(self._db.dialect, channel_attribution, keys=("member_id",)).values(
                    member_id=member.id,
                    community_id=community.id,
                    first_channel_id=channel.id,
                    first_at=now,
                    last_channel_id=channel.id,
                    last_at=now,
                )
            )
            if not first.rowcount:
                await conn.execute(
                    update(channel_attribution)
                    .where(channel_attribution.c.member_id == member.id, channel_attribution.c.last_at <= now)
                    .values(last_channel_id=channel.id, last_at=now)
                )
        return channel

    async def touches_of(self, member: Member) -> tuple[str, str] | None:
        """The member's (first-touch tag, last-touch tag), or None if they have no touch."""
        first, last = channels.alias("first"), channels.alias("last")
        a = channel_attribution.c
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(first.c.tag, last.c.tag)
                    .select_from(channel_attribution)
                    .join(first, first.c.id == a.first_channel_id)
                    .join(last, last.c.id == a.last_channel_id)
                    .where(a.member_id == member.id)
                )
            ).first()
        return (row[0], row[1]) if row else None

    # -- report ---------------------------------------------------------------------------

    async def report(self, community: Community, actor: Member) -> list[ChannelStats]:
        """Every channel with its spend and both models' figures, oldest channel first."""
        require_creator(community, actor, FOR_CREATORS)
        found = await self.channels(community)
        if not found:
            return []
        since = self._clock.now() - ACTIVE_WINDOW
        async with self._db.read() as conn:
            spend = await _spend(conn, community.id)
            first = await _first_touch(conn, community.id, since)
            last = await _last_touch(conn, community.id, since)
        return [
            ChannelStats(
                channel,
                tuple(spend.get(channel.tag, ())),
                first.get(channel.id, ModelStats()),
                last.get(channel.id, ModelStats()),
            )
            for channel in found
        ]


def _active(member_id: object, since: datetime) -> object:
    return exists().where(activity.c.member_id == member_id, activity.c.at >= since)


def _net() -> object:
    return orders.c.amount_minor - orders.c.refunded_minor


def _paid(community_id: int) -> list[object]:
    o = orders.c
    return [o.community_id == community_id, o.status.in_(PAID), o.amount_minor > 0, o.paid_at.is_not(None)]


async def _spend(conn: AsyncConnection, community_id: int) -> dict[str, list[Money]]:
    t = marketing_spend.c
    rows = await conn.execute(
        select(t.channel, t.currency, func.sum(t.amount_minor))
        .where(t.community_id == community_id)
        .group_by(t.channel, t.currency)
        .order_by(t.channel, t.currency)
    )
    spend: dict[str, list[Money]] = defaultdict(list)
    for channel, currency, total in rows:
        spend[channel].append(Money(currency, int(total)))
    return spend


def _stats(
    members: dict[int, tuple[int, int]], buyers: dict[int, int], revenue: dict[int, list[Money]]
) -> dict[int, ModelStats]:
    return {
        cid: ModelStats(
            members=members.get(cid, (0, 0))[0],
            active=members.get(cid, (0, 0))[1],
            buyers=buyers.get(cid, 0),
            revenue=tuple(revenue.get(cid, ())),
        )
        for cid in set(members) | set(buyers)
    }


async def _first_touch(conn: AsyncConnection, community_id: int, since: datetime) -> dict[int, ModelStats]:
    a, o = channel_attribution.c, orders.c
    is_active = case((_active(a.member_id, since), 1), else_=0)  # type: ignore[arg-type]
    members = {
        cid: (int(n), int(active or 0))
        for cid, n, active in await conn.execute(
            select(a.first_channel_id, func.count(), func.sum(is_active))
            .where(a.community_id == community_id)
            .group_by(a.first_channel_id)
        )
    }
    credited = and_(*_paid(community_id), o.paid_at >= a.first_at)
    joined = channel_attribution.join(orders, o.member_id == a.member_id)
    buyers = {
        cid: int(n)
        for cid, n in await conn.execute(
            select(a.first_channel_id, func.count(distinct(o.member_id)))
            .select_from(joined)
            .where(credited)
            .group_by(a.first_channel_id)
        )
    }
    revenue: dict[int, list[Money]] = defaultdict(list)
    for cid, currency, total in await conn.execute(
        select(a.first_channel_id, o.currency, func.sum(_net()))  # type: ignore[arg-type]
        .select_from(joined)
        .where(credited)
        .group_by(a.first_channel_id, o.currency)
        .order_by(a.first_channel_id, o.currency)
    ):
        revenue[cid].append(Money(currency, int(total)))
    return _stats(members, buyers, revenue)


async def _last_touch(conn: AsyncConnection, community_id: int, since: datetime) -> dict[int, ModelStats]:
    t, o = channel_touches.c, orders.c
    reached = (
        select(t.channel_id, t.member_id).where(t.community_id == community_id).distinct().subquery("reached")
    )
    is_active = case((_active(reached.c.member_id, since), 1), else_=0)  # type: ignore[arg-type]
    members = {
        cid: (int(n), int(active or 0))
        for cid, n, active in await conn.execute(
            select(reached.c.channel_id, func.count(), func.sum(is_active)).group_by(reached.c.channel_id)
        )
    }
    # Each paid order's channel: the member's newest touch at or before it was paid.
    newest = channel_touches.alias("newest")
    credited_to = (
        select(newest.c.channel_id)
        .where(newest.c.member_id == o.member_id, newest.c.touched_at <= o.paid_at)
        .order_by(newest.c.touched_at.desc(), newest.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    credited = (
        select(credited_to.label("channel_id"), o.member_id, o.currency, _net().label("net"))  # type: ignore[attr-defined]
        .where(*_paid(community_id))
        .where(exists().where(t.member_id == o.member_id))
        .subquery("credited")
    )
    c = credited.c
    buyers = {
        cid: int(n)
        for cid, n in await conn.execute(
            select(c.channel_id, func.count(distinct(c.member_id)))
            .where(c.channel_id.is_not(None))
            .group_by(c.channel_id)
        )
    }
    revenue: dict[int, list[Money]] = defaultdict(list)
    for cid, currency, total in await conn.execute(
        select(c.channel_id, c.currency, func.sum(c.net))
        .where(c.channel_id.is_not(None))
        .group_by(c.channel_id, c.currency)
        .order_by(c.channel_id, c.currency)
    ):
        revenue[cid].append(Money(currency, int(total)))
    return _stats(members, buyers, revenue)
