"""Who is asking, on a learner's pages: their session (its own cookie and scope in
core.web_sessions), authorized in the core on every request, and the CSRF token of its forms.
A request without a live session gets the page that says how to sign in (401); a form without
its session's token, the page that says it expired (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup, escape

from core.errors import StudyhallError
from core.i18n import Msg, render
from core.members.models import Community, Member
from core.services import Services
from core.web_sessions.service import Scope, WebLogin
from web.auth import CSRF_FIELD, Csrf
from web.learn import texts
from web.learn.pages import HREFLANG, LEARNER_CSP, Answered, page_locale

LEARNER_COOKIE = "studyhall_learner"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # a login link must not leak through a Referer header
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": LEARNER_CSP,
}


@dataclass(frozen=True)
class Learner:
    login: WebLogin
    session_id: str

    @property
    def member(self) -> Member:
        return self.login.member

    @property
    def community(self) -> Community:
        return self.login.community


class LearnerSessions:
    def __init__(self, services: Services, community: Callable[[], Awaitable[Community]], csrf: Csrf) -> None:
        self.services = services
        self.community = community
        self.csrf = csrf

    async def optional(self, request: web.Request) -> Learner | None:
        session_id = request.cookies.get(LEARNER_COOKIE, "")
        if not session_id:
            return None
        try:
            login = await self.services.web_sessions.authenticate(session_id, Scope.LEARNER)
        except StudyhallError:  # the member is gone from the community
            return None
        return Learner(login, session_id) if login is not None else None

    async def required(self, request: web.Request, *, post: bool = False) -> Learner:
        """The signed-in learner; else raises the page that says how to sign in (401), or, for a
        POST without its session's CSRF token, the one that says the form expired (403)."""
        learner = await self.optional(request)
        if learner is None:
            page = await message_page(request, await self.community(), texts.SIGN_IN_FIRST, 401)
            page.del_cookie(LEARNER_COOKIE, path="/")
            raise Answered(page)
        if post:
            token = (await request.post()).get(CSRF_FIELD)
            if not isinstance(token, str) or not self.csrf.valid(learner.session_id, token):
                page = await message_page(request, learner.community, texts.FORM_EXPIRED, 403)
                raise Answered(page)
        return learner

    def hidden(self, learner: Learner) -> Markup:
        """The hidden field every POST form of the learner's pages carries."""
        token = self.csrf.token(learner.session_id)
        return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')


def base_context(locale: str, community: str) -> dict[str, object]:
    return {
        "locale": locale,
        "lang_attr": HREFLANG[locale],
        "t": texts.labels(locale),
        "community": community,
    }


async def message_page(request: web.Request, community: Community, message: Msg, status: int) -> web.Response:
    locale = page_locale(request, community.default_locale)
    context = {**base_context(locale, community.name), "message": render(message, locale)}
    return aiohttp_jinja2.render_template("learn_message.html", request, context, status=status)
