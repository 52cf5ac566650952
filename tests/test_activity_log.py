"""core/activity/log.py: one activity row per inbound event, with kind and length, never the text."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from core.activity.log import ActivityLog, ActivityRecord
from core.activity.tables import activity
from core.clock import ManualClock
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from core.storage.schema import load_all_tables

SECRET = "my card number is 4111-1111-1111-1111 zebra-marker-719"
GROUP = ChatRef("telegram", "-100", ChatKind.GROUP, "Study group")
MEI = UserRef("telegram", "42", "Mei", language="zh")


def event(
    clock: ManualClock,
    kind: EventKind,
    text: str = "",
    *,
    sender: UserRef = MEI,
    chat: ChatRef = GROUP,
    data: str = "",
    message_id: str | None = None,
) -> Event:
    return Event(
        platform="telegram",
        community="testhall",
        chat=chat,
        sender=sender,
        kind=kind,
        timestamp=clock.now(),
        text=text,
        data=data,
        message_id=message_id,
    )


async def activity_rows(app: App) -> list[dict[str, object]]:
    async with app.db.read() as conn:
        rows = await conn.execute(select(activity).order_by(activity.c.id))
    return [dict(r._mapping) for r in rows]


async def test_a_message_is_recorded_with_kind_and_length(app: App, clock: ManualClock) -> None:
    await app.handle(event(clock, EventKind.MESSAGE, "你好，大家好"))

    community = await app.community()
    member = await app.services.members.find_by_identity(community.id, "telegram", "42")
    chat = await app.services.members.ensure_chat(community, GROUP)
    assert member is not None
    [row] = await activity_rows(app)
    assert row["community_id"] == community.id
    assert row["member_id"] == member.id
    assert row["chat_id"] == chat.id
    assert row["at"] == clock.now()
    assert row["kind"] == "message"
    assert row["text_length"] == len("你好，大家好") == 6


async def test_every_event_kind_is_one_row(app: App, clock: ManualClock) -> None:
    await app.handle(event(clock, EventKind.COMMAND, "/whoami"))
    clock.advance(timedelta(minutes=1))
    await app.handle(event(clock, EventKind.BUTTON, data="cmd:/help"))
    clock.advance(timedelta(minutes=1))
    await app.handle(event(clock, EventKind.MEMBER_JOINED))
    clock.advance(timedelta(minutes=1))
    await app.handle(event(clock, EventKind.MESSAGE, "hello"))

    rows = await activity_rows(app)
    assert [(r["kind"], r["text_length"]) for r in rows] == [
        ("command", len("/whoami")),
        ("button", 0),
        ("joined", 0),
        ("message", 5),
    ]
    assert [r["at"] for r in rows] == [clock.now() - timedelta(minutes=m) for m in (3, 2, 1, 0)]


async def test_the_text_itself_is_stored_nowhere(app: App, clock: ManualClock) -> None:
    await app.handle(event(clock, EventKind.MESSAGE, SECRET))
    await app.handle(event(clock, EventKind.COMMAND, f"/help {SECRET}"))

    assert {c.name for c in activity.columns} == {
        "id",
        "community_id",
        "member_id",
        "chat_id",
        "at",
        "kind",
        "text_length",
        "source",  # the platform's id of the message, not its text
    }
    found_rows = 0
    async with app.db.read() as conn:
        for table in load_all_tables().sorted_tables:
            for row in await conn.execute(select(table)):
                found_rows += 1
                for value in row:
                    assert "zebra-marker-719" not in str(value), f"message text stored in {table.name}"
    assert found_rows > 0
    assert [r["text_length"] for r in await activity_rows(app)] == [len(SECRET), len(SECRET) + 6]


async def test_bot_senders_are_not_recorded(app: App, clock: ManualClock) -> None:
    bot = UserRef("telegram", "99", "OtherBot", is_bot=True)

    assert await app.handle(event(clock, EventKind.MESSAGE, "beep", sender=bot)) == []

    assert await activity_rows(app) == []


async def test_count_is_per_community_and_per_member(app: App, clock: ManualClock) -> None:
    lu = UserRef("telegram", "43", "Lu")
    await app.handle(event(clock, EventKind.MESSAGE, "one"))
    await app.handle(event(clock, EventKind.MESSAGE, "two"))
    await app.handle(event(clock, EventKind.MESSAGE, "three", sender=lu))

    community = await app.community()
    mei = await app.services.members.find_by_identity(community.id, "telegram", "42")
    assert mei is not None
    log = app.services.activity
    assert await log.count(community.id) == 3
    assert await log.count(community.id, member_id=mei.id) == 2
    other = await app.community("elsewhere")
    assert await log.count(other.id) == 0


async def test_record_writes_exactly_the_given_record(app: App, clock: ManualClock) -> None:
    community = await app.community()
    chat = await app.services.members.ensure_chat(community, GROUP)
    member = await app.services.members.ensure_member(community, MEI)
    log = ActivityLog(app.db)

    await log.record(ActivityRecord(community.id, member.id, chat.id, clock.now(), EventKind.PAYMENT, 0))

    [row] = await activity_rows(app)
    assert (row["member_id"], row["chat_id"], row["kind"], row["text_length"], row["at"]) == (
        member.id,
        chat.id,
        "payment",
        0,
        clock.now(),
    )
    assert await log.count(community.id, member_id=member.id) == 1


async def test_a_message_delivered_again_is_recorded_once(app: App, clock: ManualClock) -> None:
    """A process that died before answering the platform gets the update again (perhaps in
    another process): keyed by the platform's id, it is one row; another message is another."""
    first = event(clock, EventKind.MESSAGE, "hello", message_id="-100:7")
    await app.handle(first)
    await app.handle(first)
    await app.handle(event(clock, EventKind.MESSAGE, "hello", message_id="-100:8"))
    await app.handle(event(clock, EventKind.MESSAGE, "no id"))
    await app.handle(event(clock, EventKind.MESSAGE, "no id"))

    rows = await activity_rows(app)
    assert [r["source"] for r in rows] == ["telegram:-100:7", "telegram:-100:8", None, None]


async def test_a_batch_with_a_repeated_source_keeps_the_first(app: App, clock: ManualClock) -> None:
    community = await app.community()
    chat = await app.services.members.ensure_chat(community, GROUP)
    member = await app.services.members.ensure_member(community, MEI)
    log = app.services.activity
    record = ActivityRecord(community.id, member.id, chat.id, clock.now(), EventKind.MESSAGE, 5, "telegram:1")

    await asyncio.gather(log.enqueue(record), log.enqueue(record._replace(text_length=9)))

    [row] = await activity_rows(app)
    assert (row["source"], row["text_length"]) == ("telegram:1", 5)
