"""jobs/analytics.py: the nightly run in each community's own time zone, once a local day."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import App
from core.clock import ManualClock
from jobs.analytics import compute_analytics


async def test_each_community_is_computed_after_3_local_once_a_day(app: App, clock: ManualClock) -> None:
    members = app.services.members
    shanghai = await members.ensure_community("shanghai", default_locale="zh_CN", timezone="Asia/Shanghai")
    london = await members.ensure_community("london", default_locale="en", timezone="Europe/London")
    seen: list[tuple[int, int]] = []

    async def run(at: datetime) -> set[int]:
        before = {c.id: await _computed(app, c.id) for c in (shanghai, london)}
        await compute_analytics(app.services, at, progress=lambda done, total: seen.append((done, total)))
        return {cid for cid, was in before.items() if await _computed(app, cid) != was}

    # 18:00 UTC: 18:00 in London (due), 02:00 the next day in Shanghai (not yet).
    assert await run(datetime(2026, 1, 5, 18, 0, tzinfo=UTC)) == {london.id}
    # 19:30 UTC: 03:30 in Shanghai; London has had its run for its day.
    assert await run(datetime(2026, 1, 5, 19, 30, tzinfo=UTC)) == {shanghai.id}
    assert await run(datetime(2026, 1, 5, 23, 0, tzinfo=UTC)) == set()
    # 03:30 UTC the next day: a new day in London; Shanghai's day (Jan 6) already has its run.
    assert await run(datetime(2026, 1, 6, 3, 30, tzinfo=UTC)) == {london.id}
    assert seen and seen[-1][0] == seen[-1][1]  # the progress bar reached its end


async def _computed(app: App, community_id: int) -> object:
    from sqlalchemy import select

    from core.analytics.tables import analytics_runs

    async with app.db.read() as conn:
        return (
            await conn.execute(
                select(analytics_runs.c.computed_at).where(analytics_runs.c.community_id == community_id)
            )
        ).scalar()
