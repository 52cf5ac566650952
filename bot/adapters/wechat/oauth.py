"""WeChat H5 sign-in: OAuth2 with ``snsapi_base`` on the Official Account's AppID, which gives
the page the visitor's openid (the id the adapter already knows them by) without asking them
anything. The visitor is sent to WeChat's authorize page, which returns them with a ``code``;
the code is exchanged server-side for the openid (``/sns/oauth2/access_token``).

Both addresses follow ``WECHAT_API_BASE``: at WeChat they are open.weixin.qq.com and
api.weixin.qq.com; with another base (a proxy, the tests' local fake) they are on its host.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

import aiohttp

from bot.adapters.wechat.api import DEFAULT_API_BASE
from bot.adapters.wechat.inbound import user_ref
from core.events import UserRef

log = logging.getLogger(__name__)

AUTHORIZE_HOST = "https://open.weixin.qq.com"
TIMEOUT_SECONDS = 10.0


class WeChatOAuth:
    def __init__(self, app_id: str, app_secret: str, api_base: str = DEFAULT_API_BASE) -> None:
        self._app_id = app_id
        self._secret = app_secret
        parts = urlsplit(api_base or DEFAULT_API_BASE)
        self._api_host = f"{parts.scheme}://{parts.netloc}"
        default = (api_base or DEFAULT_API_BASE).rstrip("/") == DEFAULT_API_BASE.rstrip("/")
        self._authorize_host = AUTHORIZE_HOST if default else self._api_host

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where to send the visitor: WeChat returns them to ``redirect_uri`` with a code."""
        query = urlencode(
            {
                "appid": self._app_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
            }
        )
        return f"{self._authorize_host}/connect/oauth2/authorize?{query}#wechat_redirect"

    async def openid(self, code: str) -> str | None:
        """The openid ``code`` stands for; None when WeChat refuses it (used, expired, forged)
        or cannot be reached. The AppSecret travels only to WeChat, never into a log."""
        query = {
            "appid": self._app_id,
            "secret": self._secret,
            "code": code,
            "grant_type": "authorization_code",
        }
        try:
            timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                url = f"{self._api_host}/sns/oauth2/access_token"
                async with session.get(url, params=query) as response:
                    answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("wechat: the OAuth code exchange failed (%s)", type(error).__name__)
            return None
        openid = answer.get("openid") if isinstance(answer, dict) else None
        if not isinstance(openid, str) or not openid:
            log.info(
                "wechat: WeChat refused an OAuth code (errcode %s)",
                answer.get("errcode") if isinstance(answer, dict) else None,
            )
            return None
        return openid

    async def user(self, code: str) -> UserRef | None:
        """The follower ``code`` stands for, as the adapter names them; None when refused."""
        openid = await self.openid(code)
        return user_ref(openid) if openid is not None else None
