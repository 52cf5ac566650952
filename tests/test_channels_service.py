"""Channel attribution in the core: tags, touches (first and last), the report with CAC/ROI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from bot.app import App
from core.activity.tables import activity
from core.audit import log as audit
from core.catalog.models import Course
from core.catalog.money import Money
from core.channels.payload import entry_payload, split_payload
from core.channels.tables import channel_touches
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.events import ChatKind, ChatRef, UserRef
from core.i18n import render
from core.members.models import Community, Member, Role
from tests.conftest import console_member, snapshot


async def buy(app: App, member: Member, course: Course, amount: int = 1000) -> None:
    community = await app.community()
    order = await app.services.orders.order_course(community, member, course)
    await app.services.orders.record_payment(
        order.id, provider="sandbox", provider_ref=f"p{order.id}", paid=Money("USD", amount)
    )


async def setup(app: App) -> tuple[Community, Member, Course]:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    course = await app.services.catalog.add_course(community, mei, "py101", Money("USD", 1000), "Python")
    return community, mei, course


def test_payloads_carry_a_tag_and_an_optional_referral_code() -> None:
    assert entry_payload("xhs") == "src_xhs"
    assert entry_payload("a-b_c", "abcdefgh") == "src_a-b_c-ref_abcdefgh"
    assert split_payload("src_xhs") == ("xhs", None)
    assert split_payload("src_XHS-ref_abcdefgh") == ("xhs", "ref_abcdefgh")
    assert split_payload("src_a-b_c-ref_abcdefgh") == ("a-b_c", "ref_abcdefgh")
    assert split_payload("src_a-ref_short") == ("a-ref_short", None)  # no whole code: all tag
    assert split_payload("ref_abcdefgh") == (None, "ref_abcdefgh")
    assert split_payload("src_" + "x" * 33) == (None, None)  # too long: no tag at all
    assert split_payload("src_bad!tag") == (None, None)
    assert split_payload(None) == (None, None)
    longest = entry_payload("x" * 32, "abcdefgh")
    assert len(longest) <= 64 and split_payload(longest) == ("x" * 32, "ref_abcdefgh")


async def test_creating_a_channel_checks_the_tag_and_is_audited(app: App) -> None:
    community, mei, _ = await setup(app)
    channels = app.services.channels
    made = await channels.add(community, mei, "XHS-2026_a", "Xiaohongshu spring")
    assert (made.tag, made.name) == ("xhs-2026_a", "Xiaohongshu spring")
    assert (await channels.add(community, mei, "wx")).name == "wx"
    learner = await console_member(app, "Leo")
    before = await snapshot(app.db)
    for bad in ("x" * 33, "has space", "中文", "a.b", "", "a/b"):
        with pytest.raises(InvalidInput) as refused:
            await channels.add(community, mei, bad)
        assert "letters, digits" in render(refused.value.message, "en")
    with pytest.raises(InvalidInput):
        await channels.add(community, mei, "WX")  # tags ignore case
    with pytest.raises(InvalidInput):
        await channels.add(community, mei, "long", "n" * 65)
    with pytest.raises(NotAllowed):
        await channels.add(community, learner, "mine")
    with pytest.raises(NotAllowed):
        await channels.report(community, learner)
    assert await snapshot(app.db) == before
    async with app.db.read() as conn:
        found = await audit.recent(conn, community.id, limit=10)
    assert [(e.action, e.detail.get("tag")) for e in reversed(found) if e.action == "channel.add"] == [
        ("channel.add", "xhs-2026_a"),
        ("channel.add", "wx"),
    ]


async def test_first_touch_stays_and_last_touch_follows(app: App, clock: ManualClock) -> None:
    community, mei, _ = await setup(app)
    channels = app.services.channels
    await channels.add(community, mei, "xhs")
    await channels.add(community, mei, "wx")
    leo = await console_member(app, "Leo")
    assert await channels.touch(community, leo, "nope", "console") is None  # unknown: ignored
    assert await channels.touches_of(leo) is None
    await channels.touch(community, leo, "XHS", "telegram")
    clock.advance(timedelta(days=1))
    await channels.touch(community, leo, "wx", "wechat")
    assert await channels.touches_of(leo) == ("xhs", "wx")
    clock.advance(timedelta(days=1))
    await channels.touch(community, leo, "xhs", "web")
    assert await channels.touches_of(leo) == ("xhs", "xhs")
    async with app.db.read() as conn:
        via = (
            (await conn.execute(select(channel_touches.c.via).order_by(channel_touches.c.id))).scalars().all()
        )
    assert via == ["telegram", "wechat", "web"]


async def test_the_report_credits_purchases_by_first_and_last_touch(app: App, clock: ManualClock) -> None:
    community, mei, course = await setup(app)
    channels, members = app.services.channels, app.services.members
    await channels.add(community, mei, "xhs", "Xiaohongshu")
    await channels.add(community, mei, "wx", "WeChat group")
    await channels.add(community, mei, "idle")
    people = [await members.ensure_member(community, UserRef("console", f"p{n}", f"p{n}")) for n in range(4)]
    a, b, c, d = people
    # a: xhs, buys, then wx, buys again. b: wx, then xhs, buys. c: xhs only, never buys.
    # d: bought before any touch, then came through wx (that purchase is nobody's).
    await buy(app, d, course)
    clock.advance(timedelta(hours=1))
    await channels.touch(community, a, "xhs", "console")
    await channels.touch(community, b, "wx", "console")
    await channels.touch(community, c, "xhs", "console")
    await channels.touch(community, d, "wx", "console")
    clock.advance(timedelta(hours=1))
    await buy(app, a, course)
    clock.advance(timedelta(hours=1))
    await channels.touch(community, a, "wx", "console")
    await channels.touch(community, b, "xhs", "console")
    clock.advance(timedelta(hours=1))
    second = await app.services.catalog.add_course(community, mei, "py102", Money("USD", 3000), "More")
    await buy(app, a, second, 3000)
    await buy(app, b, course)
    # Only a was active lately (c's activity is older than 30 days).
    chat = await members.ensure_chat(community, ChatRef("console", "g", ChatKind.GROUP, "g"))
    now = clock.now()
    async with app.db.write() as conn:
        await conn.execute(
            insert(activity),
            [
                {"community_id": community.id, "member_id": m.id, "chat_id": chat.id, "at": at}
                | {"kind": "message", "text_length": 5}
                for m, at in ((a, now), (c, now - timedelta(days=40)))
            ],
        )
    await app.services.analytics.add_spend(community, mei, Money("USD", 2000), "XHS")
    await app.services.analytics.add_spend(community, mei, Money("USD", 8000), "wx")
    report = {line.channel.tag: line for line in await channels.report(community, mei)}
    assert list(report) == ["xhs", "wx", "idle"]
    xhs, wx, idle = report["xhs"], report["wx"], report["idle"]
    # First touch: xhs has a and c (a bought twice: 1000 + 3000); wx has b and d (b: 1000).
    assert (xhs.first.members, xhs.first.active, xhs.first.buyers) == (2, 1, 1)
    assert xhs.first.revenue == (Money("USD", 4000),)
    assert (wx.first.members, wx.first.active, wx.first.buyers) == (2, 0, 1)
    assert wx.first.revenue == (Money("USD", 1000),)
    # Last touch: a's first purchase → xhs, a's second → wx; b's → xhs.
    assert (xhs.last.members, xhs.last.buyers) == (3, 2)
    assert xhs.last.revenue == (Money("USD", 2000),)
    assert (wx.last.members, wx.last.buyers) == (3, 1)
    assert wx.last.revenue == (Money("USD", 3000),)
    assert xhs.first.conversion == 0.5
    # CAC and ROI from the spend under each tag.
    assert xhs.spend == (Money("USD", 2000),) and wx.spend == (Money("USD", 8000),)
    assert xhs.first.cac(xhs.spend) == (Money("USD", 2000),)
    assert xhs.last.cac(xhs.spend) == (Money("USD", 1000),)
    assert xhs.first.roi(xhs.spend) == (("USD", 100),)
    assert wx.last.roi(wx.spend) == (("USD", -62),)
    assert idle.first.members == 0 and idle.first.cac(idle.spend) == () and idle.spend == ()
