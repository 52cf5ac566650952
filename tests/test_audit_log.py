"""core/audit/log.py: audit entries are written in the caller's transaction and read back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from core.audit import log as audit
from core.audit.tables import audit_log
from core.clock import ManualClock
from core.events import UserRef
from core.members.models import Community, Member
from core.members.service import MemberService
from core.storage.database import Database
from tests.conftest import ConsoleDriver


class Boom(Exception):
    pass


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
async def setting(db: Database, clock: ManualClock) -> tuple[Community, Member, Member]:
    service = MemberService(db, clock)
    community = await service.ensure_community("hall", default_locale="en", timezone="UTC")
    actor = await service.ensure_member(community, UserRef("telegram", "1", "Ola"))
    subject = await service.ensure_member(community, UserRef("telegram", "2", "Li"))
    return community, actor, subject


async def test_an_entry_reads_back_with_its_detail(
    db: Database, clock: ManualClock, setting: tuple[Community, Member, Member]
) -> None:
    community, actor, subject = setting
    async with db.write() as conn:
        await audit.record(
            conn,
            community_id=community.id,
            at=clock.now(),
            action="role.change",
            actor_member_id=actor.id,
            subject_member_id=subject.id,
            before="learner",
            after="moderator",
            reason="答疑很积极",
            extra={"n": 3, "tags": ["a", "b"]},
        )

    async with db.read() as conn:
        [entry] = await audit.recent(conn, community.id)

    assert entry.at == clock.now()
    assert (entry.action, entry.actor_member_id, entry.subject_member_id) == (
        "role.change",
        actor.id,
        subject.id,
    )
    assert entry.detail == {
        "before": "learner",
        "after": "moderator",
        "reason": "答疑很积极",
        "extra": {"n": 3, "tags": ["a", "b"]},
    }


async def test_a_system_entry_has_no_actor_and_may_have_no_subject(
    db: Database, clock: ManualClock, setting: tuple[Community, Member, Member]
) -> None:
    community, _, _ = setting
    async with db.write() as conn:
        await audit.record(
            conn, community_id=community.id, at=clock.now(), action="jobs.reset", actor_member_id=None
        )

    async with db.read() as conn:
        [entry] = await audit.recent(conn, community.id)

    assert (entry.actor_member_id, entry.subject_member_id, entry.detail) == (None, None, {})


async def test_an_entry_is_stored_as_readable_json(
    db: Database, clock: ManualClock, setting: tuple[Community, Member, Member]
) -> None:
    community, actor, _ = setting
    async with db.write() as conn:
        await audit.record(
            conn,
            community_id=community.id,
            at=clock.now(),
            action="x",
            actor_member_id=actor.id,
            b=2,
            a="中文",
        )

    async with db.read() as conn:
        stored = (await conn.execute(select(audit_log.c.detail))).scalar_one()

    assert stored == '{"a": "中文", "b": 2}'  # sorted keys, not \\u-escaped


async def test_an_entry_rolls_back_with_the_change_it_describes(
    db: Database, clock: ManualClock, setting: tuple[Community, Member, Member]
) -> None:
    community, actor, subject = setting

    with pytest.raises(Boom):
        async with db.write() as conn:
            await audit.record(
                conn,
                community_id=community.id,
                at=clock.now(),
                action="role.change",
                actor_member_id=actor.id,
                subject_member_id=subject.id,
            )
            raise Boom

    async with db.read() as conn:
        assert await audit.recent(conn, community.id) == []
        assert (await conn.execute(select(func.count()).select_from(audit_log))).scalar_one() == 0


async def test_recent_is_newest_first_limited_and_filtered_by_subject(
    db: Database, clock: ManualClock, setting: tuple[Community, Member, Member]
) -> None:
    community, actor, subject = setting
    async with db.write() as conn:
        for number in range(5):
            await audit.record(
                conn,
                community_id=community.id,
                at=clock.now() + timedelta(minutes=number),
                action=f"step.{number}",
                actor_member_id=actor.id,
                subject_member_id=subject.id if number % 2 == 0 else actor.id,
            )

    async with db.read() as conn:
        everything = await audit.recent(conn, community.id)
        latest_two = await audit.recent(conn, community.id, limit=2)
        about_subject = await audit.recent(conn, community.id, subject_member_id=subject.id)

    assert [e.action for e in everything] == ["step.4", "step.3", "step.2", "step.1", "step.0"]
    assert [e.action for e in latest_two] == ["step.4", "step.3"]
    assert [e.action for e in about_subject] == ["step.4", "step.2", "step.0"]


async def test_recent_keeps_communities_apart(
    db: Database, clock: ManualClock, setting: tuple[Community, Member, Member]
) -> None:
    community, actor, _ = setting
    other = await MemberService(db, clock).ensure_community("other", default_locale="en", timezone="UTC")
    async with db.write() as conn:
        await audit.record(
            conn, community_id=community.id, at=clock.now(), action="here", actor_member_id=actor.id
        )
        await audit.record(conn, community_id=other.id, at=clock.now(), action="there", actor_member_id=None)

    async with db.read() as conn:
        assert [e.action for e in await audit.recent(conn, community.id)] == ["here"]
        assert [e.action for e in await audit.recent(conn, other.id)] == ["there"]


async def test_entries_say_where_the_change_was_asked_for(
    db: Database, clock: ManualClock, setting: tuple[Community, Member, Member]
) -> None:
    import asyncio
    import contextvars

    community, actor, _subject = setting

    async def write(action: str, **detail: object) -> None:
        async with db.write() as conn:
            await audit.record(
                conn,
                community_id=community.id,
                at=clock.now(),
                action=action,
                actor_member_id=actor.id,
                **detail,
            )

    async def elsewhere() -> None:  # another task, started outside the block: not marked
        await write("other.task")

    await write("plain")
    with audit.requested_via("dashboard"):
        await write("page")
        await write("explicit", via="cli")  # the caller's own word wins
        with audit.requested_via("command"):
            await write("nested")
        await write("page.again")
    task = asyncio.get_running_loop().create_task(elsewhere(), context=contextvars.Context())
    await task
    async with db.read() as conn:
        entries = {e.action: e.detail.get("via") for e in await audit.recent(conn, community.id)}
    assert entries == {
        "plain": None,
        "page": "dashboard",
        "explicit": "cli",
        "nested": "command",
        "page.again": "dashboard",
        "other.task": None,
    }


async def test_a_command_and_a_page_mark_their_entries(console: ConsoleDriver, app: App) -> None:
    await console(":as Mei creator", "/rules set cap.award 900")
    community = await app.community()
    async with app.db.read() as conn:
        entry = next(e for e in await audit.recent(conn, community.id) if e.action == "rules.set")
    assert entry.detail["via"] == "command"
