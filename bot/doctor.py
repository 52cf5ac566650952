"""``studyhall doctor``: a checklist of what a running studyhall needs, each line ✓ or ✗ with the
fix. Every check talks to what the configuration names (the configured API bases, the
configured database); nothing is changed, and no secret is printed (each line is redacted
with the configuration's secrets before it is shown)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.config import ADAPTER_SETTINGS, Config, Secret
from bot.logs import RedactSecrets
from bot.wechat_one_off import missing_sqlite_file, one_off_wechat_api
from core.storage.database import safe_url

OK, FAIL = "✓", "✗"
TIMEOUT = aiohttp.ClientTimeout(total=10)
TELEGRAM_API = "https://api.telegram.org"
DISCORD_API = "https://discord.com/api/v10"  # a module constant, so tests can point it at a fake
MIN_FREE_BYTES = 1024**3  # the database, its backups and the logs grow; 1 GiB leaves room


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    fix: str = ""

    def lines(self) -> list[str]:
        head = f"{OK if self.ok else FAIL} {self.what}"
        return [head] if self.ok or not self.fix else [head, f"    fix: {self.fix}"]


def report(checks: list[Check], secrets: list[str]) -> tuple[str, int]:
    """The checklist's text (secrets redacted) and the exit status: 1 when anything failed."""
    redact = RedactSecrets(secrets)
    text = "\n".join(redact.redact(line) for check in checks for line in check.lines())
    return text, 0 if all(check.ok for check in checks) else 1


def config_failed(error: str) -> Check:
    return Check(
        False,
        f"configuration: {error}",
        "correct that setting in studyhall.toml or the environment; `studyhall config show` lists them",
    )


async def run_checks(config: Config, config_file: str | None) -> list[Check]:
    checks = [Check(True, f"configuration valid ({config_file or 'no file; defaults and environment'})")]
    checks.append(await check_database(config))
    for platform, check in (
        ("telegram", check_telegram),
        ("discord", check_discord),
        ("wechat", check_wechat),
    ):
        if platform in config.adapters:
            checks.append(await _guarded(platform, check, config))
        else:
            needed = ", ".join(spec.env for spec in ADAPTER_SETTINGS[platform][0])
            checks.append(Check(True, f"{platform}: not configured (set {needed} to use it)"))
    checks.extend(await check_webhooks(config))
    checks.append(check_public_url(config))
    checks.append(check_cjk_font())
    checks.append(check_disk(config.data_dir))
    return checks


async def check_database(config: Config) -> Check:
    from core.storage.database import Database
    from core.storage.migrate import current_revision, head_revision
    from core.storage.unavailable import connection_problem

    url = config.database_url
    shown = safe_url(url)
    missing = missing_sqlite_file(url)
    if missing:  # connecting would create an empty one
        return Check(False, f"database: no SQLite file at {missing}", "run `studyhall migrate` to create it")
    db = Database(url)
    try:
        current = await current_revision(db)
    except Exception as error:
        problem = connection_problem(url, error) or f"{type(error).__name__}: {error}"
        return Check(False, f"database: cannot reach {shown}: {problem}", "check STUDYHALL_DATABASE_URL")
    finally:
        await db.dispose()
    head = head_revision()
    if current != head:
        return Check(
            False,
            f"database {shown}: at revision {current or 'none'}, this studyhall needs {head}",
            "run `studyhall migrate`",
        )
    return Check(True, f"database {shown}: reachable, migrated ({head})")


async def _guarded(platform: str, check: Callable[[Config], Awaitable[Check]], config: Config) -> Check:
    try:
        return await check(config)
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return Check(
            False,
            f"{platform}: cannot reach its API: {type(error).__name__}",
            "check this server's network, proxy and DNS (and the api_base setting, if set)",
        )


async def check_telegram(config: Config) -> Check:
    settings = config.adapter_settings["telegram"]
    base = str(settings.get("api_base") or TELEGRAM_API).rstrip("/")
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as http,
        http.get(f"{base}/bot{_reveal(settings['token'])}/getMe") as response,
    ):
        body = await response.json(content_type=None)
    if response.status == 200 and isinstance(body, dict) and body.get("ok"):
        username = (body.get("result") or {}).get("username", "?")
        return Check(True, f"telegram: token accepted by {base} (@{username})")
    return Check(
        False,
        f"telegram: {base} refused the token (HTTP {response.status})",
        "copy the token again from @BotFather (/mybots → API Token) into TELEGRAM_TOKEN",
    )


