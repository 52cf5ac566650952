"""The overview: the figures /stats shows, from the latest analytics run, next week's forecast,
the analytics charts (SVG, drawn by core.analytics.charts as /retention, /revenue, /segments and
the HTML report draw them) and a recompute button."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from core.analytics import charts
from core.audit.log import requested_via
from core.catalog.money import Money, format_money
from core.i18n import Msg, msg, render
from core.members.models import Role
from web import texts
from web.kit import Authorized, Kit, MenuItem, redirect, when

MENU = MenuItem("/dashboard", texts.LABELS["overview"], creators_only=False)
LABELS: dict[str, Msg] = {
    "forecast": msg("Forecast"),
    "charts": msg("Charts"),
}
CHART_PATH = "/dashboard/charts/{name}.svg"
DRAWN_KEPT = 64  # charts kept drawn (a few communities × languages × charts)


@dataclass(frozen=True)
class Chart:
    name: str  # its address: CHART_PATH
    title: str  # the image's alt text
    figures: str  # the key figures it shows, in words (its caption)


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Overview(kit)
    router.add_get("/dashboard", kit.guard(pages.overview), allow_head=False)
    router.add_post("/dashboard/recompute", kit.guard(pages.recompute))
    router.add_get(
        CHART_PATH.replace("{name}", "{name:[a-z]+(?:-[A-Za-z]{2,10})?}"),
        kit.guard(pages.chart),
        allow_head=False,
    )


class Overview:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.analytics = kit.services.analytics
        self._drawn: OrderedDict[tuple[int, str, str, str], bytes] = OrderedDict()

    async def overview(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request)
        login = auth.login
        context: dict[str, Any] = {"summary": None, "charts": []}
        if login.member.role is Role.CREATOR:
            summary = await self.analytics.latest(login.community, login.member)
            locale = self.kit.locale(request, login)
            context["summary"] = _figures(summary, auth, locale)
            context["charts"] = [
                {**chart.__dict__, "src": CHART_PATH.format(name=chart.name)}
                for chart in _charts(summary, locale)
            ]
        return self.kit.page(request, "overview.html", auth, context, labels=LABELS)

    async def recompute(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True)
        with requested_via("dashboard"):  # not through Kit.submit: a repeat only recomputes again
            await self.analytics.recompute(auth.login.community, auth.login.member)
        return redirect("/dashboard")

    async def chart(self, request: web.Request) -> web.StreamResponse:
        """One chart of the latest run as SVG, for creators (the overview's <img> elements)."""
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        summary = await self.analytics.latest(login.community, login.member)
        name = request.match_info["name"]
        found = _drawing(summary, name)
        if found is None:
            raise web.HTTPNotFound()
        chart, source = found
        locale = self.kit.locale(request, login)
        # A chart changes only when the run does: drawn once per run, language and chart.
        key = (login.community.id, summary["computed_at"], name, locale)
        svg = self._drawn.get(key)
        if svg is None:
            svg = await charts.draw(chart, source, locale, "svg")
            self._drawn[key] = svg
            while len(self._drawn) > DRAWN_KEPT:
                self._drawn.popitem(last=False)
        else:
            self._drawn.move_to_end(key)
        return web.Response(body=svg, content_type=charts.CONTENT_TYPES["svg"])


def _drawing(summary: dict[str, Any], name: str) -> tuple[Any, Any] | None:
    """The chart function and its data for the chart called ``name``, if the run has it."""
    if name == "signups":
        return charts.signups_chart, summary
    if name == "segments":
        return charts.segments_chart, summary
    if name.startswith("retention-"):
        basis = name.removeprefix("retention-")
        cohorts = summary["cohorts"].get(basis)
        return (
            (charts.retention_heatmap, {**cohorts, "basis": basis}) if cohorts and cohorts["weeks"] else None
        )
    if name.startswith("revenue-"):
        currency = name.removeprefix("revenue-")
        report = next((r for r in summary["revenue"] if r["currency"] == currency), None)
        return (charts.revenue_chart, report) if report else None
    return None


def _charts(summary: dict[str, Any], locale: str) -> list[Chart]:
    """The charts the overview shows, in order: revenue per currency, sign-ups, retention by
    activity and by payment, segments."""
    found = [
        Chart(
            f"revenue-{r['currency']}",
            render(msg("Revenue by month ({currency})", currency=r["currency"]), locale),
            charts.revenue_text(r, locale),
        )
        for r in summary["revenue"]
    ]
    found.append(
        Chart("signups", render(msg("Sign-ups by week"), locale), charts.signups_text(summary, locale))
    )
    for basis, title in charts.RETENTION_TITLES.items():
        cohorts = summary["cohorts"][basis]
        if cohorts["weeks"]:
            found.append(
                Chart(f"retention-{basis}", render(title, locale), charts.retention_text(cohorts, locale))
            )
    found.append(Chart("segments", render(msg("Segments"), locale), charts.segments_text(summary, locale)))
    return found


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
        "forecast": render(charts.forecast_text(summary), locale),
        "computed_at": texts.computed_at(when(computed, auth.zone), locale),
    }
