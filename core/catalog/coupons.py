"""Coupons: percent or fixed amount off, with a minimum spend, a use limit, a per-member
limit, a validity window and the products they apply to.

Rounding: a percent discount is rounded down to the currency's smallest unit, so the buyer
pays the price minus that (a 15% coupon on $19.99 takes $2.99 off). A fixed coupon never
takes a price below zero. A coupon in one currency is refused on a price in another.

A coupon is counted as used while an order holds it (pending or paid); an order that expires
or is cancelled gives its use back. The count is moved by conditional UPDATEs in the order's
own transaction, so two buyers racing for the last use cannot both get it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import record
from core.catalog.money import Money, parse_money
from core.catalog.tables import coupons
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import msg
from core.members.models import Community, Member, require_creator
from core.numbers import parse_whole_number
from core.storage.database import Database

COUPONS_FOR_CREATORS = msg("Only creators can manage coupons.")

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,39}$")
MAX_USES = 10**6
MAX_USES_PER_MEMBER = 1000
HOLDING = ("pending", "paid", "fulfilled", "refunded")  # order states that keep their coupon use
PERCENT_RANGE = msg("A percent coupon takes 1% to 100%, like 15%.")
_MONEY = re.compile(r"^(\d[\d.]*)([A-Za-z]{3})$")


@dataclass(frozen=True)
class Coupon:
    id: int
    code: str
    kind: str  # percent | fixed
    value: int
    currency: str | None
    min_spend: int
    max_uses: int | None
    per_member: int
    used: int
    starts_at: datetime | None
    ends_at: datetime | None
    products: tuple[str, ...]
    disabled: bool

    def discount_on(self, price: Money) -> int:
        """Minor units off ``price`` (see the module docstring for the rounding rule)."""
        if self.kind == "percent":
            return price.minor * self.value // 100
        return min(self.value, price.minor)


@dataclass(frozen=True)
class CouponTerms:
    """What a creator sets when adding a coupon."""

    code: str
    kind: str
    value: int
    currency: str | None = None
    min_spend: int = 0
    max_uses: int | None = None
    per_member: int = 1
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    products: tuple[str, ...] = ()


class CouponService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add(
        self, community: Community, actor: Member, terms: CouponTerms, *, via: str = "command"
    ) -> Coupon:
        require_creator(community, actor, COUPONS_FOR_CREATORS)
        code = terms.code.upper()
        if not CODE.match(code):
            raise InvalidInput(
                msg("A coupon code is 2 to 40 letters, digits, - or _, like SPRING15."), field="code"
            )
        if terms.kind == "percent" and not 1 <= terms.value <= 100:
            raise InvalidInput(PERCENT_RANGE, field="off")
        if terms.kind == "fixed" and (terms.value <= 0 or terms.currency is None):
            raise InvalidInput(
                msg("A fixed coupon takes an amount with its currency, like 5 USD."), field="off"
            )
        if terms.min_spend and terms.currency is None:
            raise InvalidInput(msg("A minimum spend needs a currency, like min=50USD."), field="min")
        uses = msg(
            "A coupon is used 1 to {uses} times, 1 to {per} per member.",
            uses=MAX_USES,
            per=MAX_USES_PER_MEMBER,
        )
        if terms.max_uses is not None and not 1 <= terms.max_uses <= MAX_USES:
            raise InvalidInput(uses, field="uses")
        if not 1 <= terms.per_member <= MAX_USES_PER_MEMBER:
            raise InvalidInput(uses, field="per")
        if terms.starts_at and terms.ends_at and terms.ends_at <= terms.starts_at:
            raise InvalidInput(msg("A coupon must end after it starts."), field="until")
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    insert(coupons).values(
                        community_id=community.id,
                        code=code,
                        kind=terms.kind,
                        value=terms.value,
                        currency=terms.currency,
                        min_spend_minor=terms.min_spend,
                        max_uses=terms.max_uses,
                        per_member=terms.per_member,
                        starts_at=terms.starts_at,
                        ends_at=terms.ends_at,
                        products=",".join(p.lower() for p in terms.products),
                        created_at=self._clock.now(),
                    )
                )
                await record(
                    conn,
                    community_id=community.id,
                    at=self._clock.now(),
                    action="coupon.add",
                    actor_member_id=actor.id,
                    code=code,
                    kind=terms.kind,
                    value=terms.value,
                    via=via,
                )
        except IntegrityError:
            raise InvalidInput(msg("There is already a coupon {code}.", code=code), field="code") from None
        return await self.get(community, code)

    async def disable(
        self, community: Community, actor: Member, code: str, *, via: str = "command"
    ) -> Coupon:
        require_creator(community, actor, COUPONS_FOR_CREATORS)
        coupon = await self.get(community, code)
        async with self._db.write() as conn:
            await conn.execute(update(coupons).where(coupons.c.id == coupon.id).values(disabled=True))
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="coupon.disable",
                actor_member_id=actor.id,
                code=coupon.code,
                via=via,
            )
        return await self.get(community, code)

    async def list(
        self, community: Community, *, after: int | None = None, limit: int | None = None
    ) -> list[Coupon]:
        """The community's coupons by id; a page of ``limit`` after the id ``after`` (keyset)."""
        query = select(coupons).where(coupons.c.community_id == community.id).order_by(coupons.c.id)
        if after is not None:
            query = query.where(coupons.c.id > after)
        if limit is not None:
            query = query.limit(limit)
        async with self._db.read() as conn:
            return [_coupon(row) for row in await conn.execute(query)]

    async def get(self, community: Community, code: str) -> Coupon:
        query = select(coupons).where(coupons.c.community_id == community.id, coupons.c.code == code.upper())
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise InvalidInput(msg("There is no coupon {code}.", code=code[:40]))
        return _coupon(row)

    async def claim(
        self,
        conn: AsyncConnection,
        community: Community,
        member: Member,
        code: str,
        product: str,
        price: Money,
    ) -> tuple[Coupon, int]:
        """Inside the order's transaction: check ``code`` for this member, product and price,
        and take one use. Returns the coupon and the minor units off; InvalidInput says why not."""
        from core.orders.tables import orders  # orders refer to coupons, not the other way round

        row = (
            await conn.execute(
                select(coupons).where(coupons.c.community_id == community.id, coupons.c.code == code.upper())
            )
        ).first()
        if row is None:
            raise InvalidInput(msg("There is no coupon {code}.", code=code[:40]))
        coupon = _coupon(row)
        now = self._clock.now()
        if coupon.disabled or (coupon.ends_at is not None and now >= coupon.ends_at):
            raise InvalidInput(msg("Coupon {code} has expired.", code=coupon.code))
        if coupon.starts_at is not None and now < coupon.starts_at:
            raise InvalidInput(msg("Coupon {code} is not valid yet.", code=coupon.code))
        if coupon.products and product.lower() not in coupon.products:
            raise InvalidInput(
                msg("Coupon {code} does not apply to {product}.", code=coupon.code, product=product)
            )
        if coupon.currency is not None and coupon.currency != price.currency:
            raise InvalidInput(
                msg("Coupon {code} is for prices in {currency}.", code=coupon.code, currency=coupon.currency)
            )
        if price.minor < coupon.min_spend:
            raise InvalidInput(
                msg(
                    "Coupon {code} needs a spend of at least {minimum}.",
                    code=coupon.code,
                    minimum=Money(price.currency, coupon.min_spend),
                )
            )
        mine = await conn.scalar(
            select(func.count())
            .select_from(orders)
            .where(
                orders.c.coupon_id == coupon.id, orders.c.member_id == member.id, orders.c.status.in_(HOLDING)
            )
        )
        if int(mine or 0) >= coupon.per_member:
            raise InvalidInput(msg("You have already used coupon {code}.", code=coupon.code))
        taken = await conn.execute(
            update(coupons)
            .where(
                coupons.c.id == coupon.id,
                (coupons.c.max_uses.is_(None)) | (coupons.c.used < coupons.c.max_uses),
            )
            .values(used=coupons.c.used + 1)
        )
        if taken.rowcount != 1:
            raise InvalidInput(msg("Coupon {code} has been used up.", code=coupon.code))
        return coupon, coupon.discount_on(price)

    @staticmethod
    async def give_back(conn: AsyncConnection, coupon_id: int) -> None:
        """An order holding the coupon expired or was cancelled: its use is free again."""
        await conn.execute(
            update(coupons)
            .where(coupons.c.id == coupon_id, coupons.c.used > 0)
            .values(used=coupons.c.used - 1)
        )

    @staticmethod
    async def take_again(conn: AsyncConnection, coupon_id: int) -> None:
        """Money arrived for an order that had given its use back: it holds one again (even
        past the limit: the buyer paid the discounted price)."""
        await conn.execute(
            update(coupons)
            .where(coupons.c.id == coupon_id)
            .values(
                used=coupons.c.used + 1,
                max_uses=case(
                    (coupons.c.max_uses < coupons.c.used + 1, coupons.c.used + 1), else_=coupons.c.max_uses
                ),
            )
        )


