"""The job registry and a runner that runs every job that has become due.

Schedules are APScheduler triggers, so the same definitions drive the live scheduler and the
sandbox clock (``:clock`` in the console runs ``run_due``).  Missed runs are coalesced into
one: a job catches up by looking at the data, not by being called once per missed slot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import insert, select, update

from core.services import Services
from core.storage.state_tables import job_runs
from core.tracing import mark_error, request_scope

log = logging.getLogger(__name__)

JobFunction = Callable[..., Awaitable[None]]  # (services, now[, progress=...])
Progress = Callable[[int, int], None]  # (done, total): for a progress bar


@dataclass(frozen=True)
class JobSpec:
    name: str
    trigger: BaseTrigger
    run: JobFunction
    description: str = ""
    reports_progress: bool = False  # ``run`` takes ``progress=`` (long jobs, for `jobs run`)


@dataclass
class JobRegistry:
    jobs: dict[str, JobSpec] = field(default_factory=dict)

    def add(self, spec: JobSpec) -> None:
        if spec.name in self.jobs:
            raise ValueError(f"job {spec.name!r} registered twice")
        self.jobs[spec.name] = spec

    def job(
        self, name: str, trigger: BaseTrigger, description: str = ""
    ) -> Callable[[JobFunction], JobFunction]:
        def register(function: JobFunction) -> JobFunction:
            self.add(JobSpec(name, trigger, function, description))
            return function

        return register


class JobRunner:
    def __init__(self, registry: JobRegistry, services: Services) -> None:
        self._registry = registry
        self._services = services

    async def run_due(self, now: datetime | None = None) -> list[str]:
        """Run each job whose next fire time since its last run is at or before ``now``.

        A job seen for the first time starts its schedule at ``now`` without running.
        Returns the names of the jobs that ran.
        """
        now = now or self._services.clock.now()
        ran: list[str] = []
        for spec in self._registry.jobs.values():
            state = await self._last_run(spec.name)
            if state is None:
                await self._mark(spec.name, now, "scheduled", None, new=True)
                continue
            last, status = state
            due = spec.trigger.get_next_fire_time(None, last + timedelta(microseconds=1))
            if status == "failed" or (due is not None and due <= now):
                await self.run_job(spec.name, now)
                ran.append(spec.name)
        return ran

    async def run_job(
        self, name: str, now: datetime | None = None, *, progress: Progress | None = None
    ) -> bool:
        """Run one job now; record the outcome. True when it succeeded."""
        with request_scope():  # the job's log lines carry one id
            return await self._run_job(name, now, progress)

    async def _run_job(self, name: str, now: datetime | None, progress: Progress | None) -> bool:
        spec = self._registry.jobs[name]
        now = now or self._services.clock.now()
        new = await self._last_run(name) is None
        started = time.monotonic()
        try:
            if spec.reports_progress and progress is not None:
                await spec.run(self._services, now, progress=progress)
            else:
                await spec.run(self._services, now)
        except Exception as error:
            log.exception("job %s failed [error %s]", name, mark_error())
            self._services.metrics.observe_job(name, False, time.monotonic() - started)
            await self._mark(name, None, "failed", repr(error)[:2000], new=new, fallback=now)
            return False
        self._services.metrics.observe_job(name, True, time.monotonic() - started)
        await self._mark(name, now, "ok", None, new=new)
        return True

    async def _last_run(self, name: str) -> tuple[datetime, str] | None:
        """(last run time, last status) or None for a job never seen."""
        async with self._services.db.read() as conn:
            row = (
                await conn.execute(
                    select(job_runs.c.last_run_at, job_runs.c.last_status).where(job_runs.c.name == name)
                )
            ).first()
        return (row.last_run_at, row.last_status) if row else None

    async def _mark(
        self,
        name: str,
        at: datetime | None,
        status: str,
        error: str | None,
        *,
        new: bool,
        fallback: datetime | None = None,
    ) -> None:
        # A failed run keeps its last successful time so the next tick retries it.
        async with self._services.db.write() as conn:
            if new:
                await conn.execute(
                    insert(job_runs).values(
                        name=name, last_run_at=at or fallback, last_status=status, last_error=error
                    )
                )
                return
            values: dict[str, object] = {"last_status": status, "last_error": error}
            if at is not None:
                values["last_run_at"] = at
            await conn.execute(update(job_runs).where(job_runs.c.name == name).values(**values))
