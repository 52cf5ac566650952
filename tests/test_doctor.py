"""bot/doctor.py: each check against real peers on loopback (the Telegram Bot API emulator, the
WeChat fake, a Discord stand-in), and ``studyhall doctor`` end to end in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.engine import make_url

from bot import doctor
from bot.config import Config, Secret
from bot.doctor import Check, report
from tests import wechat_peer
from tests.telegram_peer import available, free_port, running_emulator

TOKEN = "123456:DOCTOR-token"
REJECTED = "654321:REVOKED-token"
DISCORD_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.discord-doctor-token"
SECRET_KEY = "doctor-secret-key-0123456789-abcdefghij"

needs_emulator = pytest.mark.skipif(
    not available(),
    reason="the Telegram emulator is installed by `make test` (npm ci in tests/peers/telegram)",
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    if not available():
        pytest.skip("no Telegram emulator")
    with running_emulator(reject=(REJECTED,)) as base:
        yield base


def _with(config: Config, adapter: str, **settings: object) -> Config:
    return replace(
        config,
        adapters=(*config.adapters, adapter),
        adapter_settings={**config.adapter_settings, adapter: settings},
    )


# -- platform tokens ------------------------------------------------------------------------


@needs_emulator
async def test_telegram_token_accepted_through_the_configured_api_base(config: Config, emulator: str) -> None:
    check = await doctor.check_telegram(_with(config, "telegram", token=Secret(TOKEN), api_base=emulator))
    assert check.ok and check.what.startswith(f"telegram: token accepted by {emulator} (@")


@needs_emulator
async def test_telegram_token_refused(config: Config, emulator: str) -> None:
    check = await doctor.check_telegram(_with(config, "telegram", token=Secret(REJECTED), api_base=emulator))
    assert not check.ok and "refused the token (HTTP 401)" in check.what
    assert "@BotFather" in check.fix


async def test_telegram_api_unreachable_is_a_failed_line(config: Config) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    checks = await doctor.run_checks(_with(config, "telegram", token=Secret(TOKEN), api_base=closed), None)
    (line,) = [c for c in checks if c.what.startswith("telegram")]
    assert not line.ok and "cannot reach its API" in line.what and TOKEN not in line.what


@asynccontextmanager
async def fake_discord() -> AsyncIterator[str]:
    async def me(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bot {DISCORD_TOKEN}":
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response({"id": "1300000000000000001", "username": "studyhall", "bot": True})

    app = web.Application()
    app.router.add_get("/api/v10/users/@me", me)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/api/v10"
    finally:
        await runner.cleanup()


async def test_discord_token_accepted_or_refused(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    async with fake_discord() as api:
        monkeypatch.setattr(doctor, "DISCORD_API", api)
        good = await doctor.check_discord(_with(config, "discord", token=Secret(DISCORD_TOKEN)))
        bad = await doctor.check_discord(_with(config, "discord", token=Secret("MTM.wrong.token")))
    assert good == Check(True, "discord: token accepted (bot studyhall)")
    assert not bad.ok and "HTTP 401" in bad.what and "Developer Portal" in bad.fix


async def test_wechat_credentials_accepted_or_refused(config: Config) -> None:
    fake = wechat_peer.FakeWeChat()
    async with wechat_peer.running_wechat(fake) as base:
        settings = {"app_id": wechat_peer.APP_ID, "token": Secret(wechat_peer.TOKEN), "api_base": base}
        good = await doctor.check_wechat(
            _with(config, "wechat", app_secret=Secret(wechat_peer.APP_SECRET), **settings)
        )
        bad = await doctor.check_wechat(
            _with(config, "wechat", app_secret=Secret("not-the-secret"), **settings)
        )
    assert good.ok and good.what == f"wechat: AppID and AppSecret accepted by {base}"
    assert not bad.ok and "40125" in bad.what and "IP whitelist" in bad.fix
    assert fake.paths() == ["token", "token"]


async def test_a_platform_not_configured_says_so(config: Config) -> None:
    checks = await doctor.run_checks(config, None)
    lines = [c.what for c in checks]
    assert "discord: not configured (set DISCORD_TOKEN to use it)" in lines
    assert "telegram: not configured (set TELEGRAM_TOKEN to use it)" in lines


# -- database, webhooks, public URL, font, disk ---------------------------------------------


async def test_a_migrated_database_passes(config: Config) -> None:
    check = await doctor.check_database(config)
    assert check.ok and "reachable, migrated" in check.what


def _touch_sqlite(url: str) -> None:
    """An empty SQLite file, as an interrupted first start leaves (PostgreSQL: the database exists)."""
    if url.startswith("sqlite"):
        Path(make_url(url).database or "").touch()


async def test_an_unmigrated_database_fails_with_the_fix(config: Config, empty_db_url: str) -> None:
    _touch_sqlite(empty_db_url)
    check = await doctor.check_database(replace(config, database_url=empty_db_url))
    assert not check.ok and "at revision none" in check.what and check.fix == "run `studyhall migrate`"


async def test_a_missing_sqlite_file_is_not_created(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "hall.db"
    check = await doctor.check_database(replace(config, database_url=f"sqlite+aiosqlite:///{path}"))
    assert not check.ok and "no SQLite file" in check.what and not path.exists()


async def test_webhook_reachable_or_not(config: Config) -> None:
    app = web.Application()
    app.router.add_post("/telegram", lambda request: web.Response())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        up = f"http://127.0.0.1:{port}/telegram"
        (reached,) = await doctor.check_webhooks(
            _with(config, "telegram", token=Secret(TOKEN), webhook_url=up)
        )
    finally:
        await runner.cleanup()
    down = f"http://127.0.0.1:{free_port()}/telegram"
    (missed,) = await doctor.check_webhooks(_with(config, "telegram", token=Secret(TOKEN), webhook_url=down))
    assert reached == Check(True, f"telegram webhook: {up} answers (HTTP 405)")
    assert not missed.ok and "not reachable from here" in missed.what and "studyhall run" in missed.fix


def test_public_url_needed_by_the_dashboard(config: Config) -> None:
    assert doctor.check_public_url(config).ok
    dashboard = replace(config, secret_key=Secret(SECRET_KEY))
    missing = doctor.check_public_url(dashboard)
    assert not missing.ok and "the dashboard" in missing.what and "STUDYHALL_PUBLIC_URL" in missing.fix
    assert doctor.check_public_url(replace(dashboard, public_url="https://hall.example.com")).ok


def test_cjk_font_present_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.analytics import charts

    monkeypatch.setattr(charts, "cjk_font", lambda: "Noto Sans CJK SC")
    assert doctor.check_cjk_font() == Check(True, "CJK font for Chinese charts: Noto Sans CJK SC")
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    missing = doctor.check_cjk_font()
    assert not missing.ok and "fonts-noto-cjk" in missing.fix


def test_disk_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert doctor.check_disk(tmp_path).ok
    monkeypatch.setattr(doctor, "MIN_FREE_BYTES", 1024**6)
    low = doctor.check_disk(tmp_path)
    assert not low.ok and "GiB free in the data folder" in low.what


def test_the_report_redacts_secrets_and_fails_on_any_cross() -> None:
    text, status = report([Check(True, "fine"), Check(False, f"bad {TOKEN}", "fix it")], [TOKEN])
    assert text == "✓ fine\n✗ bad ***\n    fix: fix it" and status == 1
    assert report([Check(True, "fine")], [])[1] == 0


# -- the command, in a subprocess -----------------------------------------------------------


def studyhall(args: list[str], tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STUDYHALL_", "TELEGRAM_", "DISCORD_"))}
    base.update({"STUDYHALL_DATA_DIR": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8", **env})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=base,
    )


@pytest.mark.slow
@needs_emulator
def test_doctor_end_to_end(db_url: str, tmp_path: Path, emulator: str) -> None:
    env = {
        "STUDYHALL_DATABASE_URL": db_url,
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": emulator,
        "STUDYHALL_SECRET_KEY": SECRET_KEY,
        "STUDYHALL_PUBLIC_URL": "https://hall.example.com",
    }
    result = studyhall(["doctor"], tmp_path, env)
    lines = result.stdout.splitlines()
    assert lines[0] == "✓ configuration valid (no file; defaults and environment)"
    assert lines[1].startswith("✓ database ") and "reachable, migrated" in lines[1]
    assert any(line.startswith(f"✓ telegram: token accepted by {emulator}") for line in lines)
    assert "✓ public URL: https://hall.example.com" in lines
    assert any(line.startswith("✓ ") and "GiB free in the data folder" in line for line in lines)
    assert result.returncode == (1 if any(line.startswith("✗") for line in lines) else 0)
    for secret in (TOKEN, SECRET_KEY):
        assert secret not in result.stdout + result.stderr

    refused = studyhall(["doctor"], tmp_path, {**env, "TELEGRAM_TOKEN": REJECTED})
    assert refused.returncode == 1
    assert any(line.startswith("✗ telegram: ") and "HTTP 401" in line for line in refused.stdout.splitlines())
    assert REJECTED not in refused.stdout + refused.stderr


@pytest.mark.slow
def test_doctor_with_a_bad_configuration(tmp_path: Path) -> None:
    result = studyhall(["doctor"], tmp_path, {"STUDYHALL_LOG_FORMAT": "xml"})
    assert result.returncode == 1
    first, fix = result.stdout.splitlines()
    assert first.startswith("✗ configuration: STUDYHALL_LOG_FORMAT") and "expected text or json" in first
    assert fix.startswith("    fix: ") and "studyhall config show" in fix
