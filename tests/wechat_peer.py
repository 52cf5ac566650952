"""WeChat has no emulator: a local fake of the API base that records every request, and
callback traffic built with wechatpy's own crypto, as WeChat's servers send it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from bot.adapters.wechat.callback import sign
from tests.telegram_peer import free_port

APP_ID = "wx0123456789abcdef"
APP_SECRET = "wx-app-secret-for-tests"
TOKEN = "studyhallToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat makes them
ACCOUNT = "gh_studyhall01"
PNG = b"\x89PNG\r\n\x1a\nfake-qr-image"


@dataclass
class FakeWeChat:
    """Answers like api.weixin.qq.com for the calls studyhall makes, and records them.

    ``errors`` maps a path (``message/custom/send``) to an errcode to answer with once per
    entry in its list.
    """

    calls: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)  # customer-service messages taken
    errors: dict[str, list[int]] = field(default_factory=dict)
    tokens_issued: int = 0
    oauth_codes: dict[str, str] = field(default_factory=dict)  # an H5 sign-in's code: its openid
    # The account's templates (template id: its keywords), as its console lists them.
    templates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    subscribe_template: str = "subscribe-tmpl-1"  # the one-time subscribe message's template id
    templated: list[dict[str, Any]] = field(default_factory=list)  # template messages taken
    subscribed: list[dict[str, Any]] = field(default_factory=list)  # subscribe messages taken
    # One-time subscribe consents WeChat holds: (openid, template id, scene) → how many.
    grants: dict[tuple[str, str, str], int] = field(default_factory=dict)
    consenting: str = ""  # the openid of whoever opens a subscribemsg link (the "browser")
    consent_action: str = "confirm"  # what they tap there
    unfollowed: set[str] = field(default_factory=set)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._json_call)
        app.router.add_post("/cgi-bin/qrcode/create", self._qrcode)
        app.router.add_post("/cgi-bin/menu/create", self._json_call)
        app.router.add_post("/cgi-bin/media/upload", self._upload)
        app.router.add_get("/cgi-bin/showqrcode", self._show_qr)
        app.router.add_get("/sns/oauth2/access_token", self._oauth_code)
        app.router.add_post("/cgi-bin/message/template/send", self._template)
        app.router.add_post("/cgi-bin/message/template/subscribe", self._subscribe)
        app.router.add_get("/mp/subscribemsg", self._subscribemsg)
        return app

    def sent(self, kind: str = "text") -> list[dict[str, Any]]:
        """The customer-service messages of ``kind`` WeChat took, oldest first."""
        return [body for body in self.accepted if body.get("msgtype") == kind]

    def texts(self, openid: str | None = None) -> list[str]:
        return [m["text"]["content"] for m in self.sent("text") if openid in (None, m["touser"])]

    def paths(self) -> list[str]:
        return [path.removeprefix("/cgi-bin/") for _, path, _, _ in self.calls]

    def _error(self, path: str) -> web.Response | None:
        queued = self.errors.get(path.removeprefix("/cgi-bin/"))
        if queued:
            code = queued.pop(0)
            return web.json_response({"errcode": code, "errmsg": f"fake error {code}"})
        return None

    def _check_token(self, request: web.Request) -> web.Response | None:
        if request.query.get("access_token") != f"token-{self.tokens_issued}":
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        return None

    async def _token(self, request: web.Request) -> web.Response:
        self.calls.append(("GET", request.path, dict(request.query), None))
        if request.query.get("appid") != APP_ID or request.query.get("secret") != APP_SECRET:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        self.tokens_issued += 1
        return web.json_response({"access_token": f"token-{self.tokens_issued}", "expires_in": 7200})

    async def _oauth_code(self, request: web.Request) -> web.Response:
        """OAuth2 ``snsapi_base``: a code WeChat gave the visitor, once, for their openid."""
        self.calls.append(("GET", request.path, dict(request.query), None))
        query = request.query
        if query.get("appid") != APP_ID or query.get("secret") != APP_SECRET:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        openid = self.oauth_codes.pop(query.get("code", ""), None)
        if openid is None or query.get("grant_type") != "authorization_code":
            return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
        return web.json_response(
            {"access_token": "oauth-token", "expires_in": 7200, "openid": openid, "scope": "snsapi_base"}
        )

    async def _json_call(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        self.calls.append(("POST", request.path, dict(request.query), body))
        refused = self._check_token(request) or self._error(request.path)
        if refused is not None:
            return refused
        if request.path.endswith("message/custom/send"):
            self.accepted.append(body)
        return web.json_response({"errcode": 0})

    async def _template(self, request: web.Request) -> web.Response:
        """A template message, checked as WeChat does since 2023: a template of the account,
        only its keywords, no first/remark, each value at most 20 characters."""
        body = json.loads(await request.text())
        self.calls.append(("POST", request.path, dict(request.query), body))
        refused = self._check_token(request) or self._error(request.path)
        if refused is not None:
            return refused
        keywords = self.templates.get(body.get("template_id", ""))
        if keywords is None:
            return web.json_response({"errcode": 40037, "errmsg": "invalid template_id"})
        if body.get("touser") in self.unfollowed:
            return web.json_response({"errcode": 43004, "errmsg": "require subscribe"})
        data = body.get("data") or {}
        values = [str(v.get("value", "")) for v in data.values()]
        if not set(data) <= set(keywords) or any(len(v) > 20 for v in values) or sum(map(len, values)) > 200:
            return web.json_response({"errcode": 47003, "errmsg": "argument invalid! data.value invalid"})
        self.templated.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": len(self.templated)})

    async def _subscribe(self, request: web.Request) -> web.Response:
        """A one-time subscribe message: it spends one of the follower's consents for the
        template and scene, or is refused (43101)."""
        body = json.loads(await request.text())
        self.calls.append(("POST", request.path, dict(request.query), body))
        refused = self._check_token(request) or self._error(request.path)
        if refused is not None:
            return refused
        key = (body.get("touser", ""), body.get("template_id", ""), str(body.get("scene", "")))
        if not self.grants.get(key):
            return web.json_response({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
        content = body.get("data", {}).get("content", {}).get("value", "")
        if len(body.get("title", "")) > 15 or len(content) > 200:
            return web.json_response({"errcode": 47003, "errmsg": "argument invalid"})
        self.grants[key] -= 1
        self.subscribed.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _subscribemsg(self, request: web.Request) -> web.Response:
        """The page WeChat shows for a subscribemsg link: the follower (``consenting``) taps
        ``consent_action`` and is sent back to redirect_url with their choice."""
        query = request.query
        self.calls.append(("GET", request.path, dict(query), None))
        if query.get("appid") != APP_ID or query.get("action") != "get_confirm":
            return web.Response(status=400, text="bad request")
        template_id, scene = query.get("template_id", ""), query.get("scene", "")
        if template_id != self.subscribe_template:
            return web.Response(status=400, text="invalid template_id")
        if self.consent_action == "confirm":
            key = (self.consenting, template_id, scene)
            self.grants[key] = self.grants.get(key, 0) + 1
        back = {
            "openid": self.consenting,
            "template_id": template_id,
            "action": self.consent_action,
            "scene": scene,
            "reserved": query.get("reserved", ""),
        }
        raise web.HTTPFound(f"{query['redirect_url']}?{urlencode(back)}")

    async def _qrcode(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        self.calls.append(("POST", request.path, dict(request.query), body))
        refused = self._check_token(request) or self._error(request.path)
        if refused is not None:
            return refused
        scene = body["action_info"]["scene"]["scene_str"]
        return web.json_response({"ticket": f"ticket-{scene}", "url": f"http://weixin.qq.com/q/{scene}"})

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        media = form["media"]
        assert isinstance(media, web.FileField)
        data = media.file.read()
        self.calls.append(("POST", request.path, dict(request.query), {"bytes": data}))
        refused = self._check_token(request) or self._error(request.path)
        if refused is not None:
            return refused
        return web.json_response({"type": "image", "media_id": f"media-{len(self.calls)}", "created_at": 1})

    async def _show_qr(self, request: web.Request) -> web.Response:
        self.calls.append(("GET", request.path, dict(request.query), None))
        if not request.query.get("ticket", "").startswith("ticket-"):
            return web.Response(status=404)
        return web.Response(body=PNG, content_type="image/jpeg")


@asynccontextmanager
async def running_wechat(fake: FakeWeChat) -> AsyncIterator[str]:
    """The fake on 127.0.0.1; yields its API base (``http://127.0.0.1:PORT/cgi-bin/``)."""
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/cgi-bin/"
    finally:
        await runner.cleanup()


# -- callback traffic -------------------------------------------------------------------------


def cdata(text: str) -> str:
    """``text`` inside CDATA, a "]]>" in it split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_xml(openid: str, content: str, msg_id: int, created: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content>{cdata(content)}</Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, key: str = "", created: int | None = None, ticket: str = "") -> str:
    extra = f"<EventKey><![CDATA[{key}]]></EventKey>" if key else ""
    if ticket:
        extra += f"<Ticket><![CDATA[{ticket}]]></Ticket>"
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{extra}</xml>"
    )


@dataclass(frozen=True)
class Signed:
    query: dict[str, str]
    body: bytes


def plain_request(xml: str, *, token: str = TOKEN, at: int | None = None, nonce: str | None = None) -> Signed:
    """What WeChat POSTs in plain mode: the XML, signed over token, timestamp and nonce."""
    timestamp = str(at if at is not None else int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    query = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    return Signed(query, xml.encode())


def safe_request(
    xml: str, *, aes_key: str = AES_KEY, at: int | None = None, nonce: str | None = None
) -> Signed:
    """What WeChat POSTs in safe mode: the XML encrypted by WeChatCrypto, with msg_signature."""
    timestamp = str(at if at is not None else int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    sealed = WeChatCrypto(TOKEN, aes_key, APP_ID).encrypt_message(xml, nonce, timestamp)
    import xmltodict

    outer = xmltodict.parse(sealed)["xml"]
    body = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<Encrypt><![CDATA[{outer['Encrypt']}]]></Encrypt></xml>"
    )
    query = {
        "signature": sign(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": "o-ignored",
        "encrypt_type": "aes",
        "msg_signature": outer["MsgSignature"],
    }
    return Signed(query, body.encode())


def open_reply(body: str, signed: Signed | None = None) -> dict[str, str]:
    """A passive reply's fields (decrypted when it answers a safe-mode request)."""
    import xmltodict

    fields = xmltodict.parse(body)["xml"]
    if "Encrypt" in fields:
        assert signed is not None
        crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
        inner = crypto.decrypt_message(body, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
        fields = xmltodict.parse(inner)["xml"]
    return dict(fields)


async def post(base: str, signed: Signed, path: str = "/wechat") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}{path}", params=signed.query, data=signed.body) as response,
    ):
        return response.status, await response.text()
