"""What every dashboard page shares: authorization, CSRF, form idempotency keys, the locale,
rendering a page or a refusal, and the menu.

Every request is authorized by the core (core.web_sessions) with the member's current role;
every POST carries a CSRF token bound to the session and answers with a redirect.
Nothing here logs a request's path, cookie or form: they carry login tokens and session ids.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup, escape

from core.audit.log import requested_via
from core.errors import InvalidInput, NotAllowed, NotFound, StudyhallError
from core.i18n import SUPPORTED_LOCALES, Msg, msg, normalize_locale, render
from core.members.models import Role
from core.services import Services
from core.tracing import mark_error, request_scope
from core.web_sessions.service import WebLogin
from web import texts
from web.auth import CSRF_FIELD, LANG_COOKIE, SESSION_COOKIE, CookiePolicy, Csrf, clear_session_cookie

log = logging.getLogger(__name__)

LANGUAGES = (("en", "English"), ("zh_CN", "中文"))
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # a login link must not leak through a Referer header
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
}
FORM_KEY_FIELD = "form_key"
SERVER_ERROR = msg("Sorry, something went wrong on our side (error {error_id}). Please try again later.")

Page = Callable[[web.Request], Awaitable[web.StreamResponse]]
Action = Callable[[str], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class MenuItem:
    path: str
    label: Msg
    creators_only: bool = True


class Refused(Exception):
    """A request answered by a refusal page (not signed in, bad CSRF token): raised by
    Kit.authorize, turned into its response by Kit.guard."""

    def __init__(self, response: web.Response) -> None:
        super().__init__("refused")
        self.response = response


class Authorized:
    """A request with a live session: who, and the raw session id (for CSRF)."""

    def __init__(self, login: WebLogin, session_id: str) -> None:
        self.login = login
        self.session_id = session_id

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.login.community.timezone)


class Kit:
    def __init__(
        self,
        services: Services,
        *,
        secret_key: str,
        secure_cookies: bool,
        default_locale: str,
        menu: Sequence[MenuItem] = (),
    ) -> None:
        self.services = services
        self.csrf = Csrf(secret_key)
        self.cookies = CookiePolicy(secure=secure_cookies)
        self.default_locale = default_locale
        self.menu = tuple(menu)

    # -- who is asking ---------------------------------------------------------------------

    async def authorize(
        self, request: web.Request, *, post: bool = False, creator: bool = False
    ) -> Authorized:
        """The signed-in creator or moderator (a creator when ``creator``); otherwise raises the
        refusal: 401 signed out, 403 a POST without a valid CSRF token or a moderator on a
        creator page."""
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if post:
            form = await request.post()
            token = form.get(CSRF_FIELD)
            if not session_id or not isinstance(token, str) or not self.csrf.valid(session_id, token):
                raise Refused(self.refusal(request, texts.FORM_EXPIRED, self.locale(request), status=403))
        login = await self.services.web_sessions.authenticate(session_id) if session_id else None
        if login is None:
            response = self.refusal(request, texts.NOT_SIGNED_IN, self.locale(request), status=401)
            clear_session_cookie(response)
            raise Refused(response)
        if creator:
            creator_only(login)
        return Authorized(login, session_id)

    async def submit(self, request: web.Request, auth: Authorized, act: Action) -> web.StreamResponse:
        """Run a mutating form once per idempotency key. ``act`` gets the ledger key to use
        ("web:KEY") and answers with a redirect (acted) or a re-rendered page (refused: the key
        is released so the corrected form can be sent). A repeat of an acted form is sent where
        the first went."""
        form = await request.post()
        key = form.get(FORM_KEY_FIELD)
        forms = self.services.web_sessions.forms
        locale = self.locale(request, auth.login)
        if not isinstance(key, str) or not forms.well_formed(key):
            return self.refusal(request, texts.FORM_EXPIRED, locale, status=400)
        member_id = auth.login.member.id
        if not await forms.claim(member_id, key):
            location = await forms.outcome(member_id, key)
            if location is None:
                return self.refusal(request, texts.ALREADY_SENT, locale, status=409)
            return redirect(location)
        try:
            with requested_via("dashboard"):
                response = await act(f"web:{key}")
        except BaseException:
            await forms.release(member_id, key)
            raise
        if response.status == 303 and "Location" in response.headers:
            await forms.settle(member_id, key, response.headers["Location"])
        else:
            await forms.release(member_id, key)
        return response

    def guard(self, page: Page) -> Page:
        """The page, or its refusal: NotAllowed is a 403, other core refusals a 400, and a bug a
        500 with an error id — logged without the request's path, cookies or form."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            with request_scope():  # the HTTP app's own, or a new one
                return await self._guarded(page, request)

        return guarded

    async def _guarded(self, page: Page, request: web.Request) -> web.StreamResponse:
        try:
            response = await page(request)
        except Refused as refused:
            response = refused.response
        except web.HTTPNotFound:
            response = self.refusal(request, texts.NOT_FOUND, self.locale(request), status=404)
        except web.HTTPException as redirect_or_error:
            response = redirect_or_error
        except NotFound as missing:  # e.g. a member of another community: not theirs to see
            response = self.refusal(request, missing.message, self.locale(request), status=404)
        except NotAllowed as refused:
            response = self.refusal(request, refused.message, self.locale(request), status=403)
        except StudyhallError as refused:
            response = self.refusal(request, refused.message, self.locale(request), status=400)
        except Exception:
            error_id = mark_error()  # the request's id, on each of its log lines
            log.exception("dashboard: a page failed [error %s]", error_id)
            message = msg(SERVER_ERROR.text, error_id=error_id)
            response = self.refusal(request, message, self.locale(request), status=500)
        response.headers.update(HEADERS)
        return response

    def locale(self, request: web.Request, login: WebLogin | None = None) -> str:
        chosen = normalize_locale(request.cookies.get(LANG_COOKIE, ""))
        if chosen in SUPPORTED_LOCALES:
            return chosen
        if login is not None:
            return login.member.locale or login.community.default_locale
        return self.default_locale

    # -- what is answered ------------------------------------------------------------------

    def base(self, request: web.Request, locale: str, labels: dict[str, Msg] | None = None) -> dict[str, Any]:
        t = texts.labels(locale)
        if labels:
            t.update({key: render(text, locale) for key, text in labels.items()})
        return {
            "locale": locale,
            "lang_attr": "zh-CN" if locale == "zh_CN" else "en",
            "t": t,
            "languages": LANGUAGES,
            "here": quote(request.path, safe="/"),
            "stylesheet": "/dashboard/static/dashboard.css",
        }

    def page(
        self,
        request: web.Request,
        template: str,
        auth: Authorized,
        context: dict[str, Any],
        *,
        labels: dict[str, Msg] | None = None,
        status: int = 200,
    ) -> web.Response:
        """A signed-in page: the menu the member's role sees, forms with CSRF and fresh keys."""
        login = auth.login
        locale = self.locale(request, login)
        creator = login.member.role is Role.CREATOR
        csrf = self.csrf.token(auth.session_id)

        def hidden() -> Markup:
            """The hidden fields every POST form carries: its CSRF token and a fresh key."""
            return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">') + form_key()

        data = {
            **self.base(request, locale, labels),
            "member": login.member.display_name,
            "community": login.community.name,
            "role": render(login.member.role.label, locale),
            "creator": creator,
            "menu": [
                (item.path, render(item.label, locale))
                for item in self.menu
                if creator or not item.creators_only
            ],
            "csrf": csrf,
            "csrf_field": CSRF_FIELD,
            "hidden": hidden,
            **context,
        }
        return aiohttp_jinja2.render_template(template, request, data, status=status)

    def refusal(self, request: web.Request, message: Msg, locale: str, *, status: int) -> web.Response:
        data = {**self.base(request, locale), "message": render(message, locale)}
        return aiohttp_jinja2.render_template("refusal.html", request, data, status=status)

    def signed_out(self, request: web.Request) -> web.Response:
        response = self.refusal(request, texts.SIGNED_OUT, self.locale(request), status=200)
        clear_session_cookie(response)
        return response


def form_key() -> Markup:
    """A form's hidden key, fresh each time the form is shown: the same form sent twice is done
    once (the dashboard's Kit.submit, the learner checkout's points)."""
    return Markup(f'<input type="hidden" name="{FORM_KEY_FIELD}" value="{secrets.token_urlsafe(16)}">')


def redirect(location: str) -> web.Response:
    """POST → redirect → GET (303: the browser follows with a GET, a refresh repeats nothing)."""
    return web.Response(status=303, headers={"Location": location})


def creator_only(login: WebLogin) -> None:
    """Creator-only pages: anyone else gets the 403 refusal page (the core's own words)."""
    if login.member.role is not Role.CREATOR:
        raise NotAllowed(texts.CREATORS_ONLY)


def query_id(request: web.Request, name: str) -> int | None:
    """A positive id from the query string, or None when absent; anything else is refused."""
    text = request.query.get(name, "")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) < 1:
        raise InvalidInput(texts.BAD_ADDRESS)
    return int(text)


def path_id(request: web.Request, name: str) -> int:
    """A positive id from the path (routes match [0-9]+); too long a number is not found."""
    text = request.match_info[name]
    if len(text) > 18 or int(text) < 1:
        raise web.HTTPNotFound()
    return int(text)


def when(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
