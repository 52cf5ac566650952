"""Catalog, continued: bundles (/bundle add), plans (/plan add, hide/show), coupons (/coupon add,
disable, list with uses) and mall items with stock (/mall add, stock, hide/show) — each by the
core call its command makes, the core's refusal shown beside the field it names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from core.access.plans import Plan
from core.catalog.coupons import Coupon, coupon_terms, last_day
from core.catalog.mall import KINDS, MallItem
from core.catalog.money import Money, format_money
from core.commands.options import CodesOption, DateOption
from core.errors import InvalidInput
from core.i18n import Msg, msg, render
from web.dashboard.catalog import (
    PAGE,
    Field,
    Refusal,
    form_values,
    labelled,
    major,
    price_of,
    whole_number,
)
from web.dashboard.catalog_texts import LABELS, PERIODS, SAVED
from web.kit import Authorized, Kit, query_id, redirect

MENU = None  # under the Catalog entry
SECTIONS = ("bundles", "plans", "coupons", "mall")
FIELDS = {
    "bundles": ("code", "title", "price", "currency"),
    "plans": ("code", "title", "price", "currency", "period", "trial", "grace", "tier"),
    "coupons": ("code", "off", "min", "uses", "per", "from", "until", "for"),
    "mall": ("code", "points", "kind", "target", "title", "note", "stock", "per_member"),
}
FALLBACK = {"bundles": "courses", "plans": "code", "coupons": "code", "mall": "code"}
ROW_ACTIONS = {"plans": ("visibility",), "coupons": ("disable",), "mall": ("stock", "visibility")}
COURSE_CHOICES = 200  # courses offered as a bundle's checkboxes
PLAN_FIELDS = ("title", "price", "currency", "trial", "grace", "tier")


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = More(kit)
    section = "/dashboard/catalog/{section:bundles|plans|coupons|mall}"
    router.add_get(section, kit.guard(pages.section), allow_head=False)
    router.add_post(section, kit.guard(pages.add))
    plan = "/dashboard/catalog/{section:plans}/{code:[A-Za-z0-9_-]{1,40}}"
    router.add_get(plan, kit.guard(pages.plan), allow_head=False)
    router.add_post(plan, kit.guard(pages.edit_plan))
    router.add_post(
        "/dashboard/catalog/{section:plans|coupons|mall}/{code:[A-Za-z0-9_-]{1,40}}/"
        "{action:visibility|disable|stock}",
        kit.guard(pages.row_action),
    )


@dataclass
class RowRefusal:
    """A refused row action (a mall item's stock): shown beside that row's input."""

    code: str
    message: Msg


class More:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.services = kit.services

    async def section(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        defaults = {"currency": "USD", "period": "month", "trial": "0", "grace": "3", "per": "1"}
        return await self._page(request, auth, defaults, saved=request.query.get("saved"))

    async def add(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        name = request.match_info["section"]
        form = await request.post()
        values = form_values(form, FIELDS[name])
        adders: dict[str, Callable[[Authorized, dict[str, str], MultiDictProxy[Any]], Awaitable[str]]] = {
            "bundles": self._add_bundle,
            "plans": self._add_plan,
            "coupons": self._add_coupon,
            "mall": self._add_item,
        }

        async def act(_key: str) -> web.StreamResponse:
            try:
                code = await adders[name](auth, values, form)
            except InvalidInput as refused:
                chosen = tuple(str(c) for c in form.getall("courses", []))
                refusal = Refusal.of(refused, FALLBACK[name])
                return await self._page(request, auth, values, refusal, chosen=chosen)
            return redirect(f"/dashboard/catalog/{name}?saved={code}#item-{code}")

        return await self.kit.submit(request, auth, act)

    async def row_action(self, request: web.Request) -> web.StreamResponse:
        """Plans and mall items hidden or shown, a coupon disabled, a mall item's stock set."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        name, code, action = (request.match_info[k] for k in ("section", "code", "action"))
        if action not in ROW_ACTIONS[name]:
            raise web.HTTPNotFound()
        form = await request.post()
        login = auth.login
        community, actor = login.community, login.member
        hidden = form.get("hidden") == "1"
        stock_text = form.get("stock", "")
        stock = whole_number(stock_text if isinstance(stock_text, str) else "")

        async def act(_key: str) -> web.StreamResponse:
            try:
                if name == "plans":
                    done = (
                        await self.services.plans.edit(
                            community, actor, code, "hidden", hidden, via="dashboard"
                        )
                    ).code
                elif name == "coupons":
                    done = (await self.services.coupons.disable(community, actor, code, via="dashboard")).code
                elif action == "stock":
                    done = (
                        await self.services.mall.set_stock(community, actor, code, stock, via="dashboard")
                    ).code
                else:
                    done = (
                        await self.services.mall.set_hidden(community, actor, code, hidden, via="dashboard")
                    ).code
            except InvalidInput as refused:
                if refused.field is None:  # no such item: not this community's
                    raise web.HTTPNotFound() from None
                row = RowRefusal(code.lower(), refused.message)
                return await self._page(request, auth, {}, row_refusal=row, stock_typed=str(stock_text))
            return redirect(f"/dashboard/catalog/{name}?saved={done}#item-{done}")

        return await self.kit.submit(request, auth, act)

    # -- a plan's own page: /plan edit's fields in one form -----------------------------------

    async def plan(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        found = await self._plan(request, auth)
        values = {
            "title": found.title,
            "price": major(found.price),
            "currency": found.price.currency,
            "trial": str(found.trial_days),
            "grace": str(found.grace_days),
            "tier": found.tier or "",
        }
        return await self._plan_page(request, auth, found, values, saved=request.query.get("saved") == "1")

    async def edit_plan(self, request: web.Request) -> web.StreamResponse:
        """The fields changed, in one core call that checks them all before writing any."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        found = await self._plan(request, auth)
        values = form_values(await request.post(), PLAN_FIELDS)
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            try:
                trial, grace = whole_number(values["trial"]), whole_number(values["grace"])
                typed: dict[str, Any] = {
                    "title": " ".join(values["title"].split()),
                    "price": price_of(values["price"], values["currency"]),
                    "trial": found.trial_days if trial is None else trial,
                    "grace": found.grace_days if grace is None else grace,
                    "tier": values["tier"] or None,
                }
                now = {
                    "title": found.title,
                    "price": found.price,
                    "trial": found.trial_days,
                    "grace": found.grace_days,
                    "tier": found.tier,
                }
                changed = {name: value for name, value in typed.items() if value != now[name]}
                await self.services.plans.edit_fields(
                    login.community, login.member, found.code, changed, via="dashboard"
                )
            except InvalidInput as refused:
                return await self._plan_page(request, auth, found, values, Refusal.of(refused, "title"))
            return redirect(f"/dashboard/catalog/plans/{found.code}?saved=1")

        return await self.kit.submit(request, auth, act)

    async def _plan(self, request: web.Request, auth: Authorized) -> Plan:
        try:
            return await self.services.plans.get(
                auth.login.community, request.match_info["code"], include_hidden=True
            )
        except InvalidInput:
            raise web.HTTPNotFound() from None

    async def _plan_page(
        self,
        request: web.Request,
        auth: Authorized,
        found: Plan,
        values: dict[str, str],
        refusal: Refusal | None = None,
        *,
        saved: bool = False,
    ) -> web.Response:
        locale = self.kit.locale(request, auth.login)
        t = {key: render(text, locale) for key, text in LABELS.items()}
        tiers = await self.services.points.tiers(auth.login.community)
        fields = [
            Field("title", t["title"], value=values["title"]),
            Field("price", t["price"], value=values["price"], inputmode="decimal"),
            Field("currency", t["currency_code"], value=values["currency"]),
            Field("trial", t["trial"], value=values["trial"], inputmode="numeric"),
            Field("grace", t["grace"], value=values["grace"], inputmode="numeric"),
            Field(
                "tier",
                t["tier"],
                kind="select",
                value=values["tier"],
                options=[("", t["no_tier"]), *((tier.name, tier.name) for tier in tiers)],
            ),
        ]
        context = {
            "section": "plans",
            "heading": found.title,
            "code": found.code,
            "action": f"/dashboard/catalog/plans/{found.code}",
            "fields": labelled(fields, refusal, locale),
            "refused": refusal is not None,
            "saved": render(msg(SAVED.text, code=found.code), locale) if saved else None,
            "back": "/dashboard/catalog/plans",
        }
        status = 400 if refusal is not None else 200
        return self.kit.page(request, "catalog_item.html", auth, context, labels=LABELS, status=status)

    # -- adding, by the command's core call ----------------------------------------------------

    async def _add_bundle(self, auth: Authorized, values: dict[str, str], form: MultiDictProxy[Any]) -> str:
        login = auth.login
        chosen = [str(c) for c in form.getall("courses", [])]
        price = price_of(values["price"], values["currency"])
        added = await self.services.catalog.add_bundle(
            login.community, login.member, values["code"], price, values["title"], chosen, via="dashboard"
        )
        return added.code

    async def _add_plan(self, auth: Authorized, values: dict[str, str], form: MultiDictProxy[Any]) -> str:
        login = auth.login
        trial, grace = whole_number(values["trial"]), whole_number(values["grace"])
        added = await self.services.plans.add(
            login.community,
            login.member,
            code=values["code"],
            title=values["title"],
            price=price_of(values["price"], values["currency"]),
            period=values["period"],
            trial_days=0 if trial is None else trial,
            grace_days=3 if grace is None else grace,  # /plan add's default
            tier=values["tier"] or None,
            via="dashboard",
        )
        return added.code

    async def _add_coupon(self, auth: Authorized, values: dict[str, str], form: MultiDictProxy[Any]) -> str:
        login = auth.login
        per = whole_number(values["per"])
        terms = coupon_terms(
            values["code"],
            values["off"],
            auth.zone,
            min_spend=values["min"],
            uses=whole_number(values["uses"]),
            per=1 if per is None else per,
            starts=_option(DateOption("from"), values["from"], "from"),
            until=_option(DateOption("until"), values["until"], "until"),
            products=_option(CodesOption("for"), values["for"].replace(" ", ""), "for") or (),
        )
        return (await self.services.coupons.add(login.community, login.member, terms, via="dashboard")).code

    async def _add_item(self, auth: Authorized, values: dict[str, str], form: MultiDictProxy[Any]) -> str:
        login = auth.login
        points = whole_number(values["points"])
        added = await self.services.mall.add(
            login.community,
            login.member,
            code=values["code"],
            points=0 if points is None else points,
            kind=values["kind"],
            title=values["title"],
            target=values["target"].strip() or None,
            note=values["note"].strip(),
            stock=whole_number(values["stock"]),
            per_member=whole_number(values["per_member"]),
            via="dashboard",
        )
        return added.code

    # -- the page ------------------------------------------------------------------------------

    async def _page(
        self,
        request: web.Request,
        auth: Authorized,
        values: dict[str, str],
        refusal: Refusal | None = None,
        *,
        chosen: tuple[str, ...] = (),
        saved: str | None = None,
        row_refusal: RowRefusal | None = None,
        stock_typed: str = "",
    ) -> web.Response:
        name = request.match_info["section"]
        login = auth.login
        locale = self.kit.locale(request, login)
        t = {key: render(text, locale) for key, text in LABELS.items()}
        builders = {
            "bundles": self._bundles,
            "plans": self._plans,
            "coupons": self._coupons,
            "mall": self._mall,
        }
        columns, rows, fields, older = await builders[name](request, auth, t, values, chosen)
        for row in rows:
            for action in row["actions"]:
                entry = action.get("input")
                if entry is not None and row_refusal is not None and row_refusal.code == row["code"]:
                    entry["value"], entry["error"] = stock_typed, render(row_refusal.message, locale)
        shown = {row["code"] for row in rows}
        context = {
            "section": name,
            "heading": t[name],
            "columns": columns,
            "rows": rows,
            "fields": labelled(fields, refusal, locale),
            "refused": refusal is not None or row_refusal is not None,
            "saved": render(msg(SAVED.text, code=saved), locale) if saved in shown else None,
            "older": older,
            "first": f"/dashboard/catalog/{name}" if request.query.get("after") else None,
            "action": f"/dashboard/catalog/{name}",
        }
        status = 400 if refusal is not None or row_refusal is not None else 200
        return self.kit.page(request, "catalog_section.html", auth, context, labels=LABELS, status=status)

    async def _bundles(
        self,
        request: web.Request,
        auth: Authorized,
        t: dict[str, str],
        values: dict[str, str],
        chosen: tuple[str, ...],
    ) -> tuple[list[str], list[dict[str, Any]], list[Field], str | None]:
        community = auth.login.community
        locale = self.kit.locale(request, auth.login)
        found = await self.services.catalog.bundles(community, include_hidden=True)
        rows = [
            {
                "code": b.code,
                "cells": [
                    b.code,
                    b.title,
                    format_money(b.price, locale),
                    ", ".join(c.code for c in b.courses),
                ],
                "actions": [],
            }
            for b in found
        ]
        courses = await self.services.catalog.courses(community, include_hidden=True, limit=COURSE_CHOICES)
        fields = [
            *_priced(t, values),
            Field(
                "courses",
                t["includes"],
                kind="checkboxes",
                options=[
                    (c.code, f"{c.code} · {c.title} · {format_money(c.price, locale)}") for c in courses
                ],
                chosen=chosen,
            ),
        ]
        return [t["code"], t["title"], t["price"], t["includes"]], rows, fields, None

    async def _plans(
        self,
        request: web.Request,
        auth: Authorized,
        t: dict[str, str],
        values: dict[str, str],
        chosen: tuple[str, ...],
    ) -> tuple[list[str], list[dict[str, Any]], list[Field], str | None]:
        community = auth.login.community
        locale = self.kit.locale(request, auth.login)
        found = await self.services.plans.list(community, include_hidden=True)
        periods = {key: render(label, locale) for key, label in PERIODS.items()}
        rows = [
            {
                "code": p.code,
                "cells": [
                    p.code,
                    p.title,
                    format_money(p.price, locale),
                    periods[p.period],
                    str(p.trial_days),
                    str(p.grace_days),
                    p.tier or "",
                    t["hidden"] if p.hidden else t["on_sale"],
                ],
                "link": f"/dashboard/catalog/plans/{p.code}",
                "actions": [_visibility("plans", p.code, p.hidden, t)],
            }
            for p in found
        ]
        tiers = await self.services.points.tiers(community)
        fields = [
            *_priced(t, values),
            Field(
                "period",
                t["period"],
                kind="select",
                value=values.get("period", ""),
                options=list(periods.items()),
            ),
            Field("trial", t["trial"], value=values.get("trial", ""), inputmode="numeric"),
            Field("grace", t["grace"], value=values.get("grace", ""), inputmode="numeric"),
            Field(
                "tier",
                t["tier"],
                kind="select",
                value=values.get("tier", ""),
                options=[("", t["no_tier"]), *((tier.name, tier.name) for tier in tiers)],
            ),
        ]
        columns = [
            t["code"],
            t["title"],
            t["price"],
            t["period"],
            t["trial"],
            t["grace"],
            t["tier"],
            t["state"],
        ]
        return columns, rows, fields, None

    async def _coupons(
        self,
        request: web.Request,
        auth: Authorized,
        t: dict[str, str],
        values: dict[str, str],
        chosen: tuple[str, ...],
    ) -> tuple[list[str], list[dict[str, Any]], list[Field], str | None]:
        community = auth.login.community
        locale = self.kit.locale(request, auth.login)
        after = query_id(request, "after")
        found = await self.services.coupons.list(community, after=after, limit=PAGE + 1)
        rows = [
            {
                "code": c.code,
                "cells": [
                    c.code,
                    _off(c, locale),
                    format_money(Money(c.currency or "", c.min_spend), locale) if c.min_spend else "",
                    f"{c.used} / {c.max_uses}" if c.max_uses else str(c.used),
                    str(c.per_member),
                    _window(c, auth),
                    ", ".join(c.products),
                    t["disabled"] if c.disabled else t["active"],
                ],
                "actions": []
                if c.disabled
                else [_post(f"/dashboard/catalog/coupons/{c.code}/disable", t["disable"])],
            }
            for c in found[:PAGE]
        ]
        fields = [
            Field("code", t["code"], value=values.get("code", "")),
            Field("off", t["off"], value=values.get("off", ""), help=t["off_help"]),
            Field("min", t["min"], value=values.get("min", ""), help=t["min_help"]),
            Field("uses", t["uses"], value=values.get("uses", ""), help=t["uses_help"], inputmode="numeric"),
            Field("per", t["per"], value=values.get("per", ""), inputmode="numeric"),
            Field("from", t["from"], kind="date", value=values.get("from", "")),
            Field("until", t["until"], kind="date", value=values.get("until", "")),
            Field("for", t["for"], value=values.get("for", ""), help=t["for_help"]),
        ]
        columns = [t["code"], t["off"], t["min"], t["used"], t["per"], t["valid"], t["for"], t["state"]]
        older = f"/dashboard/catalog/coupons?after={found[PAGE - 1].id}" if len(found) > PAGE else None
        return columns, rows, fields, older

    async def _mall(
        self,
        request: web.Request,
        auth: Authorized,
        t: dict[str, str],
        values: dict[str, str],
        chosen: tuple[str, ...],
    ) -> tuple[list[str], list[dict[str, Any]], list[Field], str | None]:
        found = await self.services.mall.items(auth.login.community, include_hidden=True)
        kinds = {kind: t[f"kind_{kind}"] for kind in KINDS}
        rows = [
            {
                "code": item.code,
                "cells": [
                    item.code,
                    item.title,
                    kinds.get(item.kind, item.kind),
                    str(item.points),
                    _stock(item, t),
                    "" if item.per_member is None else str(item.per_member),
                    str(item.redeemed),
                    t["hidden"] if item.hidden else t["on_sale"],
                ],
                "actions": [
                    {
                        **_post(f"/dashboard/catalog/mall/{item.code}/stock", t["set_stock"]),
                        "input": {
                            "name": "stock",
                            "id": f"stock-{item.code}",
                            "label": f"{t['stock']} ({item.code})",
                            "value": "" if item.stock is None else str(item.stock),
                            "error": None,
                        },
                    },
                    _visibility("mall", item.code, item.hidden, t),
                ],
            }
            for item in found
        ]
        fields = [
            Field("code", t["code"], value=values.get("code", "")),
            Field("points", t["points_price"], value=values.get("points", ""), inputmode="numeric"),
            Field(
                "kind",
                t["kind"],
                kind="select",
                value=values.get("kind", "reward"),
                options=list(kinds.items()),
            ),
            Field("target", t["target"], value=values.get("target", ""), help=t["target_help"]),
            Field("title", t["title"], value=values.get("title", "")),
            Field("note", t["note"], kind="textarea", value=values.get("note", ""), rows=2),
            Field(
                "stock", t["stock"], value=values.get("stock", ""), help=t["stock_help"], inputmode="numeric"
            ),
            Field("per_member", t["per_member"], value=values.get("per_member", ""), inputmode="numeric"),
        ]
        columns = [
            t["code"],
            t["title"],
            t["kind"],
            t["points_price"],
            t["stock"],
            t["per_member"],
            t["redeemed"],
            t["state"],
        ]
        return columns, rows, fields, None


def _priced(t: dict[str, str], values: dict[str, str]) -> list[Field]:
    return [
        Field("code", t["code"], value=values.get("code", "")),
        Field("title", t["title"], value=values.get("title", "")),
        Field("price", t["price"], value=values.get("price", ""), inputmode="decimal"),
        Field("currency", t["currency_code"], value=values.get("currency", "")),
    ]


def _post(url: str, label: str, **fields: str) -> dict[str, Any]:
    return {"url": url, "label": label, "fields": fields, "input": None}


def _visibility(section: str, code: str, hidden: bool, t: dict[str, str]) -> dict[str, Any]:
    label = t["show"] if hidden else t["hide"]
    return _post(f"/dashboard/catalog/{section}/{code}/visibility", label, hidden="0" if hidden else "1")


def _option(option: DateOption | CodesOption, text: str, name: str) -> Any:
    """A date or a list of codes read as the command's option reads it (its own message),
    naming the field; None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        return option.convert(text, f"{name}={text}")
    except InvalidInput as refused:
        raise InvalidInput(refused.message, field=name) from None


def _off(coupon: Coupon, locale: str) -> str:
    if coupon.kind == "percent":
        return f"{coupon.value}%"
    return format_money(Money(coupon.currency or "", coupon.value), locale)


def _window(coupon: Coupon, auth: Authorized) -> str:
    start = coupon.starts_at.astimezone(auth.zone).date().isoformat() if coupon.starts_at else ""
    end = last_day(coupon.ends_at, auth.zone) if coupon.ends_at else ""
    return f"{start} – {end}" if start or end else ""


def _stock(item: MallItem, t: dict[str, str]) -> str:
    return t["unlimited"] if item.stock is None else str(item.stock)
