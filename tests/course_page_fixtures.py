"""The course pages' world: the web world (tests/web_fixtures.py) with a published course that
has lessons (one on a drip), two reviews and a bundle, a hidden course, and Ana's referral code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.config import Config
from core.catalog.models import Course
from core.catalog.money import Money
from core.clock import ManualClock
from tests.conftest import open_shop
from tests.web_fixtures import WebWorld, web_world

DESCRIPTION = (
    "Learn **pandas** by doing.\n\n<script>alert(1)</script>\n\n"
    '<img src=x onerror="alert(2)">\n\n[notes](javascript:alert(3))'
)


@dataclass
class Hall:
    world: WebWorld
    course: Course
    ref_code: str  # Ana's


@pytest.fixture
async def hall(config: Config, clock: ManualClock) -> AsyncIterator[Hall]:
    async with web_world(config, clock, public_url="https://learn.example.org") as world:
        yield await build_hall(world)


async def build_hall(world: WebWorld) -> Hall:
    app = world.app
    shop = await open_shop(app)  # py101 with two lessons, the second two days after purchase
    community, mei = shop.community, shop.mei
    catalog = app.services.catalog
    await catalog.edit_course(community, mei, "py101", "title", "Python for data")
    await catalog.edit_course(community, mei, "py101", "description", DESCRIPTION)
    course = await catalog.edit_course(community, mei, "py101", "points", 500)
    await catalog.add_course(community, mei, "draft1", Money("USD", 500), "Not ready")
    await catalog.set_hidden(community, mei, "draft1", True)
    await catalog.add_course(community, mei, "sql1", Money("USD", 900), "SQL basics")
    await catalog.add_bundle(community, mei, "data", Money("USD", 2500), "Data starter", ["py101", "sql1"])
    orders = app.services.orders
    for member, stars, text in ((shop.ana, 5, "Clear <b>and</b> practical."), (shop.ben, 4, "")):
        order = await orders.order_course(community, member, course)
        paid = order.amount
        await orders.record_payment(order.id, provider="sandbox", provider_ref=f"r{order.id}", paid=paid)
        await app.services.reviews.review(member, course, stars, text)
    return Hall(world, course, await app.services.referrals.code_of(shop.ana))
