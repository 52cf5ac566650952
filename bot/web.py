"""Wiring the web (web/) onto the HTTP app: the public course pages always, the dashboard when a
secret key is configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from bot.app import App
from bot.config import Secret
from core.catalog.money import Money

if TYPE_CHECKING:
    from bot.adapters.wechat.oauth import WeChatOAuth
from bot.http import HttpServer

NO_DASHBOARD = "no dashboard (set STUDYHALL_SECRET_KEY to serve it)"


def install_web(app: App, http: HttpServer, *, sandbox: bool = False) -> bool:
    """Mount the course pages and, with a secret key, the dashboard on ``http``; whether the
    dashboard is on. ``sandbox``: the learner's order page completes sandbox payments, as the
    console's ``:pay`` does (the demo and the console only: nothing is charged)."""
    from web.app import install_learner_pages

    config = app.config
    token = config.adapter_settings.get("telegram", {}).get("token")
    install_learner_pages(
        http.app,
        app.services,
        community=app.community,
        base_url=config.base_url,
        secret_key=config.secret_key.reveal() if config.secret_key is not None else None,
        telegram_token=_reveal(token),
        wechat=_wechat_oauth(config.adapter_settings.get("wechat", {})),
        settle_sandbox=_settle(app) if sandbox else None,
        discord_invite=_reveal(config.adapter_settings.get("discord", {}).get("invite")),
    )
    return install_dashboard(app, http)


def _settle(app: App) -> Callable[[int, str, str, Money], Awaitable[None]]:
    """Record a payment and tell the buyer in their chat, as a provider's webhook does."""

    async def settle(order_id: int, provider: str, ref: str, paid: Money) -> None:
        await app.send(await app.settle_payment(order_id, provider, ref, paid))

    return settle


def _reveal(value: str | Secret | None) -> str | None:
    return (value.reveal() if isinstance(value, Secret) else value) or None


def _wechat_oauth(settings: Mapping[str, str | Secret]) -> WeChatOAuth | None:
    """WeChat's H5 sign-in, when the Official Account is configured."""
    app_id, secret = _reveal(settings.get("app_id")), _reveal(settings.get("app_secret"))
    if not app_id or not secret:
        return None
    from bot.adapters.wechat.oauth import WeChatOAuth

    return WeChatOAuth(app_id, secret, _reveal(settings.get("api_base")) or "")


def install_dashboard(app: App, http: HttpServer) -> bool:
    """Mount the dashboard's routes on ``http``; False (nothing mounted) without a secret key."""
    config = app.config
    if config.secret_key is None:
        return False
    from web.app import Dashboard

    Dashboard(
        app.services,
        secret_key=config.secret_key.reveal(),
        secure_cookies=config.base_url.startswith("https://"),
        default_locale=config.default_locale,
    ).install(http.app)
    return True
