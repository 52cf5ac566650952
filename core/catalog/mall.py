"""The points mall: items priced in points — a course, a personal coupon, or a reward (virtual
or physical, with a note on how it is fulfilled) — with stock and a per-member limit.

A redemption is one ledger posting whose guard, inside the posting's own transaction, checks
the member's limit, takes one from stock with a conditional UPDATE, records the redemption and
delivers it (grants the course, issues the coupon). So the points move exactly when the item
does: when two members race for the last item, one posting is refused and its points stay.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.audit.log import record
from core.catalog.coupons import CouponService
from core.catalog.models import Course
from core.catalog.service import CatalogService, checked_title, grant_statements
from core.catalog.tables import coupons, courses, enrollments, mall_items, redemptions
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import msg, nmsg
from core.ledger.models import Kind, MemberAccount, Outcome, Posting, SystemAccount, SystemCode
from core.ledger.service import Ledger
from core.members.models import Community, Member, require_creator
from core.storage.database import Database

MALL_FOR_CREATORS = msg("Only creators can manage the mall.")

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,29}$")
KINDS = ("course", "coupon", "reward")
SOLD_OUT, LIMIT, HIDDEN = "sold_out", "limit", "hidden"
MAX_POINTS = 10**9
MAX_STOCK = 10**6
MAX_PER_MEMBER = 1000


@dataclass(frozen=True)
class MallItem:
    id: int
    code: str
    title: str
    kind: str
    points: int
    stock: int | None
    per_member: int | None
    course_id: int | None
    coupon_id: int | None
    note: str
    redeemed: int
    hidden: bool


@dataclass(frozen=True)
class Redeemed:
    item: MallItem
    points: int
    coupon_code: str | None = None  # kind coupon: the personal code issued
    replayed: bool = False


@dataclass(frozen=True)
class RedemptionLine:
    member_name: str
    item_title: str
    points: int
    detail: str
    at: Any


class MallService:
    def __init__(
        self, db: Database, clock: Clock, ledger: Ledger, catalog: CatalogService, coupons: CouponService
    ) -> None:
        self._db = db
        self._clock = clock
        self._ledger = ledger
        self._catalog = catalog
        self._coupons = coupons

    # -- creators ------------------------------------------------------------------------

    async def add(
        self,
        community: Community,
        actor: Member,
        *,
        code: str,
        points: int,
        kind: str,
        title: str,
        target: str | None = None,
        note: str = "",
        stock: int | None = None,
        per_member: int | None = None,
        via: str = "command",
    ) -> MallItem:
        """``target``: the course code (kind course) or the coupon code whose terms each
        redeemer gets a personal copy of (kind coupon)."""
        require_creator(community, actor, MALL_FOR_CREATORS)
        code = code.lower()
        if not CODE.match(code):
            raise InvalidInput(
                msg("An item code is 2 to 30 lowercase letters, digits, - or _, like mug."), field="code"
            )
        if kind not in KINDS:
            raise InvalidInput(msg("An item is one of: {kinds}.", kinds=", ".join(KINDS)), field="kind")
        if not 1 <= points <= MAX_POINTS:
            raise InvalidInput(msg("An item costs 1 to {max} points.", max=MAX_POINTS), field="points")
        _check_stock(stock)
        if per_member is not None and not 1 <= per_member <= MAX_PER_MEMBER:
            raise InvalidInput(
                msg("A member may redeem an item 1 to {max} times.", max=MAX_PER_MEMBER), field="per_member"
            )
        course_id = coupon_id = None
        try:
            if kind == "course":
                course_id = (await self._catalog.course(community, target or "", include_hidden=True)).id
                title = title or (await self._catalog.course_by_id(course_id)).title
            elif kind == "coupon":
                coupon_id = (await self._coupons.get(community, target or "")).id
        except InvalidInput as missing:
            raise InvalidInput(missing.message, field="target") from None
        title = checked_title(title)
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    insert(mall_items).values(
                        community_id=community.id,
                        code=code,
                        title=title,
                        kind=kind,
                        points=points,
                        stock=stock,
                        per_member=per_member,
                        course_id=course_id,
                        coupon_id=coupon_id,
                        note=note[:1000],
                        created_at=self._clock.now(),
                    )
                )
                await record(
                    conn,
                    community_id=community.id,
                    at=self._clock.now(),
                    action="mall.add",
                    actor_member_id=actor.id,
                    code=code,
                    kind=kind,
                    points=points,
                    stock=stock,
                    via=via,
                )
        except IntegrityError:
            raise InvalidInput(msg("There is already a mall item {code}.", code=code), field="code") from None
        return await self.get(community, code, include_hidden=True)

    async def set_stock(
        self, community: Community, actor: Member, code: str, stock: int | None, *, via: str = "command"
    ) -> MallItem:
        require_creator(community, actor, MALL_FOR_CREATORS)
        _check_stock(stock)
        item = await self.get(community, code, include_hidden=True)
        async with self._db.write() as conn:
            await conn.execute(update(mall_items).where(mall_items.c.id == item.id).values(stock=stock))
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="mall.stock",
                actor_member_id=actor.id,
                code=item.code,
                stock=stock,
                via=via,
            )
        return await self.get(community, code, include_hidden=True)

    async def set_hidden(
        self, community: Community, actor: Member, code: str, hidden: bool, *, via: str = "command"
    ) -> MallItem:
        require_creator(community, actor, MALL_FOR_CREATORS)
        item = await self.get(community, code, include_hidden=True)
        async with self._db.write() as conn:
            await conn.execute(update(mall_items).where(mall_items.c.id == item.id).values(hidden=hidden))
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="mall.hide" if hidden else "mall.show",
                actor_member_id=actor.id,
                code=item.code,
                via=via,
            )
        return await self.get(community, code, include_hidden=True)

    async def recent_redemptions(
        self, community: Community, actor: Member, limit: int = 20
    ) -> list[RedemptionLine]:
        require_creator(community, actor, MALL_FOR_CREATORS)
        from core.members.tables import members

        query = (
            select(
                members.c.display_name,
                func.coalesce(mall_items.c.title, courses.c.title),
                redemptions.c.points,
                redemptions.c.detail,
                redemptions.c.at,
            )
            .join(members, members.c.id == redemptions.c.member_id)
            .outerjoin(mall_items, mall_items.c.id == redemptions.c.item_id)
            .outerjoin(courses, courses.c.id == redemptions.c.course_id)
            .where(redemptions.c.community_id == community.id)
            .order_by(redemptions.c.id.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [RedemptionLine(*row) for row in await conn.execute(query)]

    # -- reading -------------------------------------------------------------------------

    async def items(self, community: Community, *, include_hidden: bool = False) -> list[MallItem]:
        query = (
            select(mall_items).where(mall_items.c.community_id == community.id).order_by(mall_items.c.points)
        )
        if not include_hidden:
            query = query.where(mall_items.c.hidden.is_(False))
        async with self._db.read() as conn:
            return [_item(row) for row in await conn.execute(query)]

    async def get(self, community: Community, code: str, *, include_hidden: bool = False) -> MallItem:
        query = select(mall_items).where(
            mall_items.c.community_id == community.id, mall_items.c.code == code.lower()
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None or (row.hidden and not include_hidden):
            raise InvalidInput(msg("There is no mall item {code}. /mall lists them.", code=code[:30]))
        return _item(row)

    # -- redeeming -----------------------------------------------------------------------

    async def buy_course_with_points(
        self, community: Community, member: Member, course: Course, key: str
    ) -> int:
        """Pay a course's points price (the points provider): the points move and the course is
        granted in one transaction. Returns the points spent; InvalidInput says why not."""
        if course.points_price is None or course.hidden:
            raise InvalidInput(msg("{title} cannot be bought with points.", title=course.title))
        if await self._catalog.enrollment(member, course) is not None:
            raise InvalidInput(
                msg("You already own {title}: /learn {code}", title=course.title, code=course.code)
            )
        result = await self._ledger.post(
            Posting(
                community_id=community.id,
                debit=MemberAccount(member.id),
                credit=SystemAccount(SystemCode.REDEMPTION),
                amount=course.points_price,
                kind=Kind.SPEND,
                key=key,
                at=self._clock.now(),
                memo=course.title[:300],
                actor_member_id=member.id,
                guard=_CourseForPoints(course, community.id, member.id, key, self._clock.now()).grant,
            )
        )
        if result.outcome is Outcome.INSUFFICIENT:
            raise InvalidInput(
                nmsg(
                    "{title} costs {n} point; you have {have}.",
                    "{title} costs {n} points; you have {have}.",
                    course.points_price,
                    title=course.title,
                    have=result.available or 0,
                )
            )
        if result.outcome is Outcome.REFUSED:
            raise InvalidInput(
                msg("You already own {title}: /learn {code}", title=course.title, code=course.code)
            )
        if not result.ok:
            raise InvalidInput(msg("{title} cannot be redeemed right now.", title=course.title))
        return course.points_price

    async def redeem(self, community: Community, member: Member, code: str, key: str) -> Redeemed:
        """Spend the item's points on it; InvalidInput says why not (and nothing changed).
        ``key`` makes a repeated request (a redelivered message) redeem once."""
        item = await self.get(community, code)
        if item.kind == "course" and item.course_id is not None:
            course = await self._catalog.course_by_id(item.course_id)
            if await self._catalog.enrollment(member, course) is not None:
                raise InvalidInput(
                    msg("You already own {title}: /learn {code}", title=course.title, code=course.code)
                )
        coupon_code = f"{item.code.upper()}-{secrets.token_hex(3).upper()}" if item.kind == "coupon" else None
        now = self._clock.now()
        result = await self._ledger.post(
            Posting(
                community_id=community.id,
                debit=MemberAccount(member.id),
                credit=SystemAccount(SystemCode.REDEMPTION),
                amount=item.points,
                kind=Kind.SPEND,
                key=key,
                at=now,
                memo=item.title[:300],
                actor_member_id=member.id,
                guard=_Hand(item, community.id, member.id, key, now, coupon_code).over,
            )
        )
        if result.outcome is Outcome.REPLAYED:
            return Redeemed(item, item.points, replayed=True)
        if result.outcome is Outcome.INSUFFICIENT:
            raise InvalidInput(
                nmsg(
                    "{title} costs {n} point; you have {have}.",
                    "{title} costs {n} points; you have {have}.",
                    item.points,
                    title=item.title,
                    have=result.available or 0,
                )
            )
        if result.outcome is Outcome.REFUSED:
            if result.refused == LIMIT:
                raise InvalidInput(msg("You have redeemed {title} as often as allowed.", title=item.title))
            raise InvalidInput(msg("{title} is sold out.", title=item.title))
        if result.outcome is not Outcome.POSTED:
            raise InvalidInput(msg("{title} cannot be redeemed right now.", title=item.title))
        return Redeemed(item, item.points, coupon_code)


@dataclass(frozen=True)
class _Hand:
    """The guard of one redemption (runs in the ledger's transaction; see the module docstring)."""

    item: MallItem
    community_id: int
    member_id: int
    key: str
    at: Any
    coupon_code: str | None

    def over(self, conn: Connection) -> str | None:
        item = self.item
        # Take one from stock first: on PostgreSQL the UPDATE locks the item's row, so the
        # per-member count below sees every earlier redemption of it. A savepoint undoes the
        # take when the member is over the limit: a refusing guard leaves nothing written.
        savepoint = conn.begin_nested()
        taken = conn.execute(
            update(mall_items)
            .where(
                mall_items.c.id == item.id,
                mall_items.c.hidden.is_(False),
                mall_items.c.stock.is_(None) | (mall_items.c.stock > 0),
            )
            .values(
                stock=case((mall_items.c.stock.is_(None), None), else_=mall_items.c.stock - 1),
                redeemed=mall_items.c.redeemed + 1,
            )
        )
        if taken.rowcount != 1:
            savepoint.rollback()
            return SOLD_OUT
        if item.per_member is not None:
            mine = conn.scalar(
                select(func.count())
                .select_from(redemptions)
                .where(redemptions.c.item_id == item.id, redemptions.c.member_id == self.member_id)
            )
            if int(mine or 0) >= item.per_member:
                savepoint.rollback()
                return LIMIT
        conn.execute(
            insert(redemptions).values(
                community_id=self.community_id,
                item_id=item.id,
                member_id=self.member_id,
                points=item.points,
                key=self.key[:200],
                detail=self.coupon_code or "",
                at=self.at,
            )
        )
        if item.kind == "course" and item.course_id is not None:
            # A refunded (revoked) course is granted again; an owned one is never granted twice.
            for statement in grant_statements(
                conn.dialect.name, self.community_id, self.member_id, item.course_id, None, self.at
            ):
                conn.execute(statement)
        elif item.kind == "coupon" and item.coupon_id is not None:
            template = conn.execute(select(coupons).where(coupons.c.id == item.coupon_id)).one()
            conn.execute(
                insert(coupons).values(
                    community_id=self.community_id,
                    code=self.coupon_code,
                    kind=template.kind,
                    value=template.value,
                    currency=template.currency,
                    min_spend_minor=template.min_spend_minor,
                    max_uses=1,
                    per_member=1,
                    starts_at=template.starts_at,
                    ends_at=template.ends_at,
                    products=template.products,
                    created_at=self.at,
                )
            )
        savepoint.commit()
        return None


@dataclass(frozen=True)
class _CourseForPoints:
    """The guard of a course bought with points: grants it (refuses if already owned)."""

    course: Course
    community_id: int
    member_id: int
    key: str
    at: Any

    def grant(self, conn: Connection) -> str | None:
        owned = conn.scalar(
            select(func.count())
            .select_from(enrollments)
            .where(
                enrollments.c.member_id == self.member_id,
                enrollments.c.course_id == self.course.id,
                enrollments.c.revoked_at.is_(None),
            )
        )
        if owned:
            return LIMIT
        for statement in grant_statements(
            conn.dialect.name, self.community_id, self.member_id, self.course.id, None, self.at
        ):
            conn.execute(statement)
        conn.execute(
            insert(redemptions).values(
                community_id=self.community_id,
                course_id=self.course.id,
                member_id=self.member_id,
                points=self.course.points_price,
                key=self.key[:200],
                at=self.at,
            )
        )
        return None


def _item(row: Any) -> MallItem:
    return MallItem(
        row.id,
        row.code,
        row.title,
        row.kind,
        row.points,
        row.stock,
        row.per_member,
        row.course_id,
        row.coupon_id,
        row.note,
        row.redeemed,
        row.hidden,
    )


def _check_stock(stock: int | None) -> None:
    """None is unlimited stock."""
    if stock is not None and not 0 <= stock <= MAX_STOCK:
        raise InvalidInput(msg("Stock is 0 to {max}, or unlimited.", max=MAX_STOCK), field="stock")
