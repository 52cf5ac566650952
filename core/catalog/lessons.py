"""Writing lessons (a part of CatalogService): adding and rewriting them, every published
version kept (core/catalog/versions.py), and, when a community turns ``content.review`` on,
drafts that its owner approves before learners see them.

Who may write, and whose writing is published at once, is decided here for commands and the
dashboard alike (``write_lesson``):
- review off: creators write, and what they write is published (moderators do not write);
- review on: the owner publishes (in a community without an owner, every creator does);
  other creators and moderators write drafts, which the owner approves or rejects. Each step
  is audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import record
from core.catalog.models import Course, Lesson
from core.catalog.tables import courses, lesson_files, lesson_versions, lessons
from core.catalog.versions import (
    DRAFT,
    PUBLISHED,
    REJECTED,
    LessonVersion,
    LessonWrite,
    record_version,
    version_from_row,
)
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed
from core.events import Attachment
from core.i18n import msg
from core.members.models import Community, Member, Role
from core.replies import Reply
from core.storage.database import Database

CATALOG_FOR_CREATORS = msg("Only creators can change the catalog.")
OWNER_REVIEWS = msg("Only the community's owner approves or rejects drafts.")
MAX_FILE = 10 * 2**20  # bytes in a lesson's file
MAX_UNLOCK_DAYS = 3650  # a drip schedule of up to ten years
MAX_BODY = 4000  # characters of a lesson's text (Markdown)
MAX_VERSIONS_SHOWN = 50


class LessonWriting:
    _db: Database
    _clock: Clock
    # content.review for a community (the settings service, wired in core.services), and where
    # a note for a member goes (the owner hears of a draft; an author of the decision).
    review_on: Callable[[int], Awaitable[bool]] | None = None
    notify: Callable[[int, Reply], None] | None = None

    # CatalogService's readers
    lesson: Callable[[Course, int], Awaitable[Lesson]]
    lessons: Callable[[Course], Awaitable[list[Lesson]]]
    course: Callable[..., Awaitable[Course]]
    course_by_id: Callable[[int], Awaitable[Course]]

    # -- who writes --------------------------------------------------------------------------

    async def publishes_directly(self, community: Community, actor: Member) -> bool:
        """Whether ``actor``'s lesson writing is published at once (else it is a draft);
        NotAllowed when they may not write lessons at all."""
        review = self.review_on is not None and await self.review_on(community.id)
        staff = actor.community_id == community.id and actor.role in (Role.CREATOR, Role.MODERATOR)
        if not staff or (actor.role is Role.MODERATOR and not review):
            raise NotAllowed(CATALOG_FOR_CREATORS)
        if not review:
            return True
        return actor.is_owner_of(community) or (
            community.owner_member_id is None and actor.role is Role.CREATOR
        )

    @staticmethod
    def reviews_drafts(community: Community, actor: Member) -> bool:
        """Whether ``actor`` approves and rejects drafts: the owner (without one, any creator)."""
        owner = community.owner_member_id
        return actor.community_id == community.id and (
            actor.id == owner or (owner is None and actor.role is Role.CREATOR)
        )

    def _require_reviewer(self, community: Community, actor: Member) -> None:
        if not self.reviews_drafts(community, actor):
            raise NotAllowed(OWNER_REVIEWS)

    # -- writing -----------------------------------------------------------------------------

    async def write_lesson(
        self,
        community: Community,
        actor: Member,
        code: str,
        position: int | None,
        *,
        title: str,
        body: str,
        unlock_days: int,
        file: Attachment | None = None,
        via: str = "command",
        note: str = "",
    ) -> LessonWrite:
        """Add a lesson (``position`` None) or rewrite lesson ``position``: published, or kept as a
        draft for the owner, as ``publishes_directly`` says. What /lesson, the dashboard and a
        restore call; ``note`` stays with the version ("restored from version 3")."""
        if await self.publishes_directly(community, actor):
            if position is None:
                return LessonWrite(
                    lesson=await self.add_lesson(
                        community, actor, code, title, body, unlock_days, file, via=via
                    )
                )
            return LessonWrite(
                lesson=await self.edit_lesson(
                    community,
                    actor,
                    code,
                    position,
                    title=title,
                    body=body,
                    unlock_days=unlock_days,
                    file=file,
                    via=via,
                    note=note,
                )
            )
        if file is not None:
            raise InvalidInput(
                msg("A draft cannot bring a file yet: write the text, and the owner adds the file."),
                field="file",
            )
        course = await self.course(community, code, include_hidden=True)
        current = None if position is None else await self.lesson(course, position)
        title = checked_lesson(
            title, body, unlock_days, None, has_file=current is not None and current.file_name is not None
        )
        now = self._clock.now()
        async with self._db.write() as conn:
            draft = await record_version(
                conn,
                course_id=course.id,
                lesson_id=current.id if current else None,
                title=title,
                body=body,
                unlock_days=unlock_days,
                file_name=current.file_name if current else None,
                author_member_id=actor.id,
                at=now,
                status=DRAFT,
                note=note,
            )
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="lesson.draft",
                actor_member_id=actor.id,
                code=course.code,
                position=position,
                draft=draft.id,
                via=via,
            )
        if self.notify is not None and community.owner_member_id is not None:
            self.notify(
                community.id,
                Reply.text(
                    msg(
                        "{name} wrote a draft of {course}: {title}. /drafts to review it.",
                        name=actor.display_name,
                        course=course.title,
                        title=title,
                    ),
                    to_member=community.owner_member_id,
                ),
            )
        return LessonWrite(draft=draft)

    async def add_lesson(
        self,
        community: Community,
        actor: Member,
        code: str,
        title: str,
        body: str,
        unlock_days: int = 0,
        file: Attachment | None = None,
        *,
        via: str = "command",
        approving: LessonVersion | None = None,
    ) -> Lesson:
        """Append a published lesson to the course: text and links, and optionally a file (at
        most MAX_FILE bytes); ``unlock_days`` after purchase it opens (drip). Only for those
        whose writing is published (``write_lesson`` decides); ``approving``: the draft this
        publishes."""
        if approving is None and not await self.publishes_directly(community, actor):
            raise NotAllowed(msg("With content review on, your lessons are drafts: the owner approves them."))
        course = await self.course(community, code, include_hidden=True)
        title = checked_lesson(title, body, unlock_days, file, has_file=False)
        now = self._clock.now()
        async with self._db.write() as conn:
            last = await conn.scalar(
                select(func.coalesce(func.max(lessons.c.position), 0)).where(lessons.c.course_id == course.id)
            )
            position = int(last or 0) + 1
            lesson_id = (
                await conn.execute(
                    insert(lessons)
                    .values(
                        course_id=course.id,
                        position=position,
                        title=title,
                        body=body[:MAX_BODY],
                        unlock_days=unlock_days,
                    )
                    .returning(lessons.c.id)
                )
            ).scalar_one()
            if file is not None:
                await store_file(conn, lesson_id, file)
            await self._keep_version(
                conn,
                course.id,
                lesson_id,
                title,
                body,
                unlock_days,
                file.name if file else None,
                actor,
                approving,
            )
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="lesson.add",
                actor_member_id=actor.id,
                code=course.code,
                position=position,
                via=via,
            )
        return (await self.lessons(course))[position - 1]

    async def edit_lesson(
        self,
        community: Community,
        actor: Member,
        code: str,
        position: int,
        *,
        title: str,
        body: str,
        unlock_days: int,
        file: Attachment | None = None,
        via: str = "command",
        approving: LessonVersion | None = None,
        note: str = "",
    ) -> Lesson:
        """Rewrite lesson ``position`` of the course: its title, text and drip day; a new
        ``file`` replaces the lesson's file (without one, the file it has stays). The content
        it had stays as a version."""
        if approving is None and not await self.publishes_directly(community, actor):
            raise NotAllowed(msg("With content review on, your lessons are drafts: the owner approves them."))
        course = await self.course(community, code, include_hidden=True)
        lesson = await self.lesson(course, position)
        title = checked_lesson(title, body, unlock_days, file, has_file=lesson.file_name is not None)
        async with self._db.write() as conn:
            await conn.execute(
                update(lessons)
                .where(lessons.c.id == lesson.id)
                .values(title=title, body=body[:MAX_BODY], unlock_days=unlock_days)
            )
            if file is not None:
                await conn.execute(delete(lesson_files).where(lesson_files.c.lesson_id == lesson.id))
                await store_file(conn, lesson.id, file)
            file_name = file.name[:200] if file is not None else lesson.file_name
            await self._keep_version(
                conn, course.id, lesson.id, title, body, unlock_days, file_name, actor, approving, note
            )
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="lesson.edit",
                actor_member_id=actor.id,
                code=course.code,
                position=position,
                via=via,
                **({"note": note} if note else {}),
            )
        return await self.lesson(course, position)

    async def _keep_version(
        self,
        conn: AsyncConnection,
        course_id: int,
        lesson_id: int,
        title: str,
        body: str,
        unlock_days: int,
        file_name: str | None,
        actor: Member,
        approving: LessonVersion | None,
        note: str = "",
    ) -> None:
        """The published content as a version: the approved draft itself, or a new row."""
        now = self._clock.now()
        if approving is not None:  # once: a second approval at the same time undoes its own write
            moved = await conn.execute(
                update(lesson_versions)
                .where(lesson_versions.c.id == approving.id, lesson_versions.c.status == DRAFT)
                .values(
                    lesson_id=lesson_id,
                    status=PUBLISHED,
                    file_name=file_name,
                    reviewed_by=actor.id,
                    reviewed_at=now,
                )
            )
            if moved.rowcount != 1:
                raise InvalidInput(msg("Draft {id} has been decided already.", id=approving.id))
            return
        await record_version(
            conn,
            course_id=course_id,
            lesson_id=lesson_id,
            title=title,
            body=body[:MAX_BODY],
            unlock_days=unlock_days,
            file_name=file_name,
            author_member_id=actor.id,
            at=now,
            status=PUBLISHED,
            note=note,
        )

    # -- versions and review -----------------------------------------------------------------

    async def lesson_versions(
        self, community: Community, actor: Member, lesson: Lesson
    ) -> list[LessonVersion]:
        """The lesson's versions, newest first (published, drafts and rejected ones): staff only."""
        self._require_staff(community, actor)
        query = (
            select(lesson_versions)
            .where(lesson_versions.c.lesson_id == lesson.id)
            .order_by(lesson_versions.c.id.desc())
            .limit(MAX_VERSIONS_SHOWN)
        )
        async with self._db.read() as conn:
            return [version_from_row(row) for row in await conn.execute(query)]

    async def lesson_version(self, community: Community, actor: Member, version_id: int) -> LessonVersion:
        """One version of a lesson of ``community``: staff only; InvalidInput when unknown."""
        self._require_staff(community, actor)
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(lesson_versions).where(lesson_versions.c.id == version_id))
            ).first()
        course = None if row is None else await self.course_by_id(row.course_id)
        if row is None or course is None or course.community_id != community.id:
            raise InvalidInput(msg("There is no version {id}.", id=version_id))
        return version_from_row(row)

    async def previous_version(self, version: LessonVersion) -> LessonVersion | None:
        """The published version before ``version`` of the same lesson (what a diff compares
        with); for a draft, the lesson's current content."""
        if version.lesson_id is None:
            return None
        query = (
            select(lesson_versions)
            .where(
                lesson_versions.c.lesson_id == version.lesson_id,
                lesson_versions.c.status == PUBLISHED,
                lesson_versions.c.id < version.id,
            )
            .order_by(lesson_versions.c.id.desc())
            .limit(1)
        )
        if version.status != PUBLISHED:  # a draft or a rejected one: against what learners read now
            query = (
                select(lesson_versions)
                .where(
                    lesson_versions.c.lesson_id == version.lesson_id, lesson_versions.c.status == PUBLISHED
                )
                .order_by(lesson_versions.c.id.desc())
                .limit(1)
            )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return version_from_row(row) if row else None

    async def is_current(self, version: LessonVersion) -> bool:
        """Whether ``version`` is what learners read now (its lesson's newest published one)."""
        if version.lesson_id is None or version.status != PUBLISHED:
            return False
        query = select(func.max(lesson_versions.c.id)).where(
            lesson_versions.c.lesson_id == version.lesson_id, lesson_versions.c.status == PUBLISHED
        )
        async with self._db.read() as conn:
            return await conn.scalar(query) == version.id

    async def drafts(self, community: Community, actor: Member) -> list[LessonVersion]:
        """Drafts waiting for review in ``community``, oldest first: staff only."""
        self._require_staff(community, actor)
        query = (
            select(lesson_versions)
            .join(courses, courses.c.id == lesson_versions.c.course_id)
            .where(courses.c.community_id == community.id, lesson_versions.c.status == DRAFT)
            .order_by(lesson_versions.c.id)
            .limit(MAX_VERSIONS_SHOWN)
        )
        async with self._db.read() as conn:
            return [version_from_row(row) for row in await conn.execute(query)]

    async def approve_draft(
        self, community: Community, actor: Member, version_id: int, *, via: str = "command"
    ) -> Lesson:
        """Publish a draft (the owner): a new lesson is appended, an edit rewrites its lesson."""
        self._require_reviewer(community, actor)
        draft = await self._draft(community, actor, version_id)
        course = await self.course_by_id(draft.course_id)
        if draft.lesson_id is None:
            lesson = await self.add_lesson(
                community,
                actor,
                course.code,
                draft.title,
                draft.body,
                draft.unlock_days,
                via=via,
                approving=draft,
            )
        else:
            position = await self._position(draft.lesson_id)
            lesson = await self.edit_lesson(
                community,
                actor,
                course.code,
                position,
                title=draft.title,
                body=draft.body,
                unlock_days=draft.unlock_days,
                via=via,
                approving=draft,
            )
        await self._decided(community, actor, draft, "lesson.approve", via, lesson.position)
        return lesson

    async def reject_draft(
        self, community: Community, actor: Member, version_id: int, *, via: str = "command"
    ) -> LessonVersion:
        """Turn a draft down (the owner): it stays in the history, marked rejected."""
        self._require_reviewer(community, actor)
        draft = await self._draft(community, actor, version_id)
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(lesson_versions)
                .where(lesson_versions.c.id == draft.id, lesson_versions.c.status == DRAFT)
                .values(status=REJECTED, reviewed_by=actor.id, reviewed_at=self._clock.now())
            )
        if moved.rowcount != 1:
            raise InvalidInput(msg("Draft {id} has been decided already.", id=version_id))
        await self._decided(community, actor, draft, "lesson.reject", via, None)
        return await self.lesson_version(community, actor, draft.id)

    async def restore_version(
        self, community: Community, actor: Member, version_id: int, *, via: str = "command"
    ) -> LessonWrite:
        """Bring a published version's title, text and drip day back as the lesson's new version
        (as a draft for those whose writing is reviewed). The file stays the lesson's current one."""
        version = await self.lesson_version(community, actor, version_id)
        if version.lesson_id is None or version.status != PUBLISHED:
            raise InvalidInput(msg("Only a published version can be restored."))
        course = await self.course_by_id(version.course_id)
        return await self.write_lesson(
            community,
            actor,
            course.code,
            await self._position(version.lesson_id),
            title=version.title,
            body=version.body,
            unlock_days=version.unlock_days,
            via=via,
            note=f"restored from version {version.id}",
        )

    # -- shared ------------------------------------------------------------------------------

    def _require_staff(self, community: Community, actor: Member) -> None:
        if actor.community_id != community.id or actor.role not in (Role.CREATOR, Role.MODERATOR):
            raise NotAllowed(CATALOG_FOR_CREATORS)

    async def _draft(self, community: Community, actor: Member, version_id: int) -> LessonVersion:
        version = await self.lesson_version(community, actor, version_id)
        if version.status != DRAFT:
            raise InvalidInput(msg("Draft {id} has been decided already.", id=version_id))
        return version

    async def _position(self, lesson_id: int) -> int:
        async with self._db.read() as conn:
            return int(await conn.scalar(select(lessons.c.position).where(lessons.c.id == lesson_id)))

    async def _decided(
        self,
        community: Community,
        actor: Member,
        draft: LessonVersion,
        action: str,
        via: str,
        position: int | None,
    ) -> None:
        async with self._db.write() as conn:
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action=action,
                actor_member_id=actor.id,
                subject_member_id=draft.author_member_id,
                draft=draft.id,
                position=position,
                via=via,
            )
        if self.notify is not None and draft.author_member_id not in (None, actor.id):
            text = (
                msg("Your draft {title} is published.", title=draft.title)
                if action == "lesson.approve"
                else msg("Your draft {title} was not accepted.", title=draft.title)
            )
            assert draft.author_member_id is not None
            self.notify(community.id, Reply.text(text, to_member=draft.author_member_id))


