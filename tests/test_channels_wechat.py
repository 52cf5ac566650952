"""Channel attribution through the real WeChat adapter (callbacks POSTed over HTTP, the WeChat API
a local fake): a follow by a QR code whose scene is ``src_TAG-ref_CODE`` records the touch and
the referral; a later scan moves the last touch; /channel links on WeChat sends the QR image."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import App
from core.channels.tables import channel_touches
from core.members.models import Role
from tests.conftest import console_member
from tests.test_wechat_adapter import ANA, BEN, Server, _server
from tests.wechat_peer import event_xml, post


@pytest.fixture
async def wechat(app: App) -> AsyncIterator[Server]:
    async for running in _server(app, False):
        yield running


async def test_a_tagged_qr_follow_and_a_later_scan_are_touches(wechat: Server, app: App) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    channels = app.services.channels
    await channels.add(community, mei, "xhs")
    await channels.add(community, mei, "wx")
    await wechat.say(ANA, "积分")
    ana = await app.services.members.find_by_identity(community.id, "wechat", ANA)
    assert ana is not None
    code = await app.services.referrals.code_of(ana)
    scene = f"src_xhs-ref_{code}"
    follow = event_xml(BEN, "subscribe", f"qrscene_{scene}", ticket=f"ticket-{scene}")
    welcome = wechat.content((await post(wechat.base, wechat.request(follow)))[1])
    assert "欢迎" in welcome and "邀请了你" in welcome  # the referral half still works
    ben = await app.services.members.find_by_identity(community.id, "wechat", BEN)
    assert ben is not None
    assert await channels.touches_of(ben) == ("xhs", "xhs")
    # Scanning another channel's code as a follower: the last touch moves, the first stays.
    scan = event_xml(BEN, "SCAN", "src_wx", ticket="ticket-src_wx")
    assert (await post(wechat.base, wechat.request(scan)))[0] == 200
    assert await channels.touches_of(ben) == ("xhs", "wx")
    # An unknown tag is ignored silently.
    unknown = event_xml(BEN, "SCAN", "src_gone", ticket="ticket-src_gone")
    assert (await post(wechat.base, wechat.request(unknown)))[0] == 200
    async with app.db.read() as conn:
        via = (await conn.execute(select(channel_touches.c.via))).scalars().all()
    assert via == ["wechat", "wechat"]


async def test_channel_links_on_wechat_send_the_channels_qr_code(wechat: Server, app: App) -> None:
    community = await app.community()
    await wechat.say(ANA, "积分")
    ana = await app.services.members.find_by_identity(community.id, "wechat", ANA)
    assert ana is not None
    await app.services.members.assign_role(community, ana, Role.CREATOR, via="test")
    text = await wechat.say(ANA, "/channel add xhs 小红书")
    assert "src_xhs" in text
    for _ in range(50):
        if wechat.fake.sent("image"):
            break
        await asyncio.sleep(0.05)
    [image] = wechat.fake.sent("image")
    assert image["touser"] == ANA
    [create] = [body for _, path, _, body in wechat.fake.calls if path.endswith("qrcode/create")]
    assert create["action_info"]["scene"]["scene_str"] == "src_xhs"
