"""The daily bill check: a provider's own list of one day's payments (a bill) compared with
the orders studyhall has as paid by that provider, and the creators told of any difference.

Providers take part by duck typing (:class:`BillingProvider`): ``latest_bill_day(now)``, the
last day whose bill the provider has made by ``now``, and ``bill_payments(day)``, its payments.
``payments_reconcile`` (jobs/orders.py) runs :meth:`BillChecks.check_due` after asking for
missed payments, so a payment whose report was only late is recorded before the comparison.

Each provider's day is checked once: the check is remembered in ``app_state`` by a conditional
insert in the transaction that writes its audit entries, and only the process whose insert
took reports it. A day whose bill is not ready (:class:`BillNotReady`) or could not be fetched is
not remembered, so the next run tries again.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select

from core.audit.log import record
from core.catalog.money import Money
from core.clock import Clock
from core.i18n import Msg, msg, nmsg
from core.members.models import Role
from core.members.service import MemberService
from core.notices import Notices
from core.orders.models import STATUS_LABELS, Order, Status, order_from_row
from core.orders.service import OrderService
from core.orders.tables import orders
from core.replies import Content, Reply
from core.storage.database import Database
from core.storage.state import get_state
from core.storage.state_tables import app_state
from core.storage.upsert import insert_or_ignore

log = logging.getLogger(__name__)

STATE_KEY = "bills.checked:{provider}:{day}"
PAID = (Status.PAID.value, Status.FULFILLED.value, Status.REFUNDED.value)  # paid, whatever came after
CHUNK = 500  # ids or refs per IN (…) list
MAX_LINES = 20  # differences listed in one message; the rest are counted


class BillNotReady(Exception):
    """The provider has not made that day's bill yet: try again later."""


@dataclass(frozen=True)
class BillPayment:
    """One settled payment of a provider's bill."""

    order_id: int | None  # the order it names; None when it names none of ours
    trade_no: str  # how the provider knows the order (WeChat Pay's out_trade_no)
    provider_ref: str  # the provider's payment id, as orders.provider_ref holds it
    paid: Money


@dataclass(frozen=True)
class ProviderBill:
    """A provider's payments of ``day``, which runs from ``start`` to ``end`` (its time zone)."""

    provider: str
    label: Content  # the provider as people call it ("WeChat Pay")
    day: date
    start: datetime
    end: datetime
    payments: tuple[BillPayment, ...]


class BillingProvider(Protocol):
    """What a provider offers to take part in the daily bill check."""

    name: str

    def latest_bill_day(self, now: datetime) -> date:
        """The last day whose bill the provider has made by ``now``."""
        ...

    async def bill_payments(self, day: date) -> ProviderBill:
        """The settled payments of ``day``; raises BillNotReady when the bill is not made yet
        (a day without payments is an empty bill), anything else when it could not be had."""
        ...


class Gap(StrEnum):
    UNKNOWN = "unknown"  # the provider has a payment for no order of ours
    UNRECORDED = "unrecorded"  # … for an order studyhall does not have as paid
    SECOND = "second"  # … for an order studyhall has as paid by another payment
    AMOUNT = "amount"  # the amounts or currencies differ
    MISSING = "missing"  # studyhall has an order paid by the provider that day; the bill lacks it


@dataclass(frozen=True)
class Difference:
    gap: Gap
    order: Order | None  # the order concerned, when there is one
    payment: BillPayment | None  # the bill's payment; None for MISSING


@dataclass(frozen=True)
class BillCheck:
    """The outcome of comparing one bill with studyhall's orders."""

    bill: ProviderBill
    differences: tuple[Difference, ...]
    # Payments the bill lists that studyhall recorded after the bill's day ended (paid just
    # before midnight, reported after it): not missing from the next day's bill.
    carried: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return not self.differences


