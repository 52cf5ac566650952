"""jobs/points_expiry.py: the daily job that expires old points per community setting."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from core.clock import ManualClock
from core.events import UserRef
from core.ledger.models import Kind
from core.ledger.service import Balance
from core.ledger.tables import ledger_transfers
from core.members.models import Community, Member, Role
from jobs import points_expiry
from jobs.points_expiry import expire_points
from tests.conftest import ALL_JOBS, ConsoleDriver


async def _member(app: App, community: Community, name: str, role: Role = Role.LEARNER) -> Member:
    members = app.services.members
    member = await members.ensure_member(community, UserRef("console", name.lower(), name))
    if role is not Role.LEARNER:
        member = await members.assign_role(community, member, role, via="test")
    return member


async def _community_with_points(
    app: App, name: str, expiry_days: int, points: int
) -> tuple[Community, Member]:
    """A community whose creator sets the expiry and awards ``points`` to a learner now."""
    community = await app.services.members.ensure_community(name, default_locale="en", timezone="UTC")
    creator = await _member(app, community, f"{name}-owner", Role.CREATOR)
    learner = await _member(app, community, f"{name}-learner")
    await app.services.settings.set(community.id, "points.expiry_days", str(expiry_days), actor=creator)
    await app.services.points.award(community, creator, learner, points, "welcome", f"award:{name}")
    return community, learner


async def _balance(app: App, member: Member) -> int:
    return (await app.services.ledger.balance(member.community_id, member.id)).balance


async def _expiries(app: App) -> int:
    async with app.db.read() as conn:
        query = (
            select(func.count()).select_from(ledger_transfers).where(ledger_transfers.c.kind == Kind.EXPIRY)
        )
        return (await conn.execute(query)).scalar_one()


def test_the_job_is_registered_daily_after_midnight_utc() -> None:
    spec = points_expiry.SPEC
    assert spec.name == "points_expiry" and spec.run is expire_points
    fire = spec.trigger.get_next_fire_time(None, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    assert fire == datetime(2026, 1, 6, 0, 10, tzinfo=UTC)


async def test_each_community_expires_by_its_own_setting(app: App, clock: ManualClock) -> None:
    _, thirty = await _community_with_points(app, "thirtyhall", 30, 100)
    _, sixty = await _community_with_points(app, "sixtyhall", 60, 200)
    _, never = await _community_with_points(app, "foreverhall", 0, 300)

    clock.advance(timedelta(days=29))
    await expire_points(app.services, clock.now())
    assert [await _balance(app, m) for m in (thirty, sixty, never)] == [100, 200, 300]

    clock.advance(timedelta(days=2))  # day 31
    await expire_points(app.services, clock.now())
    assert [await _balance(app, m) for m in (thirty, sixty, never)] == [0, 200, 300]

    clock.advance(timedelta(days=30))  # day 61
    await expire_points(app.services, clock.now())
    assert [await _balance(app, m) for m in (thirty, sixty, never)] == [0, 0, 300]

    clock.advance(timedelta(days=3000))
    await expire_points(app.services, clock.now())
    assert await _balance(app, never) == 300
    # Expired points leave the balance, not the lifetime earned points (tiers stay).
    ledger = app.services.ledger
    assert await ledger.balance(thirty.community_id, thirty.id) == Balance(0, 100)
    assert await _expiries(app) == 2


async def test_rerunning_the_job_changes_nothing(app: App, clock: ManualClock) -> None:
    community, learner = await _community_with_points(app, "testhall", 30, 100)
    clock.advance(timedelta(days=20))
    await app.services.points.checkin(community, learner, clock.now())  # 5 fresh points
    clock.advance(timedelta(days=11))
    now = clock.now()
    await expire_points(app.services, now)
    assert await _balance(app, learner) == 5
    for later in (now, now + timedelta(hours=1), now + timedelta(days=1)):
        await expire_points(app.services, later)
        assert await _balance(app, learner) == 5
        assert await _expiries(app) == 1
    history = await app.services.ledger.history(community.id, learner.id)
    expiry = history[0].transfer
    assert (expiry.kind, history[0].signed_amount) == (Kind.EXPIRY, -100)
    assert expiry.memo == "earned on or before 2026-01-06"
    assert await app.services.ledger.balances_match_transfers(community.id)


async def test_the_job_logs_what_it_expired(
    app: App, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    await _community_with_points(app, "testhall", 30, 100)
    clock.advance(timedelta(days=31))
    with caplog.at_level(logging.INFO, logger="jobs.points_expiry"):
        await expire_points(app.services, clock.now())
        await expire_points(app.services, clock.now())
    assert [r.getMessage() for r in caplog.records if r.name == "jobs.points_expiry"] == [
        "expired 100 points in testhall"
    ]


async def test_moving_the_console_clock_runs_the_job(console: ConsoleDriver) -> None:
    await console(":as Mei creator", "/rules set points.expiry_days 30", ":as Ana", "/checkin")
    assert await console("/points") == [
        "bot> Points: 5",
        "bot> Tier: regular (×1) — 495 more to premium",
        "bot> Expiring in the next 30 days: 5",
        "bot> Today: messages 0/20, check-in done",
    ]
    assert await console(":clock +31d") == [f"(sandbox time 2026-02-05 09:00 UTC; jobs run: {ALL_JOBS})"]
    assert await console("/points") == [
        "bot> Points: 0",
        "bot> Tier: regular (×1) — 495 more to premium",
        "bot> Today: messages 0/20, check-in not yet (/checkin)",
    ]
    assert (await console("/history"))[
        1
    ] == "bot> #2 2026-02-05 09:00 -5 expired: earned on or before 2026-01-06"
    assert await console(":clock +1d") == [f"(sandbox time 2026-02-06 09:00 UTC; jobs run: {ALL_JOBS})"]
    assert (await console("/points"))[0] == "bot> Points: 0"
    assert len(await console("/history")) == 3  # the title, the expiry and the check-in
