"""bot/run.py through the real command line: `studyhall run` starts the configured adapter,
answers a user through the Telegram emulator, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.app import App
from bot.config import Config, Secret
from bot.http import HttpServer
from bot.run import _start
from tests.telegram_peer import available, running_emulator

TOKEN = "654321:RUN-token"
# The product's CLI, with HTTPXRequest taught the emulator's quirks (test-only).
RUN = (
    "import sys; from tests.telegram_peer import install_request_fix; install_request_fix();"
    " from bot.cli import main; sys.exit(main(sys.argv[1:]))"
)
ROOT = Path(__file__).parent.parent


def _environment(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DISCORD_", "WECHAT_", "STUDYHALL_"))
    }
    env.update(STUDYHALL_DATABASE_URL=db_url, STUDYHALL_DATA_DIR=str(tmp_path / "data"), **extra)
    return env


def test_run_without_an_adapter_says_what_to_set(db_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", RUN, "run"],
        env=_environment(db_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert (
        "TELEGRAM_TOKEN" in result.stdout and "DISCORD_TOKEN" in result.stdout and "WECHAT_" in result.stdout
    )
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not available(), reason="the Telegram emulator is installed by `make test`")
def test_run_serves_telegram_until_sigterm(db_url: str, tmp_path: Path) -> None:
    with running_emulator() as base:
        env = _environment(db_url, tmp_path, TELEGRAM_TOKEN=TOKEN, TELEGRAM_API_BASE=base)
        process = subprocess.Popen(
            [sys.executable, "-c", RUN, "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "studyhall: telegram adapter running"
            user = {"id": 77, "is_bot": False, "first_name": "Omar"}
            message = {
                "botToken": TOKEN,
                "from": user,
                "chat": {"id": 77, "type": "private", "first_name": "Omar"},
                "text": "/start",
                "date": int(time.time()),
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            }
            assert httpx.post(f"{base}/sendCommand", json=message).json()["ok"]
            sent: list[dict] = []
            deadline = time.monotonic() + 30
            while not sent and time.monotonic() < deadline:
                reply = httpx.post(f"{base}/getUpdates", json={"token": TOKEN, "chatId": 77}).json()
                sent = [update["message"] for update in reply["result"]]
                time.sleep(0.1)
            assert sent and "Omar" in sent[0]["text"]
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "studyhall: stopped" in out
    assert TOKEN not in out + err  # the token never reaches the output


async def test_discord_logs_in_and_keeps_its_gateway_in_the_background(
    app: App, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    import discord

    calls: list[object] = []
    closed = asyncio.Event()

    async def login(self: discord.Client, token: str) -> None:
        calls.append(("login", token))

    async def connect(self: discord.Client, *, reconnect: bool = True) -> None:
        calls.append("connect")
        await closed.wait()

    async def close(self: discord.Client) -> None:
        calls.append("close")
        closed.set()

    monkeypatch.setattr(discord.Client, "login", login)
    monkeypatch.setattr(discord.Client, "connect", connect)
    monkeypatch.setattr(discord.Client, "close", close)
    settings = {"discord": {"token": Secret("d-secret-token")}}
    adapter = await _start(
        "discord", app, replace(config, adapter_settings=settings), HttpServer("127.0.0.1", 0)
    )
    await asyncio.sleep(0)
    assert calls == [("login", "d-secret-token"), "connect"]
    assert "discord" in app.services.paid_chats.ports
    await adapter.stop()
    assert calls[-1] == "close"


async def test_run_serves_the_wechat_callback_until_sigterm(db_url: str, tmp_path: Path) -> None:
    from tests.telegram_peer import free_port
    from tests.wechat_peer import (
        AES_KEY,
        APP_ID,
        APP_SECRET,
        FakeWeChat,
        open_reply,
        post,
        running_wechat,
        safe_request,
        text_xml,
    )
    from tests.wechat_peer import (
        TOKEN as WECHAT_TOKEN,
    )

    fake = FakeWeChat()
    port = free_port()
    async with running_wechat(fake) as api_base:
        env = _environment(
            db_url,
            tmp_path,
            WECHAT_APP_ID=APP_ID,
            WECHAT_APP_SECRET=APP_SECRET,
            WECHAT_TOKEN=WECHAT_TOKEN,
            WECHAT_AES_KEY=AES_KEY,
            WECHAT_API_BASE=api_base,
            STUDYHALL_HTTP_PORT=str(port),
            STUDYHALL_LOG_LEVEL="DEBUG",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RUN,
            "run",
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert process.stdout is not None
            assert (await process.stdout.readline()).decode().strip() == "studyhall: wechat adapter running"
            assert (await process.stdout.readline()).decode().startswith("studyhall: http on")
            signed = safe_request(text_xml("oOmarOpenid0000000000000042", "帮助", 9001))
            status, body = await post(f"http://127.0.0.1:{port}", signed)
            assert status == 200
            assert "你在这里可以使用的命令" in open_reply(body, signed)["Content"]
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err
    assert "studyhall: stopped" in out.decode()
    log = (tmp_path / "data" / "studyhall.log").read_text()
    for secret in (APP_SECRET, WECHAT_TOKEN, AES_KEY):
        assert secret not in out.decode() + err.decode() + log