async def check_discord(config: Config) -> Check:
    token = _reveal(config.adapter_settings["discord"]["token"])
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as http,
        http.get(f"{DISCORD_API}/users/@me", headers={"Authorization": f"Bot {token}"}) as response,
    ):
        body = await response.json(content_type=None)
    if response.status == 200 and isinstance(body, dict):
        return Check(True, f"discord: token accepted (bot {body.get('username', '?')})")
    return Check(
        False,
        f"discord: the token was refused (HTTP {response.status})",
        "reset the token (Developer Portal → your application → Bot) and put it in DISCORD_TOKEN",
    )


async def check_wechat(config: Config) -> Check:
    from bot.adapters.wechat.api import WeChatApiError

    # The new token goes where the running service reads it (bot/wechat_one_off.py): fetching
    # it invalidates the one they hold, so they must move to it.
    async with one_off_wechat_api(config) as api:
        try:
            await api.verify_credentials()
        except WeChatApiError as error:
            return Check(
                False,
                f"wechat: the access token was refused: {error}",
                "check WECHAT_APP_ID and WECHAT_APP_SECRET, and add this server's IP address to the "
                "IP whitelist (WeChat console → Basic configuration)",
            )
    return Check(True, f"wechat: AppID and AppSecret accepted by {api.api_base}")


async def check_webhooks(config: Config) -> list[Check]:
    """Each URL a platform posts to, asked from this process: any HTTP answer means the name
    resolves and something (your proxy, then studyhall) listens there."""
    urls: list[tuple[str, str]] = []
    webhook = config.adapter_settings.get("telegram", {}).get("webhook_url")
    if webhook:
        urls.append(("telegram webhook", str(webhook)))
    if "wechat" in config.adapters:
        path = str(config.adapter_settings["wechat"].get("path") or "/wechat")
        urls.append(("wechat callback", config.base_url + path))
    if "stripe" in config.payment_settings:
        from bot.payments.stripe_webhook import PATH

        urls.append(("stripe webhook", config.base_url + PATH))
    if not urls:
        return [Check(True, "webhooks: none configured (Telegram, if on, polls)")]
    return [await _reachable(name, url, config) for name, url in urls]


async def _reachable(name: str, url: str, config: Config) -> Check:
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.get(url) as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return Check(
            False,
            f"{name}: {url} is not reachable from here ({type(error).__name__})",
            f"start `studyhall run`, and have your TLS proxy forward that URL to "
            f"{config.http_host}:{config.http_port}",
        )
    return Check(True, f"{name}: {url} answers (HTTP {status})")


def check_public_url(config: Config) -> Check:
    needs = [
        what
        for what, needed in (
            ("the dashboard", config.secret_key is not None),
            ("stripe payments", "stripe" in config.payment_settings),
            ("the wechat callback", "wechat" in config.adapters),
        )
        if needed
    ]
    if config.public_url:
        return Check(True, f"public URL: {config.public_url}")
    if not needs:
        return Check(True, "public URL: not set, not needed (no dashboard, payments or callbacks)")
    return Check(
        False,
        f"public URL: not set; {', '.join(needs)} would send people to {config.base_url}",
        "set STUDYHALL_PUBLIC_URL to the https address your proxy serves",
    )


def check_cjk_font() -> Check:
    from core.analytics.charts import cjk_font

    font = cjk_font()
    if font:
        return Check(True, f"CJK font for Chinese charts: {font}")
    return Check(
        False,
        "CJK font for Chinese charts: none (charts are drawn with English labels)",
        "install one (Debian: apt install fonts-noto-cjk), then delete matplotlib's font cache "
        "(~/.cache/matplotlib)",
    )


def check_disk(folder: Path) -> Check:
    existing = next((p for p in (folder, *folder.absolute().parents) if p.exists()), Path("/"))
    usage = shutil.disk_usage(existing)  # the folder itself may not be made yet
    free = f"{usage.free / 1024**3:.1f} GiB free in the data folder {folder}"
    if usage.free >= MIN_FREE_BYTES:
        return Check(True, free)
    return Check(False, free, "free some space, or move STUDYHALL_DATA_DIR to a larger disk")


def _reveal(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def doctor(config: Config, config_file: str | None) -> int:
    """Print the checklist; 1 when any line is ✗."""
    text, status = report(asyncio.run(run_checks(config, config_file)), config.secret_values())
    print(text)
    return status
