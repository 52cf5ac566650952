"""Every minute: queue what the automations owe, then send due pushes through the channels
the adapters registered, for at most SEND_BUDGET seconds (the outbox keeps the rest for the
next run, so a long campaign spreads over several)."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from core.services import Services
from jobs.registry import JobSpec

log = logging.getLogger(__name__)

SEND_BUDGET = 40.0  # seconds of sending per run, so the other jobs are not held up long


async def run_pushes(services: Services, now: datetime) -> None:
    queued = await services.pushes.automate(now)
    report = await services.pushes.send_due(now, budget=SEND_BUDGET)
    if any(queued.values()) or report.sent or report.skipped or report.failed:
        log.info("pushes: queued %s; %s", queued, report)


SPEC = JobSpec("pushes", CronTrigger(minute="*", timezone="UTC"), run_pushes, "automations; due pushes")
