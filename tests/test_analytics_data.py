"""core/analytics/data.py: SQL aggregates match what Python computes, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from bot.app import App
from core.activity.tables import activity
from core.analytics import data
from core.events import ChatKind, ChatRef, UserRef

MOMENTS = [
    datetime(2026, 1, 4, 23, 59, 59, tzinfo=UTC),  # a Sunday, the end of a week
    datetime(2026, 1, 5, 0, 0, 0, tzinfo=UTC),  # the Monday after: the next week
    datetime(2026, 1, 7, 12, 30, tzinfo=UTC),
    datetime(2025, 12, 31, 8, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
]


def test_weeks_start_on_monday() -> None:
    assert data.week_of(MOMENTS[1]) == data.week_of(MOMENTS[0]) + 1
    assert data.week_of(MOMENTS[2]) == data.week_of(MOMENTS[1])
    assert data.week_start(data.week_of(MOMENTS[2])).date().isoformat() == "2026-01-05"


async def test_the_sql_week_is_the_python_week(app: App) -> None:
    community = await app.community()
    members = app.services.members
    ana = await members.ensure_member(community, UserRef("console", "ana", "Ana"))
    chat = await members.ensure_chat(community, ChatRef("console", "g", ChatKind.GROUP, "g"))
    async with app.db.write() as conn:
        await conn.execute(
            insert(activity),
            [
                {
                    "community_id": community.id,
                    "member_id": ana.id,
                    "chat_id": chat.id,
                    "at": at,
                    "kind": "message",
                    "text_length": 1,
                }
                for at in MOMENTS
            ],
        )
    async with app.db.read() as conn:
        week = data.week_expr(activity.c.at, conn.dialect.name)
        rows = (await conn.execute(select(activity.c.at, week).where(activity.c.member_id == ana.id))).all()
    assert sorted(w for _, w in rows) == sorted(data.week_of(at) for at in MOMENTS)


async def test_members_aggregate_their_activity(app: App) -> None:
    community = await app.community()
    members = app.services.members
    ana = await members.ensure_member(community, UserRef("console", "ana", "Ana"))
    ben = await members.ensure_member(community, UserRef("console", "ben", "Ben"))
    chat = await members.ensure_chat(community, ChatRef("console", "g", ChatKind.GROUP, "g"))
    now = app.clock.now()
    rows = [(ana.id, now - timedelta(days=d, hours=h)) for d in (1, 1, 2, 40) for h in (0, 1)]
    async with app.db.write() as conn:
        await conn.execute(
            insert(activity),
            [
                {
                    "community_id": community.id,
                    "member_id": m,
                    "chat_id": chat.id,
                    "at": at,
                    "kind": "message",
                    "text_length": 1,
                }
                for m, at in rows
            ],
        )
    async with app.db.read() as conn:
        loaded = await data.load_members(conn, community.id, now)
        who, weeks = await data.active_weeks(conn, community.id)
    i, j = list(loaded.member_ids).index(ana.id), list(loaded.member_ids).index(ben.id)
    assert loaded.last_active[i] == now - timedelta(days=1)
    assert loaded.last_active[j] is None
    assert loaded.active_days_30[i] == 2  # two distinct days in the last 30
    expected = {(ana.id, data.week_of(at)) for _, at in rows}
    assert set(zip(who.tolist(), weeks.tolist(), strict=True)) == expected
