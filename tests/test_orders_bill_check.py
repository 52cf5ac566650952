"""core/orders/bill_check.py: a provider's bill of one day compared with the orders paid by it,
each kind of difference, a payment recorded just after midnight, and the daily check: once per
day (also with two processes), retried when the bill is not ready, creators told, audited."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.app import App
from bot.config import Config
from core.audit import log as audit
from core.audit.trail import ACTIONS
from core.catalog.money import Money
from core.clock import ManualClock
from core.events import UserRef
from core.i18n import render
from core.members.models import Role
from core.orders.bill_check import (
    MAX_LINES,
    BillCheck,
    BillChecks,
    BillNotReady,
    BillPayment,
    Difference,
    Gap,
    ProviderBill,
    compare_bill,
)
from core.orders.models import Order
from core.replies import Reply, Text
from core.storage.state import get_state
from tests.shop_fixtures import Shop

NAME = "biller"
DAY = date(2026, 1, 5)  # the day of tests.conftest.START (09:00 UTC)
NEXT_MORNING = datetime(2026, 1, 6, 10, tzinfo=UTC)  # when the biller's bill of DAY is ready
USD_1999 = Money("USD", 1999)


def bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


def bill_of(day: date, *payments: BillPayment) -> ProviderBill:
    return ProviderBill(NAME, "Biller", day, *bounds(day), payments)


def payment(order_id: int | None, ref: str, paid: Money = USD_1999) -> BillPayment:
    return BillPayment(order_id, f"shop-{order_id}", ref, paid)


class Biller:
    """A provider with a bill a day (UTC days, ready at 10:00 the next day)."""

    name = NAME

    def __init__(self) -> None:
        self.bills: dict[date, list[BillPayment]] = {}
        self.asked: list[date] = []
        self.failures: list[Exception] = []

    def accepts(self, currency: str) -> bool:
        return False

    async def start(self, order: Order) -> object:
        raise AssertionError("not used")

    async def refund(self, order: Order, amount_minor: int) -> str:
        raise AssertionError("not used")

    def latest_bill_day(self, now: datetime) -> date:
        return (now - timedelta(hours=10)).date() - timedelta(days=1)

    async def bill_payments(self, day: date) -> ProviderBill:
        self.asked.append(day)
        if self.failures:
            raise self.failures.pop(0)
        return bill_of(day, *self.bills.get(day, []))


@pytest.fixture
def biller(app: App) -> Biller:
    provider = Biller()
    app.services.orders.register(provider)  # type: ignore[arg-type]
    return provider


def checks(app: App) -> BillChecks:
    s = app.services
    return BillChecks(s.db, s.clock, s.orders, s.members, s.notices)


async def paid(app: App, shop: Shop, ref: str, *, buyer: str = "ana", provider: str = NAME) -> Order:
    """Ana's (or Ben's) order of the course, paid through ``provider`` now."""
    orders = app.services.orders
    member = shop.ana if buyer == "ana" else shop.ben
    order = await orders.order_course(shop.community, member, shop.course)
    await orders.record_payment(order.id, provider=provider, provider_ref=ref, paid=order.amount)
    return await orders.get(order.id)


async def pending(app: App, shop: Shop) -> Order:
    return await app.services.orders.order_course(shop.community, shop.ben, shop.course)


def gaps(check: BillCheck) -> list[tuple[Gap, int | None, str | None]]:
    return [
        (d.gap, d.order.id if d.order else None, d.payment.provider_ref if d.payment else None)
        for d in check.differences
    ]


def told(app: App) -> list[tuple[int, list[str]]]:
    """The notices queued: (member id, lines in English)."""
    out = []
    for _community, reply in app.services.notices.take():
        assert isinstance(reply, Reply) and reply.to_member is not None
        text = "".join(render(s.content, "en") for s in reply.segments if isinstance(s, Text))
        out.append((reply.to_member, text.split("\n")))
    return out


# -- comparing ----------------------------------------------------------------------------------


async def test_a_bill_listing_exactly_the_orders_paid_that_day_matches(
    app: App, shop: Shop, biller: Biller
) -> None:
    ana = await paid(app, shop, "p1")
    ben = await paid(app, shop, "p2", buyer="ben")

    check = await compare_bill(app.db, bill_of(DAY, payment(ana.id, "p1"), payment(ben.id, "p2")))

    assert check.matches and check.differences == () and check.carried == ()


async def test_each_kind_of_difference_is_found(app: App, shop: Shop, biller: Biller) -> None:
    recorded = await paid(app, shop, "p1")  # the bill has it for another amount
    missing = await paid(app, shop, "p2", buyer="ben")  # the bill lacks it
    bill = bill_of(
        DAY,
        payment(recorded.id, "p1", Money("USD", 999)),
        payment(recorded.id, "p9"),  # the same order paid a second time
        payment(None, "x1"),  # a payment for something that is not ours
        payment(recorded.id + 100, "x2"),  # names an order that does not exist
    )

    check = await compare_bill(app.db, bill)

    assert gaps(check) == [
        (Gap.AMOUNT, recorded.id, "p1"),
        (Gap.SECOND, recorded.id, "p9"),
        (Gap.UNKNOWN, None, "x1"),
        (Gap.UNKNOWN, None, "x2"),
        (Gap.MISSING, missing.id, None),
    ]
    assert not check.matches


async def test_a_payment_for_an_order_not_paid_here_is_unrecorded_or_a_wrong_amount(
    app: App, shop: Shop, biller: Biller
) -> None:
    open_order = await pending(app, shop)
    bill = bill_of(DAY, payment(open_order.id, "p1"))
    assert gaps(await compare_bill(app.db, bill)) == [(Gap.UNRECORDED, open_order.id, "p1")]

    cheap = bill_of(DAY, payment(open_order.id, "p1", Money("USD", 1)))
    assert gaps(await compare_bill(app.db, cheap)) == [(Gap.AMOUNT, open_order.id, "p1")]
    euros = bill_of(DAY, payment(open_order.id, "p1", Money("EUR", 1999)))
    assert gaps(await compare_bill(app.db, euros)) == [(Gap.AMOUNT, open_order.id, "p1")]


async def test_only_the_providers_orders_paid_during_the_bills_day_are_expected(
    app: App, shop: Shop, clock: ManualClock, biller: Biller
) -> None:
    await paid(app, shop, "s1", provider="sandbox")  # another provider's
    clock.set(datetime(2026, 1, 6, 0, 0, tzinfo=UTC))
    await paid(app, shop, "p2", buyer="ben")  # the next day's

    assert (await compare_bill(app.db, bill_of(DAY))).matches
    assert gaps(await compare_bill(app.db, bill_of(date(2026, 1, 6)))) == [(Gap.MISSING, 2, None)]


async def test_a_payment_made_before_midnight_and_recorded_after_it_is_carried_to_the_next_day(
    app: App, shop: Shop, clock: ManualClock, biller: Biller
) -> None:
    clock.set(datetime(2026, 1, 6, 0, 0, 5, tzinfo=UTC))  # its report came 5 s after midnight
    late = await paid(app, shop, "p1")

    today = await compare_bill(app.db, bill_of(DAY, payment(late.id, "p1")))
    tomorrow = bill_of(date(2026, 1, 6))

    assert today.matches and today.carried == ("p1",)
    assert gaps(await compare_bill(app.db, tomorrow)) == [(Gap.MISSING, late.id, None)]
    assert (await compare_bill(app.db, tomorrow, today.carried)).matches


def test_each_difference_reads_with_the_order_the_numbers_and_the_amounts(shop: Shop) -> None:
    from core.orders.bill_check import describe
    from core.orders.models import Status

    now = datetime(2026, 1, 5, tzinfo=UTC)
    order = Order(7, 1, 2, "course", 3, "Py", USD_1999, Status.FULFILLED, NAME, "p7", now, now, now, now)
    unpaid = Order(8, 1, 2, "course", 3, "Py", USD_1999, Status.EXPIRED, NAME, None, now, now, None, None)
    cheap = payment(7, "p1", Money("USD", 999))
    lines = [
        render(describe(Difference(gap, o, p)), "en")
        for gap, o, p in [
            (Gap.UNKNOWN, None, payment(None, "x1")),
            (Gap.UNRECORDED, unpaid, payment(8, "p8")),
            (Gap.SECOND, order, payment(7, "p9")),
            (Gap.AMOUNT, order, cheap),
            (Gap.MISSING, order, None),
        ]
    ]
    assert lines == [
        "$19.99 paid for shop-None (x1), which is no order here.",
        "Order #8: $19.99 paid (shop-8, p8), but the order is expired unpaid here.",
        "Order #7: $19.99 paid again (shop-7, p9); it was paid already (p7).",
        "Order #7: $9.99 paid (shop-7, p1), but the order is $19.99.",
        "Order #7: $19.99 recorded as paid here (p7), but the bill does not list it.",
    ]


# -- the daily check ----------------------------------------------------------------------------


async def test_the_daily_check_tells_the_creators_once_and_audits_it(
    app: App, shop: Shop, clock: ManualClock, biller: Biller
) -> None:
    missing = await paid(app, shop, "p1")
    biller.bills[DAY] = [payment(None, "x1", Money("USD", 500))]
    clock.set(NEXT_MORNING)

    done = await checks(app).check_due(clock.now())
    again = await checks(app).check_due(clock.now() + timedelta(hours=5))

    assert [gaps(c) for c in done] == [[(Gap.UNKNOWN, None, "x1"), (Gap.MISSING, missing.id, None)]]
    assert again == [] and biller.asked == [DAY]
    assert told(app) == [
        (
            shop.mei.id,
            [
                "Biller's bill of 2026-01-05 differs from studyhall's orders in 2 places:",
                f"Order #{missing.id}: $19.99 recorded as paid here (p1), but the bill does not list it.",
                "$5.00 paid for shop-None (x1), which is no order here.",
                "Check them against the provider's own records before refunding or delivering by hand.",
            ],
        )
    ]
    async with app.db.read() as conn:
        entry = (await audit.recent(conn, shop.community.id, limit=1))[0]
    assert (entry.action, entry.actor_member_id, entry.detail) == (
        "order.bill_differs",
        None,
        {"provider": NAME, "day": "2026-01-05", "differences": 2, "orders": [missing.id]},
    )
    assert "order.bill_differs" in ACTIONS
    state = json.loads(await get_state(app.db, "bills.checked:biller:2026-01-05") or "")
    assert state == {"payments": 1, "differences": 2, "carried": []}


async def test_a_matching_bill_says_nothing_and_logs_one_line(
    app: App, shop: Shop, clock: ManualClock, biller: Biller, caplog: pytest.LogCaptureFixture
) -> None:
    order = await paid(app, shop, "p1")
    biller.bills[DAY] = [payment(order.id, "p1")]
    clock.set(NEXT_MORNING)

    with caplog.at_level(logging.INFO, logger="core.orders.bill_check"):
        done = await checks(app).check_due(clock.now())

    assert [c.matches for c in done] == [True] and told(app) == []
    assert [r.getMessage() for r in caplog.records] == [
        "biller: the bill of 2026-01-05 matches the orders (payments: 1)"
    ]
    async with app.db.read() as conn:
        assert "order.bill_differs" not in [e.action for e in await audit.recent(conn, shop.community.id)]


async def test_before_the_bill_is_made_the_day_before_is_the_latest(
    app: App, shop: Shop, clock: ManualClock, biller: Biller
) -> None:
    await paid(app, shop, "p1")
    clock.set(NEXT_MORNING - timedelta(minutes=1))

    await checks(app).check_due(clock.now())

    assert biller.asked == [DAY - timedelta(days=1)] and told(app) == []


async def test_a_bill_not_ready_or_not_had_is_asked_for_again_on_the_next_run(
    app: App, shop: Shop, clock: ManualClock, biller: Biller
) -> None:
    await paid(app, shop, "p1")
    biller.failures = [BillNotReady("making it"), OSError("network down")]
    clock.set(NEXT_MORNING)
    bills = checks(app)

    assert await bills.check_due(clock.now()) == []
    assert await bills.check_due(clock.now()) == []
    assert await get_state(app.db, "bills.checked:biller:2026-01-05") is None
    assert told(app) == []
    assert [gaps(c) for c in await bills.check_due(clock.now())] == [[(Gap.MISSING, 1, None)]]
    assert biller.asked == [DAY, DAY, DAY]
    assert [member for member, _ in told(app)] == [shop.mei.id]


async def test_the_previous_days_carried_payments_are_not_missing(
    app: App, shop: Shop, clock: ManualClock, biller: Biller
) -> None:
    clock.set(datetime(2026, 1, 6, 0, 0, 3, tzinfo=UTC))  # paid on the 5th, reported on the 6th
    late = await paid(app, shop, "p1")
    biller.bills[DAY] = [payment(late.id, "p1")]
    bills = checks(app)

    clock.set(NEXT_MORNING)
    assert [c.carried for c in await bills.check_due(clock.now())] == [("p1",)]
    clock.set(NEXT_MORNING + timedelta(days=1))  # the bill of the 6th does not list it
    assert [c.matches for c in await bills.check_due(clock.now())] == [True]
    assert biller.asked == [DAY, DAY + timedelta(days=1)] and told(app) == []


async def test_a_long_list_is_cut_short(app: App, shop: Shop, clock: ManualClock, biller: Biller) -> None:
    await paid(app, shop, "p0")  # so the community uses the biller
    biller.bills[DAY] = [payment(None, f"x{n}") for n in range(MAX_LINES + 3)]
    clock.set(NEXT_MORNING)

    await checks(app).check_due(clock.now())

    [(_, lines)] = told(app)
    assert lines[0].endswith(f"in {MAX_LINES + 4} places:") and lines[-2] == "…and 4 more."
    assert len(lines) == 1 + MAX_LINES + 2


async def test_a_payment_of_no_order_goes_to_every_community_using_the_provider(
    app: App, shop: Shop, clock: ManualClock, biller: Biller
) -> None:
    members = app.services.members
    other = await members.ensure_community("otherhall", default_locale="en", timezone="UTC")
    lin = await members.assign_role(
        other, await members.ensure_member(other, UserRef("console", "lin", "Lin")), Role.CREATOR, via="t"
    )
    idle = await members.ensure_community("idlehall", default_locale="en", timezone="UTC")
    await members.assign_role(
        idle, await members.ensure_member(idle, UserRef("console", "bo", "Bo")), Role.CREATOR, via="t"
    )
    course = await app.services.catalog.add_course(other, lin, "go1", USD_1999, "Go")
    buyer = await members.ensure_member(other, UserRef("console", "kai", "Kai"))
    order = await app.services.orders.order_course(other, buyer, course)
    await app.services.orders.record_payment(order.id, provider=NAME, provider_ref="o1", paid=USD_1999)
    await paid(app, shop, "p1")
    biller.bills[DAY] = [payment(order.id, "o1"), payment(1, "p1"), payment(None, "x1")]
    clock.set(NEXT_MORNING)

    await checks(app).check_due(clock.now())

    assert sorted(member for member, _ in told(app)) == sorted([shop.mei.id, lin.id])


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    """Another process on the same database (its own engine and writer)."""
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


async def test_two_processes_checking_at_once_report_once(
    app: App, second_app: App, shop: Shop, clock: ManualClock, biller: Biller
) -> None:
    await paid(app, shop, "p1")
    second_app.services.orders.register(biller)  # type: ignore[arg-type]
    clock.set(NEXT_MORNING)

    done = await asyncio.gather(
        *(checks(a).check_due(clock.now()) for a in (app, second_app, app, second_app))
    )

    assert sorted(len(d) for d in done) == [0, 0, 0, 1]
    assert len(told(app) + told(second_app)) == 1
