"""Button data kept behind short tokens, in the database: a button on a message sent by one
process works when pressed on another, and after a restart.

A token is a hash of its data, so a token's data never changes: any process may store it
again or read it, and keep it in memory once read. Storing a token again moves its
``created_at`` on; rows are deleted ``KEEP_FOR`` after they were last stored (``forget_old``,
run daily by jobs/cleanup.py). Each process stores a token it renders at least once a day
(bot/adapters/callbacks.py), so a button works for at least 29 days after its message was
sent; an older one answers that it has expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select

from core.clock import Clock
from core.delivery.tables import callback_tokens
from core.storage.database import Database
from core.storage.upsert import insert_or_update

KEEP_FOR = timedelta(days=30)


class CallbackTokens:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def remember(self, tokens: Mapping[str, str]) -> None:
        """Store ``token -> data`` pairs (one statement); a token already stored keeps its data
        and counts as made now."""
        if not tokens:
            return
        now = self._clock.now()
        rows = [{"t": token, "d": data, "at": now} for token, data in tokens.items()]
        values = {"token": bindparam("t"), "data": bindparam("d"), "created_at": bindparam("at")}
        upsert = insert_or_update(self._db.dialect, callback_tokens, values, ["token"], ["created_at"])
        async with self._db.write() as conn:
            await conn.execute(upsert, rows)

    async def recall(self, token: str) -> str | None:
        """The data behind ``token``, or None when it is unknown or was forgotten."""
        query = select(callback_tokens.c.data).where(callback_tokens.c.token == token)
        async with self._db.read() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def forget_before(self, before: datetime) -> int:
        async with self._db.write() as conn:
            done = await conn.execute(delete(callback_tokens).where(callback_tokens.c.created_at < before))
            return done.rowcount or 0

    async def forget_old(self) -> int:
        """Delete tokens made more than ``KEEP_FOR`` ago; returns how many."""
        return await self.forget_before(self._clock.now() - KEEP_FOR)