def checked_title(title: str) -> str:
    """A title with its spaces tidied; InvalidInput when empty or longer than 200 characters."""
    title = " ".join(title.split())
    if not title:
        raise InvalidInput(msg("A title cannot be empty."), field="title")
    if len(title) > 200:
        raise InvalidInput(msg("A title is at most 200 characters."), field="title")
    return title


def checked_lesson(
    title: str, body: str, unlock_days: int, file: Attachment | None, *, has_file: bool
) -> str:
    """The lesson's tidied title; InvalidInput (naming the field) for what add and edit refuse."""
    title = checked_title(title)
    if not body.strip() and file is None and not has_file:
        raise InvalidInput(msg("A lesson needs some content."), field="body")
    if len(body) > MAX_BODY:
        raise InvalidInput(msg("A lesson's text is at most {max} characters.", max=MAX_BODY), field="body")
    if file is not None and len(file.data) > MAX_FILE:
        raise InvalidInput(msg("A lesson's file can be at most {mb} MB.", mb=MAX_FILE // 2**20), field="file")
    if not 0 <= unlock_days <= MAX_UNLOCK_DAYS:
        raise InvalidInput(
            msg("A lesson opens 0 to {max} days after purchase.", max=MAX_UNLOCK_DAYS), field="unlock_days"
        )
    return title


async def store_file(conn: AsyncConnection, lesson_id: int, file: Attachment) -> None:
    await conn.execute(
        insert(lesson_files).values(
            lesson_id=lesson_id, name=file.name[:200], data=file.data, size=len(file.data)
        )
    )
