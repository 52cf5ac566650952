"""Every creator action the dashboard and the commands share leaves an audit entry written by
its core service: pushes, automation texts, segment names, tiers, recomputing, sessions."""

from __future__ import annotations

from typing import Any

from bot.app import App
from core.audit import log as audit
from core.audit.trail import ACTIONS
from core.clock import ManualClock
from core.members.models import Community, Member, Role
from tests.conftest import console_member
from tests.test_analytics_service import shape_community
from tests.test_pushes_service import FakeChannel, people
from tests.test_web_sessions import BASE, token_of


async def entries(app: App, community: Community) -> list[tuple[str, int | None, dict[str, Any]]]:
    """The community's entries, oldest first, as (action, actor, detail)."""
    async with app.db.read() as conn:
        found = await audit.recent(conn, community.id, limit=100)
    return [(e.action, e.actor_member_id, e.detail) for e in reversed(found)]


async def last(app: App, community: Community, prefix: str) -> list[tuple[str, int | None, dict[str, Any]]]:
    return [e for e in await entries(app, community) if e[0].startswith(prefix)]


async def test_a_push_drafted_tested_confirmed_and_cancelled_is_audited(app: App) -> None:
    community, mei, learners = await people(app, 2)
    pushes = app.services.pushes
    draft = await pushes.draft(community, mei, "all", "Text A", "Text B")
    push = draft.campaign.id
    pushes.channels["console"] = FakeChannel()
    with audit.requested_via("dashboard"):
        assert await pushes.send_test(community, mei, push, "k1") == "console"
    await pushes.confirm(community, mei, push)
    await pushes.cancel(community, mei, push)
    discarded = (await pushes.draft(community, mei, "all", "Never")).campaign.id
    await pushes.cancel(community, mei, discarded)
    assert await last(app, community, "push.") == [
        ("push.draft", mei.id, {"push": push, "segment": "all", "ab": True}),
        ("push.test", mei.id, {"push": push, "platform": "console", "via": "dashboard"}),
        ("push.confirm", mei.id, {"push": push, "segment": "all", "recipients": len(learners)}),
        ("push.cancel", mei.id, {"push": push, "segment": "all", "unsent": len(learners)}),
        ("push.draft", mei.id, {"push": discarded, "segment": "all", "ab": False}),
        ("push.discard", mei.id, {"push": discarded, "segment": "all", "unsent": 0}),
    ]


async def test_an_automation_text_set_or_reset_is_audited_without_the_text(app: App) -> None:
    community, mei, _ = await people(app, 0)
    pushes = app.services.pushes
    with audit.requested_via("command"):
        await pushes.set_automation_text(community, mei, "winback", "We miss you")
    await pushes.set_automation_text(community, mei, "winback", "")
    assert await last(app, community, "push.") == [
        ("push.auto_text", mei.id, {"automation": "winback", "text": "own", "via": "command"}),
        ("push.auto_text", mei.id, {"automation": "winback", "text": "default"}),
    ]


async def test_naming_a_cluster_and_recomputing_are_audited(app: App, clock: ManualClock) -> None:
    shaped = await shape_community(app, clock)
    analytics = app.services.analytics
    await analytics.run(shaped.community)  # the scheduled run: no entry
    await analytics.name_cluster(shaped.community, shaped.mei, 1, " Super   fans ")
    await analytics.recompute(shaped.community, shaped.mei)
    found = await entries(app, shaped.community)
    assert [e for e in found if e[0].startswith(("segment.", "analytics."))] == [
        ("segment.name", shaped.mei.id, {"cluster": 1, "name": "Super fans"}),
        ("analytics.recompute", shaped.mei.id, {"members": 30}),
    ]


async def test_setting_a_tier_is_audited(app: App) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    await app.services.points.set_tier(community, mei, "Gold", 500, 150)
    assert await last(app, community, "tier.") == [
        ("tier.set", mei.id, {"tier": "Gold", "threshold": 500, "multiplier": "×1.5"})
    ]


async def test_ending_dashboard_sessions_is_audited(app: App) -> None:
    community = await app.community()
    mei: Member = await console_member(app, "Mei", Role.CREATOR)
    service = app.services.web_sessions
    service.enable(BASE)
    _, one = await service.sign_in(token_of(await service.login_link(community, mei)), "phone")
    await service.sign_in(token_of(await service.login_link(community, mei)), "laptop")
    assert await service.revoke(mei, one.session.id) is True
    assert await service.revoke(mei, one.session.id) is False  # already over: nothing to record
    assert await service.revoke_all(mei) == 1
    assert await last(app, community, "session.") == [
        ("session.revoke", mei.id, {"session": one.session.id}),
        ("session.revoke_all", mei.id, {"sessions": 1}),
    ]


def test_every_new_action_has_a_label() -> None:
    for action in (
        "push.draft",
        "push.test",
        "push.confirm",
        "push.cancel",
        "push.discard",
        "push.auto_text",
        "segment.name",
        "analytics.recompute",
        "tier.set",
        "session.revoke",
        "session.revoke_all",
        "lesson.add",
        "mall.hide",
        "qa.hide_answer",
        "chat.reconcile",
        "order.bill_differs",
        "feedback.answer",
        "feedback.close",
    ):
        assert action in ACTIONS


async def test_answering_and_closing_feedback_and_drafting_a_survey_are_audited(app: App) -> None:
    community, mei, learners = await people(app, 1)
    ticket = await app.services.feedback.submit(
        community, learners[0], "More exercises", platform="fake", key="k"
    )
    await app.services.feedback.answer(community, mei, ticket.id, "Coming soon")
    with audit.requested_via("dashboard"):
        await app.services.feedback.close(community, mei, ticket.id)
    survey = (await app.services.nps.draft(community, mei, "all")).campaign.id
    assert await last(app, community, "feedback.") == [
        ("feedback.answer", mei.id, {"ticket": ticket.id}),
        ("feedback.close", mei.id, {"ticket": ticket.id, "was": "answered", "via": "dashboard"}),
    ]
    assert (await last(app, community, "push."))[-1] == (
        "push.draft",
        mei.id,
        {"push": survey, "segment": "all", "ab": False, "kind": "nps"},
    )
