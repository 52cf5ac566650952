"""``studyhall run``: the App with every configured network adapter, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.app import App
from bot.config import Config, Secret
from bot.http import HttpServer
from bot.scheduler import JobScheduler

log = logging.getLogger(__name__)

NETWORK_ADAPTERS = ("telegram", "discord", "wechat")


class RunningAdapter(Protocol):
    async def stop(self) -> None: ...


async def run(config: Config) -> int:
    wanted = [name for name in config.adapters if name in NETWORK_ADAPTERS]
    if not wanted:
        log.error("no network adapter configured")
        print(
            "studyhall: no adapter to run; set TELEGRAM_TOKEN, DISCORD_TOKEN or the WECHAT_ settings"
            " (see README, Configuration)"
        )
        return 2
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per poll otherwise
    # requests (wechatpy) logs each URL at DEBUG, and WeChat's carry the access token.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    app = await App.open(config)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    running: list[RunningAdapter] = []
    scheduler = JobScheduler(app)
    http = HttpServer(config.http_host, config.http_port)
    _start_payments(app, config, http)
    try:
        for name in wanted:
            running.append(await _start(name, app, config, http))
            print(f"studyhall: {name} adapter running", flush=True)
        if len(http.app.router.routes()) > 1:  # more than the health check: webhooks to serve
            await http.start()
            print(f"studyhall: http on {config.http_host}:{config.http_port}", flush=True)
        scheduler.start()
        await stopping.wait()
    finally:
        await scheduler.stop()
        await http.stop()
        for adapter in reversed(running):
            await adapter.stop()
        await app.close()  # flushes the writers: nothing queued is lost
        print("studyhall: stopped", flush=True)
    return 0


def _start_payments(app: App, config: Config, http: HttpServer) -> None:
    """Payment providers whose settings are present: registered with the orders, webhooks routed."""
    settings = config.payment_settings.get("stripe")
    if settings:
        from bot.payments.stripe_checkout import StripeProvider
        from bot.payments.stripe_webhook import StripeWebhook

        provider = StripeProvider(
            _reveal(settings["secret_key"]),
            public_url=str(settings["public_url"]),
            clock=app.clock,
            api_base=str(settings["api_base"]) if settings.get("api_base") else None,
            plan_period=_plan_period(app),
        )
        app.services.orders.register(provider, first=True)
        StripeWebhook(app, _reveal(settings["webhook_secret"])).install(http)
        print("studyhall: stripe payments on", flush=True)


def _plan_period(app: App) -> Callable[[int], Awaitable[str]]:
    async def period(plan_id: int) -> str:
        return (await app.services.plans.by_id(plan_id)).period

    return period


def _reveal(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else value


async def _start(name: str, app: App, config: Config, http: HttpServer) -> RunningAdapter:
    if name == "telegram":
        from bot.adapters.telegram.adapter import TelegramAdapter

        settings = config.adapter_settings["telegram"]
        adapter = TelegramAdapter(app, settings)
        webhook_url = settings.get("webhook_url")
        if webhook_url:
            # Without a configured secret, one per run: setWebhook sends it to Telegram each start.
            configured = settings.get("webhook_secret")
            secret = configured.reveal() if isinstance(configured, Secret) else secrets.token_urlsafe(32)
            await adapter.start_webhook(http, str(webhook_url), secret)
        else:
            await adapter.start_polling()
        return adapter
    if name == "discord":
        from bot.adapters.discord.adapter import DiscordAdapter

        discord_adapter = DiscordAdapter(app, config.adapter_settings["discord"])
        await discord_adapter.start()
        return discord_adapter
    if name == "wechat":
        from bot.adapters.wechat.adapter import WeChatAdapter

        wechat = WeChatAdapter(app, config.adapter_settings["wechat"])
        wechat.install(http)
        return wechat
    raise ValueError(f"unknown adapter {name}")
