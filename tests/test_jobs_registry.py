"""jobs/registry.py: the job registry and the runner that runs what has become due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from bot.app import App
from core.services import Services
from core.storage.state_tables import job_runs
from jobs.registry import JobRegistry, JobRunner, JobSpec
from tests.conftest import START

HOUR = timedelta(hours=1)
# 03:00 in Shanghai is 19:00 UTC the day before; START is 17:00 in Shanghai.
FIRST_03_SHANGHAI = datetime.fromisoformat("2026-01-05T19:00:00+00:00")


@dataclass
class Recorder:
    """A job body that records each call and fails while ``failing`` is set."""

    calls: list[datetime] = field(default_factory=list)
    services: list[Services] = field(default_factory=list)
    failing: bool = False

    async def __call__(self, services: Services, now: datetime) -> None:
        self.calls.append(now)
        self.services.append(services)
        if self.failing:
            raise RuntimeError("boom: the push provider is down")


@dataclass(frozen=True)
class Run:
    last_run_at: datetime
    last_status: str
    last_error: str | None


async def run_row(app: App, name: str) -> Run | None:
    async with app.db.read() as conn:
        row = (await conn.execute(select(job_runs).where(job_runs.c.name == name))).first()
    return Run(row.last_run_at, row.last_status, row.last_error) if row else None


def hourly_registry(recorder: Recorder, name: str = "hourly") -> JobRegistry:
    registry = JobRegistry()
    # An explicit start: by default APScheduler anchors intervals at the wall-clock time of
    # construction, and the test clock is not the wall clock.
    registry.add(JobSpec(name, IntervalTrigger(hours=1, start_date=START), recorder, "every hour"))
    return registry


async def test_a_job_seen_first_is_scheduled_but_not_run(app: App) -> None:
    recorder = Recorder()
    runner = JobRunner(hourly_registry(recorder), app.services)

    assert await runner.run_due(START) == []

    assert recorder.calls == []
    assert await run_row(app, "hourly") == Run(START, "scheduled", None)


async def test_a_job_runs_once_when_due_and_not_again_until_the_next_slot(app: App) -> None:
    recorder = Recorder()
    runner = JobRunner(hourly_registry(recorder), app.services)
    await runner.run_due(START)

    assert await runner.run_due(START + timedelta(minutes=59)) == []
    assert await runner.run_due(START + HOUR) == ["hourly"]
    assert await runner.run_due(START + HOUR) == []
    assert await runner.run_due(START + timedelta(minutes=119)) == []
    assert await runner.run_due(START + 2 * HOUR) == ["hourly"]

    assert recorder.calls == [START + HOUR, START + 2 * HOUR]
    assert recorder.services == [app.services, app.services]
    assert await run_row(app, "hourly") == Run(START + 2 * HOUR, "ok", None)


async def test_run_due_uses_the_services_clock_when_no_time_is_given(app: App) -> None:
    recorder = Recorder()
    runner = JobRunner(hourly_registry(recorder), app.services)
    await runner.run_due()  # START, from the app's manual clock

    app.clock.advance(HOUR)  # type: ignore[attr-defined]

    assert await runner.run_due() == ["hourly"]
    assert recorder.calls == [START + HOUR]


async def test_missed_runs_coalesce_into_one(app: App) -> None:
    recorder = Recorder()
    runner = JobRunner(hourly_registry(recorder), app.services)
    await runner.run_due(START)
    late = START + timedelta(hours=5, minutes=30)

    assert await runner.run_due(late) == ["hourly"]
    assert await runner.run_due(late) == []
    assert await runner.run_due(START + timedelta(hours=5, minutes=59)) == []
    assert await runner.run_due(START + 6 * HOUR) == ["hourly"]

    assert recorder.calls == [late, START + 6 * HOUR]


async def test_a_cron_job_follows_its_own_time_zone(app: App) -> None:
    recorder = Recorder()
    registry = JobRegistry()
    registry.add(JobSpec("nightly", CronTrigger(hour=3, timezone="Asia/Shanghai"), recorder))
    runner = JobRunner(registry, app.services)
    await runner.run_due(START)

    assert await runner.run_due(FIRST_03_SHANGHAI - timedelta(minutes=1)) == []
    assert await runner.run_due(FIRST_03_SHANGHAI) == ["nightly"]
    assert await runner.run_due(FIRST_03_SHANGHAI + timedelta(hours=23, minutes=59)) == []
    # Three nights missed: one run.
    three_days_later = FIRST_03_SHANGHAI + timedelta(days=3, hours=2)
    assert await runner.run_due(three_days_later) == ["nightly"]
    assert await runner.run_due(three_days_later) == []

    assert recorder.calls == [FIRST_03_SHANGHAI, three_days_later]


async def test_a_failing_job_is_recorded_and_retried_at_the_next_run_due(app: App) -> None:
    flaky = Recorder(failing=True)
    steady = Recorder()
    registry = hourly_registry(flaky, "flaky")
    registry.add(JobSpec("steady", IntervalTrigger(hours=1, start_date=START), steady))
    runner = JobRunner(registry, app.services)
    await runner.run_due(START)

    assert await runner.run_due(START + HOUR) == ["flaky", "steady"]  # one failure stops nothing
    failed = await run_row(app, "flaky")
    assert failed is not None
    assert failed.last_status == "failed"
    assert failed.last_error is not None and "boom: the push provider is down" in failed.last_error
    assert failed.last_run_at == START  # the last good time stays, so it is still due
    assert await run_row(app, "steady") == Run(START + HOUR, "ok", None)

    retry_at = START + timedelta(minutes=65)
    assert await runner.run_due(retry_at) == ["flaky"]
    assert flaky.calls == [START + HOUR, retry_at]

    flaky.failing = False
    recovered_at = START + timedelta(minutes=70)
    assert await runner.run_due(recovered_at) == ["flaky"]
    assert await run_row(app, "flaky") == Run(recovered_at, "ok", None)
    assert await runner.run_due(START + timedelta(minutes=119)) == []
    assert flaky.calls == [START + HOUR, retry_at, recovered_at]
    assert steady.calls == [START + HOUR]


async def test_run_job_runs_on_demand_and_restarts_the_schedule(app: App) -> None:
    recorder = Recorder()
    runner = JobRunner(hourly_registry(recorder), app.services)
    await runner.run_due(START)
    on_demand = START + timedelta(minutes=10)

    assert await runner.run_job("hourly", on_demand) is True

    assert recorder.calls == [on_demand]
    assert await run_row(app, "hourly") == Run(on_demand, "ok", None)
    assert await runner.run_due(START + timedelta(minutes=59)) == []
    assert await runner.run_due(START + HOUR) == ["hourly"]


async def test_run_job_on_a_job_never_seen_records_it(app: App) -> None:
    recorder = Recorder()
    runner = JobRunner(hourly_registry(recorder), app.services)

    assert await runner.run_job("hourly", START) is True

    assert recorder.calls == [START]
    assert await run_row(app, "hourly") == Run(START, "ok", None)


async def test_run_job_reports_a_failure_without_raising(app: App) -> None:
    recorder = Recorder(failing=True)
    runner = JobRunner(hourly_registry(recorder), app.services)
    await runner.run_due(START)

    assert await runner.run_job("hourly", START + timedelta(minutes=5)) is False

    failed = await run_row(app, "hourly")
    assert failed is not None
    assert (failed.last_status, failed.last_run_at) == ("failed", START)
    assert failed.last_error is not None and "RuntimeError" in failed.last_error


async def test_a_first_run_that_fails_is_retried_at_the_next_run_due(app: App) -> None:
    recorder = Recorder(failing=True)
    registry = JobRegistry()
    registry.add(JobSpec("nightly", CronTrigger(hour=3, timezone="Asia/Shanghai"), recorder))
    runner = JobRunner(registry, app.services)

    assert await runner.run_job("nightly", START) is False
    recorder.failing = False

    assert await runner.run_due(START + timedelta(minutes=5)) == ["nightly"]


def test_duplicate_job_names_are_refused() -> None:
    registry = JobRegistry()
    registry.add(JobSpec("push", IntervalTrigger(hours=1), Recorder()))

    with pytest.raises(ValueError, match="'push' registered twice"):
        registry.add(JobSpec("push", CronTrigger(hour=3), Recorder()))

    with pytest.raises(ValueError, match="registered twice"):

        @registry.job("push", IntervalTrigger(minutes=5))
        async def push_again(services: Services, now: datetime) -> None:  # pragma: no cover
            pass

    assert list(registry.jobs) == ["push"]


def test_the_job_decorator_registers_and_returns_the_function() -> None:
    registry = JobRegistry()
    trigger = IntervalTrigger(hours=6)

    @registry.job("digest", trigger, "daily digest")
    async def digest(services: Services, now: datetime) -> None:  # pragma: no cover
        pass

    assert registry.jobs["digest"] == JobSpec("digest", trigger, digest, "daily digest")


async def test_run_job_of_an_unknown_name_raises(app: App) -> None:
    runner = JobRunner(JobRegistry(), app.services)

    with pytest.raises(KeyError):
        await runner.run_job("nope", START)
