"""The live scheduler: APScheduler 3's AsyncIOScheduler ticks every minute inside
``studyhall run`` (or ``studyhall jobs serve``), and each tick runs the jobs that have become
due (jobs/registry.py decides from their triggers and last runs) — in the leader process only
(core/storage/leader.py), so several processes on PostgreSQL never run a job twice."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from core.storage.leader import SchedulerLeader

log = logging.getLogger(__name__)

TICK_SECONDS = 60


class JobScheduler:
    def __init__(self, app: App, *, every_seconds: float = TICK_SECONDS) -> None:
        self._app = app
        self._every = every_seconds
        self._leader = SchedulerLeader(app.db)
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._ticking = asyncio.Lock()  # stop() waits for a tick under way
        self.ticks = 0

    def start(self) -> None:
        self._scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self._every, timezone=UTC),
            id="studyhall-jobs",
            max_instances=1,  # a slow tick is never run twice at once
            coalesce=True,  # ticks missed while busy become one
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.start()

    async def tick(self) -> list[str]:
        """Run what is due, if this process leads; the jobs that ran."""
        async with self._ticking:
            self.ticks += 1
            try:
                if not await self._leader.try_lead():
                    return []
                return await self._app.run_due_jobs()
            except Exception:
                log.exception("scheduler: a tick failed (the next one tries again)")
                return []

    @property
    def leading(self) -> bool:
        return self._leader.leading

    async def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.pause()  # no new tick
        # A tick under way finishes first: shutting APScheduler down cancels a running job.
        async with self._ticking:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=False)
            await self._leader.release()
