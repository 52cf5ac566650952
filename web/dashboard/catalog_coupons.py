"""Catalog: coupons (/coupon add, disable) listed with their uses, a page at a time."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from core.catalog.coupons import Coupon, coupon_terms, last_day
from core.catalog.money import Money, format_money
from core.commands.options import CodesOption, DateOption
from core.errors import InvalidInput
from core.members.models import Community, Member
from web.dashboard.catalog import PAGE, Field, whole_number
from web.dashboard.catalog_sections import Built, RowForm, Section, post_button
from web.kit import Authorized, Kit, query_id

MENU = None  # under the Catalog entry


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    Coupons(kit).install(router)


class Coupons(Section):
    name = "coupons"
    fields = ("code", "off", "min", "uses", "per", "from", "until", "for")
    fallback = "code"
    row_actions = ("disable",)

    async def _add(self, auth: Authorized, values: dict[str, str], form: MultiDictProxy[Any]) -> str:
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

    async def _row(self, community: Community, actor: Member, code: str, action: str, form: RowForm) -> str:
        return (await self.services.coupons.disable(community, actor, code, via="dashboard")).code

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
                else [post_button(f"/dashboard/catalog/coupons/{c.code}/disable", t["disable"])],
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
