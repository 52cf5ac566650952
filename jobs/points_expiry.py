"""Daily: expire points older than each community's ``points.expiry_days`` (first in, first out)."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from core.services import Services
from jobs.registry import JobSpec

log = logging.getLogger(__name__)


async def expire_points(services: Services, now: datetime) -> None:
    for community in await services.members.list_communities():
        days = await services.settings.get(community.id, "points.expiry_days")
        if days > 0:
            expired = await services.ledger.expire(community.id, expiry_days=days, now=now)
            if expired:
                log.info("expired %d points in %s", expired, community.name)


SPEC = JobSpec(
    "points_expiry",
    CronTrigger(hour=0, minute=10, timezone="UTC"),
    expire_points,
    "expire points older than points.expiry_days",
)
