"""core/analytics/service.py: a run over a community with a known shape, what it keeps, segment
look-ups, cluster names, spend, and who may see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import insert

from bot.app import App
from core.activity.tables import activity
from core.catalog.money import Money
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.events import ChatKind, ChatRef, UserRef
from core.i18n import render
from core.members.models import Community, Member, Role
from tests.conftest import console_member, snapshot


@dataclass
class Shaped:
    community: Community
    mei: Member
    fans: list[int]
    browsers: list[int]
    sleepers: list[int]


@pytest.fixture
async def shaped(app: App, clock: ManualClock) -> Shaped:
    return await shape_community(app, clock)


async def shape_community(app: App, clock: ManualClock) -> Shaped:
    """10 fans (active daily, bought the course), 10 browsers (a few days, a week ago), 10
    sleepers (last seen 45 days ago)."""
    community = await app.community()
    members = app.services.members
    mei = await console_member(app, "Mei", Role.CREATOR)
    course = await app.services.catalog.add_course(community, mei, "py101", Money("USD", 1999), "Python")
    chat = await members.ensure_chat(community, ChatRef("console", "g", ChatKind.GROUP, "g"))
    now = clock.now()
    groups: dict[str, list[int]] = {"fan": [], "browser": [], "sleeper": []}
    rows = []
    for kind, days in (("fan", range(1, 21)), ("browser", (8, 9, 12)), ("sleeper", (45, 50))):
        for n in range(10):
            member = await members.ensure_member(community, UserRef("console", f"{kind}{n}", f"{kind}{n}"))
            groups[kind].append(member.id)
            rows += [
                {
                    "community_id": community.id,
                    "member_id": member.id,
                    "chat_id": chat.id,
                    "at": now - timedelta(days=d),
                    "kind": "message",
                    "text_length": 20,
                }
                for d in days
            ]
            if kind == "fan":
                order = await app.services.orders.order_course(community, member, course)
                await app.services.orders.record_payment(
                    order.id, provider="sandbox", provider_ref=f"p{order.id}", paid=Money("USD", 1999)
                )
    async with app.db.write() as conn:
        await conn.execute(insert(activity), rows)
    return Shaped(community, mei, groups["fan"], groups["browser"], groups["sleeper"])


async def test_a_run_over_a_known_community(app: App, shaped: Shaped) -> None:
    summary = await app.services.analytics.run(shaped.community)
    assert summary["members"] == 30  # the creator is not counted
    assert summary["segments"]["paying"] == 10
    assert summary["segments"]["churned"] == 10
    assert summary["segments"]["active"] == 10
    assert summary["funnel"] == {"joined": 30, "active": 30, "first purchase": 10, "repeat purchase": 0}
    [usd] = summary["revenue"]
    assert (usd["currency"], usd["total"], usd["orders"], usd["buyers"], usd["aov"]) == (
        "USD",
        19990,
        10,
        10,
        1999,
    )
    assert summary["k"] >= 2 and summary["clusters"][0]["size"] == 10
    assert "recently active" in summary["clusters"][0]["traits"]
    assert summary["churn"] == round(10 / 30, 4)  # the sleepers were active 30-60 days ago


async def test_segments_reach_their_members(app: App, shaped: Shaped) -> None:
    analytics = app.services.analytics
    await analytics.run(shaped.community)
    assert await analytics.members_in_segment(shaped.community, "paying") == sorted(shaped.fans)
    assert await analytics.members_in_segment(shaped.community, "churned") == sorted(shaped.sleepers)
    assert len(await analytics.members_in_segment(shaped.community, "all")) == 30
    assert await analytics.members_in_segment(shaped.community, "1") == sorted(shaped.fans)
    await analytics.name_cluster(shaped.community, shaped.mei, 1, "Superfans")
    assert await analytics.members_in_segment(shaped.community, "superfans") == sorted(shaped.fans)
    assert (await analytics.latest(shaped.community, shaped.mei))["clusters"][0]["name"] == "Superfans"
    with pytest.raises(InvalidInput):
        await analytics.members_in_segment(shaped.community, "nobody")


async def test_only_a_cluster_of_the_latest_run_can_be_named(app: App, shaped: Shaped) -> None:
    analytics = app.services.analytics
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as caught:  # no run yet
        await analytics.name_cluster(shaped.community, shaped.mei, 1, "Superfans")
    assert caught.value.message.text == "There are no clusters yet to name: /segments shows when there are."
    assert await snapshot(app.db) == before
    summary = await analytics.run(shaped.community)
    before = await snapshot(app.db)
    for number in (0, summary["k"] + 1, 99):
        with pytest.raises(InvalidInput) as caught:
            await analytics.name_cluster(shaped.community, shaped.mei, number, "foo")
        assert render(caught.value.message, "en") == (
            f"There is no cluster {number}; the latest run has clusters 1 to {summary['k']}."
        )
    assert await snapshot(app.db) == before
    await analytics.name_cluster(shaped.community, shaped.mei, summary["k"], "foo")
    assert (await analytics.latest(shaped.community, shaped.mei))["clusters"][-1]["name"] == "foo"


async def test_spend_gives_a_cac(app: App, shaped: Shaped) -> None:
    analytics = app.services.analytics
    await analytics.add_spend(shaped.community, shaped.mei, Money("USD", 5000), "  WeChat  Ads ")
    [usd] = (await analytics.run(shaped.community))["revenue"]
    assert usd["cac"] == 500  # $50 / 10 new buyers this month
    assert usd["spend_channels"] == {"wechat ads": 5000}


async def test_only_creators_see_and_change_analytics(app: App, shaped: Shaped) -> None:
    learner = await app.services.members.get_member(shaped.fans[0])
    analytics = app.services.analytics
    with pytest.raises(NotAllowed):
        await analytics.latest(shaped.community, learner)
    with pytest.raises(NotAllowed):
        await analytics.name_cluster(shaped.community, learner, 1, "Mine")
    with pytest.raises(NotAllowed):
        await analytics.add_spend(shaped.community, learner, Money("USD", 100), "ads")
    with pytest.raises(InvalidInput):
        await analytics.name_cluster(shaped.community, shaped.mei, 1, "active")  # a rule's name


async def test_latest_runs_again_when_the_last_run_is_a_day_old(
    app: App, shaped: Shaped, clock: ManualClock
) -> None:
    analytics = app.services.analytics
    first = await analytics.latest(shaped.community, shaped.mei)
    assert (await analytics.latest(shaped.community, shaped.mei))["computed_at"] == first["computed_at"]
    clock.advance(timedelta(hours=25))
    assert (await analytics.latest(shaped.community, shaped.mei))["computed_at"] != first["computed_at"]
