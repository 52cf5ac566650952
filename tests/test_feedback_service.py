"""core/feedback/service.py: tickets recorded once per key with the 2,000-character limit, staff
told at once, only moderators and creators list, answer and close (a conditional status move
each), the answer addressed to the platform the member wrote from, and each change audited."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import insert

from bot.app import App
from core.audit import log as audit
from core.errors import InvalidInput, NotAllowed, NotFound
from core.events import UserRef
from core.feedback.service import MAX_TEXT
from core.i18n import render
from core.members.models import Community, Member, Role
from core.members.tables import identities
from core.replies import Reply
from tests.conftest import console_member, snapshot


async def people(app: App) -> tuple[Community, Member, Member, Member]:
    """Mei (creator), Sam (moderator), Ana (learner)."""
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    sam = await console_member(app, "Sam", Role.MODERATOR)
    ana = await console_member(app, "Ana")
    return community, mei, sam, ana


async def linked(app: App, member: Member, platform: str, external_id: str) -> None:
    """Give ``member`` an account on ``platform`` too (as /link would)."""
    async with app.db.write() as conn:
        await conn.execute(
            insert(identities).values(
                community_id=member.community_id,
                member_id=member.id,
                platform=platform,
                external_id=external_id,
                created_at=app.clock.now(),
            )
        )
    app.services.members.forget_cached(member.id)


def told(app: App) -> list[tuple[int | None, str, str | None]]:
    """The notices queued (and taken): (to member, text, via)."""
    out = []
    for _, reply in app.services.notices.take():
        text = "".join(render(s.content, "en") for s in reply.segments if hasattr(s, "content"))
        out.append((reply.to_member, text, reply.via))
    return out


async def test_a_ticket_is_recorded_once_and_staff_are_told(app: App) -> None:
    community, mei, sam, ana = await people(app)
    feedback = app.services.feedback
    ticket = await feedback.submit(
        community, ana, "  The videos are too quiet  ", platform="wechat", key="k1"
    )
    again = await feedback.submit(community, ana, "The videos are too quiet", platform="wechat", key="k1")
    assert again.id == ticket.id
    assert (ticket.text, ticket.status, ticket.platform, ticket.member_id) == (
        "The videos are too quiet",
        "open",
        "wechat",
        ana.id,
    )
    note = f"New feedback #{ticket.id} from Ana: /feedback answer {ticket.id} TEXT replies to them."
    assert sorted(told(app)) == sorted(
        [
            (mei.id, f"{note}\nThe videos are too quiet", None),
            (sam.id, f"{note}\nThe videos are too quiet", None),
        ]
    )  # once, though sent twice
    assert [t.id for t in await feedback.tickets(community, sam)] == [ticket.id]


async def test_too_long_or_empty_feedback_is_refused_with_the_limit(app: App) -> None:
    community, _, _, ana = await people(app)
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as refused:
        await app.services.feedback.submit(community, ana, "x" * (MAX_TEXT + 1), platform="console", key="k")
    assert render(refused.value.message, "en") == "Feedback is at most 2000 characters; yours has 2001."
    with pytest.raises(InvalidInput):
        await app.services.feedback.submit(community, ana, "   ", platform="console", key="k2")
    assert await snapshot(app.db) == before
    assert told(app) == []
    ok = await app.services.feedback.submit(community, ana, "x" * MAX_TEXT, platform="console", key="k3")
    assert len(ok.text) == MAX_TEXT


async def test_only_staff_see_answer_and_close(app: App) -> None:
    community, _, _, ana = await people(app)
    feedback = app.services.feedback
    ticket = await feedback.submit(community, ana, "Please add subtitles", platform="console", key="k")
    before = await snapshot(app.db)
    for call in (
        feedback.tickets(community, ana),
        feedback.counts(community, ana),
        feedback.ticket(community, ana, ticket.id),
        feedback.answer(community, ana, ticket.id, "self-answer"),
        feedback.close(community, ana, ticket.id),
    ):
        with pytest.raises(NotAllowed):
            await call
    assert await snapshot(app.db) == before


async def test_an_answer_goes_to_the_platform_they_wrote_from_and_is_audited(app: App) -> None:
    community, mei, sam, ana = await people(app)
    feedback = app.services.feedback
    # Ana has a WeChat account too: the answer goes where she wrote from.
    await linked(app, ana, "wechat", "oAna")
    ticket = await feedback.submit(community, ana, "Where is lesson 4?", platform="console", key="k")
    told(app)
    answered = await feedback.answer(community, sam, ticket.id, "  Out on Friday  ")
    assert (answered.status, answered.answer, answered.answered_by) == ("answered", "Out on Friday", sam.id)
    assert told(app) == [
        (ana.id, f"An answer to your feedback #{ticket.id} in testhall:\nOut on Friday", "console")
    ]
    with audit.requested_via("dashboard"):
        again = await feedback.answer(community, mei, ticket.id, "It is out now")  # answered again
    assert again.answer == "It is out now"
    closed = await feedback.close(community, mei, ticket.id)
    assert closed.status == "closed"
    async with app.db.read() as conn:
        entries = [
            (e.action, e.actor_member_id, e.subject_member_id, e.detail)
            for e in reversed(await audit.recent(conn, community.id, limit=10))
            if e.action.startswith("feedback.")
        ]
    assert entries == [
        ("feedback.answer", sam.id, ana.id, {"ticket": ticket.id}),
        ("feedback.answer", mei.id, ana.id, {"ticket": ticket.id, "via": "dashboard"}),
        ("feedback.close", mei.id, ana.id, {"ticket": ticket.id, "was": "answered"}),
    ]
    # Addressed for delivery: only her account on the platform the reply names.
    outgoing = await app.deliver_to_member(
        replace(Reply.text("x", to_member=ana.id), via="wechat"), community
    )
    assert [i.platform for i in outgoing.identities] == ["wechat"]
    outgoing = await app.deliver_to_member(Reply.text("x", to_member=ana.id), community)
    assert sorted(i.platform for i in outgoing.identities) == ["console", "wechat"]


async def test_a_closed_ticket_takes_no_answer_and_statuses_list_apart(app: App) -> None:
    community, mei, _, ana = await people(app)
    feedback = app.services.feedback
    first = await feedback.submit(community, ana, "one", platform="console", key="a")
    second = await feedback.submit(community, ana, "two", platform="console", key="b")
    third = await feedback.submit(community, ana, "three", platform="console", key="c")
    await feedback.answer(community, mei, second.id, "ok")
    await feedback.close(community, mei, third.id)
    told(app)
    before = await snapshot(app.db)
    with pytest.raises(InvalidInput) as refused:
        await feedback.answer(community, mei, third.id, "late")
    assert render(refused.value.message, "en") == f"Feedback #{third.id} is closed."
    with pytest.raises(InvalidInput):
        await feedback.close(community, mei, third.id)
    with pytest.raises(InvalidInput) as refused:
        await feedback.answer(community, mei, first.id, "y" * (MAX_TEXT + 1))
    assert render(refused.value.message, "en") == "An answer is at most 2000 characters; this one has 2001."
    with pytest.raises(NotFound):
        await feedback.answer(community, mei, 999, "nobody")
    assert await snapshot(app.db) == before and told(app) == []
    assert await feedback.counts(community, mei) == {"open": 1, "answered": 1, "closed": 1}
    assert [t.id for t in await feedback.tickets(community, mei, "open")] == [first.id]
    assert [t.id for t in await feedback.tickets(community, mei, "answered")] == [second.id]
    assert [t.id for t in await feedback.tickets(community, mei, "closed")] == [third.id]
    older = await feedback.tickets(community, mei, "open", before=first.id)
    assert older == []


async def test_another_communitys_ticket_is_not_found(app: App) -> None:
    community, _, _, ana = await people(app)
    ticket = await app.services.feedback.submit(community, ana, "hello", platform="console", key="k")
    other = await app.community("otherhall")
    boss = await app.services.members.ensure_member(other, UserRef("console", "boss", "Boss"))
    boss = await app.services.members.assign_role(other, boss, Role.CREATOR, via="t")
    with pytest.raises(NotFound):
        await app.services.feedback.answer(other, boss, ticket.id, "not mine")


async def test_staff_of_another_community_see_and_answer_nothing_here(app: App) -> None:
    community, _, _, ana = await people(app)
    feedback = app.services.feedback
    await feedback.submit(community, ana, "More exercises please", platform="console", key="k-other")
    elsewhere = await app.community("otherhall")
    members = app.services.members
    olga = await members.ensure_member(elsewhere, UserRef("console", "olga", "Olga"))
    olga = await members.assign_role(elsewhere, olga, Role.CREATOR, via="test")
    for attempt in (
        feedback.tickets(community, olga, "open"),
        feedback.counts(community, olga),
        feedback.answer(community, olga, 1, "hi"),
        feedback.close(community, olga, 1),
    ):
        with pytest.raises(NotAllowed):
            await attempt
