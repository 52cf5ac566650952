"""The Official Account's access token, shared by every process through the database.

WeChat keeps one valid access token per AppID: fetching a new one invalidates the old one
(after about five minutes) for everyone, and the token endpoint allows 2,000 fetches a day. So
one process at a time refreshes it (a PostgreSQL advisory lock; on SQLite, one process, a
process-local lock), before it expires, and writes it to ``wechat_access_tokens``; the others
read it from there. A token WeChat refuses (40001, 40014, 42001) is refreshed under the same
lock, after re-reading the row: another process may have refreshed it already.

The token is a secret: nothing here logs it.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.delivery.tables import wechat_access_tokens
from core.storage.database import Database
from core.storage.upsert import insert_or_update

log = logging.getLogger(__name__)

REFRESH_BEFORE = timedelta(minutes=5)  # a token with less left is refreshed
INVALID_TOKEN = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, expired token
_LOCK_BASE = 0x5354_5544_0000_0000  # "STUD" + the AppID's CRC-32: one lock per Official Account

Fetch = Callable[[], Awaitable[tuple[str, int]]]  # a new (token, seconds it lasts) from WeChat


@dataclass(frozen=True)
class StoredToken:
    token: str = field(repr=False)
    expires_at: datetime


async def read_access_token(conn: AsyncConnection, app_id: str) -> StoredToken | None:
    table = wechat_access_tokens
    query = select(table.c.token, table.c.expires_at).where(table.c.app_id == app_id)
    row = (await conn.execute(query)).first()
    return StoredToken(row.token, row.expires_at) if row is not None else None


async def save_access_token(
    conn: AsyncConnection, app_id: str, stored: StoredToken, *, now: datetime
) -> None:
    """Write ``app_id``'s token (one upsert: safe when two writers race)."""
    values = {"app_id": app_id, "token": stored.token, "expires_at": stored.expires_at, "updated_at": now}
    statement = insert_or_update(
        conn.dialect.name, wechat_access_tokens, values, ["app_id"], ["token", "expires_at", "updated_at"]
    )
    await conn.execute(statement)


def _wall_clock() -> float:
    return datetime.now(UTC).timestamp()


class AccessTokens:
    """``current()`` gives a token with more than ``REFRESH_BEFORE`` left; ``rejected(token)``
    one to use instead of a token WeChat refused. Without a database (a one-off command) the
    token is kept in this process only."""

    def __init__(
        self, app_id: str, fetch: Fetch, *, db: Database | None = None, now: Callable[[], float] = _wall_clock
    ) -> None:
        self._app_id = app_id
        self._fetch = fetch
        self._db = db
        self._now = now
        self._held: StoredToken | None = None
        self._refreshing = asyncio.Lock()  # one refresher in this process
        self._lock_key = _LOCK_BASE + zlib.crc32(app_id.encode())
        self.fetched = 0  # tokens this process fetched from WeChat

    async def current(self) -> str:
        held = self._held
        if held is not None and self._fresh(held):
            return held.token
        stored = await self._read()
        if stored is not None and self._fresh(stored):
            self._held = stored
            return stored.token
        return await self._refresh(rejected=None)

    async def renewed(self) -> str:
        """A token fetched from WeChat now (WeChat checks the AppID, the AppSecret and the
        server's address only when it issues one), written where the other processes read it,
        so they move to it before the one they hold lapses. A refused fetch changes nothing."""
        stored = self._held or await self._read()
        return await self._refresh(rejected=stored.token if stored is not None else None)

    async def rejected(self, token: str) -> str:
        """WeChat refused ``token``: a new one, or the one another process has fetched since."""
        return await self._refresh(rejected=token)

    def _fresh(self, stored: StoredToken) -> bool:
        return stored.expires_at - self._clock() > REFRESH_BEFORE

    def _clock(self) -> datetime:
        return datetime.fromtimestamp(self._now(), UTC)

    def _usable(self, stored: StoredToken | None, rejected: str | None) -> bool:
        return stored is not None and stored.token != rejected and self._fresh(stored)

    async def _read(self) -> StoredToken | None:
        if self._db is None:
            return None
        async with self._db.read() as conn:
            return await read_access_token(conn, self._app_id)

    async def _refresh(self, rejected: str | None) -> str:
        async with self._refreshing:
            if self._usable(self._held, rejected):  # another task here refreshed it meanwhile
                assert self._held is not None
                return self._held.token
            if self._db is not None and self._db.dialect == "postgresql":
                stored = await self._refresh_shared(self._db, rejected)
            else:
                stored = await self._refresh_here(rejected)
            self._held = stored
            return stored.token

    async def _refresh_shared(self, db: Database, rejected: str | None) -> StoredToken:
        """Under the advisory lock (held to the end of the transaction): re-read the row,
        fetch only if it is still stale or the refused token, and write the new one."""
        async with db.write() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._lock_key})
            stored = await read_access_token(conn, self._app_id)
            if self._usable(stored, rejected):
                assert stored is not None
                return stored
            fresh = await self._fetch_new(rejected)
            await save_access_token(conn, self._app_id, fresh, now=self._clock())
            return fresh

    async def _refresh_here(self, rejected: str | None) -> StoredToken:
        """SQLite (one process: the local lock is enough) or no database: the write comes after
        the fetch, so no write transaction waits on WeChat."""
        stored = await self._read()
        if self._usable(stored, rejected):
            assert stored is not None
            return stored
        fresh = await self._fetch_new(rejected)
        if self._db is not None:
            async with self._db.write() as conn:
                await save_access_token(conn, self._app_id, fresh, now=self._clock())
        return fresh

    async def _fetch_new(self, rejected: str | None) -> StoredToken:
        token, seconds = await self._fetch()
        self.fetched += 1
        why = "WeChat refused the last one" if rejected is not None else "none fresh"
        log.info("wechat: fetched a new access token (%s); it lasts %d s", why, seconds)
        return StoredToken(token, self._clock() + timedelta(seconds=seconds))
