"""Analytics: segments and clusters (naming one, as /segments name does), marketing spend by
channel with CAC (recording spend, as /spend add does), and what WeChat's send rules kept from
members (as /undelivered shows), and what the recommendations learned (as /stats shows).
Creators only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from core.analytics.labels import TRAITS
from core.catalog.money import Money, format_money, parse_money
from core.delivery.reasons import PLATFORMS, REASONS
from core.errors import InvalidInput
from core.i18n import Msg, msg, nmsg, render
from core.recommend.texts import learned_line
from web.kit import Authorized, Kit, MenuItem, redirect, when

MENU = MenuItem("/dashboard/analytics", msg("Analytics"))
UNDELIVERED_DAYS = 7
LATEST_SKIPPED = 10
LABELS = {
    "analytics": msg("Analytics"),
    "segments": msg("Segments"),
    "segment": msg("Segment"),
    "size": msg("Members"),
    "clusters": msg("Clusters"),
    "cluster": msg("Cluster"),
    "traits": msg("What they are like"),
    "name": msg("Name"),
    "name_it": msg("Name it"),
    "no_clusters": msg("Too few members for clusters yet (K-means needs 10)."),
    "spend": msg("Marketing spend"),
    "channel": msg("Channel"),
    "amount": msg("Amount"),
    "currency": msg("Currency"),
    "record": msg("Record"),
    "cac": msg("Cost to win a buyer (CAC)"),
    "no_spend": msg("No spend recorded in the last 30 days."),
    "spend_window": msg("The last 30 days, which this month's CAC counts."),
    "spend_help": msg("Counted from the next computation (the overview's Recompute button)."),
    "undelivered": msg("Undelivered"),
    "reason": msg("Reason"),
    "count": msg("Messages"),
    "when": msg("When"),
    "message": msg("Message"),
    "all_delivered": msg("Every message was delivered."),
    "recommendations": msg("Recommendations"),
    "pair": msg("Taken together"),
    "similarity": msg("How often (0 to 1)"),
}


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Analytics(kit)
    router.add_get("/dashboard/analytics", kit.guard(pages.analytics), allow_head=False)
    router.add_post("/dashboard/analytics/segments", kit.guard(pages.name_cluster))
    router.add_post("/dashboard/analytics/spend", kit.guard(pages.add_spend))


class Analytics:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.service = kit.services.analytics

    async def analytics(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        done = request.query.get("done", "")
        return await self._page(request, auth, done=done)

    async def name_cluster(self, request: web.Request) -> web.StreamResponse:
        """The same core call as /segments name NUMBER NAME."""
        auth = await self.kit.authorize(request, post=True)
        form = await request.post()
        cluster, name = str(form.get("cluster", ""))[:10], str(form.get("name", ""))[:80]
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            try:
                if not cluster.isascii() or not cluster.isdigit():
                    raise InvalidInput(msg("Usage: {usage}", usage="/segments name NUMBER NAME"))
                await self.service.name_cluster(login.community, login.member, int(cluster), name)
            except InvalidInput as refused:
                return await self._page(request, auth, refused=("cluster-" + cluster, refused.message, name))
            return redirect(f"/dashboard/analytics?done=cluster-{quote(cluster)}#cluster-{quote(cluster)}")

        return await self.kit.submit(request, auth, act)

    async def add_spend(self, request: web.Request) -> web.StreamResponse:
        """The same core call as /spend add AMOUNT CURRENCY CHANNEL."""
        auth = await self.kit.authorize(request, post=True)
        form = await request.post()
        typed = {field: str(form.get(field, ""))[:60] for field in ("amount", "currency", "channel")}
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            try:
                amount = parse_money(f"{typed['amount'].strip()} {typed['currency'].strip()}")
                await self.service.add_spend(login.community, login.member, amount, typed["channel"])
            except InvalidInput as refused:
                return await self._page(request, auth, refused=("spend", refused.message, typed))
            return redirect("/dashboard/analytics?done=spend#spend")

        return await self.kit.submit(request, auth, act)

    async def _page(
        self,
        request: web.Request,
        auth: Authorized,
        *,
        done: str = "",
        refused: tuple[str, Msg, Any] | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        summary = await self.service.latest(login.community, login.member)
        error_at = refused[0] if refused else None
        clusters = [
            {
                "number": c["number"],
                "name": c.get("name") or "",
                "size": c["size"],
                "traits": ", ".join(render(TRAITS[t], locale) if t in TRAITS else t for t in c["traits"])
                or "—",
                "typed": refused[2] if error_at == f"cluster-{c['number']}" else (c.get("name") or ""),
                "error": render(refused[1], locale) if error_at == f"cluster-{c['number']}" else None,
                "saved": done == f"cluster-{c['number']}",
            }
            for c in summary.get("clusters", [])
        ]
        cac = {r["currency"]: r.get("cac") for r in summary.get("revenue", [])}
        recorded = await self.service.recent_spend(login.community, login.member)
        spend = [
            {
                "currency": currency,
                "channels": [
                    (channel, format_money(Money(currency, total), locale))
                    for c, channel, total in recorded
                    if c == currency
                ],
                "cac": format_money(Money(currency, cac[currency]), locale) if cac.get(currency) else "—",
            }
            for currency in sorted({c for c, _, _ in recorded})
        ]
        unmatched = error_at is not None and error_at.startswith("cluster-")
        unmatched = unmatched and not any(c["error"] for c in clusters)
        context = {
            "clusters_error": render(refused[1], locale) if refused and unmatched else None,
            "computed_at": when(datetime.fromisoformat(summary["computed_at"]), auth.zone),
            "segments": sorted(summary.get("segments", {}).items()),
            "clusters": clusters,
            "spend": spend,
            "spend_form": refused[2]
            if error_at == "spend"
            else {"amount": "", "currency": "", "channel": ""},
            "spend_error": render(refused[1], locale) if error_at == "spend" else None,
            "spend_saved": done == "spend",
            "undelivered": await self._undelivered(auth, locale),
            "recommendations": await self._learned(auth, locale),
            "undelivered_title": render(
                nmsg(
                    "Undelivered in the last {n} day:",
                    "Undelivered in the last {n} days:",
                    UNDELIVERED_DAYS,
                ),
                locale,
            ),
        }
        status = 400 if refused else 200
        return self.kit.page(request, "analytics.html", auth, context, labels=LABELS, status=status)

    async def _learned(self, auth: Authorized, locale: str) -> dict[str, Any]:
        """What the recommendations learned, as /stats says it (core/recommend)."""
        learned = await self.kit.services.recommend.learned(auth.login.community, auth.login.member)
        return {
            "line": render(learned_line(learned), locale),
            "pairs": [(f"{a.title} + {b.title}", f"{s:.2f}") for a, b, s in learned.pairs],
        }

    async def _undelivered(self, auth: Authorized, locale: str) -> dict[str, Any]:
        """What /undelivered shows for the last UNDELIVERED_DAYS days."""
        delivery = self.kit.services.delivery
        since = self.kit.services.clock.now() - timedelta(days=UNDELIVERED_DAYS)
        counts, latest = [], []
        for platform in PLATFORMS:
            for reason, count in sorted((await delivery.skipped_since(platform, since)).items()):
                counts.append(
                    (platform, render(REASONS[reason], locale) if reason in REASONS else reason, count)
                )
            for skipped in await delivery.latest_skipped(platform, LATEST_SKIPPED):
                if skipped.created_at >= since:
                    reason = (
                        render(REASONS[skipped.reason], locale)
                        if skipped.reason in REASONS
                        else skipped.reason
                    )
                    latest.append(
                        (when(skipped.created_at, auth.zone), platform, reason, skipped.preview[:60])
                    )
        return {"counts": counts, "latest": latest}
