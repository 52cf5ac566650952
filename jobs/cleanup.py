"""Every day: forget what is kept only for a while (button tokens older than 30 days:
core/delivery/callback_tokens.py). Deletes by age, so running it twice changes nothing."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from core.services import Services
from jobs.registry import JobSpec

log = logging.getLogger(__name__)


async def clean_up(services: Services, now: datetime) -> None:
    tokens = await services.callback_tokens.forget_old()
    if tokens:
        log.info("cleanup: %d button tokens expired", tokens)


SPEC = JobSpec("cleanup", CronTrigger(hour=3, minute=20, timezone="UTC"), clean_up, "expired button tokens")
