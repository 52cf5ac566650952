"""Catalog: bundles (/bundle add) — courses sold together at one price."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from core.catalog.money import format_money
from web.dashboard.catalog import Field, price_of
from web.dashboard.catalog_sections import Built, Section, priced
from web.kit import Authorized, Kit

MENU = None  # under the Catalog entry
COURSE_CHOICES = 200  # courses offered as a bundle's checkboxes


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    Bundles(kit).install(router)


class Bundles(Section):
    name = "bundles"
    fields = ("code", "title", "price", "currency")
    fallback = "courses"

    async def _add(self, auth: Authorized, values: dict[str, str], form: MultiDictProxy[Any]) -> str:
        login = auth.login
        chosen = [str(c) for c in form.getall("courses", [])]
        price = price_of(values["price"], values["currency"])
        added = await self.services.catalog.add_bundle(
            login.community, login.member, values["code"], price, values["title"], chosen, via="dashboard"
        )
        return added.code

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
            *priced(t, values),
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
