"""Buying on the web: ``/buy/CODE`` (a course, a bundle or a plan, with a coupon, or a course for
points), then the order's own page ``/me/orders/ID`` with how to pay it, and the pages a
provider sends the buyer back to (``/paid``, ``/cancelled``).

The order is the one ``/buy`` and ``/subscribe`` make (core services, same rules: coupons,
owned courses, trials, a resumed subscription), and it is paid through the same provider: Pay
goes to Stripe Checkout, or to Telegram Stars' invoice (opened in place inside the Mini App by
web/static/pay.js), and in the demo to the sandbox. Delivery is recorded by the provider's
webhook as for an order made in a chat, and announced in the chat as today. Every page is the
signed-in learner's; another member's order is a 404.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from core.access.plans import Plan
from core.access.subscriptions import PERIOD_NAMES
from core.catalog.models import Product
from core.catalog.money import Money, format_money, precision
from core.errors import InvalidInput
from core.i18n import Msg, msg, render
from core.members.models import Community
from core.orders.models import STATUS_LABELS, WECHAT_PAY_PROVIDER, Order, Status
from core.orders.offsets import ALL
from core.orders.offsets import KINDS as OFFSET_KINDS
from core.orders.sandbox import NAME as SANDBOX
from core.services import Services
from web.kit import FORM_KEY_FIELD, form_key
from web.learn import texts
from web.learn.pages import CODE_PATTERN, Answered, guarded, page_locale
from web.learn.sessions import HEADERS, Learner, LearnerSessions, base_context, message_page

# A provider's payment page is another site: the Pay form may lead there.
PAY_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"].replace(
        "form-action 'self'", "form-action 'self' https:"
    ),
}
ORDER_PATH = "/me/orders/{id}"
WECHAT_BROWSER = "MicroMessenger"  # in WeChat's own browser's User-Agent
Settle = Callable[[int, str, str, Money], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Checkout:
    def __init__(
        self,
        services: Services,
        *,
        community: Callable[[], Awaitable[Community]],
        sessions: LearnerSessions,
        settle_sandbox: Settle | None = None,
    ) -> None:
        """``settle_sandbox``: records a sandbox payment and tells the buyer in the chat, as the
        console's ``:pay`` does; None (outside the demo and the console) offers no such button."""
        self.services = services
        self.community = community
        self.sessions = sessions
        self.settle_sandbox = settle_sandbox

    def install(self, router: web.UrlDispatcher) -> None:
        buy = f"/buy/{{code:{CODE_PATTERN}}}"
        router.add_get(buy, self._guard(self.buy_page))
        router.add_post(buy, self._guard(self.buy))
        order = "/me/orders/{id:[0-9]{1,18}}"
        router.add_get(order, self._guard(self.order_page, PAY_HEADERS))
        router.add_post(order + "/pay", self._guard(self.pay, PAY_HEADERS))
        router.add_get(order + "/qr.png", self._guard(self.qr_code))
        router.add_post(order + "/sandbox", self._guard(self.pay_sandbox))
        router.add_post(order + "/cancel", self._guard(self.cancel))
        router.add_get("/paid", self._guard(self.back_from_provider))
        router.add_get("/cancelled", self._guard(self.back_from_provider))

    # -- choosing ----------------------------------------------------------------------------

    async def buy_page(self, request: web.Request, error: Msg | None = None) -> web.StreamResponse:
        learner = await self.sessions.required(request)
        product, plan = await self._product(learner.community, request.match_info["code"])
        locale = self._locale(request, learner)
        owned = [c for c in product.courses if await self.services.catalog.enrollment(learner.member, c)]
        if product.kind == "course" and owned and error is None:
            raise web.HTTPSeeOther(f"/learn/{product.code}/1")  # theirs already: the reader
        course = product.courses[0] if product.kind == "course" else None
        points_price = course.points_price if course is not None else None
        context = {
            **base_context(locale, learner.community.name),
            "product": product,
            "price": format_money(product.price, locale),
            "period": render(texts.every_period(PERIOD_NAMES[plan.period]), locale) if plan else "",
            "trial": render(texts.trial_days(plan.trial_days), locale) if plan and plan.trial_days else "",
            "lessons_in": [c.title for c in product.courses] if product.kind == "bundle" else [],
            "owned": render(texts.owned_already(", ".join(c.title for c in owned)), locale)
            if owned and product.kind == "bundle"
            else "",
            "points_price": render(texts.points(points_price), locale) if points_price else "",
            "offset_terms": await self._offset_terms(learner, product, locale),
            "error": render(error, locale) if error else "",
            "hidden": self.sessions.hidden(learner) + form_key(),
        }
        status = 422 if error else 200
        return aiohttp_jinja2.render_template("learn_buy.html", request, context, status=status)

    async def buy(self, request: web.Request) -> web.StreamResponse:
        learner = await self.sessions.required(request, post=True)
        community, member = learner.community, learner.member
        product, plan = await self._product(community, request.match_info["code"])
        form = await request.post()
        coupon = str(form.get("coupon", "")).strip() or None
        typed_points = str(form.get("use_points", "")).strip().lower()[:12]
        try:
            use_points = _points_wanted(typed_points)
            if form.get("pay") == "points" and product.kind == "course":
                course = product.courses[0]
                key = f"web-buy:{member.id}:{str(form.get(FORM_KEY_FIELD, ''))[:64]}"
                await self.services.mall.buy_course_with_points(community, member, course, key)
                raise web.HTTPSeeOther(f"/learn/{course.code}/1")
            if plan is not None:
                done = await self.services.subscriptions.subscribe(community, member, plan, coupon)
                if done.order is None:  # a trial started, or a cancelled one resumed: /me shows it
                    raise web.HTTPSeeOther("/me")
                order = done.order
            else:
                order = await self.services.orders.order(community, member, product, coupon, use_points)
        except InvalidInput as refused:
            return await self.buy_page(request, refused.message)
        raise web.HTTPSeeOther(ORDER_PATH.format(id=order.id))

    async def _offset_terms(self, learner: Learner, product: Product, locale: str) -> str:
        """How points may pay part of this price, when the community lets them ('' if not)."""
        settings, community = self.services.settings, learner.community
        rate = await settings.get(community.id, "points.offset_rate")
        percent = await settings.get(community.id, "points.offset_max_percent")
        if product.kind not in OFFSET_KINDS or rate <= 0 or percent <= 0:
            return ""
        balance = (await self.services.ledger.balance(community.id, learner.member.id)).balance
        one = Money(product.price.currency, 10 ** precision(product.price.currency))
        return render(texts.offset_terms(balance, percent, rate, one), locale)

    # -- the order ---------------------------------------------------------------------------

    async def order_page(self, request: web.Request) -> web.StreamResponse:
        learner = await self.sessions.required(request)
        order = await self._order(learner, request)
        locale = self._locale(request, learner)
        zone = ZoneInfo(learner.community.timezone)
        open_now = order.status is Status.PENDING and order.expires_at > self.services.clock.now()
        product = await self.services.orders.product_of(order)
        back = request.query.get("back", "")
        context = {
            **base_context(locale, learner.community.name),
            "order": order,
            "heading": render(texts.order_heading(order.id, order.title), locale),
            "amount": format_money(order.amount, locale),
            "list_price": format_money(Money(order.amount.currency, order.list_minor), locale)
            if order.coupon_id is not None or order.offset_points
            else "",
            "offset": render(texts.offset_paid(order.offset_points, order.offset), locale)
            if order.offset_points
            else "",
            "status": render(STATUS_LABELS[order.status], locale),
            "created": order.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "open_until": render(
                texts.open_until(order.expires_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")), locale
            )
            if open_now
            else "",
            "pay": await self._how_to_pay(request, order, locale) if open_now else None,
            "courses": [(c.title, f"/learn/{c.code}/1") for c in product.courses]
            if order.status is Status.FULFILLED
            else [],
            "back": render(texts.BACK_PAID if back == "paid" else texts.BACK_CANCELLED, locale)
            if back in ("paid", "cancelled")
            else "",
            "hidden": self.sessions.hidden(learner),
        }
        return aiohttp_jinja2.render_template("learn_order.html", request, context)

    async def _how_to_pay(self, request: web.Request, order: Order, locale: str) -> dict[str, Any]:
        """The order page's Pay: the provider's page (Stripe, Stars), WeChat Pay (in place inside
        WeChat, else its QR code), the demo's sandbox, or a sandbox order only the chat completes."""
        if order.provider == SANDBOX:
            return {
                "kind": "sandbox" if self.settle_sandbox is not None else "chat",
                "note": render(texts.SANDBOX_NOTE if self.settle_sandbox else texts.PAY_IN_CHAT, locale),
            }
        if order.provider == WECHAT_PAY_PROVIDER:
            in_wechat = WECHAT_BROWSER in request.headers.get("User-Agent", "")
            checkout = await self.services.orders.start_payment(order, on_web=True, in_wechat=in_wechat)
            if checkout.client is not None:
                return {
                    "kind": "jsapi",
                    "note": render(checkout.note, locale),
                    "client": json.dumps(checkout.client),
                }
            if checkout.image is not None:
                return {
                    "kind": "qr",
                    "note": render(checkout.note, locale),
                    "qr": f"{ORDER_PATH.format(id=order.id)}/qr.png",
                }
            return {"kind": "chat", "note": render(checkout.note, locale)}
        return {"kind": order.provider, "note": ""}

    async def qr_code(self, request: web.Request) -> web.StreamResponse:
        """WeChat Pay's code for the learner's open order, as a PNG to scan."""
        learner = await self.sessions.required(request)
        order = await self._order(learner, request)
        if order.provider != WECHAT_PAY_PROVIDER or order.status is not Status.PENDING:
            raise web.HTTPNotFound()
        checkout = await self.services.orders.start_payment(order, on_web=True)
        if checkout.image is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=checkout.image, content_type="image/png", headers={"Cache-Control": "no-store"}
        )

    async def pay(self, request: web.Request) -> web.StreamResponse:
        """On to the provider's payment page (Stripe Checkout, a Stars invoice link); asked for
        JSON (pay.js inside the Mini App), that address instead."""
        learner = await self.sessions.required(request, post=True)
        order = await self._order(learner, request)
        here = ORDER_PATH.format(id=order.id)
        try:
            refusal = await self.services.orders.check_payable(order.id, order.amount)
            checkout = None if refusal else await self.services.orders.start_payment(order, on_web=True)
        except InvalidInput as refused:
            refusal, checkout = refused.message, None
        if refusal is not None or checkout is None or not checkout.url:
            if refusal is not None:
                raise Answered(await message_page(request, learner.community, refusal, 409))
            raise web.HTTPSeeOther(here)
        if request.headers.get("Accept", "").startswith("application/json"):
            return web.json_response({"url": checkout.url})
        raise web.HTTPSeeOther(checkout.url)

    async def pay_sandbox(self, request: web.Request) -> web.StreamResponse:
        learner = await self.sessions.required(request, post=True)
        order = await self._order(learner, request)
        if self.settle_sandbox is None or order.provider != SANDBOX:
            raise web.HTTPNotFound()
        if order.status is Status.PENDING:
            await self.settle_sandbox(order.id, SANDBOX, f"sandbox:{order.id}", order.amount)
        raise web.HTTPSeeOther(ORDER_PATH.format(id=order.id))

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        learner = await self.sessions.required(request, post=True)
        order = await self._order(learner, request)
        if order.status is Status.PENDING:
            await self.services.orders.cancel(learner.member, order.id)
        raise web.HTTPSeeOther(ORDER_PATH.format(id=order.id))

    async def back_from_provider(self, request: web.Request) -> web.StreamResponse:
        """Where Stripe sends the buyer back (``/paid`` or ``/cancelled``, ``?order=ID``): the
        order's page when it is the signed-in learner's, else a page that says what happens
        next (the address alone shows no order: its number is easy to guess)."""
        paid = request.path == "/paid"
        learner = await self.sessions.optional(request)
        order_id = request.query.get("order", "")
        if learner is not None and order_id.isascii() and order_id.isdigit() and len(order_id) <= 18:
            try:
                order = await self.services.orders.of_buyer(learner.member, int(order_id))
            except InvalidInput:
                order = None
            if order is not None:
                back = "paid" if paid else "cancelled"
                raise web.HTTPSeeOther(f"{ORDER_PATH.format(id=order.id)}?back={back}")
        community = await self.community()
        return await message_page(request, community, texts.PAID if paid else texts.CANCELLED, 200)

    # -- shared ------------------------------------------------------------------------------

    async def _product(self, community: Community, code: str) -> tuple[Product, Plan | None]:
        """The course or bundle ``code`` (as /buy finds it), else the plan (as /subscribe);
        a hidden or unknown one is a 404."""
        try:
            return await self.services.catalog.product(community, code), None
        except InvalidInput:
            pass
        try:
            plan = await self.services.plans.get(community, code)
        except InvalidInput:
            raise web.HTTPNotFound() from None
        return plan.product(), plan

    async def _order(self, learner: Learner, request: web.Request) -> Order:
        try:
            return await self.services.orders.of_buyer(learner.member, int(request.match_info["id"]))
        except InvalidInput:
            raise web.HTTPNotFound() from None

    def _locale(self, request: web.Request, learner: Learner) -> str:
        return page_locale(request, learner.member.locale or learner.community.default_locale)

    def _guard(self, page: Handler, headers: dict[str, str] = HEADERS) -> Handler:
        return guarded(page, self.community, headers)


def _points_wanted(typed: str) -> int | None:
    """The checkout's points field: blank (none), a number, or "all" (as many as allowed)."""
    if not typed:
        return None
    if typed in ("all", "全部"):
        return ALL
    if not (typed.isascii() and typed.isdigit()) or int(typed) == 0:
        raise InvalidInput(msg("Type a number of points, or all."))
    return int(typed)
