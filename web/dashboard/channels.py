"""Channels: each tagged channel's members, active members, buyers, conversion, revenue, CAC and
ROI, by first touch and by last touch side by side (what /channels reports), with its entry
links; and a form that adds a channel by the same core call as /channel add. Creators only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.catalog.money import Money, format_money
from core.channels.service import ChannelStats, ModelStats
from core.errors import InvalidInput
from core.i18n import Msg, msg, render
from web.kit import Authorized, Kit, MenuItem, redirect

LABELS: dict[str, Msg] = {
    "channels": msg("Channels"),
    "intro": msg(
        "A channel is a tagged entry link. Members who arrive through it are counted by first touch"
        " (the channel that brought them first) and by last touch (the newest channel before each"
        " purchase). Spend recorded with /spend add under the channel's tag gives CAC and ROI."
    ),
    "channel": msg("Channel"),
    "first_touch": msg("First touch"),
    "last_touch": msg("Last touch"),
    "members": msg("Members"),
    "active": msg("Active (30 days)"),
    "buyers": msg("Buyers"),
    "conversion": msg("Conversion"),
    "revenue": msg("Revenue"),
    "spend": msg("Spend"),
    "cac": msg("CAC"),
    "roi": msg("ROI"),
    "links": msg("Entry links"),
    "no_channels": msg("No channels yet."),
    "add": msg("Add a channel"),
    "tag": msg("Tag"),
    "tag_help": msg("Up to 32 letters, digits, _ or -; it is the channel name /spend add uses."),
    "name": msg("Name"),
    "submit": msg("Add the channel"),
    "not_saved": msg("Nothing was changed."),
}
MENU = MenuItem("/dashboard/channels", LABELS["channels"])


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Channels(kit)
    router.add_get("/dashboard/channels", kit.guard(pages.channels), allow_head=False)
    router.add_post("/dashboard/channels", kit.guard(pages.add))


class Channels:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.service = kit.services.channels

    async def channels(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        return await self._page(request, auth)

    async def add(self, request: web.Request) -> web.StreamResponse:
        """As /channel add TAG NAME; a refusal is shown beside its field."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        form = await request.post()
        typed = {name: str(form.get(name, ""))[:100] for name in ("tag", "name")}

        async def act(_key: str) -> web.StreamResponse:
            try:
                made = await self.service.add(login.community, login.member, typed["tag"], typed["name"])
            except InvalidInput as refused:
                return await self._page(
                    request, auth, typed=typed, refused=(refused.field or "tag", refused.message)
                )
            return redirect(f"/dashboard/channels?added={made.tag}#channel-{made.tag}")

        return await self.kit.submit(request, auth, act)

    async def _page(
        self,
        request: web.Request,
        auth: Authorized,
        *,
        typed: dict[str, str] | None = None,
        refused: tuple[str, Msg] | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        community, member = login.community, login.member
        web_base = self.kit.services.web_sessions.base_url
        report = await self.service.report(community, member)
        links_of = await self.service.all_links(community, member, web_base=web_base)  # after: holds all
        rows = []
        for line in report:
            links = links_of[line.channel.id]
            rows.append(
                {
                    "tag": line.channel.tag,
                    "name": line.channel.name,
                    "spend": _amounts(line.spend, locale),
                    "models": [
                        _model(render(LABELS["first_touch"], locale), line.first, line, locale),
                        _model(render(LABELS["last_touch"], locale), line.last, line, locale),
                    ],
                    "links": [link for link in (links.telegram, links.chat, links.web) if link],
                    "scene": render(msg("WeChat QR code scene: {scene}", scene=links.payload), locale),
                }
            )
        added = request.query.get("added", "")[:40]
        context = {
            "rows": rows,
            "typed": typed or {"tag": "", "name": ""},
            "errors": {refused[0]: render(refused[1], locale)} if refused else {},
            "done": render(msg("Channel {tag} is ready.", tag=added), locale) if added else None,
        }
        status = 400 if refused is not None else 200
        return self.kit.page(request, "channels.html", auth, context, labels=LABELS, status=status)


def _amounts(amounts: tuple[Money, ...], locale: str) -> str:
    return ", ".join(format_money(m, locale) for m in amounts) or "—"


def _model(label: str, stats: ModelStats, line: ChannelStats, locale: str) -> dict[str, Any]:
    return {
        "label": label,
        "members": stats.members,
        "active": stats.active,
        "buyers": stats.buyers,
        "conversion": f"{stats.conversion * 100:.0f}%",
        "revenue": _amounts(stats.revenue, locale),
        "cac": _amounts(stats.cac(line.spend), locale) if line.spend and stats.buyers else "—",
        "roi": ", ".join(f"{p:+d}%" for _, p in stats.roi(line.spend)) or "—",
    }
