"""Every 30 minutes: paid chats reconciled with who has paid (removals, invitations, problems)."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from core.services import Services
from jobs.registry import JobSpec

log = logging.getLogger(__name__)


async def reconcile_paid_chats(services: Services, now: datetime) -> None:
    for community in await services.members.list_communities():
        done = await services.paid_chats.reconcile(community)
        if done:
            log.info("paid chats in %s: %d changes", community.name, len(done))


SPEC = JobSpec(
    "paid_chats",
    CronTrigger(minute="*/30", timezone="UTC"),
    reconcile_paid_chats,
    "paid chats reconciled with who has paid",
)
