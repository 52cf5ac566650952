"""Writing a community's tiers, with the audit entry of the change in the same transaction
(kept out of core/ledger/points.py, which is at its size limit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import record
from core.ledger.tables import ledger_tiers
from core.ledger.tiers import Tier
from core.storage.upsert import insert_or_update


async def replace_tiers(
    conn: AsyncConnection,
    dialect: str,
    *,
    community_id: int,
    tiers: Sequence[Tier],
    changed: Tier,
    actor_member_id: int,
    at: datetime,
) -> None:
    """Store ``tiers`` as the community's whole list (the defaults become rows the first time
    a creator changes a tier) and record ``changed`` as set by the actor."""
    await conn.execute(delete(ledger_tiers).where(ledger_tiers.c.community_id == community_id))
    for row in tiers:
        await conn.execute(
            insert_or_update(
                dialect,
                ledger_tiers,
                {
                    "community_id": community_id,
                    "name": row.name,
                    "threshold": row.threshold,
                    "multiplier_pct": row.multiplier_pct,
                },
                ["community_id", "name"],
                ["threshold", "multiplier_pct"],
            )
        )
    await record(
        conn,
        community_id=community_id,
        at=at,
        action="tier.set",
        actor_member_id=actor_member_id,
        tier=changed.name,
        threshold=changed.threshold,
        multiplier=changed.multiplier_text,
    )
