"""Catalog rows as the catalog's models: a course, a lesson, a bundle with its courses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.catalog.models import Bundle, Course, Lesson
from core.catalog.money import Money
from core.catalog.tables import bundle_courses, courses


def course_from_row(row: Any) -> Course:
    return Course(
        row.id,
        row.community_id,
        row.code,
        row.title,
        row.description,
        Money(row.currency, row.price_minor),
        row.points_price,
        row.completion_points,
        row.hidden,
    )


def lesson_from_row(row: Any) -> Lesson:
    file_name = getattr(row, "file_name", None)
    return Lesson(row.id, row.course_id, row.position, row.title, row.body, row.unlock_days, file_name)


async def load_bundle(conn: AsyncConnection, row: Any) -> Bundle:
    """The bundle of ``row`` with its courses, read on ``conn``."""
    members = (
        await conn.execute(
            select(courses)
            .join(bundle_courses, bundle_courses.c.course_id == courses.c.id)
            .where(bundle_courses.c.bundle_id == row.id)
            .order_by(courses.c.id)
        )
    ).all()
    price = Money(row.currency, row.price_minor)
    included = tuple(course_from_row(m) for m in members)
    return Bundle(row.id, row.community_id, row.code, row.title, price, row.hidden, included)
