"""core/catalog/mall.py: points for items, with stock and limits, exactly once under races."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.app import App
from bot.config import Config
from core.catalog.mall import MallItem
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.events import UserRef
from core.i18n import render
from core.ledger.service import Balance
from core.members.models import Member
from tests.conftest import snapshot
from tests.shop_fixtures import Shop

STOCK_RANGE = "Stock is 0 to 1000000, or unlimited."
PER_RANGE = "A member may redeem an item 1 to 1000 times."


def reason(error: pytest.ExceptionInfo[Exception]) -> str:
    return render(error.value.message, "en")  # type: ignore[attr-defined]


async def fund(app: App, shop: Shop, member: Member, points: int) -> None:
    await app.services.points.award(
        shop.community, shop.mei, member, points, "fund", f"fund:{member.id}:{points}"
    )


async def item(app: App, shop: Shop, **values: object) -> MallItem:
    values.setdefault("kind", "reward")
    values.setdefault("title", "Studyhall mug")
    return await app.services.mall.add(shop.community, shop.mei, **values)  # type: ignore[arg-type]


async def balance(app: App, shop: Shop, member: Member) -> int:
    return (await app.services.ledger.balance(shop.community.id, member.id)).balance


async def test_a_reward_costs_its_points_and_one_from_stock(app: App, shop: Shop) -> None:
    mall = app.services.mall
    await item(app, shop, code="mug", points=30, stock=2, note="We post it")
    await fund(app, shop, shop.ana, 100)

    done = await mall.redeem(shop.community, shop.ana, "mug", "redeem:1")
    again = await mall.redeem(shop.community, shop.ana, "mug", "redeem:1")  # the same request, redelivered

    assert (done.points, done.replayed, again.replayed) == (30, False, True)
    assert await balance(app, shop, shop.ana) == 70
    assert (await mall.get(shop.community, "mug")).stock == 1
    assert await app.services.ledger.balances_match_transfers(shop.community.id)


async def test_too_few_points_sold_out_hidden_and_limits_change_nothing(app: App, shop: Shop) -> None:
    mall = app.services.mall
    await item(app, shop, code="mug", points=30, stock=1)
    await item(app, shop, code="pin", points=5, per_member=1)
    await fund(app, shop, shop.ana, 40)
    await mall.redeem(shop.community, shop.ana, "pin", "r:pin:1")
    with pytest.raises(InvalidInput):  # opens Ben's (empty) points account: not a change of value
        await mall.redeem(shop.community, shop.ben, "mug", "r:first")
    before = await snapshot(app.db)

    cases = [
        ("mug", shop.ben, "Studyhall mug costs 30 points; you have 0."),
        ("pin", shop.ana, "You have redeemed Studyhall mug as often as allowed."),
        ("nope", shop.ana, "There is no mall item nope. /mall lists them."),
    ]
    for code, member, expected in cases:
        with pytest.raises(InvalidInput) as caught:
            await mall.redeem(shop.community, member, code, f"r:{code}:{member.id}")
        assert reason(caught) == expected
    assert await snapshot(app.db) == before

    await mall.redeem(shop.community, shop.ana, "mug", "r:mug:ana")
    await fund(app, shop, shop.ben, 30)
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as caught:
        await mall.redeem(shop.community, shop.ben, "mug", "r:mug:ben")
    assert reason(caught) == "Studyhall mug is sold out."
    assert await snapshot(app.db) == before


async def test_a_course_item_grants_the_course_and_a_coupon_item_issues_a_usable_code(
    app: App, shop: Shop
) -> None:
    mall, orders = app.services.mall, app.services.orders
    await app.services.coupons.add(
        shop.community,
        shop.mei,
        __import__("core.catalog.coupons", fromlist=["CouponTerms"]).CouponTerms("HALF", "percent", 50),
    )
    await item(app, shop, code="py", points=100, kind="course", target="py101", title="")
    await item(app, shop, code="half", points=20, kind="coupon", target="half", title="Half price")
    await fund(app, shop, shop.ana, 100)
    await fund(app, shop, shop.ben, 20)

    await mall.redeem(shop.community, shop.ana, "py", "r:1")
    assert await app.services.catalog.enrollment(shop.ana, shop.course) is not None
    with pytest.raises(InvalidInput):
        await mall.redeem(shop.community, shop.ana, "py", "r:2")

    issued = await mall.redeem(shop.community, shop.ben, "half", "r:3")
    assert issued.coupon_code and issued.coupon_code.startswith("HALF-")
    order = await orders.order_course(shop.community, shop.ben, shop.course, issued.coupon_code)
    assert order.amount.minor == 1000
    with pytest.raises(InvalidInput):  # single use
        await orders.order_course(shop.community, shop.ana, shop.course, issued.coupon_code)


async def test_only_creators_stock_the_mall(app: App, shop: Shop) -> None:
    mall = app.services.mall
    with pytest.raises(NotAllowed):
        await mall.add(shop.community, shop.ana, code="mug", points=5, kind="reward", title="Mug")
    for values, expected in [
        ({"code": "m", "points": 5, "kind": "reward", "title": "Mug"}, "An item code is 2 to 30"),
        (
            {"code": "mug", "points": 0, "kind": "reward", "title": "Mug"},
            "An item costs 1 to 1000000000 points.",
        ),
        ({"code": "mug", "points": 5, "kind": "reward", "title": "Mug", "stock": -1}, STOCK_RANGE),
        ({"code": "mug", "points": 5, "kind": "reward", "title": "Mug", "stock": 10**6 + 1}, STOCK_RANGE),
        ({"code": "mug", "points": 5, "kind": "reward", "title": "Mug", "per_member": 0}, PER_RANGE),
        ({"code": "mug", "points": 5, "kind": "reward", "title": "Mug", "per_member": 1001}, PER_RANGE),
        (
            {"code": "mug", "points": 5, "kind": "car", "title": "Mug"},
            "An item is one of: course, coupon, reward.",
        ),
        (
            {"code": "mug", "points": 5, "kind": "course", "title": "", "target": "nope"},
            "There is no course nope.",
        ),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await mall.add(shop.community, shop.mei, **values)  # type: ignore[arg-type]
        assert reason(caught).startswith(expected)


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


async def test_members_racing_from_two_processes_for_the_last_item_one_gets_it(
    app: App, second_app: App, shop: Shop
) -> None:
    await item(app, shop, code="mug", points=30, stock=1)
    buyers = [
        await app.services.members.ensure_member(shop.community, UserRef("console", f"b{i}", f"B{i}"))
        for i in range(6)
    ]
    for buyer in buyers:
        await fund(app, shop, buyer, 30)

    results = await asyncio.gather(
        *(
            (app if i % 2 else second_app).services.mall.redeem(shop.community, buyer, "mug", f"r:{buyer.id}")
            for i, buyer in enumerate(buyers)
        ),
        return_exceptions=True,
    )

    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, InvalidInput) for r in results if isinstance(r, BaseException))
    assert sorted([await balance(app, shop, b) for b in buyers]) == [0, 30, 30, 30, 30, 30]
    assert (await app.services.mall.get(shop.community, "mug")).stock == 0
    assert await app.services.ledger.balances_match_transfers(shop.community.id)


async def test_one_member_racing_herself_past_the_limit_from_two_processes_gets_one(
    app: App, second_app: App, shop: Shop
) -> None:
    await item(app, shop, code="pin", points=5, per_member=1)
    await fund(app, shop, shop.ana, 50)
    results = await asyncio.gather(
        *(
            (app, second_app)[i % 2].services.mall.redeem(shop.community, shop.ana, "pin", f"r:{i}")
            for i in range(4)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert await app.services.ledger.balance(shop.community.id, shop.ana.id) == Balance(45, 50)


async def test_a_course_with_a_points_price_is_bought_with_points_once(app: App, shop: Shop) -> None:
    mall, catalog = app.services.mall, app.services.catalog
    with pytest.raises(InvalidInput) as caught:
        await mall.buy_course_with_points(shop.community, shop.ana, shop.course, "b:0")
    assert reason(caught) == "Python for data analysis cannot be bought with points."
    course = await catalog.edit_course(shop.community, shop.mei, "py101", "points", 300)
    await fund(app, shop, shop.ana, 250)
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as caught:
        await mall.buy_course_with_points(shop.community, shop.ana, course, "b:1")
    assert reason(caught) == "Python for data analysis costs 300 points; you have 250."
    # Nothing changed but the (empty) redemption account the ledger opened on first touch.
    assert await snapshot(app.db, exclude=("activity", "ledger_accounts")) == {
        k: v for k, v in before.items() if k != "ledger_accounts"
    }
    assert await balance(app, shop, shop.ana) == 250

    await fund(app, shop, shop.ana, 100)
    assert await mall.buy_course_with_points(shop.community, shop.ana, course, "b:2") == 300
    assert await catalog.enrollment(shop.ana, course) is not None
    assert await balance(app, shop, shop.ana) == 50
    with pytest.raises(InvalidInput):
        await mall.buy_course_with_points(shop.community, shop.ana, course, "b:3")
    assert await balance(app, shop, shop.ana) == 50
    lines = await mall.recent_redemptions(shop.community, shop.mei)
    assert [(line.member_name, line.item_title, line.points) for line in lines] == [
        ("Ana", "Python for data analysis", 300)
    ]


async def test_buying_a_course_with_points_twice_at_once_from_two_processes_spends_once(
    app: App, second_app: App, shop: Shop
) -> None:
    course = await app.services.catalog.edit_course(shop.community, shop.mei, "py101", "points", 30)
    await fund(app, shop, shop.ana, 100)
    results = await asyncio.gather(
        *(
            (app, second_app)[i % 2].services.mall.buy_course_with_points(
                shop.community, shop.ana, course, f"b:{i}"
            )
            for i in range(4)
        ),
        return_exceptions=True,
    )
    assert sum(r == 30 for r in results) == 1
    assert await balance(app, shop, shop.ana) == 70
