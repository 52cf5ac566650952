"""Every 10 minutes: subscription reminders, and trials and periods whose time is up."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from core.services import Services
from jobs.registry import JobSpec

log = logging.getLogger(__name__)


async def tend_subscriptions(services: Services, now: datetime) -> None:
    counts = await services.subscriptions.tend(now)
    if any(counts.values()):
        log.info("subscriptions: %s", counts)


SPEC = JobSpec(
    "subscriptions",
    CronTrigger(minute="*/10", timezone="UTC"),
    tend_subscriptions,
    "subscription reminders; trials and periods that ended",
)
