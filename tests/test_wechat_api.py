"""bot/adapters/wechat/api.py: wechatpy's client pointed at a local fake of the API base that
records every request: the token, customer-service sends, media, QR codes and the menu."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.adapters.wechat.api import DEFAULT_API_BASE, SHOW_QR_URL, WeChatApi, WeChatApiError
from tests.wechat_peer import APP_ID, APP_SECRET, PNG, FakeWeChat, running_wechat


@pytest.fixture
async def wechat() -> AsyncIterator[tuple[FakeWeChat, WeChatApi]]:
    fake = FakeWeChat()
    async with running_wechat(fake) as base:
        api = WeChatApi(APP_ID, APP_SECRET, base)
        yield fake, api
        api.close()


async def test_a_text_goes_to_custom_send_with_a_token_fetched_from_the_base(
    wechat: tuple[FakeWeChat, WeChatApi],
) -> None:
    fake, api = wechat
    await api.send_text("oAna", "你好")
    await api.send_text("oAna", "再见")
    assert fake.paths() == ["token", "message/custom/send", "message/custom/send"]  # one token
    _, _, token_query, _ = fake.calls[0]
    assert token_query == {"grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET}
    assert fake.sent() == [
        {"touser": "oAna", "msgtype": "text", "text": {"content": "你好"}},
        {"touser": "oAna", "msgtype": "text", "text": {"content": "再见"}},
    ]
    assert fake.calls[1][2]["access_token"] == "token-1"


async def test_an_expired_token_is_fetched_again_and_the_call_retried(
    wechat: tuple[FakeWeChat, WeChatApi],
) -> None:
    fake, api = wechat
    await api.send_text("oAna", "one")
    fake.tokens_issued += 1  # WeChat revoked token-1: only token-2 would do now
    await api.send_text("oAna", "two")
    assert fake.paths() == [
        "token",
        "message/custom/send",
        "message/custom/send",
        "token",
        "message/custom/send",
    ]
    assert [query["access_token"] for _, _, query, _ in fake.calls[1:] if "access_token" in query] == [
        "token-1",
        "token-1",  # refused (40001)
        "token-3",
    ]


async def test_an_image_is_uploaded_then_sent_by_its_media_id(wechat: tuple[FakeWeChat, WeChatApi]) -> None:
    fake, api = wechat
    await api.send_image("oAna", PNG)
    upload = next(call for call in fake.calls if call[1].endswith("media/upload"))
    assert upload[2]["type"] == "image" and upload[3] == {"bytes": PNG}
    [image] = fake.sent("image")
    assert image == {"touser": "oAna", "msgtype": "image", "image": {"media_id": image["image"]["media_id"]}}


async def test_qr_codes_permanent_and_temporary_and_their_image(wechat: tuple[FakeWeChat, WeChatApi]) -> None:
    fake, api = wechat
    assert await api.create_qr("ref_abcdefgh") == "ticket-ref_abcdefgh"
    assert await api.create_qr("ref_abcdefgh", 7 * 86400) == "ticket-ref_abcdefgh"
    bodies = [body for _, path, _, body in fake.calls if path.endswith("qrcode/create")]
    assert bodies == [
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "ref_abcdefgh"}}},
        {
            "action_name": "QR_STR_SCENE",
            "expire_seconds": 604800,
            "action_info": {"scene": {"scene_str": "ref_abcdefgh"}},
        },
    ]
    assert await api.qr_image("ticket-ref_abcdefgh") == PNG
    assert api.qr_url("a b/c").endswith("showqrcode?ticket=a+b%2Fc")


async def test_the_menu_is_posted_as_given(wechat: tuple[FakeWeChat, WeChatApi]) -> None:
    fake, api = wechat
    menu = {
        "button": [{"name": "积分", "sub_button": [{"type": "click", "name": "签到", "key": "cmd:/checkin"}]}]
    }
    await api.create_menu(menu)
    assert fake.calls[-1][1] == "/cgi-bin/menu/create" and fake.calls[-1][3] == menu


async def test_errors_carry_wechats_errcode_and_say_when_it_is_a_refusal(
    wechat: tuple[FakeWeChat, WeChatApi],
) -> None:
    fake, api = wechat
    fake.errors["message/custom/send"] = [45015, 40164]
    with pytest.raises(WeChatApiError) as closed:
        await api.send_text("oAna", "late")
    assert (closed.value.code, closed.value.refusal) == (45015, "window_closed")
    with pytest.raises(WeChatApiError) as other:
        await api.send_text("oAna", "ip")
    assert (other.value.code, other.value.refusal) == (40164, None)


async def test_a_bad_secret_is_an_error_that_does_not_show_the_secret() -> None:
    fake = FakeWeChat()
    async with running_wechat(fake) as base:
        api = WeChatApi(APP_ID, "not-the-secret", base)
        with pytest.raises(WeChatApiError) as error:
            await api.send_text("oAna", "x")
        api.close()
    assert error.value.code == 40125
    assert "not-the-secret" not in str(error.value)


async def test_an_unreachable_api_is_an_error_without_the_url() -> None:
    from tests.telegram_peer import free_port

    api = WeChatApi(APP_ID, APP_SECRET, f"http://127.0.0.1:{free_port()}/cgi-bin/")
    with pytest.raises(WeChatApiError) as error:
        await api.send_text("oAna", "x")
    api.close()
    assert error.value.code is None and "access_token" not in str(error.value)


async def test_calls_run_off_the_event_loop(wechat: tuple[FakeWeChat, WeChatApi]) -> None:
    _, api = wechat
    original = api._client.message.send_text

    def slow(*args: object) -> object:
        time.sleep(0.5)
        return original(*args)

    api._client.message.send_text = slow  # type: ignore[method-assign]
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.02)
            ticks += 1

    await asyncio.gather(api.send_text("oAna", "x"), tick())
    assert ticks == 10


def test_wechats_own_addresses_are_the_default() -> None:
    api = WeChatApi(APP_ID, APP_SECRET)
    assert (api.api_base, api.show_qr_url) == (DEFAULT_API_BASE, SHOW_QR_URL)
    api.close()


async def test_concurrent_first_calls_fetch_one_token(wechat: tuple[FakeWeChat, WeChatApi]) -> None:
    fake, api = wechat
    await asyncio.gather(*(api.send_text("oAna", f"m{n}") for n in range(6)))
    assert fake.paths().count("token") == 1
    assert sorted(fake.texts()) == [f"m{n}" for n in range(6)]
