"""/为你推荐 from a WeChat follower, through the real WeChat adapter (its callback server, fed
with wechatpy's own crypto) on loopback: the passive reply carries their picks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import App
from core.events import UserRef
from tests.shop_fixtures import Shop
from tests.test_recommend_service import _catalog, _crowd, _own
from tests.test_wechat_adapter import ANA, Server, _server


@pytest.fixture(params=["plain", "safe"])
async def server(app: App, request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    async for running in _server(app, request.param == "safe"):
        yield running


async def test_a_wechat_follower_gets_their_picks_in_the_passive_reply(
    server: Server, app: App, shop: Shop
) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    await server.say(ANA, "/start")
    follower = await app.services.members.ensure_member(shop.community, UserRef("wechat", ANA, ANA))
    await _own(app, follower, ids["py101"])
    reply = await server.say(ANA, "/为你推荐")
    lines = reply.splitlines()
    assert lines[0] == "为你挑选："  # the follower's language, money in their locale
    assert "1. SQL for analysts（sql），US$9.00" in lines
    assert "   理由：学了 Python for data analysis 的学员也学了这门" in lines
    assert "（py101）" not in reply  # owned: never recommended
    assert server.fake.sent() == []  # answered passively, within WeChat's 5 seconds