async def compare_bill(db: Database, bill: ProviderBill, excused: Iterable[str] = ()) -> BillCheck:
    """Compare ``bill`` with the orders of its provider: each payment must be an order paid by
    it with the same payment id, amount and currency; each order paid by it during the bill's
    day must be in the bill, unless its payment id is ``excused`` (the previous day's bill
    listed it: paid before midnight, recorded after)."""
    payments = bill.payments
    refs = [p.provider_ref for p in payments]
    by_ref = {
        o.provider_ref: o
        for o in await _orders(
            db, refs, lambda part: (orders.c.provider == bill.provider, orders.c.provider_ref.in_(part))
        )
    }
    ids = sorted({p.order_id for p in payments if p.order_id is not None})
    by_id = {o.id: o for o in await _orders(db, ids, lambda part: (orders.c.id.in_(part),))}
    differences: list[Difference] = []
    carried: list[str] = []
    for payment in payments:
        order = by_ref.get(payment.provider_ref)
        if order is not None:
            if order.amount != payment.paid:
                differences.append(Difference(Gap.AMOUNT, order, payment))
            elif order.paid_at is not None and order.paid_at >= bill.end:
                carried.append(payment.provider_ref)
            continue
        order = by_id.get(payment.order_id) if payment.order_id is not None else None
        if order is None:
            gap = Gap.UNKNOWN
        elif order.status.value in PAID:
            gap = Gap.SECOND
        elif order.amount != payment.paid:
            gap = Gap.AMOUNT
        else:
            gap = Gap.UNRECORDED
        differences.append(Difference(gap, order, payment))
    listed = set(refs) | set(excused)
    query = (
        select(orders)
        .where(
            orders.c.provider == bill.provider,
            orders.c.status.in_(PAID),
            orders.c.paid_at >= bill.start,
            orders.c.paid_at < bill.end,
        )
        .order_by(orders.c.id)
    )
    async with db.read() as conn:
        paid_that_day = [order_from_row(row) for row in await conn.execute(query)]
    differences += [
        Difference(Gap.MISSING, order, None) for order in paid_that_day if order.provider_ref not in listed
    ]
    return BillCheck(bill, tuple(differences), tuple(carried))


async def _orders(db: Database, keys: Sequence[Any], where: Any) -> list[Order]:
    found: list[Order] = []
    async with db.read() as conn:
        for at in range(0, len(keys), CHUNK):
            rows = await conn.execute(select(orders).where(*where(keys[at : at + CHUNK])))
            found += [order_from_row(row) for row in rows]
    return found


def describe(difference: Difference) -> Msg:
    """One line for a creator: the order, the provider's numbers and the amounts."""
    order, payment = difference.order, difference.payment
    if difference.gap is Gap.MISSING:
        assert order is not None
        return msg(
            "Order #{order}: {amount} recorded as paid here ({ref}), but the bill does not list it.",
            order=order.id,
            amount=order.amount,
            ref=order.provider_ref or "",
        )
    assert payment is not None
    numbers = {"paid": payment.paid, "trade_no": payment.trade_no, "ref": payment.provider_ref}
    if order is None:
        return msg("{paid} paid for {trade_no} ({ref}), which is no order here.", **numbers)
    if difference.gap is Gap.AMOUNT:
        return msg(
            "Order #{order}: {paid} paid ({trade_no}, {ref}), but the order is {amount}.",
            order=order.id,
            amount=order.amount,
            **numbers,
        )
    if difference.gap is Gap.SECOND:
        return msg(
            "Order #{order}: {paid} paid again ({trade_no}, {ref}); it was paid already ({known}).",
            order=order.id,
            known=order.provider_ref or "",
            **numbers,
        )
    return msg(
        "Order #{order}: {paid} paid ({trade_no}, {ref}), but the order is {status} here.",
        order=order.id,
        status=STATUS_LABELS[order.status],
        **numbers,
    )


def report_lines(check: BillCheck, differences: Sequence[Difference]) -> list[Content]:
    """The message for one community's creators: a heading, the differences, what to do."""
    bill = check.bill
    lines: list[Content] = [
        nmsg(
            "{provider}'s bill of {day} differs from studyhall's orders in {n} place:",
            "{provider}'s bill of {day} differs from studyhall's orders in {n} places:",
            len(differences),
            provider=bill.label,
            day=bill.day.isoformat(),
        )
    ]
    lines += [describe(d) for d in differences[:MAX_LINES]]
    if len(differences) > MAX_LINES:
        lines.append(msg("…and {n} more.", n=len(differences) - MAX_LINES))
    lines.append(msg("Check them against the provider's own records before refunding or delivering by hand."))
    return lines


