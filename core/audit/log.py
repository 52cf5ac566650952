"""Writing and reading audit entries (always inside the caller's transaction)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.tables import audit_log

# Where the change being made was asked for ("command", "dashboard"): set by the entry point for
# the request it handles, so every core service's audit entry says it without a parameter.
_VIA: ContextVar[str | None] = ContextVar("audit_via", default=None)


@contextmanager
def requested_via(channel: str) -> Iterator[None]:
    """Entries recorded while the block runs (in this task) get ``via=channel``."""
    token = _VIA.set(channel)
    try:
        yield
    finally:
        _VIA.reset(token)


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
    """Append one entry in the same transaction as the change it describes (with ``via``,
    where it was asked for, unless the caller says)."""
    via = _VIA.get()
    if via is not None and "via" not in detail:
        detail["via"] = via
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
