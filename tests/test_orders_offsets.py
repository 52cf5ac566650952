"""core/orders/offsets.py: points paying part of a price — the plan's arithmetic, held at order
time, spent when paid, released when the order lapses or is cancelled, returned pro rata on
refunds; refusals with both numbers; every step a keyed ledger transfer, so the ledger sums to
zero and no member goes below zero whatever the order of events (hypothesis), and two orders
racing for the same points take them once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App
from bot.config import Config
from core.audit import log as audit
from core.catalog.models import Product
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput
from core.events import UserRef
from core.i18n import render
from core.ledger.models import Kind, MemberAccount, Posting, SystemAccount, SystemCode
from core.members.models import Member, Role
from core.orders.models import Status
from core.orders.offsets import ALL, Offset, plan_offset
from tests.conftest import START, ConsoleDriver, open_shop, snapshot
from tests.shop_fixtures import Shop
from tests.test_cli import studyhall
from tests.test_wechat_adapter import ANA, _member, _server

USD_19_99 = Money("USD", 1999)


# -- the arithmetic ---------------------------------------------------------------------------


def test_points_pay_up_to_the_cap_and_the_balance() -> None:
    # 100 points make $1; up to 30% of $19.99 = $5.99 (599 cents) = 599 points
    assert plan_offset(USD_19_99, 100, 30, 10_000, ALL) == Offset(599, 599)
    assert plan_offset(USD_19_99, 100, 30, 250, ALL) == Offset(250, 250)
    assert plan_offset(USD_19_99, 100, 30, 10_000, 300) == Offset(300, 300)


def test_only_the_fewest_points_worth_the_offset_are_taken() -> None:
    # 3 points make ¥1 (100 fen): 4 points are worth 133 fen, and 4 is the fewest for that
    assert plan_offset(Money("CNY", 10_000), 3, 50, 4, ALL) == Offset(4, 133)
    # Stars have no minor unit: 10 points a star, 25 points buy 2 stars and only 20 are taken
    assert plan_offset(Money("XTR", 50), 10, 100, 25, ALL) == Offset(20, 2)


@pytest.mark.parametrize(
    ("wanted", "balance", "says"),
    [
        (700, 10_000, "at most 599 points toward $19.99 (that is 30%), and you have 10000"),
        (500, 120, "at most 599 points toward $19.99 (that is 30%), and you have 120"),
    ],
)
def test_more_than_the_cap_or_the_balance_is_refused_with_both_numbers(
    wanted: int, balance: int, says: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        plan_offset(USD_19_99, 100, 30, balance, wanted)
    assert says in render(refused.value.message, "en")


def test_points_worth_nothing_or_an_offset_turned_off_are_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        plan_offset(USD_19_99, 1000, 30, 5, ALL)
    assert "5 points are not enough to pay any part of $19.99: 1000 points make $1.00." in render(
        refused.value.message, "en"
    )
    with pytest.raises(InvalidInput):
        plan_offset(USD_19_99, 0, 30, 5000, ALL)
    with pytest.raises(InvalidInput):
        plan_offset(USD_19_99, 100, 0, 5000, ALL)


# -- in the shop ------------------------------------------------------------------------------


async def _terms(app: App, shop: Shop, rate: int = 100, percent: int = 30) -> None:
    settings_ = app.services.settings
    await settings_.set(shop.community.id, "points.offset_rate", str(rate), actor=shop.mei)
    await settings_.set(shop.community.id, "points.offset_max_percent", str(percent), actor=shop.mei)


async def _give(app: App, member: Member, points: int, key: str = "gift") -> None:
    await app.services.ledger.post(
        Posting(
            community_id=member.community_id,
            debit=SystemAccount(SystemCode.ISSUANCE),
            credit=MemberAccount(member.id),
            amount=points,
            kind=Kind.AWARD,
            key=f"{key}:{member.id}",
            at=app.clock.now(),
        )
    )


async def _balance(app: App, member: Member) -> int:
    return (await app.services.ledger.balance(member.community_id, member.id)).balance


async def test_points_are_held_then_spent_and_come_back_pro_rata_on_refunds(app: App, shop: Shop) -> None:
    await _terms(app, shop)
    await _give(app, shop.ana, 1000)
    orders = app.services.orders
    order = await orders.order(shop.community, shop.ana, Product.of(shop.course), use_points=ALL)
    assert (order.offset_points, order.offset_minor, order.amount) == (599, 599, Money("USD", 1400))
    assert await _balance(app, shop.ana) == 401  # held in escrow
    await app.settle_payment(order.id, "sandbox", "sandbox:1", order.amount)
    assert (await orders.get(order.id)).status is Status.FULFILLED
    assert await _balance(app, shop.ana) == 401 + 14  # spent; the purchase earned 14 points
    ledger = app.services.ledger
    assert await ledger.system_balance(shop.community.id, SystemAccount(SystemCode.ESCROW)) == 0

    await orders.refund(shop.community, shop.mei, order.id, 700)  # half of the $14 charged
    assert await _balance(app, shop.ana) == 401 + 14 + 299 - 7  # 599 × 700/1400; purchase points back
    await orders.refund(shop.community, shop.mei, order.id, None)  # the rest
    assert await _balance(app, shop.ana) == 1000  # every point back, the purchase's taken away
    assert await ledger.balances_match_transfers(shop.community.id)


async def test_a_lapsed_or_cancelled_order_gives_its_points_back(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    await _terms(app, shop)
    await _give(app, shop.ana, 1000)
    orders = app.services.orders
    first = await orders.order(shop.community, shop.ana, Product.of(shop.course), use_points=200)
    assert await _balance(app, shop.ana) == 800
    second = await orders.order(shop.community, shop.ana, Product.of(shop.course), use_points=300)
    assert (await orders.get(first.id)).status is Status.CANCELLED  # replaced: its 200 came back
    assert await _balance(app, shop.ana) == 700
    await orders.cancel(shop.ana, second.id)
    assert await _balance(app, shop.ana) == 1000
    third = await orders.order(shop.community, shop.ana, Product.of(shop.course), use_points=ALL)
    clock.advance(timedelta(hours=2))
    assert await orders.expire_due(clock.now()) == 1
    assert await _balance(app, shop.ana) == 1000
    # A payment that arrives after the order lapsed still completes it, and takes the points again.
    await app.settle_payment(third.id, "sandbox", "sandbox:late", third.amount)
    assert await _balance(app, shop.ana) == 1000 - 599 + 14


async def test_a_late_payment_finding_the_points_spent_meanwhile_is_audited(
    app: App, shop: Shop, clock: ManualClock
) -> None:
    await _terms(app, shop)
    await _give(app, shop.ana, 599)
    orders = app.services.orders
    order = await orders.order(shop.community, shop.ana, Product.of(shop.course), use_points=ALL)
    clock.advance(timedelta(hours=2))
    await orders.expire_due(clock.now())
    await app.services.ledger.post(
        Posting(
            community_id=shop.community.id,
            debit=MemberAccount(shop.ana.id),
            credit=SystemAccount(SystemCode.REDEMPTION),
            amount=500,
            kind=Kind.SPEND,
            key="mall",
            at=clock.now(),
        )
    )
    await app.settle_payment(order.id, "sandbox", "sandbox:late", order.amount)
    assert await _balance(app, shop.ana) == 14  # the 99 left were taken; the purchase earned 14
    async with app.db.read() as conn:
        entries = [e for e in await audit.recent(conn, shop.community.id) if e.action == "order.offset_short"]
    assert [e.detail for e in entries] == [{"order": order.id, "wanted": 599, "taken": 99}]


async def test_points_paying_all_of_a_price_deliver_at_once(app: App, shop: Shop) -> None:
    await _terms(app, shop, rate=100, percent=100)
    await _give(app, shop.ana, 50_000)
    order = await app.services.orders.order(shop.community, shop.ana, Product.of(shop.course), use_points=ALL)
    assert order.status is Status.FULFILLED and order.amount.minor == 0
    assert order.offset_points == 1999 and await _balance(app, shop.ana) == 50_000 - 1999


async def test_refusals_change_nothing(app: App, shop: Shop) -> None:
    await _terms(app, shop)
    await _give(app, shop.ana, 100)
    orders = app.services.orders
    for rate, wanted in ((100, 700), (100, 101), (0, ALL)):
        await _terms(app, shop, rate=rate)
        before = await snapshot(app.db)
        with pytest.raises(InvalidInput):
            await orders.order(shop.community, shop.ana, Product.of(shop.course), use_points=wanted)
        assert await snapshot(app.db) == before


async def test_two_orders_racing_for_the_same_points_take_them_once(app: App, shop: Shop) -> None:
    await _terms(app, shop)
    await _give(app, shop.ana, 599)
    bundle_course = await app.services.catalog.add_course(
        shop.community, shop.mei, "sql1", Money("USD", 1999), "SQL in practice"
    )
    orders = app.services.orders
    results = await asyncio.gather(
        orders.order(shop.community, shop.ana, Product.of(shop.course), use_points=599),
        orders.order(shop.community, shop.ana, Product.of(bundle_course), use_points=599),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1 and len(refused) == 1 and isinstance(refused[0], InvalidInput)
    assert await _balance(app, shop.ana) == 0
    assert await app.services.ledger.balances_match_transfers(shop.community.id)


async def test_usepoints_in_the_chat(console: ConsoleDriver, app: App) -> None:
    shop = await open_shop(app)
    await _terms(app, shop)
    await _give(app, shop.ana, 1000)
    await console(":as Ana")
    said = await console.text("/buy py101 usepoints 300")
    assert "300 points pay $3.00: held until you pay, back to you if the order lapses." in said
    assert "$16.99" in said
    assert "at most 599 points toward $19.99 (that is 30%), and you have 700" in await console.text(
        "/buy py101 usepoints 900"
    )
    assert "Usage: /buy CODE [COUPON] [usepoints [N]]" in await console.text("/buy py101 A B")
    await console.text("/buy py101 usepoints")
    paid = await console.text(":pay")
    assert "Payment received" in paid
    assert await _balance(app, shop.ana) == 1000 - 599 + 14


# -- the ledger's invariants under any order of events ------------------------------------------

EVENTS = st.lists(
    st.sampled_from(["order", "order_all", "pay", "expire", "cancel", "refund_half", "refund_all", "spend"]),
    min_size=1,
    max_size=12,
)
_worlds = itertools.count()


@pytest.fixture
def sync_app(config: Config) -> Iterator[tuple[asyncio.Runner, App]]:
    with asyncio.Runner() as runner:
        app = runner.run(App.open(config, clock=ManualClock(START)))
        yield runner, app
        runner.run(app.close())


async def _world(app: App) -> Shop:
    """A community of its own for one example: Mei, Ana, Ben and py101, with points paying up to half."""
    community = await app.community(f"offsets-{next(_worlds)}")
    members = app.services.members
    mei, ana, ben = [
        await members.ensure_member(community, UserRef("console", name.lower(), name))
        for name in ("Mei", "Ana", "Ben")
    ]
    mei = await members.assign_role(community, mei, Role.CREATOR, via="test")
    course = await app.services.catalog.add_course(community, mei, "py101", USD_19_99, "Python")
    shop = Shop(community, mei, ana, ben, course)
    await _terms(app, shop, rate=100, percent=50)
    await _give(app, ana, 1500)
    return shop


async def _play(app: App, shop: Shop, events: list[str]) -> None:
    orders = app.services.orders
    clock = app.clock
    assert isinstance(clock, ManualClock)
    current = None
    for index, event in enumerate(events):
        try:
            if event in ("order", "order_all"):
                wanted = 300 if event == "order" else ALL
                current = await orders.order(
                    shop.community, shop.ana, Product.of(shop.course), use_points=wanted
                )
            elif current is None:
                continue
            elif event == "pay":
                await app.settle_payment(current.id, "sandbox", f"sandbox:{index}", current.amount)
            elif event == "expire":
                clock.advance(timedelta(hours=2))
                await orders.expire_due(clock.now())
            elif event == "cancel":
                await orders.cancel(shop.ana, current.id)
            elif event.startswith("refund"):
                amount = max(1, current.amount.minor // 2) if event == "refund_half" else None
                await orders.refund(shop.community, shop.mei, current.id, amount)
            elif event == "spend":  # the member spends elsewhere meanwhile (the mall)
                await app.services.ledger.post(
                    Posting(
                        community_id=shop.community.id,
                        debit=MemberAccount(shop.ana.id),
                        credit=SystemAccount(SystemCode.REDEMPTION),
                        amount=200,
                        kind=Kind.SPEND,
                        key=f"spend:{index}",
                        at=clock.now(),
                        partial=True,
                    )
                )
        except InvalidInput:
            pass
        await orders.settle_offsets()
        total, lowest = await app.services.ledger.totals(shop.community.id)
        assert total == 0 and lowest == 0, (events[: index + 1], total, lowest)
        assert await app.services.ledger.balances_match_transfers(shop.community.id)
    # Whatever happened, no points stay in escrow for an order that is no longer pending.
    pending = current is not None and (await orders.get(current.id)).status is Status.PENDING
    escrow = await app.services.ledger.system_balance(shop.community.id, SystemAccount(SystemCode.ESCROW))
    assert escrow == (current.offset_points if pending and current is not None else 0) or pending


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_the_ledger_sums_to_zero_and_nobody_goes_negative(
    sync_app: tuple[asyncio.Runner, App], events: list[str]
) -> None:
    runner, app = sync_app
    runner.run(_play(app, runner.run(_world(app)), events))


# -- end to end: the console in a subprocess, and a WeChat follower ------------------------------

OFFSET_SCRIPT = """\
:as Mei creator
/course add py101 19.99 USD Python for data analysis
/rules set points.offset_rate 100
/rules set points.offset_max_percent 30
:as Ana
/points
:as Mei
/award @Ana 400 great notes
:as Ana
/buy py101 usepoints 900
/buy py101 usepoints 250
:pay
/points
"""


def test_usepoints_in_a_console_subprocess(db_url: str, tmp_path: Path) -> None:
    result = studyhall(
        ["console", "--db", db_url, "--community", "offsethall"], tmp_path, stdin=OFFSET_SCRIPT
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "at most 599 points toward $19.99 (that is 30%), and you have 400." in out
    assert "250 points pay $2.50: held until you pay, back to you if the order lapses." in out
    assert "Order #1: Python for data analysis, $17.49." in out
    assert "Payment received for order #1: Python for data analysis." in out
    assert "Traceback" not in out + result.stderr


async def test_a_wechat_follower_uses_points_toward_a_price(app: App) -> None:
    async for wx in _server(app, False):
        shop = await open_shop(app)
        await _terms(app, shop)
        await wx.say(ANA, "积分")
        member = await app.services.members.get_member(await _member(app, ANA))
        await _give(app, member, 300)
        said = await wx.say(ANA, "/buy py101 usepoints")
        assert "300 积分抵扣 US$3.00：付款前先冻结，订单失效则退还。" in said, said  # her language
        order = await app.services.orders.pending(member, "sandbox")
        assert order is not None and order.offset_points == 300
