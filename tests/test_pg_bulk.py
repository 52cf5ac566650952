"""core/storage/pg_bulk.py: set-based inserts from one array per column on PostgreSQL; a column
with one value in every row is sent once and repeated by the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from bench.common import insert_community
from core.activity.tables import activity
from core.members.tables import chats
from core.storage.database import Database
from core.storage.pg_bulk import column_arrays, insert_unnest
from tests.conftest import PG_URL, START

COLUMNS = ("community_id", "member_id", "chat_id", "at", "kind", "text_length", "source")


def test_a_column_with_one_value_is_sent_once_with_the_row_count() -> None:
    # The same instant in two time zones is one value: both become the same naive UTC time.
    later = START.astimezone(timezone(timedelta(hours=8)))
    rows = [(1, 10, 5, START, "message", 3, None), (1, 11, 5, later, "message", 4, None)]
    params = column_arrays(activity, COLUMNS, rows)
    assert params["rows"] == 2
    assert (params["c0"], params["s0"]) == (None, 1)  # the community: once
    assert (params["c1"], params["s1"]) == ([10, 11], None)  # the members: an array
    assert (params["c3"], params["s3"]) == (None, START.astimezone(UTC).replace(tzinfo=None))
    assert (params["c6"], params["s6"]) == (None, None)  # no source in any row
    assert params["c5"] == [3, 4]


def test_times_in_an_array_are_converted_each() -> None:
    rows = [(1, 10, 5, START, "message", 3, "a"), (1, 10, 5, START + timedelta(seconds=1), "message", 3, "b")]
    params = column_arrays(activity, COLUMNS, rows)
    assert params["c3"] == [START.replace(tzinfo=None), START.replace(tzinfo=None) + timedelta(seconds=1)]
    assert params["s3"] is None


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only")
async def test_rows_go_in_whether_each_column_is_an_array_or_one_value(db: Database) -> None:
    async with db.write() as conn:
        community, (ana, ben) = await insert_community(conn, "hall", 2)
        chat = {"platform": "console", "external_id": "g", "kind": "group", "title": "g", "created_at": START}
        statement = insert(chats).values(community_id=community, **chat).returning(chats.c.id)
        chat_id = (await conn.execute(statement)).scalar()
        later = START + timedelta(minutes=1)
        rows = [
            (community, ana, chat_id, START, "message", 3, None),  # no source: never a conflict
            (community, ben, chat_id, later, "message", 4, "s:1"),
            (community, ana, chat_id, later, "message", 5, "s:2"),
        ]
        same = [(community, ben, chat_id, START, "checkin", 0, None)] * 2  # every column one value
        counts = [
            await conn.run_sync(lambda sync: insert_unnest(sync, activity, COLUMNS, rows, conflict=())),
            await conn.run_sync(lambda sync: insert_unnest(sync, activity, COLUMNS, same, conflict=())),
            # Sent again: the rows with a source conflict and are skipped.
            await conn.run_sync(lambda sync: insert_unnest(sync, activity, COLUMNS, rows[1:], conflict=())),
            await conn.run_sync(lambda sync: insert_unnest(sync, activity, COLUMNS, [], conflict=())),
        ]
        stored = (
            await conn.execute(
                select(
                    activity.c.member_id,
                    activity.c.at,
                    activity.c.kind,
                    activity.c.text_length,
                    activity.c.source,
                ).order_by(activity.c.id)
            )
        ).all()
    assert counts == [3, 2, 0, 0]
    assert [tuple(row) for row in stored] == [
        (ana, START, "message", 3, None),
        (ben, later, "message", 4, "s:1"),
        (ana, later, "message", 5, "s:2"),
        (ben, START, "checkin", 0, None),
        (ben, START, "checkin", 0, None),
    ]


def test_each_row_count_is_its_own() -> None:
    # A one-row batch has one value per column: every column is sent once.
    params = column_arrays(
        activity, COLUMNS, [(1, 10, 5, datetime(2026, 1, 1, tzinfo=UTC), "message", 3, "x")]
    )
    assert params["rows"] == 1
    assert all(params[f"c{n}"] is None for n in range(len(COLUMNS)))
