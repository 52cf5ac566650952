"""What an Official Account may send outside the 48-hour customer-service window, and the
follower's consent to one such message.

- Template messages (模板消息) carry transactional notices (a Reply's ``notice``: payment
  received, renews soon, access ends, refund done) when the creator mapped that notice to a
  template (/wechat templates, core/delivery/templates.py). Never pushes: WeChat forbids
  marketing in templates.
- One-time subscribe messages (一次性订阅消息): the follower taps a ``subscribemsg`` link
  (/notifyme), WeChat asks them, and sends them back to ``PATH/consent`` with their choice. Each
  consent allows one message for its scene (core/delivery/outside.py: news for pushes, notes for
  the rest). The link's ``reserved`` value is signed for that follower and scene and used once,
  so nobody can record a consent for someone else, and a reload does not count twice.

What went this way is recorded (delivery_fallbacks) with why the window would not take it;
what could not go at all stays in delivery_skipped, as before.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from bot.adapters.wechat.api import DEFAULT_API_BASE, WeChatApi, WeChatApiError
from bot.adapters.wechat.inbound import PLATFORM
from bot.adapters.wechat.outbound import WxMessage, WxText
from core.delivery.outside import NEWS, NOTES, SCENES, SUBSCRIBE, TEMPLATE, WindowFallbacks
from core.delivery.service import DeliveryService, SkipReason
from core.delivery.templates import SUBSCRIBE as SUBSCRIBE_TEMPLATE
from core.delivery.templates import NoticeTemplates, clip, template_data
from core.i18n import Msg, msg, nmsg, render
from core.members.models import Community
from core.replies import Notice

log = logging.getLogger(__name__)

SUBSCRIBE_PAGE = "https://mp.weixin.qq.com/mp/subscribemsg"
MAX_TITLE = 15  # a subscribe message's title, in characters
MAX_CONTENT = 200  # its content
LINK_SECONDS = 86400  # a consent link works for a day
# The window's refusals a template or a consent can stand in for (not "unfollowed" and the like).
WINDOW_REASONS = (SkipReason.NO_CONTACT, SkipReason.WINDOW_CLOSED, SkipReason.QUOTA_USED)


class OutsideWindow:
    def __init__(
        self,
        api: WeChatApi,
        *,
        app_id: str,
        app_secret: str,
        consent_path: str,
        base_url: str | None,
        community: Callable[[], Awaitable[Community]],
        locale_of: Callable[[str], Awaitable[str]],
        templates: NoticeTemplates,
        fallbacks: WindowFallbacks,
        delivery: DeliveryService,
        now: Callable[[], float] = time.time,
    ) -> None:
        """``base_url``: the public address (STUDYHALL_PUBLIC_URL) messages link to and WeChat
        returns consenting followers to; without one, templates link nowhere and no consent
        link is offered. ``locale_of``: a follower's language, from their openid."""
        self.api = api
        self.app_id = app_id
        self._key = hashlib.sha256(b"studyhall-consent:" + app_secret.encode()).digest()
        self.consent_path = consent_path
        self.base_url = base_url.rstrip("/") if base_url else None
        self._community = community
        self._locale_of = locale_of
        self.templates = templates
        self.fallbacks = fallbacks
        self.delivery = delivery
        self._now = now
        parts = urlsplit(api.api_base)
        default = api.api_base.rstrip("/") == DEFAULT_API_BASE.rstrip("/")
        self._subscribe_page = (
            SUBSCRIBE_PAGE if default else f"{parts.scheme}://{parts.netloc}/mp/subscribemsg"
        )

    # -- sending outside the window -------------------------------------------------------

    async def note(
        self,
        openid: str,
        member_id: int | None,
        reason: str,
        messages: list[WxMessage],
        notice: Notice | None,
        locale: str,
    ) -> str | None:
        """Send a private note the window refused (``reason``): by its notice's template when
        the creator mapped one, else by a consent for notes. None when it went; else why not."""
        community = await self._community()
        template = await self.templates.get(community.id, notice.kind) if notice is not None else None
        if notice is not None and template is not None:
            data = template_data(template, notice, locale)
            key = f"{notice.kind}:{openid}:{'|'.join(data.values())}"
            try:
                await self.api.send_template(
                    openid,
                    template.template_id,
                    data,
                    url=self._link("/me"),
                    key=hashlib.sha1(key.encode()).hexdigest(),
                )
            except WeChatApiError as error:
                log.warning("wechat: a template message for %s failed: %s", notice.kind, error)
                return error.refusal or SkipReason.FAILED
            await self.fallbacks.sent(PLATFORM, openid, member_id, TEMPLATE, reason, _preview(messages))
            return None
        return await self._by_consent(openid, member_id, reason, messages, NOTES, community)

    async def push(
        self, openid: str, member_id: int | None, reason: str, messages: list[WxMessage]
    ) -> str | None:
        """Send a push the window refused by the follower's consent for news; None when it
        went, else why not."""
        return await self._by_consent(openid, member_id, reason, messages, NEWS, await self._community())

    async def _by_consent(
        self,
        openid: str,
        member_id: int | None,
        reason: str,
        messages: list[WxMessage],
        scene: int,
        community: Community,
    ) -> str | None:
        content = "\n".join(m.text for m in messages if isinstance(m, WxText)).strip()
        if not content:  # an image alone cannot go in a subscribe message
            return reason
        consent = await self.fallbacks.take_consent(PLATFORM, openid, scene)
        if consent is None:
            return reason
        try:
            await self.api.send_subscribe(
                openid,
                consent.template_id,
                scene,
                clip(community.name, MAX_TITLE),
                clip(content, MAX_CONTENT),
                url=self._link("/me"),
            )
        except WeChatApiError as error:
            if error.code is None:  # it never reached WeChat: the consent is still good
                await self.fallbacks.give_back(consent)
            log.warning("wechat: a subscribe message failed: %s", error)
            return error.refusal or SkipReason.FAILED
        await self.fallbacks.sent(PLATFORM, openid, member_id, SUBSCRIBE, reason, _preview(messages))
        return None

    def _link(self, path: str) -> str:
        return f"{self.base_url}{path}" if self.base_url else ""

    # -- consents -------------------------------------------------------------------------

    async def consent_urls(self, openid: str) -> dict[int, str]:
        """The ``subscribemsg`` link for each scene, for this follower (none without the
        subscribe template or a public address to come back to)."""
        community = await self._community()
        template = await self.templates.get(community.id, SUBSCRIBE_TEMPLATE)
        if template is None or self.base_url is None:
            return {}
        urls = {}
        for scene in SCENES:
            query = urlencode(
                {
                    "action": "get_confirm",
                    "appid": self.app_id,
                    "scene": scene,
                    "template_id": template.template_id,
                    "redirect_url": f"{self.base_url}{self.consent_path}",
                    "reserved": self._reserved(openid, scene),
                }
            )
            urls[scene] = f"{self._subscribe_page}?{query}#wechat_redirect"
        return urls

    def _reserved(self, openid: str, scene: int, nonce: str | None = None) -> str:
        nonce = nonce or f"{int(self._now()):x}-{secrets.token_hex(6)}"  # when it was made, for its age
        mac = hmac.new(self._key, f"{openid}:{scene}:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{nonce}.{mac}"

    def _signed(self, openid: str, scene: int, reserved: str) -> str | None:
        """The nonce of a ``reserved`` value made for this follower and scene, else None."""
        nonce, _, _ = reserved.partition(".")
        made, _, _ = nonce.partition("-")
        if (
            not nonce
            or len(reserved) > 100
            or not hmac.compare_digest(self._reserved(openid, scene, nonce), reserved)
        ):
            return None
        # Used nonces are remembered for two days (inbound_seen): older links are refused.
        age = self._now() - int(made, 16)
        return nonce if 0 <= age <= LINK_SECONDS else None

    async def on_consent(self, request: web.Request) -> web.Response:
        """WeChat returns the follower here with their choice (``action`` confirm or cancel)."""
        query = request.query
        openid, scene_text = query.get("openid", ""), query.get("scene", "")
        scene = int(scene_text) if scene_text.isdigit() and len(scene_text) < 6 else None
        nonce = (
            self._signed(openid, scene, query.get("reserved", ""))
            if scene in SCENES and 0 < len(openid) <= 100
            else None
        )
        community = await self._community()
        if nonce is None or scene is None:
            log.info("wechat: refused a consent return with a bad or missing signature")
            return _page(
                msg("This link is not valid. Send /notifyme to the account for a new one."),
                community.default_locale,
                400,
            )
        locale = await self._locale_of(openid)
        if query.get("action") != "confirm":
            return _page(
                msg("Nothing was allowed. The account writes to you only within 48 hours of your message."),
                locale,
            )
        template = await self.templates.get(community.id, SUBSCRIBE_TEMPLATE)
        if template is None or query.get("template_id") != template.template_id:
            return _page(
                msg("This link is not valid. Send /notifyme to the account for a new one."), locale, 400
            )
        if await self.delivery.take_inbound(PLATFORM, f"consent:{nonce}") is not None:
            return _page(
                msg("This link was used already. Send /notifyme to the account for a new one."), locale
            )
        left = await self.fallbacks.consent(PLATFORM, openid, scene, template.template_id)
        return _page(
            nmsg(
                "Thank you. The account may now send you {n} message about {scene} after 48 hours.",
                "Thank you. The account may now send you {n} messages about {scene} after 48 hours.",
                left,
                scene=SCENES[scene],
            ),
            locale,
        )


def _preview(messages: list[WxMessage]) -> str:
    return "\n".join(m.text for m in messages if isinstance(m, WxText))[:200] or "[image]"


def _page(message: Msg, locale: str, status: int = 200) -> web.Response:
    """A one-line page in the follower's language (WeChat shows it in its browser)."""
    text = html.escape(render(message, locale))
    lang = "zh-CN" if locale.startswith("zh") else locale
    body = (
        f'<!doctype html><html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex"><title>studyhall</title>'
        "<style>body{font:18px/1.5 system-ui,sans-serif;margin:2em auto;max-width:32em;padding:0 1em}</style>"
        f'</head><body><p role="status">{text}</p></body></html>'
    )
    return web.Response(
        text=body, content_type="text/html", status=status, headers={"Cache-Control": "no-store"}
    )
