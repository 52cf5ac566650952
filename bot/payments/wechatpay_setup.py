"""WeChat Pay from the configuration: the merchant's keys read from their files, the provider
registered for CNY orders (before Stripe, whose WeChat Pay mainland merchants cannot use), and
the notification route on the HTTP app."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.app import App
from bot.config import Config, Secret
from bot.http import HttpServer
from bot.payments.wechatpay import WeChatPayProvider
from bot.payments.wechatpay_client import MerchantKeys, WeChatPayClient
from bot.payments.wechatpay_notify import PATH, WeChatPayNotify

WECHAT = "wechat"  # the Official Account's platform: its openids are JSAPI's payers


def merchant_keys(config: Config, settings: Mapping[str, str | Secret]) -> MerchantKeys:
    def text(key: str) -> str | None:
        value = settings.get(key)
        return (value.reveal() if isinstance(value, Secret) else value) or None

    public_key_file = text("public_key_file")
    app_id = text("app_id") or str(config.adapter_settings.get(WECHAT, {}).get("app_id") or "")
    return MerchantKeys(
        mchid=str(text("mchid")),
        cert_serial=str(text("cert_serial")),
        private_key=Path(str(text("private_key_file"))).read_text(encoding="ascii"),
        apiv3_key=str(text("apiv3_key")),
        app_id=app_id,
        notify_url=f"{str(text('public_url')).rstrip('/')}{PATH}",
        public_key=Path(public_key_file).read_text(encoding="ascii") if public_key_file else None,
        public_key_id=text("public_key_id"),
        api_base=text("api_base") or "https://api.mch.weixin.qq.com",
    )


def wechatpay_provider(app: App, keys: MerchantKeys) -> WeChatPayProvider:
    async def openid_of(member_id: int) -> str | None:
        identities = await app.services.members.identities_of(member_id)
        return next((i.external_id for i in identities if i.platform == WECHAT), None)

    return WeChatPayProvider(WeChatPayClient(keys), app.services.orders, app.clock, openid_of)


def start_wechatpay(app: App, config: Config, http: HttpServer, settings: Mapping[str, str | Secret]) -> None:
    provider = wechatpay_provider(app, merchant_keys(config, settings))
    app.services.orders.register(provider, first=True)
    WeChatPayNotify(app, provider).install(http)
