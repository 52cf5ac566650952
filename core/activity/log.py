"""Recording and reading activity."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from core.activity.tables import activity
from core.events import EventKind
from core.storage.batching import GroupCommit
from core.storage.database import Database, sqlite_time
from core.storage.pg_bulk import insert_unnest
from core.storage.sqlite_bulk import insert_rows


class ActivityRecord(NamedTuple):
    """One row of the activity log (a named tuple: one is built for every inbound event)."""

    community_id: int
    member_id: int
    chat_id: int
    at: datetime
    kind: EventKind
    text_length: int
    source: str | None = None  # the platform's id of what happened: recorded once per community


class ActivityLog:
    """Appends activity rows through a group-commit writer (one transaction per batch)."""

    def __init__(self, db: Database, commits: GroupCommit[Any, Any] | None = None) -> None:
        """``commits``: a shared writer (rows then commit with other writes of the same events)."""
        self._db = db
        self.commits = commits or GroupCommit(db, name="activity")
        self.commits.register(ActivityRecord, _insert_batch)

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


def _insert_batch(conn: Connection, items: Sequence[ActivityRecord]) -> list[None]:
    """Insert the rows; one whose source is already recorded (a redelivered update) is skipped."""
    if conn.dialect.name == "sqlite":
        # The hottest insert of all (every inbound event): raw executemany, as in the ledger.
        insert_rows(
            conn.connection.driver_connection,
            "activity",
            ("community_id", "member_id", "chat_id", "at", "kind", "text_length", "source"),
            [
                (
                    i.community_id,
                    i.member_id,
                    i.chat_id,
                    sqlite_time(i.at),
                    i.kind.value,
                    i.text_length,
                    i.source,
                )
                for i in items
            ],
            skip_conflicts=True,
        )
        return [None] * len(items)
    if conn.dialect.name == "postgresql":
        # One statement from column arrays (core/storage/pg_bulk.py). The columns are the
        # record's fields, so a field added to ActivityRecord (and the table) goes in with no
        # other change. A row conflicting with a unique index is skipped, not a failed batch.
        insert_unnest(conn, activity, ActivityRecord._fields, items, conflict=())
        return [None] * len(items)
    rows = [
        {
            "community_id": item.community_id,
            "member_id": item.member_id,
            "chat_id": item.chat_id,
            "at": item.at,
            "kind": item.kind.value,
            "text_length": item.text_length,
            "source": item.source,
        }
        for item in items
    ]
    conn.execute(postgresql.insert(activity).on_conflict_do_nothing(), rows)
    return [None] * len(items)
