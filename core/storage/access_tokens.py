"""Platform access tokens that every process of one deployment must share.

A WeChat Official Account has one valid access token at a time: fetching a new one invalidates
the old one (after a short grace) for every process using it. So the token lives here, one row
per AppID, and whoever refreshes it writes it for the others to read. The token is a secret:
it never reaches a log or a repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Column, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.storage.metadata import metadata
from core.storage.types import UTCDateTime
from core.storage.upsert import insert_or_update

wechat_access_tokens = Table(
    "wechat_access_tokens",
    metadata,
    Column("app_id", String(64), primary_key=True),
    Column("token", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


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
