"""Orders: the filtered list (keyset pages, CSV), one order's timeline, and a full or partial
refund behind a confirmation that shows what it takes back — the core's refund preview, which
the refund itself follows — made by the same core call /refund makes."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from core.catalog.money import Money, format_money
from core.errors import InvalidInput
from core.i18n import Msg, msg, render
from core.members.models import Community
from core.orders.listing import OrderFilter
from core.orders.models import STATUS_LABELS, Order, RefundFailed, RefundPreview, Status
from core.orders.refunds import parse_refund_amount, refund_reply
from core.orders.service import FREE
from web.kit import HEADERS, Authorized, Kit, MenuItem, path_id, query_id, redirect, when

PAGE = 50
LABELS: dict[str, Msg] = {
    "orders": msg("Orders"),
    "state": msg("State"),
    "provider": msg("Provider"),
    "product": msg("Product"),
    "from": msg("From"),
    "to": msg("To"),
    "amount": msg("Amount"),
    "csv": msg("Download as CSV"),
    "no_orders": msg("No orders match."),
    "older_orders": msg("Older orders"),
    "newest_orders": msg("Newest orders"),
    "timeline": msg("Timeline"),
    "provider_id": msg("Provider id"),
    "refund": msg("Refund"),
    "refund_amount": msg("Amount to refund"),
    "review_refund": msg("Review the refund"),
    "confirm_refund": msg("Confirm the refund"),
    "cancel": msg("Cancel"),
    "takes_back": msg("This refund takes back:"),
    "nothing_back": msg("No points or commissions to take back."),
    "all_orders": msg("All orders"),
    "refunded_so_far": msg("Refunded so far"),
}
MENU = MenuItem("/dashboard/orders", LABELS["orders"])
STATES = STATUS_LABELS  # the words /orders uses
STEPS: dict[str, Msg] = {
    "created": msg("Ordered"),
    "paid": msg("Paid"),
    "delivered": msg("Delivered"),
    "refunded": msg("Refunded"),
}
VIA: dict[str, Msg] = {"dashboard": msg("via dashboard"), "command": msg("via chat command")}
BAD_DATE = msg("Write a date like 2026-01-31.")
PRODUCT_KINDS = ("course", "bundle", "plan")
CSV_HEADER = [
    "id",
    "created",
    "member_id",
    "member",
    "product_kind",
    "product",
    "amount",
    "currency",
    "refunded",
    "provider",
    "provider_ref",
    "state",
]


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Orders(kit)
    router.add_get("/dashboard/orders", kit.guard(pages.orders), allow_head=False)
    router.add_get("/dashboard/orders.csv", kit.guard(pages.export), allow_head=False)
    router.add_get(r"/dashboard/orders/{id:[0-9]+}", kit.guard(pages.order), allow_head=False)
    router.add_get(r"/dashboard/orders/{id:[0-9]+}/refund", kit.guard(pages.review), allow_head=False)
    router.add_post(r"/dashboard/orders/{id:[0-9]+}/refund", kit.guard(pages.refund))


class Filters:
    """The list's filters as the query string gives them; a bad date is kept with its error."""

    def __init__(self, request: web.Request, zone: ZoneInfo) -> None:
        query = request.query
        state = query.get("state", "")
        self.state = state if state in {s.value for s in Status} else ""
        self.provider = query.get("provider", "")[:20]
        product = query.get("product", "")
        kind, _, number = product.partition(":")
        valid = kind in PRODUCT_KINDS and number.isascii() and number.isdigit() and len(number) <= 18
        self.product = product if valid else ""
        self.since_text, self.until_text = query.get("from", "")[:10], query.get("to", "")[:10]
        self.errors: dict[str, Msg] = {}
        since, until = _day(self.since_text), _day(self.until_text)
        if since is None and self.since_text:
            self.errors["from"] = BAD_DATE
        if until is None and self.until_text:
            self.errors["to"] = BAD_DATE
        self.core = OrderFilter(
            status=Status(self.state) if self.state else None,
            provider=self.provider or None,
            product=(kind, int(number)) if self.product else None,
            since=_start(since, zone) if since else None,
            until=_start(until + timedelta(days=1), zone) if until else None,  # "to" includes that day
        )

    def query(self, **more: object) -> str:
        shown = {
            "state": self.state,
            "provider": self.provider,
            "product": self.product,
            "from": self.since_text if "from" not in self.errors else "",
            "to": self.until_text if "to" not in self.errors else "",
        }
        return urlencode({k: v for k, v in {**shown, **more}.items() if v})