def _coupon(row: Any) -> Coupon:
    return Coupon(
        row.id,
        row.code,
        row.kind,
        row.value,
        row.currency,
        row.min_spend_minor,
        row.max_uses,
        row.per_member,
        row.used,
        row.starts_at,
        row.ends_at,
        tuple(p for p in row.products.split(",") if p),
        row.disabled,
    )


def coupon_terms(
    code: str,
    off: str,
    zone: ZoneInfo,
    *,
    min_spend: str | None = None,
    uses: int | None = None,
    per: int = 1,
    starts: date | None = None,
    until: date | None = None,
    products: tuple[str, ...] = (),
) -> CouponTerms:
    """What a creator typed (/coupon add or the dashboard's form) → CouponTerms.

    ``off``: ``15%`` or ``5 USD``; ``min_spend``: ``50USD``, ``50 USD`` or ``50`` (in the
    coupon's currency); ``starts`` and ``until`` are days in the community's ``zone``: the
    coupon is valid from the midnight starting ``starts`` to the midnight ending ``until``.
    InvalidInput names the field it refuses."""
    off = off.strip()
    if off.endswith("%"):
        # The range is CouponService.add's rule: it refuses -10% or 150% with what it takes.
        value = parse_whole_number(off[:-1], bound=100)
        if value is None:
            raise InvalidInput(PERCENT_RANGE, field="off")
        kind, currency = "percent", None
    else:
        amount = _money(off, "off")
        kind, value, currency = "fixed", amount.minor, amount.currency
    spend = 0
    if min_spend and min_spend.strip():
        typed = _MONEY.match(min_spend.strip())
        text = f"{typed.group(1)} {typed.group(2)}" if typed else min_spend.strip()
        minimum = _money(text if " " in text else f"{text} {currency or ''}", "min")
        if currency is not None and minimum.currency != currency:
            raise InvalidInput(
                msg("The minimum spend must be in the coupon's currency, {currency}.", currency=currency),
                field="min",
            )
        spend, currency = minimum.minor, minimum.currency
    return CouponTerms(
        code=code,
        kind=kind,
        value=value,
        currency=currency,
        min_spend=spend,
        max_uses=uses,
        per_member=per,
        starts_at=_start_of(starts, zone),
        ends_at=_start_of(until + timedelta(days=1), zone) if until is not None else None,
        products=products,
    )


def last_day(ends_at: datetime, zone: ZoneInfo) -> str:
    """The last local day a coupon is valid (it ends at the midnight that follows)."""
    return (ends_at.astimezone(zone) - timedelta(microseconds=1)).date().isoformat()


def _start_of(day: date | None, zone: ZoneInfo) -> datetime | None:
    """The midnight that starts ``day`` in the community's time zone."""
    return None if day is None else datetime.combine(day, time(0), tzinfo=zone)


def _money(text: str, field: str) -> Money:
    try:
        return parse_money(text)
    except InvalidInput as refused:
        raise InvalidInput(refused.message, field=field) from None
