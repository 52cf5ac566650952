"""The course catalog: creators add and edit courses and lessons; owners learn them.

Who may change the catalog is checked here, not only by the router: every changing method
takes the acting member and refuses anyone but a creator of that community.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import record
from core.catalog.lessons import CATALOG_FOR_CREATORS, LessonWriting, checked_title
from core.catalog.models import Bundle, Course, Enrollment, Lesson, NextLesson, Product
from core.catalog.money import Money
from core.catalog.rows import course_from_row, lesson_from_row, load_bundle
from core.catalog.tables import (
    bundle_courses,
    bundles,
    courses,
    enrollments,
    lesson_files,
    lesson_progress,
    lessons,
)
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed, NotFound
from core.i18n import msg
from core.members.models import Community, Member, require_creator
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,29}$")
MAX_DESCRIPTION = 4000
EDITABLE = ("title", "description", "price", "points", "completion")


class CatalogService(LessonWriting):
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    # -- creators ------------------------------------------------------------------------

    async def add_course(
        self,
        community: Community,
        actor: Member,
        code: str,
        price: Money,
        title: str,
        description: str = "",
        *,
        via: str = "command",
    ) -> Course:
        require_creator(community, actor, CATALOG_FOR_CREATORS)
        code = _checked_code(code)
        title = checked_title(title)
        await self._refuse_taken_code(community, code)
        values = {
            "community_id": community.id,
            "code": code,
            "title": title,
            "description": description[:MAX_DESCRIPTION],
            "price_minor": price.minor,
            "currency": price.currency,
            "created_at": self._clock.now(),
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(courses).values(**values))
                await record(
                    conn,
                    community_id=community.id,
                    at=self._clock.now(),
                    action="course.add",
                    actor_member_id=actor.id,
                    code=code,
                    price=price.minor,
                    currency=price.currency,
                    via=via,
                )
        except IntegrityError:
            raise InvalidInput(msg("There is already a course {code}.", code=code), field="code") from None
        return await self.course(community, code, include_hidden=True)

    async def edit_course(
        self, community: Community, actor: Member, code: str, field: str, value: Any, *, via: str = "command"
    ) -> Course:
        """``field``: title, description, price (Money), points (int or None), completion (int)."""
        require_creator(community, actor, CATALOG_FOR_CREATORS)
        course = await self.course(community, code, include_hidden=True)
        if field == "title":
            changes: dict[str, Any] = {"title": checked_title(value)}
        elif field == "description":
            changes = {"description": str(value)[:MAX_DESCRIPTION]}
        elif field == "price":
            changes = {"price_minor": value.minor, "currency": value.currency}
        elif field == "points":
            changes = {"points_price": value}
        elif field == "completion":
            changes = {"completion_points": value}
        else:
            raise InvalidInput(msg("You can edit: {fields}.", fields=", ".join(EDITABLE)))
        async with self._db.write() as conn:
            await conn.execute(update(courses).where(courses.c.id == course.id).values(**changes))
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="course.edit",
                actor_member_id=actor.id,
                code=course.code,
                field=field,
                value=str(value)[:200],
                via=via,
            )
        return await self.course(community, code, include_hidden=True)

    async def set_hidden(
        self, community: Community, actor: Member, code: str, hidden: bool, *, via: str = "command"
    ) -> Course:
        require_creator(community, actor, CATALOG_FOR_CREATORS)
        course = await self.course(community, code, include_hidden=True)
        async with self._db.write() as conn:
            await conn.execute(update(courses).where(courses.c.id == course.id).values(hidden=hidden))
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="course.hide" if hidden else "course.show",
                actor_member_id=actor.id,
                code=course.code,
                via=via,
            )
        return await self.course(community, code, include_hidden=True)

    async def add_bundle(
        self,
        community: Community,
        actor: Member,
        code: str,
        price: Money,
        title: str,
        course_codes: list[str],
        *,
        via: str = "command",
    ) -> Bundle:
        """A bundle of existing courses at its own price (its code shares the courses' namespace)."""
        require_creator(community, actor, CATALOG_FOR_CREATORS)
        code = _checked_code(code)
        title = checked_title(title)
        await self._refuse_taken_code(community, code)
        members = [await self.course(community, c, include_hidden=True) for c in dict.fromkeys(course_codes)]
        if len(members) < 2:
            raise InvalidInput(msg("A bundle holds at least two courses."), field="courses")
        if any(c.price.currency != price.currency for c in members):
            raise InvalidInput(
                msg(
                    "A bundle's courses must be priced in its currency, {currency}.", currency=price.currency
                ),
                field="price",
            )
        try:
            async with self._db.write() as conn:
                bundle_id = (
                    await conn.execute(
                        insert(bundles)
                        .values(
                            community_id=community.id,
                            code=code,
                            title=title,
                            price_minor=price.minor,
                            currency=price.currency,
                            created_at=self._clock.now(),
                        )
                        .returning(bundles.c.id)
                    )
                ).scalar_one()
                await conn.execute(
                    insert(bundle_courses), [{"bundle_id": bundle_id, "course_id": c.id} for c in members]
                )
                await record(
                    conn,
                    community_id=community.id,
                    at=self._clock.now(),
                    action="bundle.add",
                    actor_member_id=actor.id,
                    code=code,
                    courses=[c.code for c in members],
                    price=price.minor,
                    via=via,
                )
        except IntegrityError:
            raise InvalidInput(msg("There is already a bundle {code}.", code=code), field="code") from None
        return await self.bundle(community, code, include_hidden=True)

    async def _refuse_taken_code(self, community: Community, code: str) -> None:
        async with self._db.read() as conn:
            for table in (courses, bundles):
                taken = await conn.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.community_id == community.id, table.c.code == code)
                )
                if taken:
                    raise InvalidInput(msg("The code {code} is taken already.", code=code), field="code")

    # -- reading -------------------------------------------------------------------------

    async def bundles(self, community: Community, *, include_hidden: bool = False) -> list[Bundle]:
        query = select(bundles.c.code).where(bundles.c.community_id == community.id).order_by(bundles.c.id)
        if not include_hidden:
            query = query.where(bundles.c.hidden.is_(False))
        async with self._db.read() as conn:
            codes = list((await conn.execute(query)).scalars())
        return [await self.bundle(community, code, include_hidden=True) for code in codes]

    async def bundles_including(self, community: Community, course: Course) -> list[Bundle]:
        """The bundles on sale that include ``course`` (what its page offers besides it)."""
        query = (
            select(bundles)
            .join(bundle_courses, bundle_courses.c.bundle_id == bundles.c.id)
            .where(
                bundles.c.community_id == community.id,
                bundle_courses.c.course_id == course.id,
                bundles.c.hidden.is_(False),
            )
            .order_by(bundles.c.id)
        )
        async with self._db.read() as conn:
            return [await load_bundle(conn, row) for row in (await conn.execute(query)).all()]

    async def bundle(self, community: Community, code: str, *, include_hidden: bool = False) -> Bundle:
        query = select(bundles).where(bundles.c.community_id == community.id, bundles.c.code == code.lower())
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
            if row is None or (row.hidden and not include_hidden):
                raise InvalidInput(msg("There is no course {code}. /courses lists them.", code=code[:30]))
            return await load_bundle(conn, row)

    async def product(self, community: Community, code: str, *, include_hidden: bool = False) -> Product:
        """The course or bundle called ``code``; InvalidInput when there is none for sale."""
        try:
            return Product.of(await self.course(community, code, include_hidden=include_hidden))
        except InvalidInput:
            return Product.of(await self.bundle(community, code, include_hidden=include_hidden))

    async def product_by_id(self, kind: str, product_id: int) -> Product:
        if kind == "course":
            return Product.of(await self.course_by_id(product_id))
        async with self._db.read() as conn:
            row = (await conn.execute(select(bundles).where(bundles.c.id == product_id))).one()
            return Product.of(await load_bundle(conn, row))

    async def courses(
        self, community: Community, *, include_hidden: bool = False, after: int = 0, limit: int | None = None
    ) -> list[Course]:
        """By id; a page of ``limit`` courses after the id ``after`` (keyset)."""
        query = select(courses).where(courses.c.community_id == community.id, courses.c.id > after)
        query = query.order_by(courses.c.id).limit(limit)
        if not include_hidden:
            query = query.where(courses.c.hidden.is_(False))
        async with self._db.read() as conn:
            return [course_from_row(row) for row in await conn.execute(query)]

    async def course(self, community: Community, code: str, *, include_hidden: bool = False) -> Course:
        """The course with ``code``; InvalidInput when there is none (or it is hidden)."""
        query = select(courses).where(courses.c.community_id == community.id, courses.c.code == code.lower())
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None or (row.hidden and not include_hidden):
            raise InvalidInput(msg("There is no course {code}. /courses lists them.", code=code[:30]))
        return course_from_row(row)

    async def course_by_id(self, course_id: int) -> Course:
        async with self._db.read() as conn:
            row = (await conn.execute(select(courses).where(courses.c.id == course_id))).one()
        return course_from_row(row)

    async def lessons(self, course: Course) -> list[Lesson]:
        query = (
            select(lessons, lesson_files.c.name.label("file_name"))
            .outerjoin(lesson_files, lesson_files.c.lesson_id == lessons.c.id)
            .where(lessons.c.course_id == course.id)
            .order_by(lessons.c.position)
        )
        async with self._db.read() as conn:
            return [lesson_from_row(row) for row in await conn.execute(query)]

    async def lesson(self, course: Course, position: int) -> Lesson:
        """Lesson ``position`` (from 1) of ``course``; NotFound when it has no such lesson."""
        query = (
            select(lessons, lesson_files.c.name.label("file_name"))
            .outerjoin(lesson_files, lesson_files.c.lesson_id == lessons.c.id)
            .where(lessons.c.course_id == course.id, lessons.c.position == position)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(msg("{code} has no lesson {n}.", code=course.code, n=position))
        return lesson_from_row(row)

    # -- owners --------------------------------------------------------------------------

    async def enrollment(self, member: Member, course: Course) -> Enrollment | None:
        query = select(enrollments).where(
            enrollments.c.member_id == member.id,
            enrollments.c.course_id == course.id,
            enrollments.c.revoked_at.is_(None),
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return Enrollment(row.member_id, row.course_id, row.order_id, row.granted_at) if row else None

    async def owned(self, member: Member) -> list[tuple[Course, int, int]]:
        """The member's courses with (lessons done, lessons in all)."""
        query = (
            select(courses)
            .join(enrollments, enrollments.c.course_id == courses.c.id)
            .where(enrollments.c.member_id == member.id, enrollments.c.revoked_at.is_(None))
            .order_by(enrollments.c.granted_at, courses.c.id)
        )
        async with self._db.read() as conn:
            found = [course_from_row(row) for row in await conn.execute(query)]
            result = []
            for course in found:
                total, done = await _progress(conn, member.id, course.id)
                result.append((course, done, total))
        return result

    async def learn(self, member: Member, course: Course) -> NextLesson:
        """Open the member's next lesson of ``course`` and record it as done.

        Raises NotAllowed when the member does not own the course."""
        enrollment = await self.enrollment(member, course)
        if enrollment is None:
            raise NotAllowed(
                msg("You do not own {title} yet: /buy {code}", title=course.title, code=course.code)
            )
        now = self._clock.now()
        async with self._db.write() as conn:
            seen = set(
                (
                    await conn.execute(
                        select(lesson_progress.c.lesson_id)
                        .join(lessons, lessons.c.id == lesson_progress.c.lesson_id)
                        .where(lesson_progress.c.member_id == member.id, lessons.c.course_id == course.id)
                    )
                ).scalars()
            )
            rows = (
                await conn.execute(
                    select(lessons).where(lessons.c.course_id == course.id).order_by(lessons.c.position)
                )
            ).all()
            total, done = len(rows), len(seen)
            upcoming = [lesson_from_row(row) for row in rows if row.id not in seen]
            if not upcoming:
                return NextLesson(None, None, done, total)
            lesson = upcoming[0]
            opens_at = enrollment.opens_at(lesson)
            if opens_at > now:
                return NextLesson(None, opens_at, done, total)
            await conn.execute(
                insert_or_ignore(self._db.dialect, lesson_progress).values(
                    member_id=member.id, lesson_id=lesson.id, completed_at=now
                )
            )
            file_row = (
                await conn.execute(
                    select(lesson_files.c.name, lesson_files.c.data).where(
                        lesson_files.c.lesson_id == lesson.id
                    )
                )
            ).first()
        file = (file_row.name, bytes(file_row.data)) if file_row else None
        return NextLesson(lesson, None, done + 1, total, just_completed=done + 1 == total, file=file)

    async def grant(
        self,
        conn: AsyncConnection,
        community_id: int,
        member_id: int,
        course_id: int,
        order_id: int | None,
        at: datetime,
    ) -> None:
        """Give the member the course inside the caller's transaction (again after a revoke)."""
        for statement in grant_statements(self._db.dialect, community_id, member_id, course_id, order_id, at):
            await conn.execute(statement)

    async def revoke_order(self, conn: AsyncConnection, order_id: int, at: datetime) -> None:
        """Take back what ``order_id`` granted, inside the caller's transaction (a full refund);
        courses the member owned through another order stay."""
        await conn.execute(
            update(enrollments)
            .where(enrollments.c.order_id == order_id, enrollments.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )


def grant_statements(
    dialect: str, community_id: int, member_id: int, course_id: int, order_id: int | None, at: datetime
) -> list[Any]:
    """The statements that give a member a course: the enrollment if there is none, and a
    revoked one (after a refund) restored. For async callers and for ledger guards alike."""
    return [
        insert_or_ignore(dialect, enrollments).values(
            community_id=community_id,
            member_id=member_id,
            course_id=course_id,
            order_id=order_id,
            granted_at=at,
        ),
        update(enrollments)
        .where(
            enrollments.c.member_id == member_id,
            enrollments.c.course_id == course_id,
            enrollments.c.revoked_at.is_not(None),
        )
        .values(revoked_at=None, order_id=order_id, granted_at=at),
    ]


async def _progress(conn: AsyncConnection, member_id: int, course_id: int) -> tuple[int, int]:
    total = await conn.scalar(
        select(func.count()).select_from(lessons).where(lessons.c.course_id == course_id)
    )
    done = await conn.scalar(
        select(func.count())
        .select_from(lesson_progress.join(lessons, lessons.c.id == lesson_progress.c.lesson_id))
        .where(lesson_progress.c.member_id == member_id, lessons.c.course_id == course_id)
    )
    return int(total or 0), int(done or 0)


def _checked_code(code: str) -> str:
    code = code.lower()
    if not CODE.match(code):
        raise InvalidInput(
            msg("A course code is 2 to 30 lowercase letters, digits, - or _, like py101."), field="code"
        )
    return code
