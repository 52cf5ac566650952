"""The WeChat API calls studyhall makes, on wechatpy's WeChatClient, off the event loop.

WeChatClient is synchronous (requests): every call runs in a small thread pool of its own so
the event loop never blocks and a slow WeChat cannot take the default executor's threads.
``api_base`` points every call — the access token included, which wechatpy itself fetches
from a fixed address — at WeChat or at a proxy or a local fake (tests).

The access token is not wechatpy's to keep: tokens.py shares it between processes through the
database, and each call is made with the token it gives (wechatpy's own refetch on a refused
token is off; a refused token is handed back to tokens.py and the call tried once more).
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from core.delivery.access_tokens import INVALID_TOKEN, AccessTokens
from core.storage.database import Database

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com/cgi-bin/"
SHOW_QR_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode"  # not under the API base at WeChat
TIMEOUT_SECONDS = 10.0
THREADS = 8
# Errors that mean "this follower cannot get it now" rather than "WeChat is broken".
REFUSALS = {
    43004: "unfollowed",  # require subscribe
    40003: "unknown_openid",
    45015: "window_closed",  # response out of time limit
    45047: "quota_used",  # out of response count limit
    45009: "daily_quota",  # API daily quota reached
    43101: "no_consent",  # a subscribe message without the follower's (unused) consent
    40037: "bad_template",  # the template id is not one of the account's templates
    47003: "bad_template",  # the template's keywords do not take these values
}


# Errors that mean "these credentials will not do", whenever they are tried.
CREDENTIAL_ERRORS = {40001: "invalid credential", 40013: "invalid AppID", 40125: "invalid AppSecret"}
IP_NOT_WHITELISTED = 40164  # the call came from an address not on the account's IP whitelist


class WeChatApiError(Exception):
    """A WeChat API call failed: ``code`` is WeChat's errcode (None: no answer or HTTP error,
    then ``http_status`` is the HTTP status, if any)."""

    def __init__(self, code: int | None, message: str, http_status: int | None = None) -> None:
        super().__init__(f"WeChat API error {code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status

    @property
    def refusal(self) -> str | None:
        """Why WeChat would not deliver to this follower, when that is what it said."""
        return REFUSALS.get(self.code) if self.code is not None else None


class _Client(WeChatClient):  # type: ignore[misc]
    """WeChatClient with every address under ``api_base``, calling with the access token
    WeChatApi gives the calling thread (tokens.py keeps it, not wechatpy)."""

    def __init__(self, app_id: str, secret: str, api_base: str) -> None:
        super().__init__(app_id, secret, timeout=TIMEOUT_SECONDS, auto_retry=False)
        self.API_BASE_URL = api_base
        self._call_token = threading.local()

    @property
    def access_token(self) -> str:
        token: str | None = getattr(self._call_token, "value", None)
        if token is None:  # a call that did not come through WeChatApi._call: a bug, never a fetch
            raise RuntimeError("wechat: an API call without an access token")
        return token

    def with_token(self, token: str, fn: Callable[..., Any], *args: Any) -> Any:
        self._call_token.value = token
        try:
            return fn(*args)
        finally:
            self._call_token.value = None

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


class WeChatApi:
    def __init__(
        self,
        app_id: str,
        secret: str,
        api_base: str | None = None,
        *,
        db: Database | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        """``db``: where the access token is shared with the other processes (none: this
        process keeps it); ``now``: wall-clock seconds, for the token's expiry."""
        base = (api_base or DEFAULT_API_BASE).rstrip("/") + "/"
        self.api_base = base
        self.show_qr_url = SHOW_QR_URL if api_base is None else f"{base}showqrcode"
        self._client = _Client(app_id, secret, base)
        self._pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="wechat-api")
        clock = {"now": now} if now is not None else {}
        self.tokens = AccessTokens(app_id, self._fetch_token, db=db, **clock)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _call(self, what: str, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` with the shared access token; once more with a new one when WeChat
        refuses the token (another process may have refreshed it, or it expired early)."""
        token = await self.tokens.current()
        try:
            return await self._run(what, self._client.with_token, token, fn, *args)
        except WeChatApiError as error:
            if error.code not in INVALID_TOKEN:
                raise
        token = await self.tokens.rejected(token)
        return await self._run(what, self._client.with_token, token, fn, *args)

    async def _run(self, what: str, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except WeChatClientException as error:
            # Its text names the errcode and errmsg only; the request (with the access token
            # in its URL) is never logged.
            status = error.response.status_code if error.response is not None else None
            if error.errcode is None and status is not None:
                raise WeChatApiError(None, f"{what}: HTTP {status}", status) from None
            raise WeChatApiError(error.errcode, str(error.errmsg)) from None
        except requests.RequestException as error:
            raise WeChatApiError(None, f"{what}: {type(error).__name__}") from None

    async def _fetch_token(self) -> tuple[str, int]:
        result = await self._run("token", self._client.fetch_access_token)
        return str(result["access_token"]), int(result.get("expires_in") or 7200)

    async def check_credentials(self) -> None:
        """Make sure there is a fresh access token: fetching one, WeChat checks the AppID, the
        AppSecret and this server's IP address (a fresh one in the database passed that)."""
        await self.tokens.current()

    async def verify_credentials(self) -> None:
        """Have WeChat check the AppID, the AppSecret and this server's address now, by
        fetching a new token (shared with the other processes like any refresh): for
        ``studyhall doctor``, which must not pass on a token fetched with older settings."""
        await self.tokens.renewed()

    async def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message."""
        await self._call("send_text", self._client.message.send_text, openid, text)

    async def send_image(self, openid: str, png: bytes) -> None:
        """Upload ``png`` as temporary media, then send it as a customer-service image."""
        media_id = await self.upload_image(png)
        await self.send_image_media(openid, media_id)

    async def send_template(
        self, openid: str, template_id: str, data: dict[str, str], *, url: str = "", key: str = ""
    ) -> None:
        """A template message (outside the customer-service window). ``key`` is WeChat's
        ``client_msg_id``: a repeat with the same key is not sent twice."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {keyword: {"value": value} for keyword, value in data.items()},
        }
        if url:
            body["url"] = url
        if key:
            body["client_msg_id"] = key[:64]
        await self._call("template", partial(self._client.post, "message/template/send", data=body))

    async def send_subscribe(
        self, openid: str, template_id: str, scene: int, title: str, content: str, *, url: str = ""
    ) -> None:
        """A one-time subscribe message: the one message the follower's consent for ``scene``
        allows (a title of at most 15 characters, a content of at most 200)."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "scene": str(scene),
            "title": title,
            "data": {"content": {"value": content}},
        }
        if url:
            body["url"] = url
        await self._call("subscribe", partial(self._client.post, "message/template/subscribe", data=body))

    async def upload_image(self, png: bytes) -> str:
        result = await self._call(
            "upload", self._client.media.upload, "image", ("image.png", io.BytesIO(png), "image/png")
        )
        return str(result["media_id"])

    async def send_image_media(self, openid: str, media_id: str) -> None:
        await self._call("send_image", self._client.message.send_image, openid, media_id)

    async def create_qr(self, scene: str, expire_seconds: int | None = None) -> str:
        """A QR code carrying ``scene`` (permanent, or temporary for ``expire_seconds``); its ticket."""
        data: dict[str, Any] = {"action_info": {"scene": {"scene_str": scene}}}
        if expire_seconds:
            data.update(action_name="QR_STR_SCENE", expire_seconds=expire_seconds)
        else:
            data["action_name"] = "QR_LIMIT_STR_SCENE"
        result = await self._call("qrcode", self._client.qrcode.create, data)
        return str(result["ticket"])

    def qr_url(self, ticket: str) -> str:
        return requests.Request("GET", self.show_qr_url, params={"ticket": ticket}).prepare().url or ""

    async def qr_image(self, ticket: str) -> bytes:
        """The QR code's image (showqrcode needs no access token)."""

        def fetch() -> bytes:
            response = requests.get(self.show_qr_url, params={"ticket": ticket}, timeout=TIMEOUT_SECONDS)
            response.raise_for_status()
            return response.content

        return await self._run("showqrcode", fetch)

    async def create_menu(self, menu: dict[str, Any]) -> None:
        await self._call("menu", self._client.menu.create, menu)
