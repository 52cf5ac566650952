"""Recording and reading activity."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.activity.tables import activity
from core.events import EventKind
from core.storage.batching import GroupCommit
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
    """Appends activity rows through a group-commit writer (one transaction per batch)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.commits: GroupCommit[ActivityRecord, None] = GroupCommit(db, _insert_batch, name="activity")

    async def record(self, item: ActivityRecord) -> None:
        """Append one row; returns once it is committed."""
        await self.commits.submit(item)

    def enqueue(self, item: ActivityRecord) -> asyncio.Future[None]:
        """Append one row; await the future to know it is committed."""
        return self.commits.enqueue(item)

    async def close(self) -> None:
        await self.commits.close()

    async def count(self, community_id: int, *, member_id: int | None = None) -> int:
        query = select(func.count()).select_from(activity).where(activity.c.community_id == community_id)
        if member_id is not None:
            query = query.where(activity.c.member_id == member_id)
        async with self._db.read() as conn:
            return (await conn.execute(query)).scalar_one()


async def _insert_batch(conn: AsyncConnection, items: Sequence[ActivityRecord]) -> list[None]:
    rows = [
        {
            "community_id": item.community_id,
            "member_id": item.member_id,
            "chat_id": item.chat_id,
            "at": item.at,
            "kind": item.kind.value,
            "text_length": item.text_length,
        }
        for item in items
    ]
    await conn.execute(insert(activity), rows)
    return [None] * len(items)
