"""bot/adapters/wechat/oauth.py against the local fake of WeChat's API: the authorize address
follows the API base, a code is exchanged once for the follower's openid, and a refused or
unreachable exchange is None (the AppSecret never in a log)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from bot.adapters.wechat.oauth import WeChatOAuth
from tests.telegram_peer import free_port
from tests.wechat_peer import APP_ID, APP_SECRET, FakeWeChat, running_wechat


def test_the_authorize_address_is_wechats_unless_the_api_base_is_elsewhere() -> None:
    at_wechat = WeChatOAuth(APP_ID, APP_SECRET).authorize_url(
        "https://learn.example/learn/wechat?next=/me", "s1"
    )
    parts = urlsplit(at_wechat)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "open.weixin.qq.com",
        "/connect/oauth2/authorize",
        "wechat_redirect",
    )
    assert parse_qs(parts.query) == {
        "appid": [APP_ID],
        "redirect_uri": ["https://learn.example/learn/wechat?next=/me"],
        "response_type": ["code"],
        "scope": ["snsapi_base"],
        "state": ["s1"],
    }
    local = WeChatOAuth(APP_ID, APP_SECRET, "http://127.0.0.1:9000/cgi-bin/").authorize_url("x", "s")
    assert local.startswith("http://127.0.0.1:9000/connect/oauth2/authorize?")


async def test_a_code_is_exchanged_once_for_the_followers_openid(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeWeChat(oauth_codes={"code-1": "o_follower_0042"})
    async with running_wechat(fake) as base:
        oauth = WeChatOAuth(APP_ID, APP_SECRET, base)
        user = await oauth.user("code-1")
        again = await oauth.user("code-1")
        wrong = await WeChatOAuth(APP_ID, "not-the-secret", base).openid("code-1")

    assert user is not None and (user.platform, user.external_id, user.display_name) == (
        "wechat",
        "o_follower_0042",
        "微信用户0042",
    )
    assert again is None and wrong is None
    assert APP_SECRET not in caplog.text and "not-the-secret" not in caplog.text


async def test_an_unreachable_wechat_is_no_sign_in() -> None:
    oauth = WeChatOAuth(APP_ID, APP_SECRET, f"http://127.0.0.1:{free_port()}/cgi-bin/")
    assert await oauth.openid("code-1") is None
