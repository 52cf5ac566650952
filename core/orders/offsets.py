"""Points toward a price (积分抵扣): part of a course's or bundle's price paid with points.

A community sets a rate (``points.offset_rate`` points per unit of the price's currency; 0 turns
it off) and a cap (``points.offset_max_percent`` of the price after any coupon). The order keeps
how many points it takes and what they are worth (``offset_points``, ``offset_minor``); the
provider charges the rest. The points move in ledger transfers keyed by the order:

- held when the order is made: the member's points go to escrow (``offset:hold:ID``);
- spent when it is paid: from escrow to redemption (``offset:spend:ID``); a payment that comes
  after the hold was released (a late payment of an expired order) takes them from the member
  again, as far as the balance allows, and audits any shortfall;
- released when it expires or is cancelled unpaid: from escrow back to the member
  (``offset:release:ID``);
- returned in proportion to each refund: from redemption to the member (``offset:refund:ID:TOTAL``).

Each transfer's guard moves the order's ``offset_state`` (wanted → held → spent, or held →
released) in the ledger's own transaction, so a transfer and the state it stands for are
never apart; keys make every step safe to repeat, and the ``orders`` job settles what a crash
left between steps (:meth:`OrderOffsets.settle_offsets`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import record
from core.catalog.money import Money, precision
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import msg, nmsg
from core.ledger.models import Kind, MemberAccount, Outcome, Posting, SystemAccount, SystemCode
from core.ledger.points import PointsService
from core.orders.models import Order, Status, order_from_row
from core.orders.tables import orders
from core.settings.service import SettingsService
from core.storage.database import Database

ALL = -1  # "usepoints" without a number: as many points as the cap and the balance allow
KINDS = ("course", "bundle")  # plans renew by themselves: a one-off offset does not fit them
WANTED, HELD, SPENT, RELEASED = "wanted", "held", "spent", "released"
PAID_STATES = (Status.PAID.value, Status.FULFILLED.value, Status.REFUNDED.value)
UNPAID_ENDS = (Status.EXPIRED.value, Status.CANCELLED.value)
SETTLE_BATCH = 500


@dataclass(frozen=True)
class Offset:
    points: int
    minor: int  # what they are worth, in the price's minor units


NO_OFFSET = Offset(0, 0)


def plan_offset(price: Money, rate: int, max_percent: int, balance: int, wanted: int) -> Offset:
    """The points ``wanted`` (ALL: as many as allowed) toward ``price``: refused with the cap
    and the balance when it asks for more than either, or when points cannot pay here."""
    if rate <= 0 or max_percent <= 0:
        raise InvalidInput(msg("Points cannot pay part of a price here."))
    unit = 10 ** precision(price.currency)
    cap_minor = price.minor * max_percent // 100
    cap_points = cap_minor * rate // unit  # points whose worth stays within the cap
    points = min(balance, cap_points) if wanted == ALL else wanted
    if wanted != ALL and (wanted > cap_points or wanted > balance):
        raise InvalidInput(
            msg(
                "You can use at most {cap} points toward {price} (that is {percent}%),"
                " and you have {balance}.",
                cap=cap_points,
                price=price,
                percent=max_percent,
                balance=balance,
            )
        )
    minor = points * unit // rate
    if minor <= 0:
        raise InvalidInput(
            nmsg(
                "{n} point is not enough to pay any part of {price}: {rate} points make {one}.",
                "{n} points are not enough to pay any part of {price}: {rate} points make {one}.",
                points,
                price=price,
                rate=rate,
                one=Money(price.currency, unit),
            )
        )
    return Offset(-(-minor * rate // unit), minor)  # the fewest points worth that much


class OrderOffsets:
    """OrderService's points toward a price (core/orders/service.py)."""

    _db: Database
    _clock: Clock
    _points: PointsService
    _settings: SettingsService
    _cancel_row: Callable[[AsyncConnection, Any], Awaitable[None]]  # core/orders/service.py

    async def offset_for(
        self, community_id: int, member_id: int, kind: str, price: Money, wanted: int
    ) -> Offset:
        """What ``wanted`` points take off ``price`` for this member now (InvalidInput: why not)."""
        if kind not in KINDS:
            raise InvalidInput(msg("Points can pay part of courses and bundles only."))
        rate = await self._settings.get(community_id, "points.offset_rate")
        cap = await self._settings.get(community_id, "points.offset_max_percent")
        balance = (await self._points.ledger.balance(community_id, member_id)).balance
        return plan_offset(price, rate, cap, balance, wanted)

    async def hold_offset(self, order: Order) -> None:
        """Move the order's points to escrow; when the member no longer has them, the order is
        cancelled and InvalidInput says so (with the balance)."""
        if order.offset_points <= 0:
            return
        result = await self._points.ledger.post(
            Posting(
                community_id=order.community_id,
                debit=MemberAccount(order.member_id),
                credit=SystemAccount(SystemCode.ESCROW),
                amount=order.offset_points,
                kind=Kind.SPEND,
                key=f"offset:hold:{order.id}",
                at=self._clock.now(),
                memo=f"order #{order.id}: {order.title}"[:300],
                actor_member_id=order.member_id,
                guard=_Move(order.id, (WANTED,), HELD, Status.PENDING.value).guard,
            )
        )
        if result.ok or result.outcome is Outcome.REFUSED:  # refused: held already (a reused order)
            return
        async with self._db.write() as conn:  # as a cancelled order: its coupon's use goes back
            row = (await conn.execute(select(orders).where(orders.c.id == order.id))).first()
            if row is not None:
                await self._cancel_row(conn, row)
        raise InvalidInput(
            nmsg(
                "You have {n} point now: not enough for the {points} this order takes.",
                "You have {n} points now: not enough for the {points} this order takes.",
                result.available or 0,
                points=order.offset_points,
            )
        )

    async def spend_offset(self, order: Order) -> None:
        """The order is paid: its held points are spent (taken from the member again when the
        hold was released meanwhile, any shortfall audited)."""
        if order.offset_points <= 0:
            return
        state = await self._offset_state(order.id)
        if state == SPENT:
            return
        held = state == HELD
        result = await self._points.ledger.post(
            Posting(
                community_id=order.community_id,
                debit=SystemAccount(SystemCode.ESCROW) if held else MemberAccount(order.member_id),
                credit=SystemAccount(SystemCode.REDEMPTION),
                amount=order.offset_points,
                kind=Kind.SPEND,
                key=f"offset:spend:{order.id}",
                at=self._clock.now(),
                memo=f"order #{order.id}: {order.title}"[:300],
                partial=not held,
                guard=_Move(order.id, (HELD,) if held else (WANTED, RELEASED), SPENT).guard,
            )
        )
        taken = result.transfer.amount if result.ok and result.transfer is not None else 0
        if result.outcome is Outcome.POSTED and taken < order.offset_points:
            async with self._db.write() as conn:
                await record(
                    conn,
                    community_id=order.community_id,
                    at=self._clock.now(),
                    action="order.offset_short",
                    actor_member_id=None,
                    subject_member_id=order.member_id,
                    order=order.id,
                    wanted=order.offset_points,
                    taken=taken,
                )

    async def release_offset(self, order: Order) -> None:
        """The order ended unpaid: its held points go back to the member."""
        if order.offset_points <= 0:
            return
        await self._points.ledger.post(
            Posting(
                community_id=order.community_id,
                debit=SystemAccount(SystemCode.ESCROW),
                credit=MemberAccount(order.member_id),
                amount=order.offset_points,
                kind=Kind.REVERSAL,
                key=f"offset:release:{order.id}",
                at=self._clock.now(),
                memo=f"order #{order.id} not paid"[:300],
                guard=_Move(order.id, (HELD,), RELEASED, *UNPAID_ENDS).guard,
            )
        )

    async def return_offset(self, order: Order, refunded_before: int, refunded_total: int) -> int:
        """A refund brought the order's refunded money from ``refunded_before`` to
        ``refunded_total``: the same share of its spent points goes back. Returns the points."""
        charged = order.amount.minor
        if order.offset_points <= 0 or charged <= 0 or await self._offset_state(order.id) != SPENT:
            return 0
        share = order.offset_points * min(refunded_total, charged) // charged
        back = share - order.offset_points * refunded_before // charged
        if back <= 0:
            return 0
        result = await self._points.ledger.post(
            Posting(
                community_id=order.community_id,
                debit=SystemAccount(SystemCode.REDEMPTION),
                credit=MemberAccount(order.member_id),
                amount=back,
                kind=Kind.REVERSAL,
                key=f"offset:refund:{order.id}:{refunded_total}",
                at=self._clock.now(),
                memo=f"refund of order #{order.id}"[:300],
            )
        )
        return back if result.ok else 0

    async def settle_offsets(self) -> int:
        """Finish what a crash left between an order's step and its points' step: paid orders
        whose points are not spent, unpaid ended ones whose points are still held."""
        t = orders.c
        query = (
            select(orders)
            .where(
                t.offset_state.in_((WANTED, HELD, RELEASED)),  # ix_orders_offset_state: few rows
                or_(t.status.in_(PAID_STATES), and_(t.status.in_(UNPAID_ENDS), t.offset_state == HELD)),
            )
            .limit(SETTLE_BATCH)
        )
        async with self._db.read() as conn:
            found = [order_from_row(row) for row in await conn.execute(query)]
        for order in found:
            if order.status.value in PAID_STATES:
                await self.spend_offset(order)
            else:
                await self.release_offset(order)
        return len(found)

    async def _offset_state(self, order_id: int) -> str:
        async with self._db.read() as conn:
            found = await conn.execute(select(orders.c.offset_state).where(orders.c.id == order_id))
            return str(found.scalar_one_or_none() or "")


class _Move:
    """A ledger guard: the order's offset state from one of ``before`` to ``after`` (and, when
    ``statuses`` are given, only in one of them), in the transfer's own transaction."""

    def __init__(self, order_id: int, before: tuple[str, ...], after: str, *statuses: str) -> None:
        self.order_id = order_id
        self.before = before
        self.after = after
        self.statuses = statuses

    def guard(self, conn: Any) -> str | None:
        t = orders.c
        query = update(orders).where(t.id == self.order_id, t.offset_state.in_(self.before))
        if self.statuses:
            query = query.where(t.status.in_(self.statuses))
        moved = conn.execute(query.values(offset_state=self.after))
        return None if moved.rowcount == 1 else f"offset not {'/'.join(self.before)}"
