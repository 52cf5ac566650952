"""Signing in by a one-time link, the language menu, the sessions page and signing out."""

from __future__ import annotations

from aiohttp import web

from core.audit.log import requested_via
from core.i18n import SUPPORTED_LOCALES, normalize_locale
from core.web_sessions.service import LoginRefused
from web import texts
from web.auth import LANG_COOKIE, SESSION_COOKIE, set_session_cookie
from web.kit import Kit, MenuItem, path_id, redirect, when

MENU = MenuItem("/dashboard/sessions", texts.LABELS["sessions"], creators_only=False)


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = SignIn(kit)
    router.add_get("/dashboard/login/{token}", kit.guard(pages.login), allow_head=False)
    router.add_get("/dashboard/lang", kit.guard(pages.language), allow_head=False)
    router.add_get("/dashboard/sessions", kit.guard(pages.sessions), allow_head=False)
    router.add_post("/dashboard/sessions/{id:[0-9]+}/revoke", kit.guard(pages.revoke))
    router.add_post("/dashboard/sessions/revoke-all", kit.guard(pages.revoke_all))
    router.add_post("/dashboard/logout", kit.guard(pages.logout))


class SignIn:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.web_sessions = kit.services.web_sessions

    async def login(self, request: web.Request) -> web.StreamResponse:
        try:
            session_id, _login = await self.web_sessions.sign_in(
                request.match_info["token"], request.headers.get("User-Agent", "")
            )
        except LoginRefused as refused:
            return self.kit.refusal(request, refused.message, self.kit.locale(request), status=403)
        old = request.cookies.get(SESSION_COOKIE)
        if old:  # a login rotates the session: the browser's previous one ends
            await self.web_sessions.sign_out(old)
        response = redirect("/dashboard")
        set_session_cookie(response, session_id, self.kit.cookies)
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True)
        await self.web_sessions.sign_out(auth.session_id)
        return self.kit.signed_out(request)

    async def language(self, request: web.Request) -> web.StreamResponse:
        """The language menu (a GET form: it works signed out too): remembered in a cookie."""
        chosen = normalize_locale(request.query.get("to", ""))
        back = request.query.get("next", "/dashboard")
        if not back.startswith("/dashboard") or back.startswith("/dashboard/login"):
            back = "/dashboard"  # never an open redirect, never back to a used link
        response = redirect(back)
        if chosen in SUPPORTED_LOCALES:
            response.set_cookie(
                LANG_COOKIE,
                chosen,
                path="/dashboard",
                max_age=365 * 86400,
                samesite="Lax",
                secure=self.kit.cookies.secure,
            )
        return response

    async def sessions(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request)
        login = auth.login
        rows = [
            {
                "id": s.id,
                "user_agent": s.user_agent or "—",
                "created": when(s.created_at, auth.zone),
                "last_seen": when(s.last_seen_at, auth.zone),
                "current": s.id == login.session.id,
            }
            for s in await self.web_sessions.sessions(login.member)
        ]
        return self.kit.page(request, "sessions.html", auth, {"sessions": rows})

    async def revoke(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True)
        session = path_id(request, "id")
        with requested_via("dashboard"):  # ending a session is audited; a repeat ends nothing
            await self.web_sessions.revoke(auth.login.member, session)
        if session == auth.login.session.id:
            return self.kit.signed_out(request)
        return redirect("/dashboard/sessions")

    async def revoke_all(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True)
        with requested_via("dashboard"):
            await self.web_sessions.revoke_all(auth.login.member)
        return self.kit.signed_out(request)
