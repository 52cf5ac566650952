"""The dashboard's routes on the HTTP app: sign-in by a one-time link, the pages, sign out.

Every request is authorized by the core (core.web_sessions) with the member's current role;
every POST carries a CSRF token bound to the session; every POST answers with a redirect.
Nothing here logs a request's path, cookie or form: they carry login tokens and session ids.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from core.errors import InvalidInput, NotAllowed, StudyhallError
from core.i18n import SUPPORTED_LOCALES, Msg, msg, normalize_locale, render
from core.ledger.audit import AUDITED_KINDS, audit_entries
from core.members.models import Role
from core.services import Services
from core.settings.registry import SETTINGS, BoolSetting
from core.web_sessions.service import LoginRefused, WebLogin
from web import texts
from web.auth import (
    CSRF_FIELD,
    LANG_COOKIE,
    SESSION_COOKIE,
    CookiePolicy,
    Csrf,
    clear_session_cookie,
    set_session_cookie,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LANGUAGES = (("en", "English"), ("zh_CN", "中文"))
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # a login link must not leak through a Referer header
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
}
SERVER_ERROR = msg("Sorry, something went wrong on our side (error {error_id}). Please try again later.")

AUDIT_PAGE = 20
AUDIT_KINDS = {kind: texts.KINDS[kind] for kind in AUDITED_KINDS}

Page = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Authorized:
    """A request with a live session: who, and the raw session id (for CSRF)."""

    def __init__(self, login: WebLogin, session_id: str) -> None:
        self.login = login
        self.session_id = session_id


class Dashboard:
    def __init__(
        self, services: Services, *, secret_key: str, secure_cookies: bool, default_locale: str
    ) -> None:
        self._services = services
        self._csrf = Csrf(secret_key)
        self._cookies = CookiePolicy(secure=secure_cookies)
        self._default_locale = default_locale

    def install(self, application: web.Application) -> None:
        """Put the dashboard's routes and templates on ``application`` (before it starts)."""
        aiohttp_jinja2.setup(
            application,
            loader=jinja2.FileSystemLoader(str(HERE / "templates")),
            autoescape=jinja2.select_autoescape(["html"], default=True),
        )
        router = application.router
        router.add_get("/dashboard", self._guard(self.overview), allow_head=False)
        router.add_get("/dashboard/login/{token}", self._guard(self.login), allow_head=False)
        router.add_get("/dashboard/sessions", self._guard(self.sessions), allow_head=False)
        router.add_get("/dashboard/lang", self._guard(self.language), allow_head=False)
        router.add_get("/dashboard/settings", self._guard(self.settings), allow_head=False)
        router.add_post("/dashboard/settings", self._guard(self.change_setting))
        router.add_get("/dashboard/audit", self._guard(self.audit), allow_head=False)
        router.add_post("/dashboard/recompute", self._guard(self.recompute))
        router.add_post("/dashboard/sessions/{id:[0-9]+}/revoke", self._guard(self.revoke))
        router.add_post("/dashboard/sessions/revoke-all", self._guard(self.revoke_all))
        router.add_post("/dashboard/logout", self._guard(self.logout))
        router.add_static("/dashboard/static", HERE / "static")

    # -- sign-in ------------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.StreamResponse:
        locale = self._locale(request)
        try:
            session_id, _login = await self._services.web_sessions.sign_in(
                request.match_info["token"], request.headers.get("User-Agent", "")
            )
        except LoginRefused as refused:
            return self._refusal(request, refused.message, locale, status=403)
        old = request.cookies.get(SESSION_COOKIE)
        if old:  # a login rotates the session: the browser's previous one ends
            await self._services.web_sessions.sign_out(old)
        response = _redirect("/dashboard")
        set_session_cookie(response, session_id, self._cookies)
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        auth = await self._authorize(request, post=True)
        if isinstance(auth, web.StreamResponse):
            return auth
        await self._services.web_sessions.sign_out(auth.session_id)
        return self._signed_out(request)

    async def language(self, request: web.Request) -> web.StreamResponse:
        """The language menu (a GET form: it works signed out too): remembered in a cookie."""
        chosen = normalize_locale(request.query.get("to", ""))
        back = request.query.get("next", "/dashboard")
        if not back.startswith("/dashboard") or back.startswith("/dashboard/login"):
            back = "/dashboard"  # never an open redirect, never back to a used link
        response = _redirect(back)
        if chosen in SUPPORTED_LOCALES:
            response.set_cookie(
                LANG_COOKIE,
                chosen,
                path="/dashboard",
                max_age=365 * 86400,
                samesite="Lax",
                secure=self._cookies.secure,
            )
        return response

    # -- pages --------------------------------------------------------------------------------

    async def overview(self, request: web.Request) -> web.StreamResponse:
        auth = await self._authorize(request)
        if isinstance(auth, web.StreamResponse):
            return auth
        login = auth.login
        locale = self._locale(request, login)
        context: dict[str, Any] = {"summary": None}
        if login.member.role is Role.CREATOR:
            summary = await self._services.analytics.latest(login.community, login.member)
            context["summary"] = _overview(summary, login, locale)
        return self._page(request, "overview.html", auth, locale, context)

    async def recompute(self, request: web.Request) -> web.StreamResponse:
        auth = await self._authorize(request, post=True)
        if isinstance(auth, web.StreamResponse):
            return auth
        await self._services.analytics.recompute(auth.login.community, auth.login.member)
        return _redirect("/dashboard")

    async def sessions(self, request: web.Request) -> web.StreamResponse:
        auth = await self._authorize(request)
        if isinstance(auth, web.StreamResponse):
            return auth
        login = auth.login
        locale = self._locale(request, login)
        zone = ZoneInfo(login.community.timezone)
        rows = [
            {
                "id": s.id,
                "user_agent": s.user_agent or "—",
                "created": _when(s.created_at, zone),
                "last_seen": _when(s.last_seen_at, zone),
                "current": s.id == login.session.id,
            }
            for s in await self._services.web_sessions.sessions(login.member)
        ]
        return self._page(request, "sessions.html", auth, locale, {"sessions": rows})

    async def revoke(self, request: web.Request) -> web.StreamResponse:
        auth = await self._authorize(request, post=True)
        if isinstance(auth, web.StreamResponse):
            return auth
        session = int(request.match_info["id"])
        await self._services.web_sessions.revoke(auth.login.member, session)
        if session == auth.login.session.id:
            return self._signed_out(request)
        return _redirect("/dashboard/sessions")

    async def revoke_all(self, request: web.Request) -> web.StreamResponse:
        auth = await self._authorize(request, post=True)
        if isinstance(auth, web.StreamResponse):
            return auth
        await self._services.web_sessions.revoke_all(auth.login.member)
        return self._signed_out(request)

    async def settings(self, request: web.Request) -> web.StreamResponse:
        auth = await self._authorize(request)
        if isinstance(auth, web.StreamResponse):
            return auth
        _creator(auth.login)
        saved = request.query.get("saved", "")
        return await self._settings_page(request, auth, saved=saved if saved in SETTINGS else None)

    async def change_setting(self, request: web.Request) -> web.StreamResponse:
        """One rule changed by the same core call /rules set makes, so the same refusals apply;
        a refused value re-renders the page (400) with the message beside its field."""
        auth = await self._authorize(request, post=True)
        if isinstance(auth, web.StreamResponse):
            return auth
        form = await request.post()
        key, value = str(form.get("key", "")), str(form.get("value", ""))
        login = auth.login
        try:
            await self._services.settings.set(
                login.community.id, key, value, actor=login.member, via="dashboard"
            )
        except InvalidInput as refused:
            return await self._settings_page(request, auth, refused=(key, value, refused.message))
        return _redirect(f"/dashboard/settings?saved={quote(key.strip().lower())}#rule-{key.strip().lower()}")

    async def _settings_page(
        self,
        request: web.Request,
        auth: Authorized,
        *,
        saved: str | None = None,
        refused: tuple[str, str, Msg] | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self._locale(request, login)
        current = await self._services.settings.all(login.community.id)
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
        context: dict[str, Any] = {"rules": rules, "saved": None, "refused": refused is not None}
        if saved is not None:
            value = current[saved]
            shown = ("on" if value else "off") if isinstance(value, bool) else value
            context["saved"] = render(texts.saved(saved, shown), locale)
        status = 400 if refused is not None else 200
        return self._page(request, "settings.html", auth, locale, context, status=status)

    async def audit(self, request: web.Request) -> web.StreamResponse:
        """What /audit lists (the same ledger query), newest first, by pages of AUDIT_PAGE with
        an "older" link keyed on the last id; filtered by actor and by kind."""
        auth = await self._authorize(request)
        if isinstance(auth, web.StreamResponse):
            return auth
        login = auth.login
        _creator(login)
        locale = self._locale(request, login)
        kind = request.query.get("kind", "")
        kinds = [kind] if kind in AUDIT_KINDS else list(AUDIT_KINDS)
        actor, before = _whole(request, "actor"), _whole(request, "before")
        members = self._services.members
        found = await audit_entries(
            self._services.ledger,
            members,
            login.community.id,
            kinds=kinds,
            actor_id=actor,
            before=before,
            limit=AUDIT_PAGE + 1,
        )
        zone = ZoneInfo(login.community.timezone)
        rows = [
            {
                "id": e.transfer.id,
                "when": _when(e.transfer.at, zone),
                "actor_id": e.transfer.actor_member_id,
                "actor": e.actor,
                "subject": e.subject,
                "amount": e.signed_amount,
                "kind": render(AUDIT_KINDS[e.transfer.kind], locale)
                if e.transfer.kind in AUDIT_KINDS
                else e.transfer.kind,
                "memo": e.transfer.memo or "",
            }
            for e in found[:AUDIT_PAGE]
        ]
        staff = await members.members_by_role(login.community.id, [Role.CREATOR, Role.MODERATOR])
        filters = {"kind": kind if kind in AUDIT_KINDS else "", "actor": actor}
        older = None
        if len(found) > AUDIT_PAGE:
            older = "/dashboard/audit?" + urlencode(
                {**{k: v for k, v in filters.items() if v}, "before": found[AUDIT_PAGE - 1].transfer.id}
            )
        context = {
            "rows": rows,
            "older": older,
            "filters": filters,
            "kinds": [(name, render(label, locale)) for name, label in AUDIT_KINDS.items()],
            "staff": [(m.id, m.display_name) for m in staff],
        }
        return self._page(request, "audit.html", auth, locale, context)

    # -- the machinery ------------------------------------------------------------------------

    async def _authorize(self, request: web.Request, *, post: bool = False) -> Authorized | web.Response:
        """The signed-in creator or moderator, or the page that refuses the request."""
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if post:
            form = await request.post()
            token = form.get(CSRF_FIELD)
            if not session_id or not isinstance(token, str) or not self._csrf.valid(session_id, token):
                return self._refusal(request, texts.FORM_EXPIRED, self._locale(request), status=403)
        login = await self._services.web_sessions.authenticate(session_id) if session_id else None
        if login is None:
            response = self._refusal(request, texts.NOT_SIGNED_IN, self._locale(request), status=401)
            clear_session_cookie(response)
            return response
        return Authorized(login, session_id)

    def _guard(self, page: Page) -> Page:
        """The page, or its refusal: NotAllowed is a 403, other core refusals a 400, and a bug a
        500 with an error id — logged without the request's path, cookies or form."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                response = await page(request)
            except web.HTTPException as redirect:
                response = redirect
            except NotAllowed as refused:
                response = self._refusal(request, refused.message, self._locale(request), status=403)
            except StudyhallError as refused:
                response = self._refusal(request, refused.message, self._locale(request), status=400)
            except Exception:
                error_id = uuid.uuid4().hex[:8]
                log.exception("dashboard: a page failed [error %s]", error_id)
                message = msg(SERVER_ERROR.text, error_id=error_id)
                response = self._refusal(request, message, self._locale(request), status=500)
            response.headers.update(HEADERS)
            return response

        return guarded

    def _locale(self, request: web.Request, login: WebLogin | None = None) -> str:
        chosen = normalize_locale(request.cookies.get(LANG_COOKIE, ""))
        if chosen in SUPPORTED_LOCALES:
            return chosen
        if login is not None:
            return login.member.locale or login.community.default_locale
        return self._default_locale

    def _base(self, request: web.Request, locale: str) -> dict[str, Any]:
        return {
            "locale": locale,
            "lang_attr": "zh-CN" if locale == "zh_CN" else "en",
            "t": texts.labels(locale),
            "languages": LANGUAGES,
            "here": quote(request.path, safe="/"),
            "stylesheet": "/dashboard/static/dashboard.css",
        }

    def _page(
        self,
        request: web.Request,
        template: str,
        auth: Authorized,
        locale: str,
        context: dict[str, Any],
        *,
        status: int = 200,
    ) -> web.Response:
        login = auth.login
        data = {
            **self._base(request, locale),
            "member": login.member.display_name,
            "community": login.community.name,
            "role": render(login.member.role.label, locale),
            "creator": login.member.role is Role.CREATOR,  # creator-only pages in the menu
            "csrf": self._csrf.token(auth.session_id),
            "csrf_field": CSRF_FIELD,
            **context,
        }
        return aiohttp_jinja2.render_template(template, request, data, status=status)

    def _refusal(self, request: web.Request, message: Msg, locale: str, *, status: int) -> web.Response:
        data = {**self._base(request, locale), "message": render(message, locale)}
        return aiohttp_jinja2.render_template("refusal.html", request, data, status=status)

    def _signed_out(self, request: web.Request) -> web.Response:
        response = self._refusal(request, texts.SIGNED_OUT, self._locale(request), status=200)
        clear_session_cookie(response)
        return response


def _redirect(location: str) -> web.Response:
    """POST → redirect → GET (303: the browser follows with a GET, a refresh repeats nothing)."""
    return web.Response(status=303, headers={"Location": location})


def _creator(login: WebLogin) -> None:
    """Creator-only pages: anyone else gets the 403 refusal page (the core's own words)."""
    if login.member.role is not Role.CREATOR:
        raise NotAllowed(texts.CREATORS_ONLY)


def _whole(request: web.Request, name: str) -> int | None:
    """A positive id from the query string, or None when absent; anything else is refused."""
    text = request.query.get(name, "")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) < 1:
        raise InvalidInput(texts.BAD_ADDRESS)
    return int(text)


def _when(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _overview(summary: dict[str, Any], login: WebLogin, locale: str) -> dict[str, Any]:
    """What the overview shows, from the analytics summary /stats reads."""
    from core.catalog.money import Money, format_money

    computed = datetime.fromisoformat(summary["computed_at"])
    month = computed.strftime("%Y-%m")
    active = summary.get("active") or {}
    revenue = [
        {
            "currency": r["currency"],
            "month": format_money(Money(r["currency"], int(r["by_month"].get(month, 0))), locale),
            "mrr": format_money(Money(r["currency"], int(r["mrr"])), locale),
        }
        for r in summary["revenue"]
    ]
    return {
        "members": summary["members"],
        "active_7": active.get("days_7", "—"),
        "active_30": active.get("days_30", "—"),
        "churn": f"{summary['churn'] * 100:.0f}%",
        "revenue": revenue,
        "funnel": [
            (render(texts.STEPS[step], locale) if step in texts.STEPS else step, count)
            for step, count in summary["funnel"].items()
        ],
        "computed_at": texts.computed_at(_when(computed, ZoneInfo(login.community.timezone)), locale),
    }
