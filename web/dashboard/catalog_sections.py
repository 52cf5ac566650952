"""What the catalog's list-and-add sections (bundles, plans, coupons, the mall: one module
each) share: the list page with its add form, the add and row-action posts through
Kit.submit, and the refusal shown beside the field (or the row) it names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from core.errors import InvalidInput
from core.i18n import Msg, msg, render
from core.members.models import Community, Member
from web.dashboard.catalog import CODE_PATH, Field, Refusal, form_values, labelled, whole_number
from web.dashboard.catalog_texts import LABELS, SAVED
from web.kit import Authorized, Kit, redirect

# What a section's list builder returns: columns, rows, the add form's fields, the older page.
Built = tuple[list[str], list[dict[str, Any]], list[Field], str | None]
ROW_ACTIONS = "visibility|disable|stock"  # the path's choice; each section takes some of them
# An empty add form's values (each section's form shows the ones it has).
DEFAULTS = {"currency": "USD", "period": "month", "trial": "0", "grace": "3", "per": "1"}


@dataclass
class RowRefusal:
    """A refused row action (a mall item's stock): shown beside that row's input."""

    code: str
    message: Msg


@dataclass(frozen=True)
class RowForm:
    """A row action's form: hide/show (``hidden``) or a mall item's stock as typed."""

    hidden: bool
    stock: int | None
    stock_typed: str


class Section:
    """One section's page: subclasses name it and say how to list, add and act on a row."""

    name: str  # the path's section, e.g. "plans"
    fields: tuple[str, ...]  # the add form's fields
    fallback: str  # the field a refusal naming none is shown beside
    row_actions: tuple[str, ...] = ()

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.services = kit.services

    def install(self, router: web.UrlDispatcher) -> None:
        path = f"/dashboard/catalog/{{section:{self.name}}}"
        router.add_get(path, self.kit.guard(self.section), allow_head=False)
        router.add_post(path, self.kit.guard(self.add))
        if self.row_actions:
            # Every action is in the path, so one a section lacks is the guard's 404 page.
            action = f"{path}/{CODE_PATH}/{{action:{ROW_ACTIONS}}}"
            router.add_post(action, self.kit.guard(self.row_action))

    # -- what a section says ---------------------------------------------------------------------

    async def _add(self, auth: Authorized, values: dict[str, str], form: MultiDictProxy[Any]) -> str:
        """Add by the command's core call; returns the code added."""
        raise NotImplementedError

    async def _row(self, community: Community, actor: Member, code: str, action: str, form: RowForm) -> str:
        """Act on row ``code`` by the command's core call; returns the code acted on."""
        raise NotImplementedError

    async def _build(
        self,
        request: web.Request,
        auth: Authorized,
        t: dict[str, str],
        values: dict[str, str],
        chosen: tuple[str, ...],
    ) -> Built:
        raise NotImplementedError

    # -- the handlers ----------------------------------------------------------------------------

    async def section(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        return await self._page(request, auth, dict(DEFAULTS), saved=request.query.get("saved"))

    async def add(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        form = await request.post()
        values = form_values(form, self.fields)

        async def act(_key: str) -> web.StreamResponse:
            try:
                code = await self._add(auth, values, form)
            except InvalidInput as refused:
                chosen = tuple(str(c) for c in form.getall("courses", []))
                refusal = Refusal.of(refused, self.fallback)
                return await self._page(request, auth, values, refusal, chosen=chosen)
            return redirect(f"/dashboard/catalog/{self.name}?saved={code}#item-{code}")

        return await self.kit.submit(request, auth, act)

    async def row_action(self, request: web.Request) -> web.StreamResponse:
        """Plans and mall items hidden or shown, a coupon disabled, a mall item's stock set."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        code, action = request.match_info["code"], request.match_info["action"]
        if action not in self.row_actions:
            raise web.HTTPNotFound()
        form = await request.post()
        login = auth.login
        stock_text = form.get("stock", "")
        typed = stock_text if isinstance(stock_text, str) else ""
        row_form = RowForm(form.get("hidden") == "1", whole_number(typed), str(stock_text))

        async def act(_key: str) -> web.StreamResponse:
            try:
                done = await self._row(login.community, login.member, code, action, row_form)
            except InvalidInput as refused:
                if refused.field is None:  # no such item: not this community's
                    raise web.HTTPNotFound() from None
                row = RowRefusal(code.lower(), refused.message)
                return await self._page(request, auth, {}, row_refusal=row, stock_typed=row_form.stock_typed)
            return redirect(f"/dashboard/catalog/{self.name}?saved={done}#item-{done}")

        return await self.kit.submit(request, auth, act)

    # -- the page --------------------------------------------------------------------------------

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
        name = self.name
        login = auth.login
        locale = self.kit.locale(request, login)
        t = {key: render(text, locale) for key, text in LABELS.items()}
        columns, rows, fields, older = await self._build(request, auth, t, values, chosen)
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


def priced(t: dict[str, str], values: dict[str, str]) -> list[Field]:
    """The add form's first fields for something sold for money (a bundle, a plan)."""
    return [
        Field("code", t["code"], value=values.get("code", "")),
        Field("title", t["title"], value=values.get("title", "")),
        Field("price", t["price"], value=values.get("price", ""), inputmode="decimal"),
        Field("currency", t["currency_code"], value=values.get("currency", "")),
    ]


def post_button(url: str, label: str, **fields: str) -> dict[str, Any]:
    return {"url": url, "label": label, "fields": fields, "input": None}


def visibility(section: str, code: str, hidden: bool, t: dict[str, str]) -> dict[str, Any]:
    label = t["show"] if hidden else t["hide"]
    return post_button(
        f"/dashboard/catalog/{section}/{code}/visibility", label, hidden="0" if hidden else "1"
    )
