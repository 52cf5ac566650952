"""bot/scheduler.py: APScheduler ticks run the due jobs, in the leading process only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.app import App
from bot.config import Config
from bot.scheduler import JobScheduler
from core.clock import ManualClock


async def test_ticks_run_what_is_due(app: App, clock: ManualClock) -> None:
    scheduler = JobScheduler(app)
    assert await scheduler.tick() == []  # schedules start now
    clock.advance(timedelta(minutes=10))
    assert "subscriptions" in await scheduler.tick()
    await scheduler.stop()


async def test_the_live_scheduler_ticks_by_itself(app: App) -> None:
    scheduler = JobScheduler(app, every_seconds=0.05)
    scheduler.start()
    try:
        for _ in range(100):
            if scheduler.ticks >= 2:
                break
            await asyncio.sleep(0.02)
        assert scheduler.ticks >= 2
    finally:
        await scheduler.stop()


async def test_of_two_processes_on_postgresql_one_runs_the_jobs(
    app: App, config: Config, clock: ManualClock, backend: str
) -> None:
    other = await App.open(config, clock=clock)
    first, second = JobScheduler(app), JobScheduler(other)
    try:
        await first.tick()
        await second.tick()
        clock.advance(timedelta(minutes=10))
        ran = [await first.tick(), await second.tick()]
        if backend == "postgresql":
            assert ran[1] == [] and "subscriptions" in ran[0]
            assert first.leading and not second.leading
        else:
            assert "subscriptions" in ran[0]  # SQLite: one process by design
    finally:
        await first.stop()
        await second.stop()
        await other.close()


async def test_stopping_lets_a_tick_under_way_finish(app: App) -> None:
    """SIGTERM (or a rejected token) during a tick: the tick completes, nothing is cancelled
    halfway and no traceback is logged."""
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []
    run_due_jobs = app.run_due_jobs

    async def slow_jobs() -> list[str]:
        started.set()
        await release.wait()
        ran = await run_due_jobs()
        finished.append("done")
        return ran

    app.run_due_jobs = slow_jobs  # type: ignore[method-assign]
    scheduler = JobScheduler(app)
    scheduler.start()
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(scheduler.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the tick
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert finished == ["done"]
