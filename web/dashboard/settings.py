"""Settings: every /rules key with its value, description and allowed range, changed by the
same core call /rules set makes, so the same refusals apply."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from core.errors import InvalidInput
from core.i18n import Msg, msg, nmsg, render
from core.ledger.tiers import parse_multiplier, parse_threshold
from core.settings.registry import SETTINGS, BoolSetting
from web import texts
from web.kit import Authorized, Kit, MenuItem, redirect

MENU = MenuItem("/dashboard/settings", texts.LABELS["settings"])
LABELS = {
    "tiers": msg("Tiers"),
    "tiers_help": msg("Levels of lifetime earned points; each multiplies the points for taking part."),
    "tier_name": msg("Name"),
    "threshold": msg("From points"),
    "multiplier": msg("Multiplier"),
    "multiplier_help": msg("like 1.5 or 150%, from 1 to 10"),
    "add_tier": msg("Add or change a tier"),
}


def tier_saved(name: str, threshold: int, multiplier: str) -> Msg:
    """The confirmation /tier set gives, word for word."""
    return nmsg(
        "Tier {name} now starts at {n} point with participation {multiplier}.",
        "Tier {name} now starts at {n} points with participation {multiplier}.",
        threshold,
        name=name,
        multiplier=multiplier,
    )


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Settings(kit)
    router.add_get("/dashboard/settings", kit.guard(pages.settings), allow_head=False)
    router.add_post("/dashboard/settings", kit.guard(pages.change))
    router.add_post("/dashboard/settings/tiers", kit.guard(pages.set_tier))


class Settings:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.service = kit.services.settings

    async def settings(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        saved = request.query.get("saved", "")
        tier = request.query.get("tier", "")
        return await self._page(request, auth, saved=saved if saved in SETTINGS else None, tier=tier)

    async def set_tier(self, request: web.Request) -> web.StreamResponse:
        """The same core call as /tier set; a refusal is shown under the tier form (400)."""
        auth = await self.kit.authorize(request, post=True)  # the core refuses a non-creator
        form = await request.post()
        typed = {field: str(form.get(field, ""))[:40] for field in ("name", "threshold", "multiplier")}
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            try:
                threshold = parse_threshold(typed["threshold"])
                multiplier = parse_multiplier(typed["multiplier"])
                saved = await self.kit.services.points.set_tier(
                    login.community, login.member, typed["name"].strip(), threshold, multiplier
                )
            except InvalidInput as refused:
                return await self._page(request, auth, tier_refused=(typed, refused.message))
            return redirect(f"/dashboard/settings?tier={quote(saved.name)}#tiers")

        return await self.kit.submit(request, auth, act)

    async def change(self, request: web.Request) -> web.StreamResponse:
        """A refused value re-renders the page (400) with the message beside its field."""
        auth = await self.kit.authorize(request, post=True)  # the core refuses a non-creator
        form = await request.post()
        key, value = str(form.get("key", "")), str(form.get("value", ""))
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            try:
                await self.service.set(login.community.id, key, value, actor=login.member)
            except InvalidInput as refused:
                return await self._page(request, auth, refused=(key, value, refused.message))
            name = key.strip().lower()
            return redirect(f"/dashboard/settings?saved={quote(name)}#rule-{quote(name)}")

        return await self.kit.submit(request, auth, act)

    async def _page(
        self,
        request: web.Request,
        auth: Authorized,
        *,
        saved: str | None = None,
        refused: tuple[str, str, Msg] | None = None,
        tier: str = "",
        tier_refused: tuple[dict[str, str], Msg] | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        current = await self.service.all(login.community.id)
        rules = []
        for key, spec in SETTINGS.items():
            value = current[key]
            shown = ("on" if value else "off") if isinstance(value, bool) else str(value)
            error = None
            if refused is not None and refused[0].strip().lower() == key:
                error, shown = render(refused[2], locale), refused[1]
            if isinstance(spec, BoolSetting):
                allowed = render(texts.ON_OR_OFF, locale)
            else:
                allowed = texts.whole_number(spec.minimum, spec.maximum, locale)
            rules.append(
                {
                    "key": key,
                    "value": shown,
                    "help": render(spec.help, locale),
                    "allowed": allowed,
                    "boolean": isinstance(spec, BoolSetting),
                    "minimum": getattr(spec, "minimum", None),
                    "maximum": getattr(spec, "maximum", None),
                    "error": error,
                }
            )
        tiers = await self.kit.services.points.tiers(login.community)
        context: dict[str, Any] = {
            "rules": rules,
            "saved": None,
            "refused": refused is not None or tier_refused is not None,
            "tiers": [(t.name, t.threshold, t.multiplier_text) for t in tiers],
            "tier_form": tier_refused[0] if tier_refused else {"name": "", "threshold": "", "multiplier": ""},
            "tier_error": render(tier_refused[1], locale) if tier_refused else None,
            "tier_saved": None,
        }
        if saved is not None:
            value = current[saved]
            shown = ("on" if value else "off") if isinstance(value, bool) else value
            context["saved"] = render(texts.saved(saved, shown), locale)
        chosen = next((t for t in tiers if t.name == tier), None)
        if chosen is not None:
            message = tier_saved(chosen.name, chosen.threshold, chosen.multiplier_text)
            context["tier_saved"] = render(message, locale)
        status = 400 if context["refused"] else 200
        return self.kit.page(request, "settings.html", auth, context, labels=LABELS, status=status)
