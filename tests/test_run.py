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
from bot.run import _plan
from tests.process_output import Lines
from tests.telegram_peer import available, free_port, running_emulator

TOKEN = "654321:RUN-token"
# The product's CLI, with HTTPXRequest taught the emulator's quirks (test-only).
RUN = (
    "import sys; from tests.telegram_peer import install_request_fix; install_request_fix();"
    " from bot.cli import main; sys.exit(main(sys.argv[1:]))"
)
ROOT = Path(__file__).parent.parent


async def _start_run(env: dict[str, str]) -> asyncio.subprocess.Process:
    """``studyhall run`` in a subprocess with ``env``, its output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", RUN, "run", env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _environment(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DISCORD_", "WECHAT_", "STUDYHALL_"))
    }
    env.update(
        STUDYHALL_DATABASE_URL=db_url,
        STUDYHALL_DATA_DIR=str(tmp_path / "data"),
        STUDYHALL_HTTP_PORT=str(free_port()),
    )
    env.update(extra)
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


needs_emulator = pytest.mark.skipif(
    not available(), reason="the Telegram emulator is installed by `make test`"
)


def _start_command_is_answered(base: str) -> None:
    """Omar sends /start through the emulator and the bot answers him."""
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


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, as a service manager stops it; killed if it has not stopped in 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def _studyhall_run(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


@needs_emulator
def test_run_serves_telegram_until_sigterm(db_url: str, tmp_path: Path) -> None:
    with running_emulator() as base:
        process = _studyhall_run(_environment(db_url, tmp_path, TELEGRAM_TOKEN=TOKEN, TELEGRAM_API_BASE=base))
        assert process.stdout is not None and process.stderr is not None
        out, err = Lines(process.stdout), Lines(process.stderr)
        try:
            out.wait_for("studyhall: telegram adapter running")
            _start_command_is_answered(base)
        finally:
            _stop(process)
    assert process.returncode == 0, err.text
    assert "studyhall: stopped" in out.text
    assert TOKEN not in out.text + err.text  # the token never reaches the output


@needs_emulator
def test_run_keeps_trying_until_the_telegram_api_answers(db_url: str, tmp_path: Path) -> None:
    """Started while nothing listens at the API address: one log line per failed attempt;
    once the emulator is up there, the adapter connects and answers."""
    port = free_port()
    env = _environment(db_url, tmp_path, TELEGRAM_TOKEN=TOKEN, TELEGRAM_API_BASE=f"http://127.0.0.1:{port}")
    process = _studyhall_run(env)
    assert process.stdout is not None and process.stderr is not None
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        out.wait_for("studyhall: http on")  # the HTTP app is up meanwhile
        err.wait_for("telegram: cannot connect")
        assert "telegram adapter running" not in out.text.split("studyhall: http on")[-1]
        with running_emulator(port) as base:
            out.wait_for("studyhall: telegram adapter running")
            _start_command_is_answered(base)
            _stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err.text
    failed = [line for line in err.text.splitlines() if "telegram: cannot connect" in line]
    assert failed and all("attempt" in line and "trying again in" in line for line in failed)
    assert "Traceback" not in err.text and TOKEN not in out.text + err.text


@needs_emulator
def test_run_ends_with_one_line_when_telegram_rejects_the_token(db_url: str, tmp_path: Path) -> None:
    with running_emulator(reject=(TOKEN,)) as base:
        result = subprocess.run(
            [sys.executable, "-c", RUN, "run"],
            env=_environment(db_url, tmp_path, TELEGRAM_TOKEN=TOKEN, TELEGRAM_API_BASE=base),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stdout + result.stderr
    [line] = [line for line in result.stderr.splitlines() if "rejected" in line]
    assert line == (
        "studyhall: telegram: Telegram rejected the token (Unauthorized); check TELEGRAM_TOKEN"
        " (and TELEGRAM_API_BASE, if set)"
    )
    assert "cannot connect" not in result.stderr  # not retried


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
    plan = _plan("discord", app, replace(config, adapter_settings=settings), HttpServer("127.0.0.1", 0))
    await plan.connect()
    await asyncio.sleep(0)
    assert calls == [("login", "d-secret-token"), "connect"]
    assert "discord" in app.services.paid_chats.ports
    await plan.adapter.stop()
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
        process = await _start_run(env)
        try:
            assert process.stdout is not None
            first = (await process.stdout.readline()).decode()
            assert first.startswith("studyhall: http on")
            assert "no dashboard (set STUDYHALL_SECRET_KEY to serve it)" in first
            assert (await process.stdout.readline()).decode().strip() == "studyhall: wechat adapter running"
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


async def test_run_serves_the_dashboard_with_a_secret_key(db_url: str, tmp_path: Path) -> None:
    from tests.wechat_peer import APP_SECRET, FakeWeChat, running_wechat

    key = "run-secret-key-0123456789-abcdefghijklmnopq"
    port = free_port()
    async with running_wechat(FakeWeChat()) as api_base:
        env = _wechat_environment(db_url, tmp_path, api_base, APP_SECRET, port)
        env.update(STUDYHALL_SECRET_KEY=key, STUDYHALL_LOG_LEVEL="DEBUG")
        process = await _start_run(env)
        try:
            assert process.stdout is not None
            first = (await process.stdout.readline()).decode().strip()
            assert (
                first
                == f"studyhall: http on 127.0.0.1:{port}; dashboard at http://127.0.0.1:{port}/dashboard"
            )
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
                assert (await client.get("/dashboard")).status_code == 401  # not signed in
                assert (await client.get("/dashboard/login/" + "x" * 43)).status_code == 403
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err
    log = (tmp_path / "data" / "studyhall.log").read_text()
    assert key not in out.decode() + err.decode() + log


def _wechat_environment(db_url: str, tmp_path: Path, api_base: str, secret: str, port: int) -> dict[str, str]:
    from tests.wechat_peer import APP_ID
    from tests.wechat_peer import TOKEN as WECHAT_TOKEN

    return _environment(
        db_url,
        tmp_path,
        WECHAT_APP_ID=APP_ID,
        WECHAT_APP_SECRET=secret,
        WECHAT_TOKEN=WECHAT_TOKEN,
        WECHAT_API_BASE=api_base,
        STUDYHALL_HTTP_PORT=str(port),
    )


async def test_run_answers_wechat_callbacks_while_the_api_cannot_be_reached(
    db_url: str, tmp_path: Path
) -> None:
    """Nothing listens at the API base: the start-up check is retried, one log line each
    time, and the callback on the HTTP app answers all the while."""
    from tests.wechat_peer import APP_SECRET, plain_request, post, text_xml

    port = free_port()
    api_base = f"http://127.0.0.1:{free_port()}/cgi-bin/"
    process = await _start_run(_wechat_environment(db_url, tmp_path, api_base, APP_SECRET, port))
    try:
        assert process.stdout is not None and process.stderr is not None
        assert (await process.stdout.readline()).decode().startswith("studyhall: http on")
        while "wechat: cannot connect" not in (line := (await process.stderr.readline()).decode()):
            assert line, "no retry line"
        assert "attempt 1 failed, trying again in" in line
        status, body = await post(
            f"http://127.0.0.1:{port}", plain_request(text_xml("oOmar0000000000000000000042", "帮助", 9002))
        )
        assert status == 200 and "你在这里可以使用的命令" in body
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out, err = await asyncio.wait_for(process.communicate(), 30)
        except TimeoutError:
            process.kill()
            raise
    assert process.returncode == 0, err.decode()
    assert "wechat adapter running" not in out.decode()
    assert "Traceback" not in err.decode() and APP_SECRET not in out.decode() + err.decode()


async def test_run_ends_with_one_line_when_wechat_refuses_the_app_secret(db_url: str, tmp_path: Path) -> None:
    from tests.wechat_peer import FakeWeChat, running_wechat

    wrong = "not-the-app-secret"
    async with running_wechat(FakeWeChat()) as api_base:
        process = await _start_run(_wechat_environment(db_url, tmp_path, api_base, wrong, free_port()))
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, err.decode()
    assert "Traceback" not in err.decode() and wrong not in out.decode() + err.decode()
    [line] = [line for line in err.decode().splitlines() if "refused" in line]
    assert line == (
        "studyhall: wechat: WeChat refused the credentials (40125: invalid AppSecret); check WECHAT_APP_ID"
        " and WECHAT_APP_SECRET"
    )


async def test_pushes_wait_for_an_adapter_until_it_is_connected(app: App) -> None:
    """While an adapter is retrying, its platform's pushes stay in the outbox (no channel
    for them); the channel is back once it is connected."""
    from bot.run import Planned, _connect
    from bot.startup import Unavailable

    class Channel:
        async def stop(self) -> None:
            pass

    channel = Channel()
    app.services.pushes.channels["telegram"] = channel  # type: ignore[assignment]
    registered: list[bool] = []

    async def connect() -> None:
        registered.append("telegram" in app.services.pushes.channels)
        if len(registered) == 1:
            raise Unavailable("httpx.ConnectError: All connection attempts failed")

    failed: list[Exception] = []
    await _connect(Planned("telegram", channel, connect), app, asyncio.Event(), failed)
    assert registered == [False, False] and not failed
    assert app.services.pushes.channels["telegram"] is channel


async def test_every_process_checks_the_same_webhook_secret_without_a_configured_one(
    app: App, config: Config
) -> None:
    """Several processes behind one load balancer: each computes the secret the registering one
    gave Telegram (derived from the token and STUDYHALL_SECRET_KEY), not one of its own."""
    from bot.adapters.telegram.adapter import TelegramAdapter
    from bot.adapters.telegram.processes import webhook_secret

    key = "s" * 40
    settings = {"telegram": {"token": Secret(TOKEN), "webhook_url": "https://bot.example.org/telegram/hook"}}
    secrets = []
    for _process in range(2):
        configured = replace(config, adapter_settings=settings, secret_key=Secret(key))
        plan = _plan("telegram", app, configured, HttpServer("127.0.0.1", free_port()))
        assert isinstance(plan.adapter, TelegramAdapter)
        secrets.append(plan.adapter._secret)
        await plan.adapter.stop()
    assert secrets == [webhook_secret(TOKEN, key)] * 2
    settings["telegram"]["webhook_secret"] = Secret("configured_secret-1")
    plan = _plan(
        "telegram", app, replace(config, adapter_settings=settings), HttpServer("127.0.0.1", free_port())
    )
    assert isinstance(plan.adapter, TelegramAdapter) and plan.adapter._secret == "configured_secret-1"
    await plan.adapter.stop()
