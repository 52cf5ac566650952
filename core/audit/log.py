"""Writing and reading audit entries (always inside the caller's transaction)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.tables import audit_log


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_member_id: int | None
    action: str
    subject_member_id: int | None
    detail: dict[str, Any]


async def record(
    conn: AsyncConnection,
    *,
    community_id: int,
    at: datetime,
    action: str,
    actor_member_id: int | None,
    subject_member_id: int | None = None,
    **detail: Any,
) -> None:
    """Append one entry in the same transaction as the change it describes."""
    await conn.execute(
        insert(audit_log).values(
            community_id=community_id,
            at=at,
            actor_member_id=actor_member_id,
            action=action,
            subject_member_id=subject_member_id,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
        )
    )


async def recent(
    conn: AsyncConnection, community_id: int, *, subject_member_id: int | None = None, limit: int = 20
) -> list[AuditEntry]:
    query = select(audit_log).where(audit_log.c.community_id == community_id)
    if subject_member_id is not None:
        query = query.where(audit_log.c.subject_member_id == subject_member_id)
    rows = await conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit))
    return [
        AuditEntry(r.id, r.at, r.actor_member_id, r.action, r.subject_member_id, json.loads(r.detail))
        for r in rows
    ]
