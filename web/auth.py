"""Cookies and CSRF for the dashboard. The session itself lives in core.web_sessions."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from aiohttp import web

SESSION_COOKIE = "studyhall_session"
LANG_COOKIE = "studyhall_lang"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class CookiePolicy:
    secure: bool  # Secure cookies: the public URL is https


class Csrf:
    """A token bound to the session: HMAC of its id under the secret key, so it needs no
    storage, changes with every login and cannot be made without the key."""

    def __init__(self, secret_key: str) -> None:
        self._key = secret_key.encode()

    def token(self, session_id: str) -> str:
        return hmac.new(self._key, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()

    def valid(self, session_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(session_id), token)


def set_session_cookie(response: web.StreamResponse, session_id: str, policy: CookiePolicy) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        path="/dashboard",
        httponly=True,
        samesite="Lax",
        secure=policy.secure,
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/dashboard")
