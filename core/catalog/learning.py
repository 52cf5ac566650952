"""Reading a course: the next lesson (``/learn``), one lesson by its number (the web reader),
marking a lesson done, a lesson's file, and the completion points a finished course earns once.

The chat's /learn and the web's reader both come here, so what counts as owning a course, when a
drip lesson opens and when a course is finished are decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select

from core.catalog.models import Course, Enrollment, Lesson, NextLesson
from core.catalog.service import CatalogService
from core.catalog.tables import lesson_files, lesson_progress, lessons
from core.clock import Clock
from core.errors import NotAllowed, NotFound
from core.i18n import msg
from core.ledger.points import PointsService
from core.members.models import Community, Member
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore


@dataclass(frozen=True)
class LessonFile:
    name: str
    size: int


@dataclass(frozen=True)
class LessonView:
    """One lesson as its owner may see it: its content only once it has opened."""

    lesson: Lesson
    total: int
    opens_at: datetime | None  # set while the lesson is still closed (drip): no content then
    done: bool
    file: LessonFile | None


@dataclass(frozen=True)
class Done:
    done: int
    total: int
    finished: bool  # this marked the course's last lesson done
    points: int  # completion points posted now (once per member and course)


class LearningService:
    def __init__(self, db: Database, clock: Clock, catalog: CatalogService, points: PointsService) -> None:
        self._db = db
        self._clock = clock
        self._catalog = catalog
        self._points = points

    async def next_lesson(
        self, community: Community, member: Member, course: Course
    ) -> tuple[NextLesson, int]:
        """``/learn``: open the member's next lesson and record it as done; with the completion
        points that finishing the course earned now."""
        step = await self._catalog.learn(member, course)
        points = await self._completion(community, member, course) if step.just_completed else 0
        return step, points

    async def lesson(self, member: Member, course: Course, position: int) -> LessonView:
        """Lesson ``position`` for its owner: NotAllowed unless they own the course, NotFound
        when it has no such lesson."""
        enrollment = await self._owned(member, course)
        lesson = await self._catalog.lesson(course, position)
        async with self._db.read() as conn:
            total = await conn.scalar(select(func.count()).where(lessons.c.course_id == course.id))
            done = await conn.scalar(
                select(func.count()).where(
                    lesson_progress.c.member_id == member.id, lesson_progress.c.lesson_id == lesson.id
                )
            )
            file_row = (
                await conn.execute(
                    select(lesson_files.c.name, lesson_files.c.size).where(
                        lesson_files.c.lesson_id == lesson.id
                    )
                )
            ).first()
        opens_at = self._opens_at(enrollment, lesson)
        return LessonView(
            lesson if opens_at is None else replace(lesson, body=""),
            int(total or 0),
            opens_at,
            bool(done),
            LessonFile(file_row.name, file_row.size) if file_row and opens_at is None else None,
        )

    async def mark_done(self, community: Community, member: Member, course: Course, position: int) -> Done:
        """Record lesson ``position`` as done, as /learn does when it opens one; a closed lesson
        cannot be done yet (NotAllowed). Finishing the course earns its completion points once."""
        enrollment = await self._owned(member, course)
        lesson = await self._catalog.lesson(course, position)
        opens_at = self._opens_at(enrollment, lesson)
        if opens_at is not None:
            raise NotAllowed(msg("This lesson opens on {date}.", date=opens_at.date().isoformat()))
        async with self._db.write() as conn:
            added = await conn.execute(
                insert_or_ignore(self._db.dialect, lesson_progress).values(
                    member_id=member.id, lesson_id=lesson.id, completed_at=self._clock.now()
                )
            )
            total = await conn.scalar(select(func.count()).where(lessons.c.course_id == course.id))
            done = await conn.scalar(
                select(func.count())
                .select_from(lesson_progress.join(lessons, lessons.c.id == lesson_progress.c.lesson_id))
                .where(lesson_progress.c.member_id == member.id, lessons.c.course_id == course.id)
            )
        finished = added.rowcount == 1 and done == total
        points = await self._completion(community, member, course) if finished else 0
        return Done(int(done or 0), int(total or 0), finished, points)

    async def file(self, member: Member, course: Course, position: int) -> tuple[str, bytes]:
        """The file of an open lesson, for its owner (NotAllowed otherwise; NotFound without one)."""
        view = await self.lesson(member, course, position)
        if view.opens_at is not None:
            raise NotAllowed(msg("This lesson opens on {date}.", date=view.opens_at.date().isoformat()))
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(lesson_files.c.name, lesson_files.c.data).where(
                        lesson_files.c.lesson_id == view.lesson.id
                    )
                )
            ).first()
        if row is None:
            raise NotFound(msg("This lesson has no file."))
        return row.name, bytes(row.data)

    async def _owned(self, member: Member, course: Course) -> Enrollment:
        enrollment = await self._catalog.enrollment(member, course)
        if enrollment is None:
            raise NotAllowed(
                msg("You do not own {title} yet: /buy {code}", title=course.title, code=course.code)
            )
        return enrollment

    def _opens_at(self, enrollment: Enrollment, lesson: Lesson) -> datetime | None:
        """When a lesson that has not opened yet opens; None once it is open."""
        opens_at = enrollment.opens_at(lesson)
        return opens_at if opens_at > self._clock.now() else None

    async def _completion(self, community: Community, member: Member, course: Course) -> int:
        return await self._points.complete_course(
            community, member, course.id, course.title, course.completion_points
        )
