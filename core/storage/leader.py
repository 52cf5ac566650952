"""Which process runs the scheduled jobs.

On PostgreSQL several ``studyhall run`` processes may share the database; exactly one of them
(the leader) runs the jobs: the one holding a session-level advisory lock, on a connection it
keeps open. If that process dies, its connection closes, the lock goes with it, and another
process takes over at its next tick. SQLite serves one machine and one process: always the leader.
Other one-process duties (registering the Telegram webhook, polling Telegram) take the same kind
of lock under keys of their own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import text

from core.storage.database import Database

log = logging.getLogger(__name__)

LOCK_KEY = 0x5354_5544_5948  # "STUDYH": one lock per database for the scheduler


class SchedulerLeader:
    """The holder of one advisory lock: ``key`` names the duty, ``role`` and ``duty`` its log line."""

    def __init__(
        self, db: Database, *, key: int = LOCK_KEY, role: str = "scheduler", duty: str = "runs the jobs"
    ) -> None:
        self._db = db
        self._key = key
        self._role = role
        self._duty = duty
        self._connection: Any = None
        self._busy = asyncio.Lock()  # one use of the held connection at a time (a tick, a release)

    @property
    def leading(self) -> bool:
        return self._db.dialect != "postgresql" or self._connection is not None

    async def try_lead(self) -> bool:
        """Lead if no other process does; True while this process leads."""
        if self._db.dialect != "postgresql":
            return True
        async with self._busy:
            return await self._try_lead()

    async def _try_lead(self) -> bool:
        if self._connection is not None:
            # Ask again on the same connection: its session still holds the lock (true), or
            # the connection was replaced under us and another process leads now (false).
            try:
                held = await self._connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
                )
                if held.scalar():
                    await self._connection.commit()
                    return True
            except Exception:
                log.warning("%s: lost the database connection that held leadership", self._role)
            await self._drop(broken=True)
            return False
        connection = await self._db.engine.connect()
        try:
            asked = await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key})
            got = asked.scalar()
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        log.info("%s: this process now %s", self._role, self._duty)
        return True

    async def release(self) -> None:
        async with self._busy:
            await self._release()

    async def _release(self) -> None:
        if self._connection is None:
            return
        try:
            await self._connection.execute(text("SELECT pg_advisory_unlock_all()"))  # asked once per tick
            await self._connection.commit()
        except Exception:
            # A tick cancelled mid-query (the scheduler shutting down) leaves the connection
            # unusable; ending its session ends the lock too.
            log.debug("%s: unlocking failed; dropping the session instead", self._role, exc_info=True)
            await self._drop(broken=True)
        else:
            await self._drop()

    async def _drop(self, *, broken: bool = False) -> None:
        """Let go of the leadership connection. A ``broken`` one is invalidated, not pooled: a
        pooled session would keep its advisory lock, and no other process could lead."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                if broken:
                    await connection.invalidate()
                await connection.close()
            except Exception:
                log.debug("%s: closing the leadership connection failed", self._role, exc_info=True)
