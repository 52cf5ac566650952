"""Course reviews: owners rate a course 1–5 with an optional text, once (editing replaces
it); moderators and creators can hide a review. Ratings shown are over visible reviews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from core.audit.log import record
from core.catalog.models import Course
from core.catalog.service import CatalogService
from core.catalog.tables import reviews
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed
from core.i18n import msg
from core.members.models import Community, Member
from core.members.tables import members
from core.storage.database import Database
from core.storage.upsert import insert_or_update

MAX_TEXT = 1000


@dataclass(frozen=True)
class Rating:
    average: float | None  # None without visible reviews
    count: int


@dataclass(frozen=True)
class ReviewLine:
    member_name: str
    stars: int
    text: str
    at: datetime


class ReviewService:
    def __init__(self, db: Database, clock: Clock, catalog: CatalogService) -> None:
        self._db = db
        self._clock = clock
        self._catalog = catalog

    async def review(self, member: Member, course: Course, stars: int, text: str) -> bool:
        """Rate ``course``; True when this replaced the member's earlier review."""
        if await self._catalog.enrollment(member, course) is None:
            raise NotAllowed(msg("Only owners of {title} can review it.", title=course.title))
        if not 1 <= stars <= 5:
            raise InvalidInput(msg("Give 1 to 5 stars."))
        now = self._clock.now()
        async with self._db.write() as conn:
            earlier = await conn.scalar(
                select(func.count())
                .select_from(reviews)
                .where(reviews.c.course_id == course.id, reviews.c.member_id == member.id)
            )
            await conn.execute(
                insert_or_update(
                    self._db.dialect,
                    reviews,
                    {
                        "community_id": course.community_id,
                        "course_id": course.id,
                        "member_id": member.id,
                        "stars": stars,
                        "text": text.strip()[:MAX_TEXT],
                        "hidden": False,
                        "created_at": now,
                        "updated_at": now,
                    },
                    keys=("course_id", "member_id"),
                    update=("stars", "text", "updated_at"),
                )
            )
        return bool(earlier)

    async def hide(self, community: Community, actor: Member, course: Course, author: Member) -> None:
        if not actor.role.is_staff or actor.community_id != community.id:
            raise NotAllowed(msg("Only moderators and creators can hide reviews."))
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(reviews)
                .where(reviews.c.course_id == course.id, reviews.c.member_id == author.id)
                .values(hidden=True)
            )
            if moved.rowcount != 1:
                raise InvalidInput(
                    msg("{name} has not reviewed {title}.", name=author.display_name, title=course.title)
                )
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="review.hide",
                actor_member_id=actor.id,
                subject_member_id=author.id,
                course=course.code,
            )

    async def rating(self, course: Course) -> Rating:
        query = select(func.avg(reviews.c.stars), func.count()).where(
            reviews.c.course_id == course.id, reviews.c.hidden.is_(False)
        )
        async with self._db.read() as conn:
            average, count = (await conn.execute(query)).one()
        return Rating(float(average) if average is not None else None, int(count))

    async def latest(self, course: Course, limit: int = 5) -> list[ReviewLine]:
        query = (
            select(members.c.display_name, reviews.c.stars, reviews.c.text, reviews.c.updated_at)
            .join(members, members.c.id == reviews.c.member_id)
            .where(reviews.c.course_id == course.id, reviews.c.hidden.is_(False))
            .order_by(reviews.c.updated_at.desc(), reviews.c.id.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [ReviewLine(*row) for row in await conn.execute(query)]
