"""The learner pages' world (a plugin fixture: conftest): the web world with a Telegram token
for Mini App sign-in and the shop, where Ana owns py101 and has done its first lesson and Ben
has an order of his own; and ``web_link``, the sign-in link /web sends a member."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from bot.config import Config, Secret
from core.clock import ManualClock
from tests.conftest import open_shop
from tests.mini_app_fixtures import TOKEN
from tests.web_fixtures import WebWorld, web_world

LINK = re.compile(r"(https?://\S+/me/login/[A-Za-z0-9_-]+)")


@pytest.fixture
async def learners(config: Config, clock: ManualClock) -> AsyncIterator[WebWorld]:
    """The web world with a Telegram token (for Mini App sign-in) and the shop: Ana owns py101
    and has done its first lesson; Ben has an order of his own."""
    telegram = {"telegram": {"token": Secret(TOKEN)}}
    async with web_world(config, clock, adapter_settings=telegram) as world:
        app = world.app
        shop = await open_shop(app)
        orders = app.services.orders
        for member in (shop.ana, shop.ben):
            order = await orders.order_course(shop.community, member, shop.course)
            await orders.record_payment(
                order.id, provider="sandbox", provider_ref=f"r{order.id}", paid=order.amount
            )
        await app.services.catalog.learn(shop.ana, shop.course)
        yield world


async def web_link(world: WebWorld, name: str) -> str:
    text = await world.console.text(f":as {name}", ":dm", "/web")
    found = LINK.search(text)
    assert found, text
    return urlsplit(found.group(1)).path
