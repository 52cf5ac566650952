"""Orders: pending → paid → fulfilled, or cancelled / expired; the price is fixed at creation.

Each state change is one conditional UPDATE (``WHERE status = …``), so when a payment is
reported twice, or two processes fulfil the same order at once, exactly one call moves it
and only that call delivers. Purchase points are a ledger posting keyed by the order, and
they are posted before the order is marked fulfilled: a crash in between leaves the order
``paid``, and fulfilling it again replays the posting instead of paying points twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import record
from core.catalog.coupons import CouponService
from core.catalog.models import Course, Product
from core.catalog.money import Money, precision
from core.catalog.service import CatalogService
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import Msg, msg
from core.ledger.models import Cap, CapScope, Kind, MemberAccount, Outcome, Posting, SystemAccount, SystemCode
from core.ledger.points import PointsService
from core.members.models import Community, Member
from core.members.service import MemberService
from core.orders.listing import OrderListing
from core.orders.models import (
    Checkout,
    Fulfilment,
    Order,
    PaymentMismatch,
    PaymentProvider,
    ProductKind,
    Status,
)
from core.orders.models import order_from_row as _order
from core.orders.offsets import NO_OFFSET, WANTED, OrderOffsets
from core.orders.provider_reports import ProviderReports
from core.orders.refunds import ClawbackPreview, OrderRefunds
from core.orders.tables import orders
from core.settings.service import SettingsService
from core.storage.database import Database

log = logging.getLogger(__name__)

PAYABLE = (Status.PENDING, Status.EXPIRED, Status.CANCELLED)  # money that arrives late is still taken
FREE = "free"  # the provider name of orders a coupon made free


class OrderService(ProviderReports, OrderRefunds, OrderListing, OrderOffsets):
    def __init__(
        self,
        db: Database,
        clock: Clock,
        catalog: CatalogService,
        coupons: CouponService,
        points: PointsService,
        members: MemberService,
        settings: SettingsService,
        providers: list[PaymentProvider],
    ) -> None:
        self._db = db
        self._clock = clock
        self._catalog = catalog
        self._coupons = coupons
        self._points = points
        self._members = members
        self._settings = settings
        self.providers = {provider.name: provider for provider in providers}
        self._delivered_by_jobs: list[Fulfilment] = []
        self._kinds: dict[str, ProductKind] = {}
        # Other packages' follow-ups (referral commissions), run after an order is delivered
        # and after a refund is recorded, outside those transactions. Each must be idempotent;
        # a failed one is logged and caught up by that package's own job.
        self._on_fulfilled: list[Callable[[Order], Awaitable[None]]] = []
        self._on_refunded: list[Callable[[Order], Awaitable[None]]] = []
        self._clawback_previews: list[ClawbackPreview] = []  # what those refund follow-ups take back

    def register(self, provider: PaymentProvider, *, first: bool = False) -> None:
        """Add a provider (adapters add Stripe and Stars at start-up); ``first`` makes it the
        one preferred for the currencies it accepts."""
        others = {name: p for name, p in self.providers.items() if name != provider.name}
        self.providers = {provider.name: provider, **others} if first else {**others, provider.name: provider}

    def provider_for(self, currency: str) -> PaymentProvider:
        for provider in self.providers.values():
            if provider.accepts(currency):
                return provider
        raise InvalidInput(msg("Payments in {currency} are not set up here yet.", currency=currency))

    # -- ordering ------------------------------------------------------------------------

    async def order_course(
        self, community: Community, member: Member, course: Course, coupon_code: str | None = None
    ) -> Order:
        return await self.order(community, member, Product.of(course), coupon_code)

    async def order(
        self,
        community: Community,
        member: Member,
        product: Product,
        coupon_code: str | None = None,
        use_points: int | None = None,
    ) -> Order:
        """A pending order for ``product`` at today's price, less ``coupon_code``'s discount
        and what ``use_points`` points pay (offsets.ALL: as many as allowed; core/orders/
        offsets.py) — the open order for the same thing is reused. A free result (a 100%
        coupon, or points paying all) is paid and delivered at once: check the returned
        order's status.

        A bundle holding a course the member owns already is sold at its own price (no
        pro-rating; /buy says which courses are owned); one whose courses are all owned is
        refused, like an owned course."""
        if product.hidden:
            raise InvalidInput(msg("There is no course {code}. /courses lists them.", code=product.code))
        kind = self._kinds.get(product.kind)
        if kind is not None:
            await kind.check(member, product)
        owned = [c for c in product.courses if await self._catalog.enrollment(member, c) is not None]
        if product.courses and len(owned) == len(product.courses):
            raise InvalidInput(
                msg("You already own {title}: /learn {code}", title=product.title, code=owned[0].code)
                if product.kind == "course"
                else msg("You already own every course in {title}.", title=product.title)
            )
        now = self._clock.now()
        provider = self.provider_for(product.price.currency)
        wanted_coupon = None if coupon_code is None else (await self._coupons.get(community, coupon_code)).id
        replaced: list[Order] = []  # open orders this one replaces: their held points go back
        async with self._db.write() as conn:
            open_rows = (
                await conn.execute(
                    select(orders).where(
                        orders.c.member_id == member.id,
                        orders.c.product_kind == product.kind,
                        orders.c.product_id == product.id,
                        orders.c.status == Status.PENDING.value,
                        orders.c.expires_at > now,
                    )
                )
            ).all()
            for row in open_rows:
                same = row.list_minor == product.price.minor and row.currency == product.price.currency
                if same and row.coupon_id == wanted_coupon and use_points is None and not row.offset_points:
                    return _order(row)
                await self._cancel_row(conn, row)  # replaced by the order made below
                replaced.append(_order(row))
            coupon_id, off = None, 0
            if coupon_code is not None:
                coupon, off = await self._coupons.claim(
                    conn, community, member, coupon_code, product.code, product.price
                )
                coupon_id = coupon.id
            offset = NO_OFFSET  # a refusal here rolls the coupon's use back with the rest
            if use_points is not None:
                after_coupon = Money(product.price.currency, product.price.minor - off)
                offset = await self.offset_for(
                    community.id, member.id, product.kind, after_coupon, use_points
                )
            minutes = await self._settings.get(community.id, "order.expiry_minutes")
            order_id = (
                await conn.execute(
                    insert(orders)
                    .values(
                        community_id=community.id,
                        member_id=member.id,
                        product_kind=product.kind,
                        product_id=product.id,
                        title=product.title,
                        list_minor=product.price.minor,
                        amount_minor=product.price.minor - off - offset.minor,
                        coupon_id=coupon_id,
                        offset_points=offset.points,
                        offset_minor=offset.minor,
                        offset_state=WANTED if offset.points else "",
                        currency=product.price.currency,
                        status=Status.PENDING.value,
                        provider=provider.name,
                        created_at=now,
                        expires_at=now + timedelta(minutes=minutes),
                    )
                    .returning(orders.c.id)
                )
            ).scalar_one()
        for ended in replaced:
            await self.release_offset(ended)
        order = await self.get(order_id)
        await self.hold_offset(order)  # points first: a free result spends them at once
        if order.amount.minor == 0:
            await self.record_payment(
                order.id, provider=FREE, provider_ref=f"free:{order.id}", paid=order.amount
            )
            order = await self.get(order_id)
        return order

    async def _cancel_row(self, conn: AsyncConnection, row: Any) -> None:
        moved = await conn.execute(
            update(orders)
            .where(orders.c.id == row.id, orders.c.status == Status.PENDING.value)
            .values(status=Status.CANCELLED.value)
        )
        if moved.rowcount == 1 and row.coupon_id is not None:
            await CouponService.give_back(conn, row.coupon_id)

    async def get(self, order_id: int) -> Order:
        async with self._db.read() as conn:
            row = (await conn.execute(select(orders).where(orders.c.id == order_id))).first()
        if row is None:
            raise InvalidInput(msg("There is no order {id}.", id=order_id))
        return _order(row)

    async def of_buyer(self, member: Member, order_id: int) -> Order:
        """``member``'s own order ``order_id``; InvalidInput when there is none of theirs (another
        member's order is as unknown as a missing one)."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(orders).where(orders.c.id == order_id, orders.c.member_id == member.id)
                )
            ).first()
        if row is None:
            raise InvalidInput(msg("There is no order {id}.", id=order_id))
        return _order(row)

    async def start_payment(self, order: Order, *, on_web: bool = False, in_wechat: bool = False) -> Checkout:
        """How to pay ``order`` through its provider: in a chat, its note, link, invoice or QR
        code; ``on_web``, what a page can use where the provider has something for the web (a
        Telegram Stars invoice link rather than an in-chat invoice; ``in_wechat``, a page inside
        WeChat's browser: WeChat Pay's in-app payment)."""
        provider = self.providers.get(order.provider)
        if provider is None:
            raise InvalidInput(
                msg("Payments in {currency} are not set up here yet.", currency=order.amount.currency)
            )
        start_on_web = getattr(provider, "start_on_web", None) if on_web else None
        if start_on_web is not None:
            return await start_on_web(order, in_wechat=in_wechat)
        return await provider.start(order)

    async def of_member(self, member: Member, limit: int = 20) -> list[Order]:
        query = (
            select(orders).where(orders.c.member_id == member.id).order_by(orders.c.id.desc()).limit(limit)
        )
        async with self._db.read() as conn:
            return [_order(row) for row in await conn.execute(query)]

    async def pending(self, member: Member, provider: str) -> Order | None:
        """The member's newest pending order with ``provider``."""
        query = (
            select(orders)
            .where(
                orders.c.member_id == member.id,
                orders.c.provider == provider,
                orders.c.status == Status.PENDING.value,
            )
            .order_by(orders.c.id.desc())
            .limit(1)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return _order(row) if row else None

    async def cancel(self, member: Member, order_id: int) -> Order:
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    select(orders).where(
                        orders.c.id == order_id,
                        orders.c.member_id == member.id,
                        orders.c.status == Status.PENDING.value,
                    )
                )
            ).first()
            if row is None:
                raise InvalidInput(msg("Order {id} is not one of your pending orders.", id=order_id))
            await self._cancel_row(conn, row)
        cancelled = await self.get(order_id)
        await self.release_offset(cancelled)
        return cancelled

    async def by_provider_ref(self, provider: str, provider_ref: str) -> Order | None:
        query = select(orders).where(orders.c.provider == provider, orders.c.provider_ref == provider_ref)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return _order(row) if row else None

    async def expire(self, order_id: int) -> bool:
        """A provider says the order's checkout expired: pending → expired (else nothing)."""
        async with self._db.write() as conn:
            row = (await conn.execute(select(orders.c.coupon_id).where(orders.c.id == order_id))).first()
            moved = await conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.status == Status.PENDING.value)
                .values(status=Status.EXPIRED.value)
            )
            if moved.rowcount == 1 and row is not None and row.coupon_id is not None:
                await CouponService.give_back(conn, row.coupon_id)
        if moved.rowcount == 1:
            await self.release_offset(await self.get(order_id))
        return moved.rowcount == 1

    # -- payment and fulfilment ----------------------------------------------------------

    async def check_payable(self, order_id: int, paid: Money) -> Msg | None:
        """Before a provider takes the money (Telegram's pre-checkout): None when ``order_id``
        may be paid ``paid`` now, else the reason to show the buyer."""
        try:
            order = await self.get(order_id)
        except InvalidInput:
            return msg("This order does not exist any more. Use /buy again.")
        if order.status is not Status.PENDING or order.expires_at <= self._clock.now():
            return msg("Order #{id} is no longer open for payment. Use /buy again.", id=order.id)
        if order.amount != paid:
            return msg("The price of order #{id} has changed. Use /buy again.", id=order.id)
        product = await self.product_of(order)
        member = await self._members.get_member(order.member_id)
        if product.hidden:
            return msg("{title} is no longer for sale.", title=order.title)
        owned = [c for c in product.courses if await self._catalog.enrollment(member, c) is not None]
        if product.courses and len(owned) == len(product.courses):
            return msg("You already own {title}.", title=product.title)
        return None

    def on_fulfilled(self, hook: Callable[[Order], Awaitable[None]]) -> None:
        self._on_fulfilled.append(hook)

    def on_refunded(self, hook: Callable[[Order], Awaitable[None]]) -> None:
        self._on_refunded.append(hook)

    async def _run_hooks(self, hooks: list[Callable[[Order], Awaitable[None]]], order: Order) -> None:
        for hook in hooks:
            try:
                await hook(order)
            except Exception:
                log.exception("orders: a follow-up of order %s failed (its job catches up)", order.id)

    def register_kind(self, name: str, kind: ProductKind) -> None:
        """Sell another kind of product through orders (plans register themselves)."""
        self._kinds[name] = kind

    async def product_of(self, order: Order) -> Product:
        kind = self._kinds.get(order.product_kind)
        if kind is not None:
            return await kind.resolve(order.product_id)
        return await self._catalog.product_by_id(order.product_kind, order.product_id)

    async def record_payment(
        self, order_id: int, *, provider: str, provider_ref: str, paid: Money
    ) -> Fulfilment:
        """A provider says ``order_id`` was paid ``paid``: mark it paid (once) and fulfil it.

        Safe to call again for the same payment (a redelivered webhook): nothing happens twice.
        Raises PaymentMismatch when the amount or currency is not the order's.
        """
        order = await self.get(order_id)
        if order.amount != paid:
            log.error("payment for order %s does not match: %s, expected %s", order_id, paid, order.amount)
            raise PaymentMismatch(f"order {order_id}: paid {paid}, expected {order.amount}")
        now = self._clock.now()
        async with self._db.write() as conn:
            for previous in PAYABLE:
                moved = await conn.execute(
                    update(orders)
                    .where(orders.c.id == order_id, orders.c.status == previous.value)
                    .values(
                        status=Status.PAID.value, paid_at=now, provider=provider, provider_ref=provider_ref
                    )
                )
                if moved.rowcount != 1:
                    continue
                if previous is not Status.PENDING and order.coupon_id is not None:
                    await CouponService.take_again(conn, order.coupon_id)
                await record(
                    conn,
                    community_id=order.community_id,
                    at=now,
                    action="order.paid",
                    actor_member_id=None,
                    subject_member_id=order.member_id,
                    order=order_id,
                    provider=provider,
                    ref=provider_ref,
                    amount=paid.minor,
                    currency=paid.currency,
                )
                break
        return await self.fulfil(order_id)

    async def fulfil(self, order_id: int) -> Fulfilment:
        """Deliver a paid order: purchase points, then the course; ``fresh`` for one caller."""
        order = await self.get(order_id)
        if order.status is Status.FULFILLED:
            return Fulfilment(order, fresh=False)
        if order.status is not Status.PAID:
            raise InvalidInput(msg("Order {id} is not paid.", id=order_id))
        await self.spend_offset(order)
        points = await self._post_purchase_points(order)
        now = self._clock.now()
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.status == Status.PAID.value)
                .values(status=Status.FULFILLED.value, fulfilled_at=now, purchase_points=points)
            )
            fresh = moved.rowcount == 1
            if fresh:
                kind = self._kinds.get(order.product_kind)
                if kind is not None:
                    await kind.grant(conn, order, now)
                for course in (await self.product_of(order)).courses:
                    await self._catalog.grant(
                        conn, order.community_id, order.member_id, course.id, order.id, now
                    )
        delivered = await self.get(order_id)
        if fresh:
            await self._run_hooks(self._on_fulfilled, delivered)
        return Fulfilment(delivered, fresh=fresh, points=points if fresh else 0)

    async def _post_purchase_points(self, order: Order) -> int:
        percent = await self._settings.get(order.community_id, "purchase.points_percent")
        amount = order.amount.minor * percent // (100 * 10 ** precision(order.amount.currency))
        if amount <= 0:
            return 0
        community = await self._members.community_by_id(order.community_id)
        result = await self._points.ledger.post(
            Posting(
                community_id=order.community_id,
                debit=SystemAccount(SystemCode.ISSUANCE),
                credit=MemberAccount(order.member_id),
                amount=amount,
                kind=Kind.PURCHASE,
                key=f"purchase:{order.id}",
                at=order.paid_at or self._clock.now(),
                memo=order.title[:300],
                caps=(
                    Cap(
                        CapScope.CREDIT,
                        (Kind.PURCHASE,),
                        self._points.day_start(community, order.paid_at or self._clock.now()),
                        await self._settings.get(order.community_id, "cap.purchase"),
                        True,
                    ),
                ),
            )
        )
        if result.outcome in (Outcome.POSTED, Outcome.REPLAYED) and result.transfer is not None:
            return result.transfer.amount
        return 0

    # -- jobs ----------------------------------------------------------------------------

    async def expire_due(self, now: datetime) -> int:
        """Pending orders past their time become expired (and give back their coupon use)."""
        expired, with_points = 0, []
        async with self._db.write() as conn:
            rows = (
                await conn.execute(
                    select(orders.c.id, orders.c.coupon_id, orders.c.offset_points).where(
                        orders.c.status == Status.PENDING.value, orders.c.expires_at <= now
                    )
                )
            ).all()
            for row in rows:
                moved = await conn.execute(
                    update(orders)
                    .where(orders.c.id == row.id, orders.c.status == Status.PENDING.value)
                    .values(status=Status.EXPIRED.value)
                )
                expired += moved.rowcount
                if moved.rowcount == 1 and row.coupon_id is not None:
                    await CouponService.give_back(conn, row.coupon_id)
                if moved.rowcount == 1 and row.offset_points:
                    with_points.append(row.id)
        for order_id in with_points:  # their held points go back (settle_offsets catches a crash)
            await self.release_offset(await self.get(order_id))
        return expired

    async def fulfil_stuck(self) -> list[Fulfilment]:
        """Fulfil orders left paid but undelivered (a crash between the two steps)."""
        async with self._db.read() as conn:
            ids = list(
                (
                    await conn.execute(select(orders.c.id).where(orders.c.status == Status.PAID.value))
                ).scalars()
            )
        done = [await self.fulfil(order_id) for order_id in ids]
        self._delivered_by_jobs.extend(f for f in done if f.fresh)
        return done

    def take_delivered(self) -> list[Fulfilment]:
        """Orders that jobs delivered since the last call (their buyers are yet to be told)."""
        taken, self._delivered_by_jobs = self._delivered_by_jobs, []
        return taken
