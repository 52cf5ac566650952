"""bot/payments/wechatpay_setup.py and WeChat Pay's settings (bot/config.py): the merchant's key
files read, the AppID taken from the Official Account when not given, the provider registered
ahead of Stripe for CNY, its notification route on the HTTP app; bad settings refused in one line
that names them and shows no secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import App
from bot.config import ConfigError, load_config
from bot.http import HttpServer
from bot.payments.wechatpay_notify import PATH
from bot.payments.wechatpay_setup import merchant_keys, start_wechatpay
from tests.wechatpay_peer import FakeWeChatPay

APIV3 = "0123456789abcdef0123456789abcdef"


def env(tmp_path: Path, fake: FakeWeChatPay, **more: str) -> dict[str, str]:
    key = tmp_path / "apiclient_key.pem"
    key.write_text(fake.merchant_private_key_pem, encoding="ascii")
    return {
        "WECHATPAY_MCHID": fake.mchid,
        "WECHATPAY_CERT_SERIAL": fake.merchant_serial,
        "WECHATPAY_PRIVATE_KEY_FILE": str(key),
        "WECHATPAY_APIV3_KEY": APIV3,
        "STUDYHALL_PUBLIC_URL": "https://learn.example.org",
        "WECHAT_APP_ID": "wx0123456789abcdef",
        "WECHAT_APP_SECRET": "s",
        "WECHAT_TOKEN": "CallbackToken42",
        **more,
    }


def test_the_keys_come_from_their_files_and_the_app_id_from_the_official_account(tmp_path: Path) -> None:
    fake = FakeWeChatPay()
    public = tmp_path / "pub_key.pem"
    public.write_text(fake.platform_public_key_pem, encoding="ascii")
    config = load_config(
        env(tmp_path, fake, WECHATPAY_PUBLIC_KEY_FILE=str(public), WECHATPAY_PUBLIC_KEY_ID=fake.public_key_id)
    )

    keys = merchant_keys(config, config.payment_settings["wechatpay"])

    assert (keys.mchid, keys.app_id, keys.apiv3_key) == (fake.mchid, "wx0123456789abcdef", APIV3)
    assert (
        keys.private_key == fake.merchant_private_key_pem and keys.public_key == fake.platform_public_key_pem
    )
    assert (
        keys.notify_url == f"https://learn.example.org{PATH}"
        and keys.api_base == "https://api.mch.weixin.qq.com"
    )
    assert APIV3 not in repr(config)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"WECHATPAY_PRIVATE_KEY_FILE": "/nowhere/key.pem"}, "WECHATPAY_PRIVATE_KEY_FILE"),
        ({"WECHATPAY_APIV3_KEY": "short"}, "WECHATPAY_APIV3_KEY"),
        ({"WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_1"}, "WECHATPAY_PUBLIC_KEY_FILE"),
        ({"WECHATPAY_CERT_SERIAL": ""}, "WECHATPAY_CERT_SERIAL"),
    ],
)
def test_bad_settings_are_refused_naming_them(tmp_path: Path, change: dict[str, str], named: str) -> None:
    values = {**env(tmp_path, FakeWeChatPay()), **change}
    values = {k: v for k, v in values.items() if v}
    with pytest.raises(ConfigError) as refused:
        load_config(values)
    assert named in str(refused.value) and "short" not in str(refused.value)


def test_without_an_app_id_wechat_pay_is_refused(tmp_path: Path) -> None:
    values = {k: v for k, v in env(tmp_path, FakeWeChatPay()).items() if not k.startswith("WECHAT_")}
    with pytest.raises(ConfigError, match="WECHATPAY_APP_ID"):
        load_config(values)


async def test_started_it_takes_cny_orders_first_and_listens_for_notifications(
    app: App, tmp_path: Path
) -> None:
    config = load_config(env(tmp_path, FakeWeChatPay()))
    http = HttpServer("127.0.0.1", 0)

    start_wechatpay(app, config, http, config.payment_settings["wechatpay"])

    assert app.services.orders.provider_for("CNY").name == "wechatpay"
    assert app.services.orders.provider_for("USD").name == "sandbox"
    assert PATH in [route.resource.canonical for route in http.app.router.routes() if route.method == "POST"]
