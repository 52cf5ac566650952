"""Every 10 minutes: join rewards for referees who took part, commissions whose hold is over,
and whatever an order's follow-up missed (accruals, refunds)."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from core.services import Services
from jobs.registry import JobSpec

log = logging.getLogger(__name__)


async def tend_referrals(services: Services, now: datetime) -> None:
    joined = await services.referrals.reward_joins(now)
    await services.commissions.catch_up(now)
    released = await services.commissions.release_due(now)
    if joined or released:
        log.info("referrals: %d join rewards, %d commissions released", joined, released)


SPEC = JobSpec(
    "referrals",
    CronTrigger(minute="*/10", timezone="UTC"),
    tend_referrals,
    "referral join rewards; commissions past their hold",
)
