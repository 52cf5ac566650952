"""Every day: forget what is kept only for a while (button tokens older than 30 days:
core/delivery/callback_tokens.py), and move points that reached a member after it was merged
into another on to the survivor (core/privacy/service.py). Running it twice changes nothing."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from core.services import Services
from jobs.registry import JobSpec

log = logging.getLogger(__name__)


async def clean_up(services: Services, now: datetime) -> None:
    tokens = await services.callback_tokens.forget_old()
    settled = await services.privacy.settle_merged(now)
    if tokens or settled:
        log.info("cleanup: %d button tokens expired; %d merged members settled", tokens, settled)


SPEC = JobSpec(
    "cleanup",
    CronTrigger(hour=3, minute=20, timezone="UTC"),
    clean_up,
    "expired button tokens; points left on merged members",
)