class BillChecks:
    """Runs the daily bill check of every provider that offers one."""

    def __init__(
        self, db: Database, clock: Clock, orders: OrderService, members: MemberService, notices: Notices
    ) -> None:
        self._db = db
        self._clock = clock
        self._orders = orders
        self._members = members
        self._notices = notices

    async def check_due(self, now: datetime) -> list[BillCheck]:
        """Check each provider's latest bill not checked yet; report differences to the
        creators. Returns the checks this call made and reported."""
        done: list[BillCheck] = []
        for provider in list(self._orders.providers.values()):
            latest = getattr(provider, "latest_bill_day", None)
            bill_payments = getattr(provider, "bill_payments", None)
            if latest is None or bill_payments is None:
                continue
            day: date = latest(now)
            key = STATE_KEY.format(provider=provider.name, day=day.isoformat())
            if await get_state(self._db, key) is not None:
                continue
            try:
                bill: ProviderBill = await bill_payments(day)
            except BillNotReady:
                log.info("%s: the bill of %s is not ready yet; trying again later", provider.name, day)
                continue
            except Exception:
                log.warning("%s: no bill of %s; trying again later", provider.name, day, exc_info=True)
                continue
            previous = await get_state(
                self._db, STATE_KEY.format(provider=provider.name, day=(day - timedelta(days=1)).isoformat())
            )
            check = await compare_bill(self._db, bill, _carried(previous))
            if await self._report(check, key):
                done.append(check)
        return done

    async def _report(self, check: BillCheck, key: str) -> bool:
        """Remember the check and audit it in one transaction, then tell the creators; False
        when another process had remembered it first (and so reports it)."""
        bill = check.bill
        by_community = await self._by_community(check)
        now = self._clock.now()
        state = {
            "payments": len(bill.payments),
            "differences": len(check.differences),
            "carried": check.carried,
        }
        async with self._db.write() as conn:
            claimed = await conn.execute(
                insert_or_ignore(self._db.dialect, app_state).values(key=key, value=json.dumps(state))
            )
            if claimed.rowcount != 1:
                return False
            for community_id, differences in by_community.items():
                await record(
                    conn,
                    community_id=community_id,
                    at=now,
                    action="order.bill_differs",
                    actor_member_id=None,
                    provider=bill.provider,
                    day=bill.day.isoformat(),
                    differences=len(differences),
                    orders=sorted({d.order.id for d in differences if d.order is not None}),
                )
        if check.matches:
            log.info(
                "%s: the bill of %s matches the orders (payments: %d)",
                bill.provider,
                bill.day,
                len(bill.payments),
            )
            return True
        log.warning(
            "%s: the bill of %s differs in %d places", bill.provider, bill.day, len(check.differences)
        )
        for community_id, differences in by_community.items():
            lines = report_lines(check, differences)
            for creator in await self._members.members_by_role(community_id, [Role.CREATOR]):
                self._notices.add(community_id, Reply.text(*lines, to_member=creator.id))
        return True

    async def _by_community(self, check: BillCheck) -> dict[int, list[Difference]]:
        """Each difference under its order's community; one without an order under every
        community that has orders with the provider (one merchant account serves them all)."""
        grouped: dict[int, list[Difference]] = defaultdict(list)
        orphans = [d for d in check.differences if d.order is None]
        for difference in check.differences:
            if difference.order is not None:
                grouped[difference.order.community_id].append(difference)
        if orphans:
            for community_id in await self._communities_using(check.bill.provider):
                grouped[community_id] += orphans
        return dict(grouped)

    async def _communities_using(self, provider: str) -> list[int]:
        query = select(orders.c.community_id).where(orders.c.provider == provider).distinct()
        async with self._db.read() as conn:
            found = sorted(await conn.scalars(query))
        if found:
            return found
        return [community.id for community in await self._members.list_communities()]


def _carried(state: str | None) -> list[str]:
    """The payment ids a day's remembered check carried into the next day."""
    try:
        carried = json.loads(state or "{}").get("carried", [])
    except (ValueError, AttributeError):
        return []
    return [str(ref) for ref in carried] if isinstance(carried, list) else []
