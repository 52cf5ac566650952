"""core/audit/trail.py: the audit log and the ledger's staff movements as one newest-first
trail, each entry marked with where it was done, filtered, and paged by keyset without repeats
or gaps — also among entries of both sources made in the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from core.audit.log import record
from core.audit.trail import AuditTrail, Cursor, TrailEntry
from core.clock import ManualClock
from core.events import UserRef
from core.members.models import Community, Member, Role


@pytest.fixture
async def trail(app: App) -> AuditTrail:
    services = app.services
    return AuditTrail(services.db, services.ledger, services.members)


async def _member(app: App, name: str, role: Role = Role.LEARNER) -> Member:
    community = await app.community()
    member = await app.services.members.ensure_member(community, UserRef("console", name.lower(), name))
    if role is not Role.LEARNER:
        member = await app.services.members.assign_role(community, member, role, via="test")
    return member


async def _log(app: App, community: Community, at: datetime, action: str, actor: Member | None) -> None:
    async with app.db.write() as conn:
        await record(
            conn, community_id=community.id, at=at, action=action, actor_member_id=actor and actor.id, n=1
        )


def _shape(entries: list[TrailEntry]) -> list[tuple[str, str, str, str]]:
    return [(e.action, e.actor, e.subject, e.via) for e in entries]


async def test_both_sources_newest_first_each_marked_where_it_was_done(
    app: App, trail: AuditTrail, clock: ManualClock
) -> None:
    community = await app.community()
    mei, ana = await _member(app, "Mei", Role.CREATOR), await _member(app, "Ana")
    points, settings = app.services.points, app.services.settings
    start = clock.now()
    clock.advance(timedelta(minutes=1))
    await settings.set(community.id, "cap.award", "900", actor=mei, via="dashboard")
    clock.advance(timedelta(minutes=1))
    await points.award(community, mei, ana, 5, "thanks", "web:form-1")  # a dashboard form's key
    clock.advance(timedelta(minutes=1))
    await points.deduct(community, mei, ana, 2, "spam", "console:1")
    clock.advance(timedelta(minutes=1))
    await settings.set(community.id, "cap.award", "800", actor=mei)  # /rules set
    clock.advance(timedelta(minutes=1))
    await _log(app, community, clock.now(), "order.paid", None)  # a provider's webhook

    entries = await trail.entries(community.id, since=start + timedelta(seconds=1))
    assert _shape(entries) == [
        ("order.paid", "—", "", "system"),
        ("rules.set", "Mei", "", "command"),
        ("points.deduct", "Mei", "Ana", "command"),
        ("points.award", "Mei", "Ana", "dashboard"),
        ("rules.set", "Mei", "", "dashboard"),
    ]
    assert [e.amount for e in entries] == ["", "", "-2", "+5", ""]
    assert entries[1].detail == {"key": "cap.award", "value": "800"}  # "via" is its own field
    assert entries[2].detail == {"memo": "spam"}


async def test_filters_by_actor_action_and_time(app: App, trail: AuditTrail, clock: ManualClock) -> None:
    community = await app.community()
    mei, sam = await _member(app, "Mei", Role.CREATOR), await _member(app, "Sam", Role.MODERATOR)
    ana = await _member(app, "Ana")
    clock.advance(timedelta(days=1))
    day = clock.now()
    await app.services.points.award(community, sam, ana, 1, "kind", "k1")
    await app.services.points.award(community, mei, ana, 1, "kind", "k2")
    await app.services.settings.set(community.id, "cap.award", "900", actor=mei)
    clock.advance(timedelta(days=1))
    await app.services.points.deduct(community, mei, ana, 1, "spam", "k3")

    by_sam = await trail.entries(community.id, actor_id=sam.id)
    assert _shape(by_sam) == [("points.award", "Sam", "Ana", "command")]
    assert [e.action for e in await trail.entries(community.id, action="points.deduct")] == ["points.deduct"]
    assert [e.action for e in await trail.entries(community.id, action="rules.set")] == ["rules.set"]
    assert await trail.entries(community.id, action="points.checkin") == []  # not a staff movement
    that_day = await trail.entries(community.id, since=day, until=day + timedelta(days=1))
    assert [e.action for e in that_day] == ["rules.set", "points.award", "points.award"]
    assert [e.action for e in await trail.entries(community.id, since=day + timedelta(days=1))] == [
        "points.deduct"
    ]


async def test_pages_neither_repeat_nor_skip_entries_of_the_same_instant(
    app: App, trail: AuditTrail, clock: ManualClock
) -> None:
    community = await app.community()
    mei, ana = await _member(app, "Mei", Role.CREATOR), await _member(app, "Ana")
    clock.advance(timedelta(minutes=1))
    start = clock.now()
    for n in range(7):  # in each instant: transfers and log entries, interleaved
        for k in range(3):
            await app.services.points.award(community, mei, ana, 1, f"n{n}", f"key-{n}-{k}")
            await _log(app, community, clock.now(), "course.add", mei)
        clock.advance(timedelta(seconds=n % 2))  # some instants repeat across rounds
    everything = await trail.entries(community.id, since=start, limit=100)
    assert len(everything) == 42
    keys = [e.cursor for e in everything]
    assert keys == sorted(keys, reverse=True)

    for size in (1, 4, 5, 20):
        seen: list[TrailEntry] = []
        before = None
        while True:
            page = await trail.entries(community.id, since=start, before=before, limit=size)
            seen += page
            if len(page) < size:
                break
            before = Cursor.parse(page[-1].cursor.text())  # through the page's address
        assert [(e.source, e.id) for e in seen] == [(e.source, e.id) for e in everything], size


def test_a_cursor_survives_its_address_and_anything_else_is_refused() -> None:
    cursor = Cursor(datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC), 1, 42)
    assert Cursor.parse(cursor.text()) == cursor
    assert cursor.text() == "1767603600123456-l42"
    for bad in ("", "42", "1-x2", "abc-l1", "1767603600123456-l", "9" * 18 + "-t1", "1-t" + "9" * 19):
        with pytest.raises(ValueError):
            Cursor.parse(bad)
