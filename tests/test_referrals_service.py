"""core/referrals/service.py: codes, attribution rules (also racing between processes),
rewards under the daily cap, and the first-purchase reward taken back by a full refund."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.config import Config
from core.catalog.money import Money
from core.clock import ManualClock
from core.events import UserRef
from core.referrals.service import CODE, code_from_payload
from core.referrals.tables import referrals
from tests.shop_fixtures import Shop


@pytest.fixture
async def second_app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


def test_start_payloads() -> None:
    assert code_from_payload("ref_abcd2345") == "abcd2345"
    assert code_from_payload("REF_ABCD2345") == "abcd2345"
    assert code_from_payload("hello") is None
    assert code_from_payload(None) is None


async def test_a_code_is_made_once_and_kept(app: App, shop: Shop) -> None:
    code = await app.services.referrals.code_of(shop.ana)
    assert CODE.match(code)
    assert await app.services.referrals.code_of(shop.ana) == code
    assert await app.services.referrals.code_of(shop.ben) != code


async def test_two_codes_started_at_once_in_two_processes_attribute_one(
    app: App, second_app: App, shop: Shop
) -> None:
    community = shop.community
    omar = await app.services.members.ensure_member(community, UserRef("console", "omar", "Omar"))
    codes = [await app.services.referrals.code_of(m) for m in (shop.ben, omar)]
    results = await asyncio.gather(
        app.services.referrals.attribute(community, shop.ana, codes[0]),
        second_app.services.referrals.attribute(community, shop.ana, codes[1]),
        app.services.referrals.attribute(community, shop.ana, codes[1]),
    )
    assert sum(r is not None for r in results) == 1
    async with app.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(referrals))).scalar() == 1
    # The welcome points were posted once.
    assert (await app.services.ledger.balance(community.id, shop.ana.id)).balance == 10


async def test_staff_links_count_when_the_community_says_so(app: App, shop: Shop) -> None:
    code = await app.services.referrals.code_of(shop.mei)
    assert await app.services.referrals.attribute(shop.community, shop.ana, code) is None
    await app.services.settings.set(shop.community.id, "referral.staff", "on", actor=shop.mei)
    came = await app.services.referrals.attribute(shop.community, shop.ana, code)
    assert came is not None and came.referrer.id == shop.mei.id


async def test_referral_points_stop_at_the_daily_cap(app: App, shop: Shop, clock: ManualClock) -> None:
    await app.services.settings.set(shop.community.id, "cap.referral", "25", actor=shop.mei)
    community, members = shop.community, app.services.members
    code = await app.services.referrals.code_of(shop.ben)
    for name in ("c1", "c2"):
        newcomer = await members.ensure_member(community, UserRef("console", name, name))
        await app.services.referrals.attribute(community, newcomer, code)
        await app.services.points.checkin(community, newcomer, clock.now())
    assert await app.services.referrals.reward_joins(clock.now()) == 2
    stats = await app.services.referrals.stats(shop.ben)
    assert (stats.invited, stats.joined, stats.points) == (2, 2, 25)  # 20, then 5 of the next 20


async def test_a_full_refund_of_the_first_order_takes_its_reward_back(app: App, shop: Shop) -> None:
    code = await app.services.referrals.code_of(shop.ben)
    await app.services.referrals.attribute(shop.community, shop.ana, code)
    orders = app.services.orders
    order = await orders.order_course(shop.community, shop.ana, shop.course)
    await orders.record_payment(order.id, provider="sandbox", provider_ref="p1", paid=Money("USD", 1999))
    assert (await app.services.ledger.balance(shop.community.id, shop.ben.id)).balance == 50
    await orders.record_refund(order.id, refunded_total=1999, provider_ref="r1")
    assert (await app.services.ledger.balance(shop.community.id, shop.ben.id)).balance == 0
