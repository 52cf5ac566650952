"""core/orders/service.py: orders from pending to fulfilled, exactly once, and refunds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.app import App
from bot.config import Config
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.i18n import render
from core.ledger.service import Balance
from core.orders.models import Order, PaymentMismatch, SettledPayment, Status
from core.orders.tables import orders as orders_table
from tests.conftest import snapshot
from tests.shop_fixtures import Shop

USD_1999 = Money("USD", 1999)


def reason(error: pytest.ExceptionInfo[Exception]) -> str:
    return render(error.value.message, "en")  # type: ignore[attr-defined]


async def paid_order(app: App, shop: Shop) -> Order:
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    await orders.record_payment(order.id, provider="sandbox", provider_ref=f"s{order.id}", paid=order.amount)
    return await orders.get(order.id)


async def balance(app: App, shop: Shop) -> Balance:
    return await app.services.ledger.balance(shop.community.id, shop.ana.id)


# -- ordering -----------------------------------------------------------------------------------


async def test_an_order_fixes_the_price_and_an_open_one_is_reused(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    orders, catalog = app.services.orders, app.services.catalog
    first = await orders.order_course(shop.community, shop.ana, shop.course)
    assert (first.status, first.amount, first.provider) == (Status.PENDING, USD_1999, "sandbox")
    assert first.expires_at == clock.now() + timedelta(minutes=60)
    assert (await orders.order_course(shop.community, shop.ana, shop.course)).id == first.id

    await catalog.edit_course(shop.community, shop.mei, "py101", "price", Money("USD", 2999))
    repriced = await catalog.course(shop.community, "py101")
    second = await orders.order_course(shop.community, shop.ana, repriced)
    assert second.id != first.id and second.amount == Money("USD", 2999)
    assert (await orders.get(first.id)).amount == USD_1999  # fixed when it was made


async def test_owned_and_hidden_courses_cannot_be_ordered(app: App, shop: Shop) -> None:
    orders = app.services.orders
    await paid_order(app, shop)
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as caught:
        await orders.order_course(shop.community, shop.ana, shop.course)
    assert reason(caught) == "You already own Python for data analysis: /learn py101"
    hidden = await app.services.catalog.set_hidden(shop.community, shop.mei, "py101", True)
    with pytest.raises(InvalidInput):
        await orders.order_course(shop.community, shop.ben, hidden)
    assert await snapshot(app.db, exclude=("activity", "courses", "audit_log")) == {
        k: v for k, v in before.items() if k not in ("courses", "audit_log")
    }


# -- payment ------------------------------------------------------------------------------------


async def test_a_payment_reported_twice_delivers_once_with_purchase_points(app: App, shop: Shop) -> None:
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    first = await orders.record_payment(order.id, provider="sandbox", provider_ref="p1", paid=USD_1999)
    again = await orders.record_payment(order.id, provider="sandbox", provider_ref="p1", paid=USD_1999)

    assert (first.fresh, first.points, first.order.status) == (True, 19, Status.FULFILLED)
    assert (again.fresh, again.points) == (False, 0)
    assert await balance(app, shop) == Balance(19, 19)
    assert await app.services.catalog.enrollment(shop.ana, shop.course) is not None


async def test_a_payment_of_the_wrong_amount_is_not_taken_as_payment(app: App, shop: Shop) -> None:
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    for wrong in (Money("USD", 999), Money("EUR", 1999)):
        with pytest.raises(PaymentMismatch):
            await orders.record_payment(order.id, provider="sandbox", provider_ref="p1", paid=wrong)
    assert (await orders.get(order.id)).status is Status.PENDING
    assert await app.services.catalog.enrollment(shop.ana, shop.course) is None


async def test_money_that_arrives_after_the_order_expired_is_still_delivered(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    clock.advance(timedelta(minutes=61))
    assert await orders.expire_due(clock.now()) == 1
    assert (await orders.get(order.id)).status is Status.EXPIRED
    late = await orders.record_payment(order.id, provider="sandbox", provider_ref="late", paid=USD_1999)
    assert (late.fresh, late.order.status) == (True, Status.FULFILLED)


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    """Another process on the same database (its own engine and writer)."""
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


async def test_two_processes_told_of_one_payment_at_once_deliver_it_once(
    app: App, second_app: App, shop: Shop
) -> None:
    order = await app.services.orders.order_course(shop.community, shop.ana, shop.course)
    results = await asyncio.gather(
        *(
            process.services.orders.record_payment(
                order.id, provider="sandbox", provider_ref="p1", paid=USD_1999
            )
            for process in (app, second_app, app, second_app)
        )
    )
    assert sorted(r.fresh for r in results) == [False, False, False, True]
    assert await balance(app, shop) == Balance(19, 19)
    assert (await app.services.orders.get(order.id)).status is Status.FULFILLED


async def test_a_paid_order_left_undelivered_is_delivered_by_the_job(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    async with app.db.write() as conn:  # as if the process died between paid and fulfilled
        await conn.execute(
            update(orders_table)
            .where(orders_table.c.id == order.id)
            .values(status="paid", paid_at=order.created_at, provider_ref="p1")
        )
    await app.run_due_jobs()
    clock.advance(timedelta(minutes=2))
    assert "orders" in await app.run_due_jobs()
    assert (await orders.get(order.id)).status is Status.FULFILLED
    assert await balance(app, shop) == Balance(19, 19)


async def test_check_payable_says_why_an_order_cannot_be_paid(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    assert await orders.check_payable(order.id, USD_1999) is None
    changed = await orders.check_payable(order.id, Money("USD", 1000))
    assert changed and render(changed, "en") == f"The price of order #{order.id} has changed. Use /buy again."
    missing = await orders.check_payable(order.id + 100, USD_1999)
    assert missing and render(missing, "en") == "This order does not exist any more. Use /buy again."
    clock.advance(timedelta(hours=2))
    late = await orders.check_payable(order.id, USD_1999)
    assert late and render(late, "en") == f"Order #{order.id} is no longer open for payment. Use /buy again."


class Reconciler:
    name = "recon"

    def __init__(self, payments: list[SettledPayment]) -> None:
        self.payments = payments
        self.asked: list[datetime] = []

    def accepts(self, currency: str) -> bool:
        return False

    async def start(self, order: Order) -> object:
        raise AssertionError("not used")

    async def refund(self, order: Order, amount_minor: int) -> str:
        raise AssertionError("not used")

    async def settled_since(self, since: datetime) -> list[SettledPayment]:
        self.asked.append(since)
        return self.payments


async def test_reconciliation_delivers_a_payment_whose_report_never_came(app: App, shop: Shop) -> None:
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    provider = Reconciler(
        [SettledPayment(order.id, "pi_1", USD_1999), SettledPayment(order.id + 99, "pi_2", USD_1999)]
    )
    orders.register(provider)  # type: ignore[arg-type]

    first = await orders.reconcile(order.created_at - timedelta(days=1))
    again = await orders.reconcile(order.created_at - timedelta(days=1))

    assert [f.order.id for f in first] == [order.id] and again == []
    assert (await orders.get(order.id)).provider == "recon"
    assert [f.order.id for f in orders.take_delivered()] == [order.id]


# -- refunds ------------------------------------------------------------------------------------


async def test_a_partial_then_full_refund_takes_points_back_and_then_the_course(app: App, shop: Shop) -> None:
    orders = app.services.orders
    order = await paid_order(app, shop)

    part = await orders.refund(shop.community, shop.mei, order.id, 500)
    assert (part.amount, part.points_clawed, part.order.status, part.order.refunded) == (
        500,
        4,
        Status.FULFILLED,
        500,
    )
    assert await app.services.catalog.enrollment(shop.ana, shop.course) is not None

    rest = await orders.refund(shop.community, shop.mei, order.id, None)
    assert (rest.amount, rest.points_clawed, rest.order.status) == (1499, 15, Status.REFUNDED)
    assert await app.services.catalog.enrollment(shop.ana, shop.course) is None
    assert (await balance(app, shop)).balance == 0

    with pytest.raises(InvalidInput) as caught:
        await orders.refund(shop.community, shop.mei, order.id, None)
    assert reason(caught) == f"Order {order.id} has nothing left to refund."


async def test_points_already_spent_are_recorded_as_the_shortfall(app: App, shop: Shop) -> None:
    orders = app.services.orders
    order = await paid_order(app, shop)
    await app.services.points.deduct(shop.community, shop.mei, shop.ana, 15, "spent in the mall", "spend:1")

    done = await orders.refund(shop.community, shop.mei, order.id, None)

    assert (done.points_clawed, done.points_short) == (4, 15)
    assert (await balance(app, shop)).balance == 0


async def test_a_refund_preview_is_what_the_refund_then_does_and_changes_nothing(
    app: App, shop: Shop
) -> None:
    orders = app.services.orders
    order = await paid_order(app, shop)
    await app.services.points.deduct(shop.community, shop.mei, shop.ana, 15, "spent in the mall", "spend:1")
    before = await snapshot(app.db)

    preview = await orders.refund_preview(shop.community, shop.mei, order.id, None)

    assert await snapshot(app.db) == before
    assert preview.full and preview.amount == 1999 and preview.order.refunded == 1999
    [back] = preview.clawbacks
    assert (back.member_id, back.what, back.points, back.short) == (shop.ana.id, "purchase_points", 4, 15)
    done = await orders.refund(shop.community, shop.mei, order.id, None)
    assert (done.amount, done.points_clawed, done.points_short) == (preview.amount, back.points, back.short)
    assert done.order.status is preview.order.status
    # Refused as the refund is: nothing left, not a creator, too much.
    with pytest.raises(InvalidInput) as caught:
        await orders.refund_preview(shop.community, shop.mei, order.id, None)
    assert reason(caught) == f"Order {order.id} has nothing left to refund."
    with pytest.raises(NotAllowed):
        await orders.refund_preview(shop.community, shop.ana, order.id, None)


def test_a_refund_amount_is_typed_in_the_orders_currency() -> None:
    from core.orders.refunds import parse_refund_amount

    order = Order(
        1,
        1,
        1,
        "course",
        1,
        "T",
        USD_1999,
        Status.FULFILLED,
        "sandbox",
        None,
        *[datetime(2026, 1, 1)] * 2,
        None,
        None,
    )
    assert parse_refund_amount(order, "5") == 500
    assert parse_refund_amount(order, " 5.5 ") == 550
    assert parse_refund_amount(order, "") is None and parse_refund_amount(order, None) is None
    for typed, said in (
        ("abc", "Write a price like 19.99 USD or 500 XTR."),
        ("1.999", "USD has 2 decimals; 1.999 has more."),
    ):
        with pytest.raises(InvalidInput) as caught:
            parse_refund_amount(order, typed)
        assert reason(caught) == said


async def test_refunds_are_for_creators_and_within_what_was_paid(app: App, shop: Shop) -> None:
    orders = app.services.orders
    order = await paid_order(app, shop)
    before = await snapshot(app.db)
    with pytest.raises(NotAllowed):
        await orders.refund(shop.community, shop.ana, order.id, None)
    for amount in (0, -5, 2000):
        with pytest.raises(InvalidInput) as caught:
            await orders.refund(shop.community, shop.mei, order.id, amount)
        assert reason(caught) == f"Order {order.id} can be refunded at most $19.99."
    pending = await orders.order_course(shop.community, shop.ben, shop.course)
    with pytest.raises(InvalidInput):
        await orders.refund(shop.community, shop.mei, pending.id, None)
    assert await snapshot(app.db, exclude=("activity", "orders")) == {
        k: v for k, v in before.items() if k != "orders"
    }


async def test_a_refund_reported_twice_and_at_once_is_recorded_once(
    app: App, second_app: App, shop: Shop
) -> None:
    order = await paid_order(app, shop)
    results = await asyncio.gather(
        *(
            process.services.orders.record_refund(order.id, refunded_total=1999, provider_ref="re_1")
            for process in (app, second_app, app)
        )
    )
    assert sorted(r.amount for r in results) == [0, 0, 1999]
    assert sum(r.points_clawed for r in results) == 19
    assert (await app.services.orders.get(order.id)).status is Status.REFUNDED
    assert (await balance(app, shop)).balance == 0


async def test_a_bundle_grants_its_courses_and_a_full_refund_takes_back_only_those(
    app: App, shop: Shop
) -> None:
    catalog, orders = app.services.catalog, app.services.orders
    ml = await catalog.add_course(shop.community, shop.mei, "ml201", Money("USD", 2999), "Machine learning")
    await catalog.add_bundle(
        shop.community, shop.mei, "path", Money("USD", 3999), "Data path", ["py101", "ml201"]
    )
    await paid_order(app, shop)  # Ana owns py101 through its own order
    bundle = await catalog.product(shop.community, "path")

    order = await orders.order(shop.community, shop.ana, bundle)
    done = await orders.record_payment(order.id, provider="sandbox", provider_ref="b1", paid=order.amount)
    assert (done.fresh, done.points) == (True, 39)
    assert await catalog.enrollment(shop.ana, ml) is not None
    with pytest.raises(InvalidInput) as caught:
        await orders.order(shop.community, shop.ana, bundle)
    assert reason(caught) == "You already own every course in Data path."

    await orders.refund(shop.community, shop.mei, order.id, None)
    assert await catalog.enrollment(shop.ana, ml) is None
    assert await catalog.enrollment(shop.ana, shop.course) is not None  # bought on its own


async def test_a_renewal_reported_to_two_processes_at_once_is_kept_once(
    app: App, second_app: App, shop: Shop
) -> None:
    from core.catalog.models import Product

    product = Product("plan", 7, "monthly", "Monthly", Money("USD", 999), False, ())
    kept = await asyncio.gather(
        *(
            process.services.orders.record_renewal(
                shop.community.id,
                shop.ana.id,
                product,
                provider="stripe",
                provider_ref="in_9",
                paid=Money("USD", 999),
            )
            for process in (app, second_app, app)
        )
    )
    assert sum(order is not None for order in kept) == 1
    [order] = [o for o in await app.services.orders.of_member(shop.ana) if o.provider_ref == "in_9"]
    assert (order.status, order.amount, order.purchase_points) == (Status.FULFILLED, Money("USD", 999), 9)
