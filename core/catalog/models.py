"""Catalog values handed to handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.catalog.money import Money


@dataclass(frozen=True)
class Course:
    id: int
    community_id: int
    code: str
    title: str
    description: str
    price: Money
    points_price: int | None
    completion_points: int
    hidden: bool


@dataclass(frozen=True)
class Bundle:
    id: int
    community_id: int
    code: str
    title: str
    price: Money
    hidden: bool
    courses: tuple[Course, ...]


@dataclass(frozen=True)
class Product:
    """What an order is for: a course or a bundle of courses."""

    kind: str  # course | bundle
    id: int
    code: str
    title: str
    price: Money
    hidden: bool
    courses: tuple[Course, ...]  # what it grants

    @classmethod
    def of(cls, item: Course | Bundle) -> Product:
        if isinstance(item, Course):
            return cls("course", item.id, item.code, item.title, item.price, item.hidden, (item,))
        return cls("bundle", item.id, item.code, item.title, item.price, item.hidden, item.courses)


@dataclass(frozen=True)
class Lesson:
    id: int
    course_id: int
    position: int
    title: str
    body: str
    unlock_days: int
    file_name: str | None = None  # the lesson's file, if it has one (its bytes load with /learn)


@dataclass(frozen=True)
class Enrollment:
    member_id: int
    course_id: int
    order_id: int | None
    granted_at: datetime

    def opens_at(self, lesson: Lesson) -> datetime:
        """When ``lesson`` opens for this owner: its drip days after the course was granted."""
        return self.granted_at + timedelta(days=lesson.unlock_days)


@dataclass(frozen=True)
class NextLesson:
    """What /learn shows: the lesson now open, or when the next one opens, and progress."""

    lesson: Lesson | None
    opens_at: datetime | None  # the next lesson's drip time when none is open yet
    done: int
    total: int
    just_completed: bool = False  # this lesson finished the course
    file: tuple[str, bytes] | None = None  # the lesson's file: name and bytes
