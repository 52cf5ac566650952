"""Every hour: questions past their time (bounty back, or to the moderators), and accept
bonuses a crash left unpaid."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from core.services import Services
from jobs.registry import JobSpec

log = logging.getLogger(__name__)


async def tend_questions(services: Services, now: datetime) -> None:
    counts = await services.qa.tend(now)
    if any(counts.values()):
        log.info("qa: %s", counts)


SPEC = JobSpec(
    "qa", CronTrigger(minute=0, timezone="UTC"), tend_questions, "unanswered questions; accept bonuses"
)
