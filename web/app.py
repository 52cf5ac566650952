"""The dashboard on the HTTP app: its templates, static files and every page module's routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from core.members.models import Community
from core.services import Services
from web.auth import CookiePolicy, Csrf
from web.dashboard import (
    analytics,
    audit,
    catalog,
    catalog_bundles,
    catalog_coupons,
    catalog_mall,
    catalog_plans,
    catalog_versions,
    channels,
    chats,
    feedback,
    members,
    orders,
    overview,
    pushes,
    qa,
    referrals,
    settings,
    signin,
    wechat,
)
from web.kit import Kit
from web.learn.account import LearnerAccount, WeChatIdentity
from web.learn.checkout import Checkout, Settle
from web.learn.pages import LearnerPages
from web.learn.reader import LessonReader
from web.learn.sessions import LearnerSessions
from web.learn.signed_files import FileSigner

HERE = Path(__file__).resolve().parent
# In menu order; a module's MENU is None when it has no menu entry.
PAGES = (
    overview,
    members,
    catalog,
    catalog_bundles,
    catalog_plans,
    catalog_coupons,
    catalog_mall,
    catalog_versions,
    orders,
    pushes,
    qa,
    feedback,
    chats,
    referrals,
    channels,
    analytics,
    settings,
    wechat,
    audit,
    signin,
)


class Dashboard:
    def __init__(
        self, services: Services, *, secret_key: str, secure_cookies: bool, default_locale: str
    ) -> None:
        self.kit = Kit(
            services,
            secret_key=secret_key,
            secure_cookies=secure_cookies,
            default_locale=default_locale,
            menu=[page.MENU for page in PAGES if page.MENU is not None],
        )

    def install(self, application: web.Application) -> None:
        """Put the dashboard's routes and templates on ``application`` (before it starts)."""
        install_templates(application)
        for page in PAGES:
            page.install(self.kit, application.router)
        application.router.add_static("/dashboard/static", HERE / "static")


def install_learner_pages(
    application: web.Application,
    services: Services,
    *,
    community: Callable[[], Awaitable[Community]],
    base_url: str,
    secret_key: str | None,
    telegram_token: str | None,
    wechat: WeChatIdentity | None = None,
    settle_sandbox: Settle | None = None,
    discord_invite: str | None = None,
) -> None:
    """Put the public course pages, the sitemap and robots.txt on ``application``; with a
    secret key (for the session's CSRF tokens), the learners' own pages, sign-in and checkout
    too (``settle_sandbox``: the demo's sandbox payments, see web/learn/checkout.py)."""
    install_templates(application)
    LearnerPages(services, community=community, base_url=base_url, discord_invite=discord_invite).install(
        application.router
    )
    if secret_key is not None:
        sessions = LearnerSessions(services, community, Csrf(secret_key))
        LearnerAccount(
            services,
            community=community,
            sessions=sessions,
            cookies=CookiePolicy(secure=base_url.startswith("https://")),
            telegram_token=telegram_token,
            wechat=wechat,
            base_url=base_url,
        ).install(application.router)
        signer = FileSigner(secret_key)
        LessonReader(services, community=community, sessions=sessions, signer=signer).install(
            application.router
        )
        Checkout(services, community=community, sessions=sessions, settle_sandbox=settle_sandbox).install(
            application.router
        )
    application.router.add_static("/assets", HERE / "static")


def install_templates(application: web.Application) -> None:
    """The pages' Jinja2 templates (autoescaped), once per application."""
    if application.get(aiohttp_jinja2.APP_KEY) is None:
        aiohttp_jinja2.setup(
            application,
            loader=jinja2.FileSystemLoader(str(HERE / "templates")),
            autoescape=jinja2.select_autoescape(["html"], default=True),
        )
