"""What payment providers report besides an order paid: which webhook deliveries were handled
already, periods they charged by themselves (renewals), and payments only their own
listing shows (reconciliation).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import insert, select, update

from core.audit.log import record
from core.catalog.models import Product
from core.catalog.money import Money
from core.clock import Clock
from core.errors import InvalidInput
from core.orders.models import Fulfilment, Order, PaymentMismatch, PaymentProvider, Status, order_from_row
from core.orders.tables import orders, payment_events
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

log = logging.getLogger(__name__)


class ProviderReports:
    """OrderService's side of provider reports (core/orders/service.py)."""

    _db: Database
    _clock: Clock
    _delivered_by_jobs: list[Fulfilment]
    _on_fulfilled: list[Callable[[Order], Awaitable[None]]]
    providers: dict[str, PaymentProvider]

    async def event_seen(self, provider: str, event_id: str) -> bool:
        """Whether this provider event (a webhook delivery) was handled already."""
        query = select(payment_events.c.event_id).where(
            payment_events.c.provider == provider, payment_events.c.event_id == event_id
        )
        async with self._db.read() as conn:
            return (await conn.execute(query)).first() is not None

    async def remember_event(self, provider: str, event_id: str, kind: str, order_id: int | None) -> None:
        """Record a handled provider event (after handling it: a crash before this only means
        the redelivery is handled again, which the order's own state makes harmless)."""
        async with self._db.write() as conn:
            await conn.execute(
                insert_or_ignore(self._db.dialect, payment_events).values(
                    provider=provider[:20],
                    event_id=event_id[:200],
                    kind=kind[:100],
                    order_id=order_id,
                    received_at=self._clock.now(),
                )
            )

    async def record_renewal(
        self,
        community_id: int,
        member_id: int,
        product: Product,
        *,
        provider: str,
        provider_ref: str,
        paid: Money,
    ) -> Order | None:
        """A period the provider charged by itself (a subscription's renewal, already applied
        to the subscription): kept as a paid, delivered order, so revenue, refunds and
        commissions see it. Once per ``provider_ref`` (None the second time), atomically."""
        now = self._clock.now()
        async with self._db.write() as conn:
            fresh = await conn.execute(
                insert_or_ignore(self._db.dialect, payment_events).values(
                    provider=provider[:20],
                    event_id=f"renewal:{provider_ref}"[:200],
                    kind="renewal",
                    order_id=None,
                    received_at=now,
                )
            )
            if fresh.rowcount != 1:
                return None
            order_id = (
                await conn.execute(
                    insert(orders)
                    .values(
                        community_id=community_id,
                        member_id=member_id,
                        product_kind=product.kind,
                        product_id=product.id,
                        title=product.title,
                        list_minor=paid.minor,
                        amount_minor=paid.minor,
                        currency=paid.currency,
                        status=Status.FULFILLED.value,
                        provider=provider,
                        provider_ref=provider_ref,
                        created_at=now,
                        expires_at=now,
                        paid_at=now,
                        fulfilled_at=now,
                    )
                    .returning(orders.c.id)
                )
            ).scalar_one()
            await conn.execute(
                update(payment_events)
                .where(
                    payment_events.c.provider == provider[:20],
                    payment_events.c.event_id == f"renewal:{provider_ref}"[:200],
                )
                .values(order_id=order_id)
            )
            await record(
                conn,
                community_id=community_id,
                at=now,
                action="order.renewal",
                actor_member_id=None,
                subject_member_id=member_id,
                order=order_id,
                provider=provider,
                ref=provider_ref,
                amount=paid.minor,
                currency=paid.currency,
            )
        order = await self.get(order_id)
        points = await self._post_purchase_points(order)
        if points:
            async with self._db.write() as conn:
                await conn.execute(
                    update(orders).where(orders.c.id == order_id).values(purchase_points=points)
                )
        order = await self.get(order_id)
        await self._run_hooks(self._on_fulfilled, order)
        return order

    async def open_with(self, provider: str, since: datetime, limit: int = 1000) -> list[Order]:
        """``provider``'s orders made since ``since`` that are not paid (pending, or expired or
        cancelled, which a late payment still completes): what a provider that cannot list its
        payments asks about when reconciling."""
        query = (
            select(orders)
            .where(
                orders.c.provider == provider,
                orders.c.created_at >= since,
                orders.c.status.in_([Status.PENDING.value, Status.EXPIRED.value, Status.CANCELLED.value]),
            )
            .order_by(orders.c.id)
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [order_from_row(row) for row in await conn.execute(query)]

    async def reconcile(self, since: datetime) -> list[Fulfilment]:
        """Ask providers that can list payments for those settled since ``since`` and record
        any we missed (a webhook that never arrived). Returns what was delivered now."""
        delivered: list[Fulfilment] = []
        for provider in list(self.providers.values()):
            settled_since = getattr(provider, "settled_since", None)
            if settled_since is None:
                continue
            try:
                payments = await settled_since(since)
            except Exception:
                log.warning("reconciliation with %s failed", provider.name, exc_info=True)
                continue
            for payment in payments:
                try:
                    fulfilment = await self.record_payment(
                        payment.order_id,
                        provider=provider.name,
                        provider_ref=payment.provider_ref,
                        paid=payment.paid,
                    )
                except (InvalidInput, PaymentMismatch):
                    log.warning(
                        "reconciliation: %s payment for order %s not recorded",
                        provider.name,
                        payment.order_id,
                        exc_info=True,
                    )
                    continue
                if fulfilment.fresh:
                    delivered.append(fulfilment)
        self._delivered_by_jobs.extend(delivered)
        return delivered
