"""``studyhall run``: the App with every configured network adapter, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from bot.app import App
from bot.config import Config, Secret
from bot.health import install_health
from bot.http import HttpServer
from bot.scheduler import JobScheduler
from bot.startup import connect_until_up
from bot.web import NO_DASHBOARD, install_web

log = logging.getLogger(__name__)

NETWORK_ADAPTERS = ("telegram", "discord", "wechat")
FIRST_CONNECT_GRACE = 15.0  # seconds the scheduler waits for the adapters' first connection


class RunningAdapter(Protocol):
    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Planned:
    """An adapter built, its routes on the HTTP app, and the step that connects it to its
    platform (``connect_until_up`` retries it while the platform cannot be reached)."""

    name: str
    adapter: RunningAdapter
    connect: Callable[[], Awaitable[None]]


async def run(config: Config) -> int:
    """Run until SIGINT/SIGTERM. Adapters connect each on its own, retried while their
    platform cannot be reached; one whose platform rejects the token ends the run with
    Rejected (a one-line error, exit status 2)."""
    wanted = [name for name in config.adapters if name in NETWORK_ADAPTERS]
    if not wanted:
        log.error("no network adapter configured")
        print(
            "studyhall: no adapter to run; set TELEGRAM_TOKEN, DISCORD_TOKEN or the WECHAT_ settings"
            " (see docs/operations/variables.md)"
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
    planned: list[Planned] = []
    connecting: list[asyncio.Task[None]] = []
    failed: list[Exception] = []  # what ended the run: a Rejected token, or something unforeseen
    scheduler = JobScheduler(app)
    http = HttpServer(config.http_host, config.http_port, app.metrics)
    install_health(app, http, leading=lambda: scheduler.leading)
    _start_payments(app, config, http)
    dashboard = install_web(app, http)
    # One line about the dashboard: on the HTTP app's line when it serves one.
    web_note = f"dashboard at {config.base_url}/dashboard" if dashboard else NO_DASHBOARD
    try:
        for name in wanted:
            planned.append(_plan(name, app, config, http))
            app.adapters.connecting(name)
        # Always: /healthz, /readyz and /metrics are served even without a webhook.
        await http.start()
        print(f"studyhall: http on {config.http_host}:{config.http_port}; {web_note}", flush=True)
        for plan in planned:
            connecting.append(asyncio.create_task(_connect(plan, app, stopping, failed), name=plan.name))
        # The first tick sends due pushes through the connected adapters' channels: a moment
        # for them to connect first (else those pushes wait for the next minute's run).
        await _first_connections(connecting, stopping)
        scheduler.start()
        await stopping.wait()
    finally:
        for task in connecting:
            task.cancel()
        await asyncio.gather(*connecting, return_exceptions=True)
        await scheduler.stop()
        await http.stop()
        for plan in reversed(planned):
            await plan.adapter.stop()
        await app.close()  # flushes the writers: nothing queued is lost
        print("studyhall: stopped", flush=True)
    if failed:
        raise failed[0]
    return 0


async def _first_connections(connecting: list[asyncio.Task[None]], stopping: asyncio.Event) -> None:
    """Until every adapter is connected (or given up), the run stops, or FIRST_CONNECT_GRACE."""
    connected = asyncio.ensure_future(asyncio.wait(connecting))
    stopped = asyncio.ensure_future(stopping.wait())
    await asyncio.wait((connected, stopped), timeout=FIRST_CONNECT_GRACE, return_when=asyncio.FIRST_COMPLETED)
    connected.cancel()  # the waits only: the adapters go on connecting
    stopped.cancel()


async def _connect(plan: Planned, app: App, stopping: asyncio.Event, failed: list[Exception]) -> None:
    """Connect one adapter, retrying while its platform cannot be reached; the others and
    the HTTP app work meanwhile. Its pushes wait in the outbox until it is connected."""
    channels = app.services.pushes.channels
    channel = channels.pop(plan.name, None)
    try:
        await connect_until_up(plan.name, plan.connect, on_error=partial(app.adapters.failed, plan.name))
    except Exception as error:  # Rejected, or a bug: either ends the run (after a clean stop)
        app.adapters.failed(plan.name, error)
        failed.append(error)
        stopping.set()
        return
    if channel is not None:
        channels[plan.name] = channel
    app.adapters.connected(plan.name)
    print(f"studyhall: {plan.name} adapter running", flush=True)


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
    wechatpay = config.payment_settings.get("wechatpay")
    if wechatpay:
        from bot.payments.wechatpay_setup import start_wechatpay

        start_wechatpay(app, config, http, wechatpay)
        print("studyhall: wechat pay on", flush=True)


def _plan_period(app: App) -> Callable[[int], Awaitable[str]]:
    async def period(plan_id: int) -> str:
        return (await app.services.plans.by_id(plan_id)).period

    return period


def _reveal(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _plan(name: str, app: App, config: Config, http: HttpServer) -> Planned:
    """Build adapter ``name`` and put its routes on ``http`` (before it starts)."""
    if name == "telegram":
        from bot.adapters.telegram.adapter import TelegramAdapter
        from bot.adapters.telegram.processes import webhook_secret

        settings = config.adapter_settings["telegram"]
        adapter = TelegramAdapter(app, settings)
        webhook_url = settings.get("webhook_url")
        if webhook_url:
            # Every process must check the secret the registering one gave Telegram: the
            # configured one, or one derived alike in each (bot/adapters/telegram/processes.py).
            configured = settings.get("webhook_secret")
            if isinstance(configured, Secret):
                secret = configured.reveal()
            else:
                key = config.secret_key.reveal() if config.secret_key is not None else None
                secret = webhook_secret(_reveal(settings["token"]), key)
            adapter.install_webhook(http, str(webhook_url), secret)
            return Planned(name, adapter, partial(adapter.connect_webhook, str(webhook_url)))
        return Planned(name, adapter, adapter.start_polling)
    if name == "discord":
        from bot.adapters.discord.adapter import DiscordAdapter

        discord_adapter = DiscordAdapter(app, config.adapter_settings["discord"])
        return Planned(name, discord_adapter, discord_adapter.start)
    if name == "wechat":
        from bot.adapters.wechat.adapter import WeChatAdapter

        wechat = WeChatAdapter(app, config.adapter_settings["wechat"])
        wechat.install(http)
        return Planned(name, wechat, wechat.connect)
    raise ValueError(f"unknown adapter {name}")
