"""core/catalog/coupons.py: discounts, their limits, and their uses under concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import App
from bot.config import Config
from core.catalog.coupons import Coupon, CouponTerms
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.events import UserRef
from core.i18n import render
from core.orders.models import Status
from tests.conftest import snapshot
from tests.shop_fixtures import Shop

USE_LIMITS = "A coupon is used 1 to 1000000 times, 1 to 1000 per member."


def reason(error: pytest.ExceptionInfo[Exception]) -> str:
    return render(error.value.message, "en")  # type: ignore[attr-defined]


async def add(app: App, shop: Shop, **terms: object) -> Coupon:
    return await app.services.coupons.add(shop.community, shop.mei, CouponTerms(**terms))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "value", "price", "off"),
    [
        ("percent", 15, 1999, 299),  # rounded down: the buyer pays 1700
        ("percent", 100, 1999, 1999),
        ("percent", 33, 1, 0),
        ("fixed", 500, 1999, 500),
        ("fixed", 5000, 1999, 1999),  # never below zero
    ],
)
def test_discounts_round_down_and_never_go_below_zero(kind: str, value: int, price: int, off: int) -> None:
    coupon = Coupon(1, "C", kind, value, "USD", 0, None, 1, 0, None, None, (), False)
    assert coupon.discount_on(Money("USD", price)) == off


async def test_an_order_with_a_coupon_pays_less_and_uses_it(app: App, shop: Shop) -> None:
    await add(app, shop, code="spring15", kind="percent", value=15)
    order = await app.services.orders.order_course(shop.community, shop.ana, shop.course, "SPRING15")
    assert (order.amount, order.discount) == (Money("USD", 1700), Money("USD", 299))
    assert (await app.services.coupons.get(shop.community, "spring15")).used == 1


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ({"kind": "fixed", "value": 500, "currency": "EUR"}, "Coupon C1 is for prices in EUR."),
        ({"kind": "percent", "value": 10, "products": ("js101",)}, "Coupon C1 does not apply to py101."),
        (
            {"kind": "fixed", "value": 500, "currency": "USD", "min_spend": 5000},
            "Coupon C1 needs a spend of at least $50.00.",
        ),
        ({"kind": "percent", "value": 10, "ends_at_days": -1}, "Coupon C1 has expired."),
        ({"kind": "percent", "value": 10, "starts_at_days": 1}, "Coupon C1 is not valid yet."),
    ],
)
async def test_a_coupon_that_does_not_fit_is_refused_and_nothing_changes(
    app: App, shop: Shop, clock: ManualClock, terms: dict[str, object], expected: str
) -> None:
    for key in ("ends_at", "starts_at"):
        days = terms.pop(f"{key}_days", None)
        if days is not None:
            terms[key] = clock.now() + timedelta(days=days)  # type: ignore[operator]
    await add(app, shop, code="C1", **terms)
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as caught:
        await app.services.orders.order_course(shop.community, shop.ana, shop.course, "c1")
    assert reason(caught) == expected
    assert await snapshot(app.db) == before


async def test_use_limits_hold_per_member_and_in_all(app: App, shop: Shop) -> None:
    orders = app.services.orders
    await add(app, shop, code="ONCE", kind="percent", value=10, max_uses=1)
    await add(app, shop, code="MINE", kind="percent", value=10, per_member=1)
    first = await orders.order_course(shop.community, shop.ana, shop.course, "ONCE")
    with pytest.raises(InvalidInput) as caught:
        await orders.order_course(shop.community, shop.ben, shop.course, "ONCE")
    assert reason(caught) == "Coupon ONCE has been used up."

    await orders.record_payment(first.id, provider="sandbox", provider_ref="p", paid=first.amount)
    other = await app.services.catalog.add_course(shop.community, shop.mei, "js101", Money("USD", 900), "JS")
    await orders.order_course(shop.community, shop.ana, other, "MINE")
    with pytest.raises(InvalidInput):
        await orders.order_course(shop.community, shop.ana, other, "ONCE")


async def test_an_expired_or_replaced_order_gives_its_use_back_and_late_money_takes_it_again(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    orders, coupons = app.services.orders, app.services.coupons
    await add(app, shop, code="ONCE", kind="percent", value=10, max_uses=1)
    order = await orders.order_course(shop.community, shop.ana, shop.course, "ONCE")
    clock.advance(timedelta(hours=2))
    await orders.expire_due(clock.now())
    assert (await coupons.get(shop.community, "ONCE")).used == 0

    late = await orders.record_payment(order.id, provider="sandbox", provider_ref="p", paid=order.amount)
    assert late.order.status is Status.FULFILLED
    assert (await coupons.get(shop.community, "ONCE")).used == 1

    replaced = await orders.order_course(shop.community, shop.ben, shop.course)
    with pytest.raises(InvalidInput):
        await orders.order_course(shop.community, shop.ben, shop.course, "ONCE")
    assert (await orders.get(replaced.id)).status is Status.PENDING


async def test_a_free_order_is_delivered_at_once(app: App, shop: Shop) -> None:
    await add(app, shop, code="GIFT", kind="percent", value=100)
    order = await app.services.orders.order_course(shop.community, shop.ana, shop.course, "gift")
    assert (order.status, order.amount, order.provider) == (Status.FULFILLED, Money("USD", 0), "free")
    assert await app.services.catalog.enrollment(shop.ana, shop.course) is not None


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


async def test_two_buyers_racing_for_the_last_use_from_two_processes_one_gets_it(
    app: App, second_app: App, shop: Shop
) -> None:
    await add(app, shop, code="LAST", kind="percent", value=50, max_uses=1)
    community = shop.community
    buyers = [
        await app.services.members.ensure_member(community, UserRef("console", f"b{i}", f"B{i}"))
        for i in range(4)
    ]
    results = await asyncio.gather(
        *(
            process.services.orders.order_course(community, buyer, shop.course, "LAST")
            for process, buyer in zip((app, second_app, app, second_app), buyers, strict=True)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, InvalidInput) for r in results if isinstance(r, BaseException))
    assert (await app.services.coupons.get(community, "LAST")).used == 1


async def test_only_creators_manage_coupons_and_bad_terms_are_refused(app: App, shop: Shop) -> None:
    coupons = app.services.coupons
    with pytest.raises(NotAllowed):
        await coupons.add(shop.community, shop.ana, CouponTerms("X1", "percent", 10))
    bad = [
        (CouponTerms("X", "percent", 10), "A coupon code is 2 to 40 letters, digits, - or _, like SPRING15."),
        (CouponTerms("X1", "percent", 101), "A percent coupon takes 1% to 100%, like 15%."),
        (CouponTerms("X1", "fixed", 500), "A fixed coupon takes an amount with its currency, like 5 USD."),
        (
            CouponTerms("X1", "percent", 10, min_spend=100),
            "A minimum spend needs a currency, like min=50USD.",
        ),
        (CouponTerms("X1", "percent", 10, max_uses=0), USE_LIMITS),
        (CouponTerms("X1", "percent", 10, max_uses=10**6 + 1), USE_LIMITS),
        (CouponTerms("X1", "percent", 10, per_member=0), USE_LIMITS),
        (CouponTerms("X1", "percent", 10, per_member=1001), USE_LIMITS),
    ]
    for terms, expected in bad:
        with pytest.raises(InvalidInput) as caught:
            await coupons.add(shop.community, shop.mei, terms)
        assert reason(caught) == expected
    await coupons.add(shop.community, shop.mei, CouponTerms("X1", "percent", 10))
    with pytest.raises(InvalidInput) as caught:
        await coupons.add(shop.community, shop.mei, CouponTerms("x1", "percent", 20))
    assert reason(caught) == "There is already a coupon X1."
    await coupons.disable(shop.community, shop.mei, "x1")
    with pytest.raises(InvalidInput) as caught:
        await app.services.orders.order_course(shop.community, shop.ana, shop.course, "X1")
    assert reason(caught) == "Coupon X1 has expired."


def test_coupon_terms_read_what_a_creator_typed_and_name_the_refused_field() -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from core.catalog.coupons import coupon_terms

    zone = ZoneInfo("Asia/Shanghai")
    terms = coupon_terms("x5", "5 USD", zone, min_spend="50", until=date(2026, 3, 31), products=("py101",))
    assert (terms.kind, terms.value, terms.currency, terms.min_spend) == ("fixed", 500, "USD", 5000)
    assert terms.ends_at is not None and terms.ends_at.isoformat() == "2026-04-01T00:00:00+08:00"
    assert coupon_terms("p", "15%", zone, min_spend="20 EUR").currency == "EUR"
    for off, min_spend, field in (
        ("lots%", None, "off"),
        ("5.555 USD", None, "off"),
        ("5 USD", "10EUR", "min"),
    ):
        with pytest.raises(InvalidInput) as caught:
            coupon_terms("x", off, zone, min_spend=min_spend)
        assert caught.value.field == field  # type: ignore[attr-defined]
