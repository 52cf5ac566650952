"""A learner's own pages: sign-in by a one-time link from ``/web`` (``/me/login/TOKEN``) or from
Telegram's signed Mini App data (``/learn/app`` → ``POST /learn/telegram``), then ``/me``: their
courses with progress, their orders, their points and their invitation link; and sign-out.

A learner session is its own scope in core.web_sessions (a learner's link never opens the
dashboard) with its own cookie; every request is authorized there, and ``/me`` reads only the
signed-in member's rows. The sign-out form carries a CSRF token bound to the session.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from core.access.states import STATUS_LABELS as SUBSCRIPTION_STATES
from core.access.subscriptions import LIVE, Subscription
from core.catalog.money import format_money
from core.errors import InvalidInput
from core.events import UserRef
from core.i18n import Msg, render
from core.links import MINI_APP_PATH, WECHAT_H5_PATH, invitation_link, local_path, telegram_username
from core.members.models import Community
from core.orders.models import STATUS_LABELS
from core.services import Services
from core.web_sessions.service import LOGIN_PATHS, LoginRefused, Scope, WebLogin
from web.auth import CookiePolicy
from web.learn import texts
from web.learn.pages import CODE_PATTERN, REF_COOKIE, SRC_COOKIE, guarded, page_locale
from web.learn.sessions import HEADERS, LEARNER_COOKIE, LearnerSessions, base_context, message_page

ORDERS_SHOWN = 20
WECHAT_STATE_COOKIE = "studyhall_wechat_state"


class WeChatIdentity(Protocol):
    """WeChat's OAuth for the Official Account (bot/adapters/wechat/oauth.py)."""

    def authorize_url(self, redirect_uri: str, state: str) -> str: ...

    async def user(self, code: str) -> UserRef | None: ...


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LearnerAccount:
    def __init__(
        self,
        services: Services,
        *,
        community: Callable[[], Awaitable[Community]],
        sessions: LearnerSessions,
        cookies: CookiePolicy,
        telegram_token: str | None,
        wechat: WeChatIdentity | None = None,
        base_url: str = "",
    ) -> None:
        self.services = services
        self.community = community
        self.sessions = sessions
        self.cookies = cookies
        self.telegram_token = telegram_token  # None: no Mini App sign-in
        self.wechat = wechat  # None: no WeChat H5 sign-in
        self.base_url = base_url.rstrip("/")

    def install(self, router: web.UrlDispatcher) -> None:
        login = LOGIN_PATHS[Scope.LEARNER]
        router.add_get(login + "{token:[A-Za-z0-9_-]{20,100}}", self._headers(self.sign_in))
        router.add_get("/me", self._headers(self.me))
        router.add_post("/me/logout", self._headers(self.sign_out))
        router.add_post(f"/me/memberships/{{code:{CODE_PATTERN}}}/cancel", self._headers(self.stop_renewing))
        router.add_get(MINI_APP_PATH, self._headers(self.mini_app))
        router.add_post("/learn/telegram", self._headers(self.sign_in_telegram))
        router.add_get(WECHAT_H5_PATH, self._headers(self.sign_in_wechat))

    # -- signing in and out -------------------------------------------------------------------

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        try:
            session_id, login = await self.services.web_sessions.sign_in(
                request.match_info["token"], request.headers.get("User-Agent", ""), Scope.LEARNER
            )
        except LoginRefused as refused:
            return await self._message(request, refused.message, 403)
        return await self._signed_in(request, session_id, login)

    async def sign_in_telegram(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        init_data = form.get("init_data")
        try:
            session_id, login = await self.services.web_sessions.sign_in_mini_app(
                await self.community(),
                init_data if isinstance(init_data, str) else "",
                self.telegram_token or "",
                request.headers.get("User-Agent", ""),
            )
        except LoginRefused as refused:
            return await self._message(request, refused.message, 403)
        then = form.get("next")
        return await self._signed_in(
            request, session_id, login, local_path(then if isinstance(then, str) else None), framed=True
        )

    async def sign_in_wechat(self, request: web.Request) -> web.StreamResponse:
        """WeChat's H5 sign-in (OAuth2 ``snsapi_base``): without a code, off to WeChat's authorize
        page with a fresh state, also kept in a cookie; back with a code and that state, signed
        in as the follower WeChat names."""
        if self.wechat is None:
            return await self._message(request, texts.NO_WECHAT, 404)
        then = local_path(request.query.get("next"))
        code, state = request.query.get("code", ""), request.query.get("state", "")
        if not code:
            state = secrets.token_urlsafe(16)
            back = f"{self.base_url}{WECHAT_H5_PATH}?{urlencode({'next': then})}"
            response = web.Response(status=302, headers={"Location": self.wechat.authorize_url(back, state)})
            response.set_cookie(
                WECHAT_STATE_COOKIE,
                state,
                max_age=600,
                path=WECHAT_H5_PATH,
                httponly=True,
                samesite="Lax",
                secure=self.cookies.secure,
            )
            return response
        kept = request.cookies.get(WECHAT_STATE_COOKIE, "")
        user = await self.wechat.user(code) if kept and secrets.compare_digest(kept, state) else None
        if user is None:
            return await self._message(request, texts.WECHAT_REFUSED, 403)
        session_id, login = await self.services.web_sessions.sign_in_as(
            await self.community(), user, request.headers.get("User-Agent", "")
        )
        response = await self._signed_in(request, session_id, login, then)
        response.del_cookie(WECHAT_STATE_COOKIE, path=WECHAT_H5_PATH)
        return response

    async def sign_out(self, request: web.Request) -> web.StreamResponse:
        learner = await self.sessions.required(request, post=True)
        await self.services.web_sessions.sign_out(learner.session_id)
        response = await self._message(request, texts.SIGNED_OUT, 200)
        response.del_cookie(LEARNER_COOKIE, path="/")
        return response

    async def _signed_in(
        self,
        request: web.Request,
        session_id: str,
        login: WebLogin,
        then: str = "/me",
        *,
        framed: bool = False,
    ) -> web.StreamResponse:
        """The session's cookie, and the referral code a course page kept (if any) attributed
        as ``/start ref_CODE`` would be (the service keeps the rules); on to ``then``.
        ``framed``: the Mini App, which Telegram Web shows in a frame of its own site, where a
        SameSite=Lax cookie is never sent; over HTTPS its cookie is SameSite=None instead (every
        form still carries its CSRF token). (Partitioned would suit it better; Python 3.11's
        cookies cannot say it.)"""
        response = web.Response(status=303, headers={"Location": then})
        code = request.cookies.get(REF_COOKIE)
        if code:
            await self.services.referrals.attribute(login.community, login.member, code.strip().lower())
            response.del_cookie(REF_COOKIE, path="/")
        tag = request.cookies.get(SRC_COOKIE)
        if tag:  # a course page's ?src=TAG: the member's touch (an unknown tag: nothing)
            await self.services.channels.touch(login.community, login.member, tag, "web")
            response.del_cookie(SRC_COOKIE, path="/")
        cross_site = framed and self.cookies.secure
        response.set_cookie(
            LEARNER_COOKIE,
            session_id,
            path="/",
            httponly=True,
            samesite="None" if cross_site else "Lax",
            secure=self.cookies.secure,
        )
        return response

    # -- pages ------------------------------------------------------------------------------

    async def me(self, request: web.Request) -> web.StreamResponse:
        learner = await self.sessions.required(request)
        member, community = learner.member, learner.community
        locale = page_locale(request, member.locale or community.default_locale)
        zone = ZoneInfo(community.timezone)
        owned = await self.services.catalog.owned(member)
        orders = await self.services.orders.of_member(member, ORDERS_SHOWN)
        balance = await self.services.ledger.balance(community.id, member.id)
        due = {sub.id for sub in await self.services.subscriptions.due_for_renewal(member)}
        memberships = [
            membership_line(sub, sub.id in due, zone, locale)
            for sub in await self.services.subscriptions.of_member(member)
        ]
        code = await self.services.referrals.code_of(member)
        username = await telegram_username(self.services.db)
        invite = invitation_link(code, username)
        context = {
            **base_context(locale, community.name),
            "member": member.display_name,
            "courses": [
                (c.title, f"/learn/{c.code}/1", render(texts.progress(done, total), locale))
                for c, done, total in owned
            ],
            "orders": [
                (
                    order.id,
                    order.title,
                    format_money(order.amount, locale),
                    render(STATUS_LABELS[order.status], locale),
                    order.created_at.astimezone(zone).strftime("%Y-%m-%d"),
                )
                for order in orders
            ],
            "memberships": memberships,
            "points": render(texts.points(balance.balance), locale),
            "invite": invite,
            "hidden": self.sessions.hidden(learner),
        }
        return aiohttp_jinja2.render_template("learn_me.html", request, context)

    async def stop_renewing(self, request: web.Request) -> web.StreamResponse:
        """/cancel from the page: the membership stops renewing; access lasts its period."""
        learner = await self.sessions.required(request, post=True)
        try:
            plan = await self.services.plans.get(
                learner.community, request.match_info["code"], include_hidden=True
            )
            await self.services.subscriptions.cancel(learner.member, plan)
        except InvalidInput as refused:
            return await self._message(request, refused.message, 409)
        raise web.HTTPSeeOther("/me")

    async def mini_app(self, request: web.Request) -> web.StreamResponse:
        """The page the bot's Mini App button opens: its script posts Telegram's init data
        (from the address's fragment, where Telegram puts it) to /learn/telegram."""
        community = await self.community()
        locale = page_locale(request, community.default_locale)
        context = {
            **base_context(locale, community.name),
            "open_from_bot": render(texts.OPEN_FROM_BOT, locale),
            "then": local_path(request.query.get("next")),
        }
        return aiohttp_jinja2.render_template("learn_mini_app.html", request, context)

    # -- shared ------------------------------------------------------------------------------

    async def _message(self, request: web.Request, message: Msg, status: int) -> web.Response:
        return await message_page(request, await self.community(), message, status)

    def _headers(self, page: Handler) -> Handler:
        return guarded(page, self.community, HEADERS)


def membership_line(sub: Subscription, due: bool, zone: ZoneInfo, locale: str) -> dict[str, str]:
    """A membership on the learner's page: its state, until when, and what can be done now:
    stop renewing (a live one), renew (one due, in grace or ended; one stopped, to resume)."""
    until = sub.access_until.astimezone(zone).strftime("%Y-%m-%d")
    live = sub.status in LIVE
    if live and sub.cancel_at_period_end:
        action = "resume"
    elif due or not live:
        action = "renew"
    else:
        action = "stop"
    return {
        "code": sub.plan.code,
        "title": sub.plan.title,
        "state": render(SUBSCRIPTION_STATES[sub.status], locale),
        "until": render(texts.membership_until(until, live, sub.cancel_at_period_end, sub.status), locale),
        "action": action,
    }
