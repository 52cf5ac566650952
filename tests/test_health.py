"""bot/health.py and bot/adapter_status.py: /healthz, /readyz through the real HTTP app."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.config import Config
from bot.health import install_health
from bot.http import HttpServer
from bot.run import Planned, _connect
from bot.scheduler import JobScheduler
from bot.startup import Unavailable
from core.clock import ManualClock
from core.storage.database import Database
from core.storage.migrate import alembic_config, head_revision, upgrade
from tests.telegram_peer import free_port


async def serve(app: App, scheduler: JobScheduler | None = None) -> TestClient:
    """``app``'s HTTP app as ``studyhall run`` builds it, on a real socket."""
    http = HttpServer("127.0.0.1", 0, app.metrics)
    install_health(app, http, leading=(lambda: scheduler.leading) if scheduler else None)
    client = TestClient(TestServer(http.app))
    await client.start_server()
    return client


@pytest.fixture
async def client(app: App) -> AsyncIterator[TestClient]:
    served = await serve(app)
    yield served
    await served.close()


async def test_healthz_answers_ok_without_the_database(app: App, client: TestClient) -> None:
    await app.db.dispose()  # no database behind it: liveness does not care
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.text() == "ok"


async def test_readyz_reports_a_migrated_database_and_the_scheduler_lock(app: App) -> None:
    scheduler = JobScheduler(app)
    await scheduler.tick()  # takes the lock on PostgreSQL (SQLite: one process always leads)
    served = await serve(app, scheduler)
    try:
        response = await served.get("/readyz")
        body = await response.json()
    finally:
        await served.close()
        await scheduler.stop()
    assert response.status == 200
    assert body == {
        "ready": True,
        "database": {
            "reachable": True,
            "revision": head_revision(),
            "head": head_revision(),
            "at_head": True,
        },
        "adapters": {},
        "scheduler": {"leader": True},
    }


async def test_readyz_is_503_on_an_unmigrated_database(empty_db_url: str, tmp_path: Path) -> None:
    app = await App.open(Config(database_url=empty_db_url, data_dir=tmp_path), check_migrated=False)
    served = await serve(app)
    try:
        response = await served.get("/readyz")
        body = await response.json()
    finally:
        await served.close()
        await app.close()
    assert response.status == 503
    assert body["ready"] is False
    assert body["database"] == {
        "reachable": True,
        "revision": None,
        "head": head_revision(),
        "at_head": False,
    }


async def test_readyz_is_503_on_a_database_behind_head(empty_db_url: str, tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision()).down_revision
    assert isinstance(previous, str)
    db = Database(empty_db_url)
    await upgrade(db, previous)
    await db.dispose()
    app = await App.open(Config(database_url=empty_db_url, data_dir=tmp_path), check_migrated=False)
    served = await serve(app)
    try:
        response = await served.get("/readyz")
        body = await response.json()
    finally:
        await served.close()
        await app.close()
    assert response.status == 503
    assert body["database"]["revision"] == previous and body["database"]["at_head"] is False


async def test_readyz_is_503_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    missing = tmp_path / "no such folder" / "studyhall.db"
    config = Config(database_url=f"sqlite+aiosqlite:///{missing}", data_dir=tmp_path)
    app = await App.open(config, check_migrated=False)
    served = await serve(app)
    try:
        response = await served.get("/readyz")
        body = await response.json()
    finally:
        await served.close()
        await app.close()
    assert response.status == 503
    assert body["database"]["reachable"] is False
    assert "no such folder" not in str(body)  # the database's address is not published


class FlakyAdapter:
    """Its platform cannot be reached at first; then it connects when ``up`` is set."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.refused = asyncio.Event()

    async def connect(self) -> None:
        if not self.up.is_set():
            self.refused.set()
            raise Unavailable("api.telegram.org: connection refused")

    async def stop(self) -> None:
        return None


async def test_readyz_shows_an_adapter_down_with_its_error_until_it_connects(
    app: App, client: TestClient
) -> None:
    adapter = FlakyAdapter()
    app.adapters.connecting("telegram")
    connecting = await client.get("/readyz")
    assert connecting.status == 503
    assert (await connecting.json())["adapters"]["telegram"]["connected"] is False

    # The run loop's own connect step, retried with its backoff (about a second).
    stopping, failed = asyncio.Event(), []
    task = asyncio.create_task(_connect(Planned("telegram", adapter, adapter.connect), app, stopping, failed))
    await asyncio.wait_for(adapter.refused.wait(), 5)
    down = await client.get("/readyz")
    body = await down.json()
    assert down.status == 503 and body["ready"] is False
    assert body["adapters"]["telegram"]["connected"] is False
    assert body["adapters"]["telegram"]["last_error"] == "api.telegram.org: connection refused"
    assert body["adapters"]["telegram"]["since"]

    adapter.up.set()
    await asyncio.wait_for(task, 10)
    assert failed == []
    up = await client.get("/readyz")
    assert up.status == 200
    assert (await up.json())["adapters"]["telegram"] == {
        "connected": True,
        "last_error": None,
        "since": (await up.json())["adapters"]["telegram"]["since"],
    }


async def test_adapter_status_keeps_when_a_state_began(clock: ManualClock) -> None:
    from datetime import timedelta

    from bot.adapter_status import AdapterStatus

    status = AdapterStatus(clock.now)
    status.failed("discord", ConnectionError("gateway closed\nsecond line"))
    began = status.states()["discord"].since
    clock.advance(timedelta(minutes=1))
    status.failed("discord", ConnectionError("gateway closed\nsecond line"))
    assert status.states()["discord"].since == began  # the same error again: still since then
    assert status.states()["discord"].last_error == "gateway closed"
    status.connected("discord")
    assert status.states()["discord"].since == began + timedelta(minutes=1)


def test_jobs_serve_exposes_its_own_health_and_metrics(db_url: str, tmp_path: Path) -> None:
    """``studyhall jobs serve`` (a scheduler process of its own) answers the probes and serves
    its own registry, on its own port."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DISCORD_", "WECHAT_", "STUDYHALL_"))
    }
    env.update(
        STUDYHALL_DATABASE_URL=db_url,
        STUDYHALL_DATA_DIR=str(tmp_path / "data"),
        STUDYHALL_HTTP_PORT=str(port),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "jobs", "serve"],
        env=env,
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()
                time.sleep(0.1)
        assert (health.status_code, health.text) == (200, "ok")
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["adapters"] == {}
        metrics = httpx.get(f"{base}/metrics", timeout=5)
        assert metrics.status_code == 200 and "studyhall_job_runs_total" in metrics.text
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"health on 127.0.0.1:{port}" in out


async def test_a_discord_gateway_disconnect_shows_until_it_resumes(app: App, client: TestClient) -> None:
    from bot.adapters.discord.adapter import DiscordAdapter

    adapter = DiscordAdapter(app, {"token": "unused"})
    await adapter.client.on_resumed()
    assert (await client.get("/readyz")).status == 200
    await adapter.client.on_disconnect()  # discord.py reconnects by itself meanwhile
    down = await client.get("/readyz")
    assert down.status == 503
    discord = (await down.json())["adapters"]["discord"]
    assert discord["last_error"] == "disconnected from the gateway; reconnecting"
    await adapter.client.on_resumed()
    assert (await client.get("/readyz")).status == 200
    await adapter.stop()
