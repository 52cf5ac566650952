"""Lesson versions: every content a lesson has had, and drafts waiting for review.

Each lesson write that is published keeps a row here (title, text, drip day, the file's name,
who, when), in the same transaction as the lesson itself, so the previous content is never
lost and any version can be compared or restored. With ``content.review`` on, what moderators
and creators other than the community's owner write is stored here only, as a draft: learners
read ``lessons``, which a draft never touches, until the owner approves it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.catalog.models import Lesson
from core.catalog.tables import lesson_versions
from core.i18n import Msg, msg

PUBLISHED, DRAFT, REJECTED = "published", "draft", "rejected"
STATES: dict[str, Msg] = {  # as /lesson history and the dashboard say them
    PUBLISHED: msg("published"),
    DRAFT: msg("draft, waiting for review"),
    REJECTED: msg("rejected"),
}


@dataclass(frozen=True)
class LessonVersion:
    id: int
    course_id: int
    lesson_id: int | None  # None: a draft of a new lesson
    title: str
    body: str
    unlock_days: int
    file_name: str | None
    author_member_id: int | None
    created_at: datetime
    status: str  # published | draft | rejected
    reviewed_by: int | None = None
    reviewed_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True)
class LessonWrite:
    """What a lesson write did: published ``lesson``, or kept ``draft`` for the owner's review."""

    lesson: Lesson | None = None
    draft: LessonVersion | None = None


def version_from_row(row: Any) -> LessonVersion:
    return LessonVersion(
        row.id,
        row.course_id,
        row.lesson_id,
        row.title,
        row.body,
        row.unlock_days,
        row.file_name,
        row.author_member_id,
        row.created_at,
        row.status,
        row.reviewed_by,
        row.reviewed_at,
        row.note,
    )


async def record_version(
    conn: AsyncConnection,
    *,
    course_id: int,
    lesson_id: int | None,
    title: str,
    body: str,
    unlock_days: int,
    file_name: str | None,
    author_member_id: int | None,
    at: datetime,
    status: str,
    note: str = "",
) -> LessonVersion:
    row_id = (
        await conn.execute(
            insert(lesson_versions)
            .values(
                course_id=course_id,
                lesson_id=lesson_id,
                title=title,
                body=body,
                unlock_days=unlock_days,
                file_name=file_name,
                author_member_id=author_member_id,
                created_at=at,
                status=status,
                note=note[:200],
            )
            .returning(lesson_versions.c.id)
        )
    ).scalar_one()
    row = (await conn.execute(select(lesson_versions).where(lesson_versions.c.id == row_id))).one()
    return version_from_row(row)


def diff_lines(before: LessonVersion | None, after: LessonVersion) -> list[tuple[str, str]]:
    """What changed from ``before`` to ``after``, line by line: (kind, text) with kind one of
    ``+`` (added), ``-`` (removed), `` `` (unchanged context) and ``@`` (a hunk's position).
    The title and drip day come first as lines of their own, so a rename shows too."""

    def lines(version: LessonVersion | None) -> list[str]:
        if version is None:
            return []
        head = [f"# {version.title}", f"day {version.unlock_days}"]
        if version.file_name:
            head.append(f"file {version.file_name}")
        return [*head, "", *version.body.splitlines()]

    diff = difflib.unified_diff(lines(before), lines(after), lineterm="", n=2)
    shown: list[tuple[str, str]] = []
    for line in diff:
        if line.startswith(("---", "+++")):
            continue
        kind = line[:1] if line[:1] in "+- @" else " "
        shown.append((kind, line if kind == "@" else line[1:]))
    return shown
