"""bot/adapters/telegram/processes.py: several processes of one bot on one PostgreSQL database —
every one serves the webhook with the same secret, one registers it, one polls. Two App and
adapter instances stand for two processes, against the telegram-test-api Bot API emulator."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.adapters.telegram.processes import webhook_secret
from bot.app import App
from bot.config import Config
from bot.http import HttpServer
from core.clock import ManualClock
from tests.telegram_peer import EmulatorRequest, available, free_port, running_emulator

ANA = {"id": 2001, "is_bot": False, "first_name": "Ana", "username": "ana", "language_code": "en"}
LI = {"id": 2002, "is_bot": False, "first_name": "Li", "username": "li", "language_code": "en"}
KEY = "k" * 40

needs_emulator = pytest.mark.skipif(
    not available(),
    reason="the Telegram emulator is installed by `make test` (npm ci in tests/peers/telegram)",
)


def test_the_derived_secret_is_the_same_everywhere_and_fits_setwebhook() -> None:
    secret = webhook_secret("123:abc", KEY)
    assert secret == webhook_secret("123:abc", KEY)  # each process computes the same one
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)
    assert "123" not in secret and "abc" not in secret
    assert secret != webhook_secret("123:abd", KEY)  # another bot, another secret
    assert secret != webhook_secret("123:abc", "x" * 40)  # another secret key, another secret
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", webhook_secret("123:abc", None))


class CountingRequest(EmulatorRequest):
    """The emulator's request, counting each Bot API method called (shared by both processes)."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__()
        self.calls = calls

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        self.calls.append(url.rsplit("/", 1)[-1])
        return await super().do_request(url, method, *args, **kwargs)


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    if not available():
        pytest.skip("the Telegram emulator is not installed")
    with running_emulator() as base:
        yield base


@pytest.fixture
async def second_app(config: Config, clock: ManualClock, backend: str) -> AsyncIterator[App]:
    """Another process's App on the same database."""
    if backend == "sqlite":
        pytest.skip("PostgreSQL only: SQLite serves one process")
    other = await App.open(config, clock=clock)
    yield other
    await other.close()


def _adapter(app: App, token: str, emulator: str, calls: list[str]) -> TelegramAdapter:
    return TelegramAdapter(
        app,
        {"token": token, "api_base": emulator},
        request=CountingRequest(calls),
        updates_request=CountingRequest(calls),
    )


async def _member(app: App, user: dict[str, Any]) -> object:
    community = await app.community()
    for _ in range(200):
        found = await app.services.members.find_by_identity(community.id, "telegram", str(user["id"]))
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    return None


@needs_emulator
async def test_two_webhook_processes_register_once_and_both_accept_updates(
    app: App, second_app: App, emulator: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = "901:TWO-PROCESSES"
    secret = webhook_secret(token, KEY)
    calls: list[str] = []
    servers = [HttpServer("127.0.0.1", free_port()), HttpServer("127.0.0.1", free_port())]
    adapters = [_adapter(app, token, emulator, calls), _adapter(second_app, token, emulator, calls)]
    try:
        urls = []
        for adapter, http in zip(adapters, servers, strict=True):
            url = f"http://127.0.0.1:{http.port}/telegram/hook"
            adapter.install_webhook(http, url, secret)
            await http.start()
            urls.append(url)
        with caplog.at_level(logging.INFO, logger="bot.adapters.telegram.adapter"):
            await asyncio.gather(*(a.connect_webhook(urls[0]) for a in adapters))
        assert calls.count("setWebhook") == 1
        assert calls.count("setMyCommands") >= 1 and calls.count("getMe") == 2
        assert "another process registered the webhook" in caplog.text
        # The load balancer may hand any update to either process: both take the shared secret.
        async with httpx.AsyncClient() as client:
            for number, (url, user) in enumerate(zip(urls, (ANA, LI), strict=True)):
                update = {
                    "update_id": 7000 + number,
                    "message": {
                        "message_id": 1 + number,
                        "date": 1_767_600_000,
                        "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
                        "from": user,
                        "text": "/start",
                        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                    },
                }
                response = await client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
                )
                assert response.status_code == 200
        assert await _member(app, ANA) is not None
        assert await _member(second_app, LI) is not None
    finally:
        for adapter in adapters:
            await adapter.stop()
        for http in servers:
            await http.stop()


@needs_emulator
async def test_a_second_polling_process_stands_by_and_takes_over(
    app: App,
    second_app: App,
    emulator: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.adapters.telegram.processes.STANDBY_SECONDS", 0.05)
    token = "902:POLLING"
    first_calls: list[str] = []
    second_calls: list[str] = []
    first = _adapter(app, token, emulator, first_calls)
    second = _adapter(second_app, token, emulator, second_calls)
    try:
        await first.start_polling(poll_interval=0.02)
        with caplog.at_level(logging.WARNING, logger="bot.adapters.telegram.processes"):
            await second.start_polling(poll_interval=0.02)
            await asyncio.sleep(0.3)
        standby = [r for r in caplog.records if "another process polls this bot" in r.getMessage()]
        assert len(standby) == 1  # one line, not one per try
        assert first_calls.count("getUpdates") > 0
        assert second_calls.count("getUpdates") == 0  # never a second consumer (409 Conflict)
        await first.stop()
        for _ in range(100):
            if second_calls.count("getUpdates") and "this one polls now" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert second_calls.count("getUpdates") > 0
        assert "this one polls now" in caplog.text
    finally:
        await first.stop()
        await second.stop()
