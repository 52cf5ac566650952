"""core/catalog/lessons.py: who writes lessons and whose writing is published at once (content
review), versions kept in the lesson's own transaction, drafts that never reach learners, and
an approval that happens once even when two arrive together; plus the migration that makes
each lesson's current content its first version."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, select, text

from bot.app import App
from core.catalog.tables import lesson_versions, lessons
from core.catalog.versions import DRAFT, PUBLISHED, REJECTED
from core.errors import InvalidInput, NotAllowed
from core.events import UserRef
from core.members.models import Role
from core.storage.database import Database
from core.storage.migrate import upgrade
from tests.conftest import Shop


@pytest.fixture
async def empty_db(empty_db_url: str) -> AsyncIterator[Database]:
    database = Database(empty_db_url)
    yield database
    await database.dispose()


async def review_on(app: App, shop: Shop) -> None:
    await app.services.settings.set(shop.community.id, "content.review", "on", actor=shop.mei)


async def staff(app: App, shop: Shop, name: str, role: Role):  # type: ignore[no-untyped-def]
    members = app.services.members
    member = await members.ensure_member(shop.community, UserRef("console", name.lower(), name))
    return await members.assign_role(await app.community(), member, role, via="test")


async def lesson_rows(app: App) -> list[tuple]:
    async with app.db.read() as conn:
        return [tuple(row) for row in await conn.execute(select(lessons).order_by(lessons.c.id))]


async def test_who_publishes_with_review_off_and_on(app: App, shop: Shop) -> None:
    catalog, community = app.services.catalog, await app.community()
    sam = await staff(app, shop, "Sam", Role.MODERATOR)
    lin = await staff(app, shop, "Lin", Role.CREATOR)
    assert community.owner_member_id == shop.mei.id
    assert await catalog.publishes_directly(community, shop.mei)
    assert await catalog.publishes_directly(community, lin)
    for refused in (sam, shop.ana):
        with pytest.raises(NotAllowed):
            await catalog.publishes_directly(community, refused)

    await review_on(app, shop)
    assert await catalog.publishes_directly(community, shop.mei)
    assert not await catalog.publishes_directly(community, lin)
    assert not await catalog.publishes_directly(community, sam)
    with pytest.raises(NotAllowed):
        await catalog.publishes_directly(community, shop.ana)
    with pytest.raises(NotAllowed):  # the publishing path itself refuses, whoever calls it
        await catalog.edit_lesson(community, sam, "py101", 1, title="x", body="y", unlock_days=0)


async def test_a_draft_never_touches_what_learners_read(app: App, shop: Shop) -> None:
    catalog, community = app.services.catalog, await app.community()
    sam = await staff(app, shop, "Sam", Role.MODERATOR)
    await review_on(app, shop)
    before = await lesson_rows(app)

    edit = await catalog.write_lesson(
        community, sam, "py101", 1, title="New", body="draft text", unlock_days=0
    )
    new = await catalog.write_lesson(community, sam, "py101", None, title="Extra", body="more", unlock_days=3)

    assert edit.lesson is None and edit.draft is not None and edit.draft.status == DRAFT
    assert new.draft is not None and new.draft.lesson_id is None and new.draft.unlock_days == 3
    assert await lesson_rows(app) == before
    first = (await catalog.lessons(shop.course))[0]
    assert (first.title, first.body) == ("Setup", "Install Python and pandas.")
    drafts = await catalog.drafts(community, shop.mei)
    assert [d.id for d in drafts] == [edit.draft.id, new.draft.id]


async def test_approving_publishes_the_draft_itself_and_keeps_the_old_content(app: App, shop: Shop) -> None:
    catalog, community = app.services.catalog, await app.community()
    sam = await staff(app, shop, "Sam", Role.MODERATOR)
    await review_on(app, shop)
    draft = (
        await catalog.write_lesson(community, sam, "py101", 1, title="Setup 2", body="uv sync", unlock_days=1)
    ).draft
    assert draft is not None
    with pytest.raises(NotAllowed):
        await catalog.approve_draft(community, sam, draft.id)

    published = await catalog.approve_draft(community, shop.mei, draft.id)

    assert (published.position, published.title, published.body, published.unlock_days) == (
        1,
        "Setup 2",
        "uv sync",
        1,
    )
    versions = await catalog.lesson_versions(community, shop.mei, published)
    assert [(v.id == draft.id, v.status, v.author_member_id, v.reviewed_by) for v in versions] == [
        (True, PUBLISHED, sam.id, shop.mei.id),  # the draft itself, now published, its author kept
        (False, PUBLISHED, shop.mei.id, None),  # the content before, kept when the lesson was added
    ]
    previous = await catalog.previous_version(versions[0])
    assert previous is not None and previous.body == "Install Python and pandas."


async def test_two_approvals_at_once_publish_once(app: App, shop: Shop) -> None:
    catalog, community = app.services.catalog, await app.community()
    lin = await staff(app, shop, "Lin", Role.CREATOR)
    await review_on(app, shop)
    draft = (
        await catalog.write_lesson(community, lin, "py101", None, title="Once", body="x", unlock_days=0)
    ).draft
    assert draft is not None

    results = await asyncio.gather(
        catalog.approve_draft(community, shop.mei, draft.id),
        catalog.approve_draft(community, shop.mei, draft.id),
        return_exceptions=True,
    )

    assert sorted(type(r).__name__ for r in results) == ["InvalidInput", "Lesson"]
    assert [lesson.title for lesson in await catalog.lessons(shop.course)] == ["Setup", "Loops", "Once"]


async def test_rejecting_keeps_the_draft_in_the_history_and_a_rejected_one_cannot_be_restored(
    app: App, shop: Shop
) -> None:
    catalog, community = app.services.catalog, await app.community()
    lin = await staff(app, shop, "Lin", Role.CREATOR)
    await review_on(app, shop)
    draft = (
        await catalog.write_lesson(community, lin, "py101", 2, title="No", body="x", unlock_days=0)
    ).draft
    assert draft is not None

    rejected = await catalog.reject_draft(community, shop.mei, draft.id)

    assert rejected.status == REJECTED and rejected.reviewed_by == shop.mei.id
    with pytest.raises(InvalidInput):
        await catalog.restore_version(community, shop.mei, draft.id)
    with pytest.raises(InvalidInput):
        await catalog.reject_draft(community, shop.mei, draft.id)
    assert (await catalog.lesson(shop.course, 2)).title == "Loops"


async def test_a_version_of_another_community_is_unknown(app: App, shop: Shop) -> None:
    catalog, community = app.services.catalog, await app.community()
    lesson = await catalog.lesson(shop.course, 1)
    versions = await catalog.lesson_versions(community, shop.mei, lesson)
    other = await app.services.members.ensure_community("elsewhere", default_locale="en", timezone="UTC")
    stranger = await app.services.members.ensure_member(other, UserRef("console", "zed", "Zed"))
    stranger = await app.services.members.assign_role(other, stranger, Role.CREATOR, via="test")
    with pytest.raises(InvalidInput):
        await catalog.lesson_version(other, stranger, versions[0].id)


async def test_the_migration_keeps_each_lesson_as_its_first_version(empty_db: Database) -> None:
    await upgrade(empty_db, "0021")
    async with empty_db.write() as conn:
        await conn.execute(
            text(
                "INSERT INTO communities (id, name, default_locale, timezone, created_at)"
                " VALUES (1, 'c', 'en', 'UTC', '2026-01-01 00:00:00')"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO courses (id, community_id, code, title, price_minor, currency, created_at)"
                " VALUES (1, 1, 'py', 'Py', 100, 'USD', '2026-01-01 00:00:00')"
            )
        )
        await conn.execute(
            insert(lessons).values(id=7, course_id=1, position=1, title="Old", body="text", unlock_days=2)
        )

    await upgrade(empty_db)

    async with empty_db.read() as conn:
        rows = (await conn.execute(select(lesson_versions))).all()
    assert [(r.lesson_id, r.title, r.body, r.unlock_days, r.status) for r in rows] == [
        (7, "Old", "text", 2, PUBLISHED)
    ]
    assert rows[0].created_at is not None and rows[0].author_member_id is None
