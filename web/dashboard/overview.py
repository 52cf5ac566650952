"""The overview: the figures /stats shows, from the latest analytics run, and a recompute button."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from core.catalog.money import Money, format_money
from core.i18n import render
from core.members.models import Role
from web import texts
from web.kit import Authorized, Kit, MenuItem, redirect, when

MENU = MenuItem("/dashboard", texts.LABELS["overview"], creators_only=False)


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Overview(kit)
    router.add_get("/dashboard", kit.guard(pages.overview), allow_head=False)
    router.add_post("/dashboard/recompute", kit.guard(pages.recompute))


class Overview:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.analytics = kit.services.analytics

    async def overview(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request)
        login = auth.login
        context: dict[str, Any] = {"summary": None}
        if login.member.role is Role.CREATOR:
            summary = await self.analytics.latest(login.community, login.member)
            context["summary"] = _figures(summary, auth, self.kit.locale(request, login))
        return self.kit.page(request, "overview.html", auth, context)

    async def recompute(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True)
        await self.analytics.recompute(auth.login.community, auth.login.member)
        return redirect("/dashboard")


def _figures(summary: dict[str, Any], auth: Authorized, locale: str) -> dict[str, Any]:
    """What the overview shows, from the analytics summary /stats reads."""
    computed = datetime.fromisoformat(summary["computed_at"])
    month = computed.strftime("%Y-%m")
    active = summary.get("active") or {}
    revenue = [
        {
            "currency": r["currency"],
            "month": format_money(Money(r["currency"], int(r["by_month"].get(month, 0))), locale),
            "mrr": format_money(Money(r["currency"], int(r["mrr"])), locale),
        }
        for r in summary["revenue"]
    ]
    return {
        "members": summary["members"],
        "active_7": active.get("days_7", "—"),
        "active_30": active.get("days_30", "—"),
        "churn": f"{summary['churn'] * 100:.0f}%",
        "revenue": revenue,
        "funnel": [
            (render(texts.STEPS[step], locale) if step in texts.STEPS else step, count)
            for step, count in summary["funnel"].items()
        ],
        "computed_at": texts.computed_at(when(computed, auth.zone), locale),
    }
