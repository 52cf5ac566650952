"""core/delivery/callback_tokens.py: long button data behind short tokens, in the database, so
a button rendered by one process works when pressed on another (two Apps, each with its own
Database, on one database: SQLite here, PostgreSQL when STUDYHALL_TEST_PG is set)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.adapters.callbacks import CallbackData
from bot.app import App
from bot.config import Config
from core.clock import ManualClock
from core.delivery.callback_tokens import KEEP_FOR
from core.delivery.tables import callback_tokens
from jobs.cleanup import clean_up

LONG = "cmd:/give @小王 5 " + "谢谢你的笔记" * 8


@pytest.fixture
async def other(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    """A second process on the same database: its own App, Database and caches."""
    second = await App.open(config, clock=clock)
    yield second
    await second.close()


async def _rows(app: App) -> int:
    async with app.services.db.read() as conn:
        return (await conn.execute(select(func.count()).select_from(callback_tokens))).scalar_one()


async def test_a_token_packed_by_one_process_unpacks_on_another(app: App, other: App) -> None:
    sender = CallbackData(app.services.callback_tokens)
    token = sender.pack(LONG)
    assert token != LONG and len(token.encode()) <= 64
    await sender.save()
    assert await CallbackData(other.services.callback_tokens).unpack(token) == LONG


async def test_a_token_still_works_after_a_restart(app: App, config: Config, clock: ManualClock) -> None:
    sender = CallbackData(app.services.callback_tokens)
    token = sender.pack(LONG)
    await sender.save()
    await app.close()
    restarted = await App.open(config, clock=clock)
    try:
        assert await CallbackData(restarted.services.callback_tokens).unpack(token) == LONG
    finally:
        await restarted.close()


async def test_an_unknown_token_answers_expired(app: App) -> None:
    callbacks = CallbackData(app.services.callback_tokens)
    assert await callbacks.unpack("h:" + "0" * 32) is None
    unsaved = CallbackData().pack(LONG)  # packed where nothing is stored
    assert await callbacks.unpack(unsaved) is None
    assert await callbacks.unpack("h:" + "x" * 500) is None  # longer than any token: not looked up


async def test_the_same_data_from_two_processes_is_one_row(app: App, other: App) -> None:
    first, second = CallbackData(app.services.callback_tokens), CallbackData(other.services.callback_tokens)
    assert first.pack(LONG) == second.pack(LONG)
    first.pack(LONG + "!")
    await first.save()
    await second.save()
    await first.save()  # nothing new: no statement at all
    assert await _rows(app) == 2


async def test_tokens_expire_30_days_after_they_were_last_stored(app: App, clock: ManualClock) -> None:
    store = app.services.callback_tokens
    await store.remember({"h:old": "old data", "h:kept": "kept data"})
    clock.advance(KEEP_FOR - timedelta(days=1))
    await store.remember({"h:kept": "kept data"})  # rendered again: its time starts again
    clock.advance(timedelta(days=2))
    await clean_up(app.services, clock.now())
    assert await store.recall("h:old") is None
    assert await store.recall("h:kept") == "kept data"
    await clean_up(app.services, clock.now())  # again: nothing else goes
    assert await _rows(app) == 1
