"""core/delivery/access_tokens.py: the WeChat access token shared by processes, kept
in the database. Two WeChatApi instances, each with its own engine on one database, stand
for two processes, against the local fake of the WeChat API (tests/wechat_peer.py), which
counts the token requests and refuses any token but the newest (40001)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.adapters.wechat.api import WeChatApi
from core.delivery.access_tokens import StoredToken, read_access_token, save_access_token
from core.delivery.tables import wechat_access_tokens
from core.storage.database import Database
from tests.conftest import START
from tests.wechat_peer import APP_ID, APP_SECRET, FakeWeChat, running_wechat


@dataclass
class Clock:
    seconds: float = START.timestamp()

    def __call__(self) -> float:
        return self.seconds


@dataclass
class Processes:
    fake: FakeWeChat
    clock: Clock
    first: WeChatApi
    second: WeChatApi
    db: Database

    def token_requests(self) -> int:
        return self.fake.paths().count("token")

    def tokens_used(self) -> list[str]:
        return [query["access_token"] for _, _, query, _ in self.fake.calls if "access_token" in query]


@pytest.fixture
async def processes(db_url: str) -> AsyncIterator[Processes]:
    fake = FakeWeChat()
    clock = Clock()
    first_db, second_db = Database(db_url), Database(db_url)
    async with running_wechat(fake) as base:
        first = WeChatApi(APP_ID, APP_SECRET, base, db=first_db, now=clock)
        second = WeChatApi(APP_ID, APP_SECRET, base, db=second_db, now=clock)
        try:
            yield Processes(fake, clock, first, second, first_db)
        finally:
            first.close()
            second.close()
            await first_db.dispose()
            await second_db.dispose()


async def test_the_second_process_reads_the_token_the_first_fetched(processes: Processes) -> None:
    await processes.first.send_text("oAna", "one")
    await processes.second.send_text("oAna", "two")
    assert processes.token_requests() == 1
    assert processes.tokens_used() == ["token-1", "token-1"]
    async with processes.db.read() as conn:
        (row,) = (await conn.execute(select(wechat_access_tokens))).all()
    assert row.app_id == APP_ID and row.token == "token-1"
    assert row.expires_at.timestamp() == processes.clock() + 7200
    assert row.updated_at.timestamp() == processes.clock()


def postgresql_only(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("PostgreSQL only: SQLite serves one process")


async def test_two_processes_starting_together_fetch_one_token(processes: Processes, backend: str) -> None:
    postgresql_only(backend)
    sends = [
        api.send_text("oAna", f"hello {n}") for n in range(5) for api in (processes.first, processes.second)
    ]
    await asyncio.gather(*sends)
    assert processes.token_requests() == 1
    assert set(processes.tokens_used()) == {"token-1"} and len(processes.fake.sent()) == 10


async def test_a_token_near_expiry_is_refreshed_once_for_both(processes: Processes, backend: str) -> None:
    postgresql_only(backend)
    await asyncio.gather(processes.first.send_text("oAna", "a"), processes.second.send_text("oAna", "b"))
    processes.clock.seconds += 7200 - 6 * 60  # six minutes left: still used
    await asyncio.gather(processes.first.send_text("oAna", "c"), processes.second.send_text("oAna", "d"))
    assert processes.token_requests() == 1
    processes.clock.seconds += 2 * 60  # four minutes left: refreshed, by one of them
    await asyncio.gather(
        *(api.send_text("oAna", "e") for api in (processes.first, processes.second) for _ in range(3))
    )
    assert processes.token_requests() == 2
    assert processes.tokens_used()[-6:] == ["token-2"] * 6
    assert processes.first.tokens.fetched + processes.second.tokens.fetched == 2


async def test_a_refused_token_is_refreshed_once_and_the_calls_go_through(
    processes: Processes, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    postgresql_only(backend)
    await asyncio.gather(processes.first.send_text("oAna", "a"), processes.second.send_text("oAna", "b"))
    processes.fake.tokens_issued += 1  # WeChat invalidated token-1 (someone fetched token-2 elsewhere)
    with caplog.at_level(logging.DEBUG):
        await asyncio.gather(processes.first.send_text("oAna", "c"), processes.second.send_text("oAna", "d"))
    # Both were refused (40001); one refreshed, the other re-read the row and used the new token.
    assert processes.token_requests() == 2
    assert processes.tokens_used()[2:] == ["token-1", "token-1", "token-3", "token-3"]
    assert sorted(processes.fake.texts()) == ["a", "b", "c", "d"]  # every message went out once
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("bot", "core", "wechatpy"))]
    assert any("fetched a new access token (WeChat refused the last one)" in line for line in ours)
    assert not any("token-" in line for line in ours)  # the token itself is never logged


async def test_one_process_fetches_once_for_many_concurrent_calls(processes: Processes) -> None:
    await asyncio.gather(*(processes.first.send_text("oAna", str(n)) for n in range(8)))
    assert processes.token_requests() == 1


async def test_without_a_database_the_process_keeps_its_own_token() -> None:
    fake = FakeWeChat()
    async with running_wechat(fake) as base:
        api = WeChatApi(APP_ID, APP_SECRET, base)
        try:
            await api.check_credentials()
            await api.send_text("oAna", "hi")
            assert fake.paths() == ["token", "message/custom/send"]
        finally:
            api.close()


async def test_wrong_credentials_are_an_error_not_a_loop(db_url: str) -> None:
    from bot.adapters.wechat.api import WeChatApiError

    fake = FakeWeChat()
    db = Database(db_url)
    async with running_wechat(fake) as base:
        api = WeChatApi(APP_ID, "not-the-secret", base, db=db)
        try:
            with pytest.raises(WeChatApiError) as error:
                await api.send_text("oAna", "hi")
            assert error.value.code == 40125
            assert fake.paths() == ["token"]
        finally:
            api.close()
            await db.dispose()


# -- the table on its own: one row per AppID, an upsert, never shown in a repr --


async def test_a_token_is_saved_read_and_replaced(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.read() as conn:
            assert await read_access_token(conn, "wx1") is None
        first = StoredToken("secret-token-1", START + timedelta(hours=2))
        async with db.write() as conn:
            await save_access_token(conn, "wx1", first, now=START)
            await save_access_token(conn, "wx2", StoredToken("other", START), now=START)
        second = StoredToken("secret-token-2", START + timedelta(hours=4))
        async with db.write() as conn:
            await save_access_token(conn, "wx1", second, now=START + timedelta(hours=2))
        async with db.read() as conn:
            assert await read_access_token(conn, "wx1") == second
            assert await read_access_token(conn, "wx2") == StoredToken("other", START)
    finally:
        await db.dispose()


def test_the_token_is_not_in_its_repr() -> None:
    stored = StoredToken("secret-token-1", START)
    assert "secret-token-1" not in repr(stored) and "expires_at" in repr(stored)
