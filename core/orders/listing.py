"""Orders as creators look them up: a filtered list, newest first, read by keyset pages (the
dashboard's list and its CSV), and one order's timeline.

Pages are keyed on (created_at, id), which the indexes in core/orders/tables.py cover with and
without a state or product filter, so a page costs the same after a year of orders as on day one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from core.audit.tables import audit_log
from core.catalog.money import Money
from core.errors import InvalidInput, NotFound
from core.i18n import msg
from core.members.models import Community, Member, require_creator
from core.members.tables import members
from core.orders.models import Order, Status, order_from_row
from core.orders.tables import orders
from core.storage.database import Database

FOR_CREATORS = msg("Only creators can look through orders.")
BATCH = 500  # rows per read when every matching order is wanted (the CSV)


@dataclass(frozen=True)
class OrderFilter:
    status: Status | None = None
    provider: str | None = None
    product: tuple[str, int] | None = None  # (kind, id)
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before


@dataclass(frozen=True)
class ListedOrder:
    order: Order
    member_name: str


@dataclass(frozen=True)
class Step:
    """One thing that happened to an order: created, paid, delivered, refunded."""

    what: str  # created | paid | delivered | refunded
    at: datetime
    amount: Money | None = None
    provider: str | None = None
    ref: str | None = None  # the provider's payment or refund id
    points: int = 0  # purchase points the delivery gave
    actor_member_id: int | None = None
    via: str | None = None


class OrderListing:
    """OrderService's creator views (core/orders/service.py)."""

    _db: Database

    async def listed(
        self,
        community: Community,
        actor: Member,
        found: OrderFilter,
        *,
        before: int | None = None,
        limit: int = 50,
    ) -> list[ListedOrder]:
        """Up to ``limit`` orders matching ``found``, newest first, older than order ``before``
        (the last of the previous page). Creators only."""
        require_creator(community, actor, FOR_CREATORS)
        query = (
            select(orders, members.c.display_name)
            .join(members, members.c.id == orders.c.member_id)
            .where(orders.c.community_id == community.id)
            .order_by(orders.c.created_at.desc(), orders.c.id.desc())
            .limit(limit)
        )
        if found.status is not None:
            query = query.where(orders.c.status == found.status.value)
        if found.provider is not None:
            query = query.where(orders.c.provider == found.provider)
        if found.product is not None:
            query = query.where(
                orders.c.product_kind == found.product[0], orders.c.product_id == found.product[1]
            )
        if found.since is not None:
            query = query.where(orders.c.created_at >= found.since)
        if found.until is not None:
            query = query.where(orders.c.created_at < found.until)
        async with self._db.read() as conn:
            if before is not None:
                cursor = (
                    await conn.execute(
                        select(orders.c.created_at).where(
                            orders.c.id == before, orders.c.community_id == community.id
                        )
                    )
                ).scalar()
                if cursor is None:
                    raise InvalidInput(msg("There is no order {id}.", id=before))
                # A range on created_at the index walks; the OR only drops the same instant's newer ids.
                query = query.where(
                    orders.c.created_at <= cursor,
                    or_(
                        orders.c.created_at < cursor,
                        and_(orders.c.created_at == cursor, orders.c.id < before),
                    ),
                )
            rows = (await conn.execute(query)).all()
        return [ListedOrder(order_from_row(row), row.display_name) for row in rows]

    async def all_listed(
        self, community: Community, actor: Member, found: OrderFilter
    ) -> AsyncIterator[list[ListedOrder]]:
        """Every order matching ``found``, newest first, in batches (one read each)."""
        before: int | None = None
        while True:
            batch = await self.listed(community, actor, found, before=before, limit=BATCH)
            if batch:
                yield batch
            if len(batch) < BATCH:
                return
            before = batch[-1].order.id

    async def order_of(self, community: Community, actor: Member, order_id: int) -> Order:
        """Order ``order_id`` of ``community`` (another community's is not there). Creators only."""
        require_creator(community, actor, FOR_CREATORS)
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(orders).where(orders.c.id == order_id, orders.c.community_id == community.id)
                )
            ).first()
        if row is None:
            raise NotFound(msg("There is no order {id}.", id=order_id))
        return order_from_row(row)

    async def timeline(self, community: Community, actor: Member, order: Order) -> list[Step]:
        """What happened to ``order``, oldest first: created, paid (the provider's id),
        delivered (the points it gave), and each refund (its provider id, who, and where)."""
        require_creator(community, actor, FOR_CREATORS)
        steps = [Step("created", order.created_at, amount=order.amount)]
        if order.paid_at is not None:
            steps.append(
                Step(
                    "paid",
                    order.paid_at,
                    amount=order.amount,
                    provider=order.provider,
                    ref=order.provider_ref,
                )
            )
        if order.fulfilled_at is not None:
            steps.append(Step("delivered", order.fulfilled_at, points=order.purchase_points))
        query = (
            select(audit_log)
            .where(
                audit_log.c.subject_member_id == order.member_id,
                audit_log.c.at >= order.created_at,
                audit_log.c.action == "order.refund",
                audit_log.c.community_id == community.id,
            )
            .order_by(audit_log.c.at, audit_log.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            detail: dict[str, Any] = json.loads(row.detail)
            if detail.get("order") != order.id:
                continue
            steps.append(
                Step(
                    "refunded",
                    row.at,
                    amount=Money(order.amount.currency, int(detail.get("amount", 0))),
                    provider=order.provider,
                    ref=detail.get("ref"),
                    actor_member_id=row.actor_member_id,
                    via=detail.get("via"),
                )
            )
        return sorted(steps, key=lambda step: step.at)
