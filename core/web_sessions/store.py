"""Ending a member's web sessions inside another service's transaction (a role change)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.web_sessions.tables import web_sessions


async def end_sessions(conn: AsyncConnection, member_id: int, at: datetime) -> int:
    """Revoke every live session of ``member_id``; returns how many were live."""
    result = await conn.execute(
        update(web_sessions)
        .where(web_sessions.c.member_id == member_id, web_sessions.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount or 0
