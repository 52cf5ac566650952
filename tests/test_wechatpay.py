"""bot/payments/wechatpay*.py against the local WeChat Pay fake (tests/wechatpay_peer.py), in
both of WeChat Pay's verification modes: a CNY order's Native QR code in the chat, its payment
notification verified, decrypted and delivered once however often it comes, forgeries and the
probe refused, a wrong amount never delivered, refunds through the API, reconciliation of a
missed notification and the closing of an expired order, and JSAPI's parameters signed as
WeChat's client expects."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from bot.app import App
from bot.payments.wechatpay import qr_png
from bot.payments.wechatpay_notify import PATH
from core.catalog.money import Money
from core.clock import ManualClock
from core.events import UserRef
from core.members.models import Role
from core.orders.models import Status
from tests.conftest import ConsoleDriver
from tests.wechatpay_peer import FakeWeChatPay, Merchant, open_merchant

SETUP = (":as Mei creator", "/course add zh101 99 CNY 数据分析入门", ":as Ana", ":dm")


@pytest.fixture(params=["public_key", "certificate"])
async def merchant(request: pytest.FixtureRequest, app: App) -> AsyncIterator[Merchant]:
    async with open_merchant(app, FakeWeChatPay(mode=request.param)) as opened:
        yield opened


async def ordered(console: ConsoleDriver) -> list[str]:
    return await console(*SETUP, "/buy zh101")


async def test_a_cny_order_shows_wechat_pays_code_and_its_notification_delivers_once(
    app: App, console: ConsoleDriver, merchant: Merchant
) -> None:
    shown = await ordered(console)
    assert "bot> Order #1: 数据分析入门, CN¥99.00. It stays open for 60 minutes." in shown
    assert "bot> Scan the code with WeChat to pay CN¥99.00." in shown and "bot> [image: Order #1]" in shown
    order = await app.services.orders.get(1)
    method, path, _, body = merchant.fake.calls[-1]
    assert (method, path) == ("POST", "/v3/pay/transactions/native")
    assert body["out_trade_no"] == "studyhall-1" and body["amount"] == {"total": 9900, "currency": "CNY"}
    assert body["appid"] == merchant.fake.appid and body["notify_url"].endswith(PATH)
    assert order.provider == "wechatpay" and order.status is Status.PENDING

    paid = merchant.fake.pay("studyhall-1")
    note = merchant.fake.payment_notification("studyhall-1")
    assert await merchant.fake.deliver(merchant.notify_url, *note) == 204
    assert await merchant.fake.deliver(merchant.notify_url, *note) == 204  # WeChat Pay repeats it
    again = merchant.fake.payment_notification("studyhall-1")  # and under another notification id
    assert await merchant.fake.deliver(merchant.notify_url, *again) == 204

    order = await app.services.orders.get(1)
    assert (order.status, order.provider_ref) == (Status.FULFILLED, paid["transaction_id"])
    told = [line for line in console.printed() if "Payment received for order #1" in line]
    assert len(told) == 1


@pytest.mark.parametrize("forged", ["bad_signature", "probe", "another serial"])
async def test_a_notification_wechat_pay_did_not_sign_is_refused_and_changes_nothing(
    app: App, console: ConsoleDriver, merchant: Merchant, forged: str
) -> None:
    await ordered(console)
    merchant.fake.pay("studyhall-1")
    options = {
        "bad_signature": {"bad_signature": True},
        "probe": {"probe": True},
        "another serial": {"serial": "PUB_KEY_ID_0119999999999999999999999999999"},
    }[forged]
    body, headers = merchant.fake.payment_notification("studyhall-1", **options)

    assert await merchant.fake.deliver(merchant.notify_url, body, headers) == 401
    assert (await app.services.orders.get(1)).status is Status.PENDING


async def test_a_wrong_amount_is_not_delivered_and_a_refund_before_its_payment_is_answered(
    app: App, console: ConsoleDriver, merchant: Merchant
) -> None:
    await ordered(console)
    transaction = merchant.fake.pay("studyhall-1")
    cheap = {**transaction, "amount": {**transaction["amount"], "total": 1}}
    body, headers = merchant.fake.notification("TRANSACTION.SUCCESS", cheap)
    assert await merchant.fake.deliver(merchant.notify_url, body, headers) == 204
    assert (await app.services.orders.get(1)).status is Status.PENDING  # left for a creator

    refund = {"out_trade_no": "studyhall-1", "refund_id": "50300000001", "refund_status": "SUCCESS"}
    early = merchant.fake.notification("REFUND.SUCCESS", refund)
    assert await merchant.fake.deliver(merchant.notify_url, *early) == 204
    assert await app.services.orders.event_seen("wechatpay", "refund:50300000001")


async def test_a_creator_refunds_in_part_then_in_full_through_the_api(
    app: App, console: ConsoleDriver, merchant: Merchant
) -> None:
    await ordered(console)
    merchant.fake.pay("studyhall-1")
    await merchant.fake.deliver(merchant.notify_url, *merchant.fake.payment_notification("studyhall-1"))

    part = await console(":as Mei", "/refund 1 30")
    rest = await console("/refund 1")

    refunds = [body for method, path, _, body in merchant.fake.calls if path == "/v3/refund/domestic/refunds"]
    assert [r["amount"]["refund"] for r in refunds] == [3000, 6900]
    assert [r["out_refund_no"] for r in refunds] == ["studyhall-1-r3000", "studyhall-1-r9900"]
    assert all(r["amount"]["total"] == 9900 for r in refunds)
    assert (
        part[1] == "bot> Refunded CN¥30.00 of order #1." and rest[0] == "bot> Refunded CN¥69.00 of order #1."
    )
    assert "bot> The course was taken back." in rest
    assert (await app.services.orders.get(1)).status is Status.REFUNDED


async def test_reconciliation_delivers_a_missed_payment_and_closes_an_expired_order(
    app: App, console: ConsoleDriver, merchant: Merchant, clock: ManualClock
) -> None:
    await ordered(console)
    await console(":as Mei", "/course add zh102 49 CNY 第二门课", ":as Ben", ":dm", "/buy zh102")
    merchant.fake.pay("studyhall-1")  # paid, but its notification never came
    since = clock.now() - timedelta(hours=1)
    clock.advance(timedelta(hours=2))  # order 2 expired unpaid

    delivered = await app.services.orders.reconcile(since)

    assert [f.order.id for f in delivered] == [1]
    assert merchant.fake.orders["studyhall-2"].trade_state == "CLOSED"
    assert ("POST", "/v3/pay/transactions/out-trade-no/studyhall-2/close") in [
        (method, path) for method, path, _, _ in merchant.fake.calls
    ]


async def test_inside_wechat_the_page_gets_jsapi_parameters_signed_for_the_followers_openid(
    app: App, merchant: Merchant
) -> None:
    community = await app.community()
    members = app.services.members
    follower = await members.ensure_member(community, UserRef("wechat", "o_follower_7", "微信用户"))
    mei = await members.assign_role(
        community,
        await members.ensure_member(community, UserRef("console", "mei", "Mei")),
        Role.CREATOR,
        via="t",
    )
    course = await app.services.catalog.add_course(
        community, mei, "zh101", Money("CNY", 9900), "数据分析入门"
    )
    order = await app.services.orders.order_course(community, follower, course)

    checkout = await app.services.orders.start_payment(order, on_web=True, in_wechat=True)

    _, path, _, body = merchant.fake.calls[-1]
    assert path == "/v3/pay/transactions/jsapi" and body["payer"] == {"openid": "o_follower_7"}
    client = checkout.client
    assert client is not None and client["appId"] == merchant.fake.appid and client["signType"] == "RSA"
    assert client["package"].startswith("prepay_id=wx")
    message = "\n".join([client["appId"], client["timeStamp"], client["nonceStr"], client["package"]]) + "\n"
    public = serialization.load_pem_private_key(
        merchant.fake.merchant_private_key_pem.encode(), None
    ).public_key()
    public.verify(  # type: ignore[union-attr]
        base64.b64decode(client["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    outside = await app.services.orders.start_payment(order, on_web=True)  # a desktop browser
    assert outside.image is not None and outside.client is None


def test_the_qr_code_is_a_png() -> None:
    assert qr_png("weixin://wxpay/bizpayurl?pr=abc")[:8] == b"\x89PNG\r\n\x1a\n"
