"""The dashboard on the HTTP app: its templates, static files and every page module's routes."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from core.services import Services
from web.dashboard import (
    analytics,
    audit,
    catalog,
    catalog_bundles,
    catalog_coupons,
    catalog_mall,
    catalog_plans,
    chats,
    members,
    orders,
    overview,
    pushes,
    qa,
    referrals,
    settings,
    signin,
)
from web.kit import Kit

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
    orders,
    pushes,
    qa,
    chats,
    referrals,
    analytics,
    settings,
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
        aiohttp_jinja2.setup(
            application,
            loader=jinja2.FileSystemLoader(str(HERE / "templates")),
            autoescape=jinja2.select_autoescape(["html"], default=True),
        )
        for page in PAGES:
            page.install(self.kit, application.router)
        application.router.add_static("/dashboard/static", HERE / "static")
