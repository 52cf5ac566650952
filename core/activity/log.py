"""Recording and reading activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from core.activity.tables import activity
from core.events import EventKind
from core.storage.database import Database


@dataclass(frozen=True)
class ActivityRecord:
    community_id: int
    member_id: int
    chat_id: int
    at: datetime
    kind: EventKind
    text_length: int


class ActivityLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, item: ActivityRecord) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                insert(activity).values(
                    community_id=item.community_id,
                    member_id=item.member_id,
                    chat_id=item.chat_id,
                    at=item.at,
                    kind=item.kind.value,
                    text_length=item.text_length,
                )
            )

    async def count(self, community_id: int, *, member_id: int | None = None) -> int:
        query = select(func.count()).select_from(activity).where(activity.c.community_id == community_id)
        if member_id is not None:
            query = query.where(activity.c.member_id == member_id)
        async with self._db.read() as conn:
            return (await conn.execute(query)).scalar_one()