class Orders:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.service = kit.services.orders

    # -- the list ----------------------------------------------------------------------------

    async def orders(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        locale = self.kit.locale(request, login)
        filters = Filters(request, auth.zone)
        before = query_id(request, "before")
        rows: list[dict[str, Any]] = []
        older = None
        if not filters.errors:
            found = await self.service.listed(
                login.community, login.member, filters.core, before=before, limit=PAGE + 1
            )
            rows = [_row(item.order, item.member_name, auth.zone, locale) for item in found[:PAGE]]
            if len(found) > PAGE:
                older = "/dashboard/orders?" + filters.query(before=found[PAGE - 1].order.id)
        context = {
            "rows": rows,
            "older": older,
            "paged": before is not None,
            "filters": filters,
            "errors": {field: render(text, locale) for field, text in filters.errors.items()},
            "states": [(s.value, render(label, locale)) for s, label in STATES.items()],
            "providers": [*self.service.providers, FREE],
            "products": await self._products(login.community),
            "newest": "/dashboard/orders?" + filters.query(),
            "csv": "/dashboard/orders.csv?" + filters.query(),
        }
        status = 400 if filters.errors else 200
        return self.kit.page(request, "orders.html", auth, context, labels=LABELS, status=status)

    async def _products(self, community: Community) -> list[tuple[str, str]]:
        services = self.kit.services
        catalog = services.catalog
        found = [
            (f"course:{c.id}", f"{c.title} ({c.code})")
            for c in await catalog.courses(community, include_hidden=True)
        ]
        found += [
            (f"bundle:{b.id}", f"{b.title} ({b.code})")
            for b in await catalog.bundles(community, include_hidden=True)
        ]
        plans = await services.plans.list(community, include_hidden=True)
        return found + [(f"plan:{p.id}", f"{p.title} ({p.code})") for p in plans]

    async def export(self, request: web.Request) -> web.StreamResponse:
        """The filtered list as CSV, written batch by batch as the core reads them."""
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        filters = Filters(request, auth.zone)
        if filters.errors:
            raise InvalidInput(next(iter(filters.errors.values())))
        batches = self.service.all_listed(login.community, login.member, filters.core)
        response = web.StreamResponse(
            headers={
                **HEADERS,
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="orders.csv"',
            }
        )
        await response.prepare(request)
        await response.write(_csv_line(CSV_HEADER))
        async for batch in batches:
            out = io.StringIO()
            writer = csv.writer(out)
            for item in batch:
                o = item.order
                writer.writerow(
                    _cells(
                        [
                            o.id,
                            o.created_at.astimezone(auth.zone).isoformat(timespec="seconds"),
                            o.member_id,
                            item.member_name,
                            o.product_kind,
                            o.title,
                            o.amount.major,
                            o.amount.currency,
                            Money(o.amount.currency, o.refunded).major,
                            o.provider,
                            o.provider_ref or "",
                            o.status.value,
                        ]
                    )
                )
            await response.write(out.getvalue().encode("utf-8"))
        await response.write_eof()
        return response

    # -- one order -----------------------------------------------------------------------------

    async def order(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        order = await self._order(request, auth)
        done = query_id(request, "refunded")
        return await self._page(request, auth, order, done=done)

    async def review(self, request: web.Request) -> web.StreamResponse:
        """The confirmation step: what the refund takes back, or the amount's refusal beside it."""
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        order = await self._order(request, auth)
        typed = request.query.get("amount", "")[:20]
        try:
            amount = parse_refund_amount(order, typed)
            preview = await self.service.refund_preview(login.community, login.member, order.id, amount)
        except InvalidInput as refused:
            return await self._page(request, auth, order, typed=typed, refused=refused.message)
        locale = self.kit.locale(request, login)
        context = {
            "order": _row(
                order,
                (await self.kit.services.members.get_member(order.member_id)).display_name,
                auth.zone,
                locale,
            ),
            "amount": format_money(Money(order.amount.currency, preview.amount), locale),
            "typed": typed,
            "full": preview.full,
            "clawbacks": await self._clawbacks(preview, locale),
            "heading": render(
                msg(
                    "Refund {amount} of order #{id}?",
                    amount=Money(order.amount.currency, preview.amount),
                    id=order.id,
                ),
                locale,
            ),
            "full_text": render(msg("The full refund takes back what the order gave."), locale),
        }
        return self.kit.page(request, "refund.html", auth, context, labels=LABELS)

    async def refund(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        order = await self._order(request, auth)
        form = await request.post()
        typed = str(form.get("amount", ""))[:20]

        async def act(_key: str) -> web.StreamResponse:
            try:
                amount = parse_refund_amount(order, typed)
                done = await self.service.refund(
                    login.community, login.member, order.id, amount, via="dashboard"
                )
            except InvalidInput as refused:
                return await self._page(request, auth, order, typed=typed, refused=refused.message)
            except RefundFailed as error:
                failed = msg("The payment provider refused the refund: {reason}", reason=str(error)[:200])
                return await self._page(request, auth, order, typed=typed, refused=failed)
            if done.amount:  # the buyer is told, as /refund tells them
                reply = refund_reply(order, done.amount, self.kit.services.clock.now())
                self.kit.services.notices.add(login.community.id, reply)
            done_query = f"?refunded={done.amount}" if done.amount else ""  # 0: a repeat recorded nothing
            return redirect(f"/dashboard/orders/{order.id}{done_query}")

        return await self.kit.submit(request, auth, act)

    async def _order(self, request: web.Request, auth: Authorized) -> Order:
        """The order in the path; another community's is not found (404)."""
        login = auth.login
        return await self.service.order_of(login.community, login.member, path_id(request, "id"))

    async def _page(
        self,
        request: web.Request,
        auth: Authorized,
        order: Order,
        *,
        done: int | None = None,
        typed: str = "",
        refused: Msg | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        members = self.kit.services.members
        names: dict[int, str] = {}

        async def name(member_id: int) -> str:
            if member_id not in names:
                names[member_id] = (await members.get_member(member_id)).display_name
            return names[member_id]

        steps = []
        for step in await self.service.timeline(login.community, login.member, order):
            by = ""
            if step.actor_member_id is not None:
                by = render(msg("by {name}", name=await name(step.actor_member_id)), locale)
            if step.via in VIA:
                by = f"{by} · {render(VIA[step.via], locale)}" if by else render(VIA[step.via], locale)
            steps.append(
                {
                    "what": render(STEPS[step.what], locale),
                    "when": when(step.at, auth.zone),
                    "amount": format_money(step.amount, locale) if step.amount else "",
                    "provider": step.provider or "",
                    "ref": step.ref or "",
                    "points": render(msg("+{n} purchase points", n=step.points), locale)
                    if step.points
                    else "",
                    "by": by,
                }
            )
        left = Money(order.amount.currency, order.refundable)
        context = {
            "order": _row(order, await name(order.member_id), auth.zone, locale),
            "steps": steps,
            "refundable": order.refundable > 0,
            "left": format_money(left, locale),
            "refunded": format_money(Money(order.amount.currency, order.refunded), locale),
            "typed": typed,
            "error": render(refused, locale) if refused is not None else None,
            "done": None,
            "nothing_left": render(msg("Order {id} has nothing left to refund.", id=order.id), locale),
            "help": render(msg("Leave it empty to refund all that is left: {left}.", left=left), locale),
            "heading": render(msg("Order #{id}", id=order.id), locale),
        }
        if done is not None:
            context["done"] = render(
                msg(
                    "Refunded {amount} of order #{id}.",
                    amount=Money(order.amount.currency, done),
                    id=order.id,
                ),
                locale,
            )
        status = 400 if refused is not None else 200
        return self.kit.page(request, "order.html", auth, context, labels=LABELS, status=status)

    async def _clawbacks(self, preview: RefundPreview, locale: str) -> list[str]:
        members = self.kit.services.members
        lines = []
        for back in preview.clawbacks:
            who = (await members.get_member(back.member_id)).display_name
            if back.what == "commission" and back.money is not None:
                line = (
                    msg(
                        "{amount} of {name}'s level {level} commission (cancelled: it is still held)",
                        amount=back.money,
                        name=who,
                        level=back.level,
                    )
                    if back.held
                    else msg(
                        "{amount} of {name}'s level {level} commission (taken from what they have available)",
                        amount=back.money,
                        name=who,
                        level=back.level,
                    )
                )
            elif back.what == "referral_points":
                line = msg("{n} points {name} got when the buyer first bought", n=back.points, name=who)
            else:
                line = msg("{n} purchase points from {name}", n=back.points, name=who)
            text = render(line, locale)
            if back.short:
                text += " · " + render(
                    msg("{n} more were already spent and stay with them", n=back.short), locale
                )
            lines.append(text)
        return lines


def _row(order: Order, member_name: str, zone: ZoneInfo, locale: str) -> dict[str, Any]:
    return {
        "id": order.id,
        "when": when(order.created_at, zone),
        "member_id": order.member_id,
        "member": member_name,
        "product": order.title,
        "amount": format_money(order.amount, locale),
        "provider": order.provider,
        "provider_ref": order.provider_ref or "",
        "state": render(STATES[order.status], locale),
        "status": order.status.value,
    }


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in the community's zone, in UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _cells(values: list[object]) -> list[str]:
    """CSV cells; text a spreadsheet would run as a formula (=, +, -, @) is quoted with '."""
    cells = []
    for value in values:
        text = str(value)
        if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
            text = "'" + text
        cells.append(text)
    return cells


def _csv_line(values: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue().encode("utf-8")
