"""Catalog: the points mall's items with their stock (/mall add, stock, hide/show)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from core.catalog.mall import KINDS, MallItem
from core.members.models import Community, Member
from web.dashboard.catalog import Field, whole_number
from web.dashboard.catalog_sections import Built, RowForm, Section, post_button, visibility
from web.kit import Authorized, Kit

MENU = None  # under the Catalog entry


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    Mall(kit).install(router)


class Mall(Section):
    name = "mall"
    fields = ("code", "points", "kind", "target", "title", "note", "stock", "per_member")
    fallback = "code"
    row_actions = ("stock", "visibility")

    async def _add(self, auth: Authorized, values: dict[str, str], form: MultiDictProxy[Any]) -> str:
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

    async def _row(self, community: Community, actor: Member, code: str, action: str, form: RowForm) -> str:
        mall = self.services.mall
        if action == "stock":
            return (await mall.set_stock(community, actor, code, form.stock, via="dashboard")).code
        return (await mall.set_hidden(community, actor, code, form.hidden, via="dashboard")).code

    async def _build(
        self,
        request: web.Request,
        auth: Authorized,
        t: dict[str, str],
        values: dict[str, str],
        chosen: tuple[str, ...],
    ) -> Built:
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
                        **post_button(f"/dashboard/catalog/mall/{item.code}/stock", t["set_stock"]),
                        "input": {
                            "name": "stock",
                            "id": f"stock-{item.code}",
                            "label": f"{t['stock']} ({item.code})",
                            "value": "" if item.stock is None else str(item.stock),
                            "error": None,
                        },
                    },
                    visibility("mall", item.code, item.hidden, t),
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


def _stock(item: MallItem, t: dict[str, str]) -> str:
    return t["unlimited"] if item.stock is None else str(item.stock)
