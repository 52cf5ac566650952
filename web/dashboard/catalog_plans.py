"""Catalog: subscription plans (/plan add, hide/show) and a plan's own page with /plan edit's
fields in one form."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from core.access.plans import Plan
from core.catalog.money import format_money
from core.errors import InvalidInput
from core.i18n import msg, render
from core.members.models import Community, Member
from web.dashboard.catalog import (
    CODE_PATH,
    Field,
    Refusal,
    form_values,
    labelled,
    major,
    price_of,
    whole_number,
)
from web.dashboard.catalog_sections import Built, RowForm, Section, priced, visibility
from web.dashboard.catalog_texts import LABELS, PERIODS, SAVED
from web.kit import Authorized, Kit, redirect

MENU = None  # under the Catalog entry
PLAN_FIELDS = ("title", "price", "currency", "trial", "grace", "tier")


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    plans = Plans(kit)
    plans.install(router)
    plan = f"/dashboard/catalog/{{section:plans}}/{CODE_PATH}"
    router.add_get(plan, kit.guard(plans.plan), allow_head=False)
    router.add_post(plan, kit.guard(plans.edit_plan))


class Plans(Section):
    name = "plans"
    fields = ("code", "title", "price", "currency", "period", "trial", "grace", "tier")
    fallback = "code"
    row_actions = ("visibility",)

    async def _add(self, auth: Authorized, values: dict[str, str], form: MultiDictProxy[Any]) -> str:
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

    async def _row(self, community: Community, actor: Member, code: str, action: str, form: RowForm) -> str:
        return (
            await self.services.plans.edit(community, actor, code, "hidden", form.hidden, via="dashboard")
        ).code

    async def _build(
        self,
        request: web.Request,
        auth: Authorized,
        t: dict[str, str],
        values: dict[str, str],
        chosen: tuple[str, ...],
    ) -> Built:
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
                "actions": [visibility("plans", p.code, p.hidden, t)],
            }
            for p in found
        ]
        tiers = await self.services.points.tiers(community)
        fields = [
            *priced(t, values),
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
