"""Hourly: each community whose local time has passed 03:00 and whose analytics were last
computed before today (its own day, in its time zone) gets them computed again — so the daily
run happens at night wherever the community is, and a run missed by downtime happens next."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from core.analytics.tables import analytics_runs
from core.services import Services
from jobs.registry import JobSpec, Progress

log = logging.getLogger(__name__)

LOCAL_HOUR = 3


async def compute_analytics(services: Services, now: datetime, *, progress: Progress | None = None) -> None:
    communities = await services.members.list_communities()
    async with services.db.read() as conn:
        last = dict(
            (await conn.execute(select(analytics_runs.c.community_id, analytics_runs.c.computed_at))).all()
        )
    due = []
    for community in communities:
        local = now.astimezone(ZoneInfo(community.timezone))
        previous = last.get(community.id)  # aware UTC (UTCDateTime)
        if local.hour >= LOCAL_HOUR and (
            previous is None or previous.astimezone(local.tzinfo).date() < local.date()
        ):
            due.append(community)
    for done, community in enumerate(due, start=1):
        summary = await services.analytics.run(community, now)
        await services.recommend.refit(community, now)  # the recommendations learn nightly too
        log.info("analytics: %s, %d members", community.name, summary["members"])
        if progress is not None:
            progress(done, len(due))


SPEC = JobSpec(
    "analytics",
    CronTrigger(minute=50, timezone="UTC"),
    compute_analytics,
    "engagement, cohorts, revenue, segments and recommendations, nightly in each community's time zone",
    reports_progress=True,
)
