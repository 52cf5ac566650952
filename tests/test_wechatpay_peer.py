"""The WeChat Pay v3 fake, checked against the real client library (wechatpayv3's async client)
in both of WeChat Pay's verification modes: a platform public key, or platform certificates."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3.async_ import AsyncWeChatPay
from wechatpayv3.async_.type import RequestType, WeChatPayType
from wechatpayv3.utils import build_authorization, load_private_key, rsa_verify

from tests.telegram_peer import free_port
from tests.wechatpay_peer import (
    BILL_HEADER,
    BILL_SUMMARY_HEADER,
    CHINA,
    FakeWeChatPay,
    running_wechatpay,
)

NOTIFY_URL = "https://shop.example/wechatpay/notify"
DAY = datetime(2026, 12, 7, 10, 34, 56, tzinfo=CHINA)


@pytest.fixture(params=["public_key", "certificate"])
def fake(request: pytest.FixtureRequest) -> FakeWeChatPay:
    return FakeWeChatPay(mode=request.param)


@pytest.fixture
async def base(fake: FakeWeChatPay) -> AsyncIterator[str]:
    async with running_wechatpay(fake) as url:
        yield url


def make_client(fake: FakeWeChatPay, base: str, private_key_pem: str | None = None) -> AsyncWeChatPay:
    platform = {}
    if fake.mode == "public_key":
        platform = {"public_key": fake.platform_public_key_pem, "public_key_id": fake.public_key_id}
    client = AsyncWeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=fake.mchid,
        private_key=private_key_pem or fake.merchant_private_key_pem,
        cert_serial_no=fake.merchant_serial,
        appid=fake.appid,
        apiv3_key=fake.apiv3_key,
        notify_url=NOTIFY_URL,
        **platform,
    )
    # The library hard-codes https://api.mch.weixin.qq.com as _core._gate_way and offers no
    # option for another base; it prefixes every path with it at request time.
    client._core._gate_way = base
    return client


@pytest.fixture
async def client(fake: FakeWeChatPay, base: str) -> AsyncIterator[AsyncWeChatPay]:
    # entering opens the httpx client (needed in both modes) and, in certificate mode, downloads
    # the platform certificates, which the synchronous callback() verification relies on
    async with make_client(fake, base) as entered:
        yield entered


async def native_order(client: AsyncWeChatPay, out_trade_no: str, total: int = 990) -> tuple[int, dict]:
    code, text = await client.pay(
        description="Python 入门课", out_trade_no=out_trade_no, amount={"total": total, "currency": "CNY"}
    )
    return code, json.loads(text)


async def test_native_order_answers_a_signed_code_url(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    code, answer = await native_order(client, "SH1001")  # the library raises on a bad signature

    assert code == 200
    assert answer["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    method, path, query, body = fake.calls[-1]
    assert (method, path, query) == ("POST", "/v3/pay/transactions/native", {})
    assert body["out_trade_no"] == "SH1001" and body["notify_url"] == NOTIFY_URL
    assert body["appid"] == fake.appid and body["mchid"] == fake.mchid
    assert await native_order(client, "SH1001") == (200, answer)  # a repeat: the same answer

    code, refused = await native_order(client, "SH1001", total=1990)
    assert (code, refused["code"]) == (400, "INVALID_REQUEST")
    code, text = await client._core.request(
        "/v3/pay/transactions/native",
        method=RequestType.POST,
        data={"appid": fake.appid, "mchid": fake.mchid, "out_trade_no": "SH1002", "amount": {"total": 1}},
    )
    assert (code, json.loads(text)["code"]) == (400, "PARAM_ERROR")


async def test_responses_verify_with_the_platform_key_independently(fake: FakeWeChatPay, base: str) -> None:
    key = load_private_key(fake.merchant_private_key_pem)
    path = f"/v3/pay/transactions/out-trade-no/NOPE?mchid={fake.mchid}"
    auth = build_authorization(path, "GET", fake.mchid, fake.merchant_serial, key)
    async with httpx.AsyncClient() as http:
        response = await http.get(base + path, headers={"Authorization": auth})
        unsigned = await http.get(base + path)

    assert response.status_code == 404 and response.json()["code"] == "ORDER_NOT_EXIST"
    headers = response.headers
    assert headers["Wechatpay-Serial"] == fake.platform_serial
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    platform_key = serialization.load_pem_public_key(fake.platform_public_key_pem.encode())
    stamp, nonce, signature = (headers[f"Wechatpay-{h}"] for h in ("Timestamp", "Nonce", "Signature"))
    assert rsa_verify(stamp, nonce, response.text, signature, platform_key)
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "SIGN_ERROR")
    if fake.mode == "certificate":
        assert fake.platform_certificate is not None
        assert int("0x" + fake.platform_serial, 16) == fake.platform_certificate.serial_number
        assert len(fake.platform_serial) == 40


async def test_jsapi_order_answers_a_prepay_id(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    code, text = await client.pay(
        description="Python 入门课",
        out_trade_no="SH2001",
        amount={"total": 500, "currency": "CNY"},
        payer={"openid": "o_jsapi_1"},
        pay_type=WeChatPayType.JSAPI,
    )

    assert code == 200 and json.loads(text)["prepay_id"].startswith("wx")
    assert fake.calls[-1][1] == "/v3/pay/transactions/jsapi"
    code, text = await client.query(out_trade_no="SH2001")
    shown = json.loads(text)
    assert (shown["trade_type"], shown["trade_state"], shown["payer"]) == (
        "JSAPI",
        "NOTPAY",
        {"openid": "o_jsapi_1"},
    )


async def test_query_shows_a_payment(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    await native_order(client, "SH3001")
    code, text = await client.query(out_trade_no="SH3001")
    unpaid = json.loads(text)
    assert (code, unpaid["trade_state"], unpaid["trade_state_desc"]) == (200, "NOTPAY", "订单未支付")
    assert "transaction_id" not in unpaid and "success_time" not in unpaid

    paid = fake.pay("SH3001", payer_total=890, when=DAY)
    code, text = await client.query(out_trade_no="SH3001")
    shown = json.loads(text)

    assert code == 200 and shown == paid
    assert fake.calls[-1][2] == {"mchid": fake.mchid}
    assert shown["trade_state"] == "SUCCESS" and shown["trade_type"] == "NATIVE"
    assert shown["transaction_id"].startswith("420000123420261207") and len(shown["transaction_id"]) == 28
    assert shown["success_time"] == "2026-12-07T10:34:56+08:00"
    assert shown["payer"] == {"openid": "o_payer_1"}
    assert shown["amount"] == {"total": 990, "payer_total": 890, "currency": "CNY", "payer_currency": "CNY"}
    code, text = await client.query(transaction_id=shown["transaction_id"])
    assert code == 200 and json.loads(text)["out_trade_no"] == "SH3001"
    code, text = await client.query(out_trade_no="SH-unknown")
    assert (code, json.loads(text)["code"]) == (404, "ORDER_NOT_EXIST")


async def test_close(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    await native_order(client, "SH4001")
    await native_order(client, "SH4002")
    fake.pay("SH4002")

    # a 204 carries signature headers over the empty body, which the library verifies
    assert await client.close("SH4001") == (204, b"")
    assert fake.calls[-1] == (
        "POST",
        "/v3/pay/transactions/out-trade-no/SH4001/close",
        {},
        {"mchid": fake.mchid},
    )
    code, text = await client.query(out_trade_no="SH4001")
    assert json.loads(text)["trade_state"] == "CLOSED"
    code, text = await client.close("SH4002")
    assert (code, json.loads(text)["code"]) == (400, "ORDER_PAID")
    code, text = await native_order(client, "SH4001")
    assert (code, text["code"]) == (400, "ORDER_CLOSED")


async def test_refund(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    await native_order(client, "SH5001")
    transaction_id = fake.pay("SH5001")["transaction_id"]

    code, text = await client.refund(
        out_refund_no="RF5001", amount={"refund": 300, "total": 990, "currency": "CNY"}, out_trade_no="SH5001"
    )
    refund = json.loads(text)

    assert code == 200
    assert (refund["status"], refund["channel"], refund["transaction_id"]) == (
        "PROCESSING",
        "ORIGINAL",
        transaction_id,
    )
    assert refund["create_time"].endswith("+08:00") and len(refund["refund_id"]) == 29
    amount = refund["amount"]
    assert (amount["total"], amount["refund"], amount["payer_total"], amount["payer_refund"]) == (
        990,
        300,
        990,
        300,
    )
    again = await client.refund(
        out_refund_no="RF5001", amount={"refund": 300, "total": 990, "currency": "CNY"}, out_trade_no="SH5001"
    )
    assert json.loads(again[1])["refund_id"] == refund["refund_id"]
    code, text = await client.refund(
        out_refund_no="RF5002",
        amount={"refund": 700, "total": 990, "currency": "CNY"},
        transaction_id=transaction_id,
    )
    assert (code, json.loads(text)["code"]) == (400, "INVALID_REQUEST")  # only 690 left
    code, text = await client.query(out_trade_no="SH5001")
    assert json.loads(text)["trade_state"] == "REFUND"
    fake.complete_refund("RF5001")
    code, text = await client.query_refund("RF5001")
    assert (code, json.loads(text)["status"]) == (200, "SUCCESS")


async def test_trade_bill_download(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    for no in ("SH6001", "SH6002", "SH6003", "SH6004"):
        await native_order(client, no, total=1990)
    fake.pay("SH6001", when=DAY)
    fake.pay("SH6002", when=DAY.replace(hour=23, minute=30))
    fake.pay("SH6003", when=DAY + timedelta(days=1))  # another day's bill
    fake.add_bill_only("SH-ghost", 500, "2026-12-07")

    code, text = await client.trade_bill(bill_date="2026-12-07")
    bill = json.loads(text)
    assert code == 200 and bill["hash_type"] == "SHA1"
    assert bill["download_url"].startswith(f"{fake.base_url}/v3/billdownload/file?token=")
    code, data = await client.download_bill(bill["download_url"])

    assert code == 200 and isinstance(data, bytes)
    assert hashlib.sha1(data).hexdigest() == bill["hash_value"]
    assert fake.calls[-1][:3] == (
        "GET",
        "/v3/billdownload/file",
        {"token": bill["download_url"].split("=")[1]},
    )
    lines = gzip.decompress(data).decode().splitlines()
    assert lines[0] == BILL_HEADER and lines[-2] == BILL_SUMMARY_HEADER
    rows = [line.split(",") for line in lines[1:-2]]
    assert all(field.startswith("`") for row in rows for field in row)
    assert all(len(row) == len(BILL_HEADER.split(",")) for row in rows)
    rows = [[field[1:] for field in row] for row in rows]
    assert [row[6] for row in rows] == ["SH6001", "SH-ghost", "SH6002"]
    assert rows[0][:3] == ["2026-12-07 10:34:56", fake.appid, fake.mchid]
    assert rows[0][5] == fake.orders["SH6001"].transaction_id
    assert (rows[0][8], rows[0][9], rows[0][12], rows[0][24]) == ("NATIVE", "SUCCESS", "19.90", "19.90")
    assert rows[0][22:24] == ["0.12", "0.60%"]
    assert lines[-1].split(",") == ["`3", "`44.80", "`0.00", "`0.00", "`0.27", "`44.80", "`0.00"]

    code, text = await client.trade_bill(bill_date="2026-12-01")
    assert (code, json.loads(text)["code"]) == (400, "NO_STATEMENT_EXIST")
    code, text = await client.download_bill(f"{fake.base_url}/v3/billdownload/file?token=nope")
    assert code == 400


async def test_notifications_are_verified_and_decrypted(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    await native_order(client, "SH7001")
    paid = fake.pay("SH7001")
    await client.refund(
        out_refund_no="RF7001", amount={"refund": 990, "total": 990, "currency": "CNY"}, out_trade_no="SH7001"
    )

    taken = client.callback(*reversed(fake.payment_notification("SH7001")))
    assert taken is not None
    assert (taken["event_type"], taken["resource_type"], taken["summary"]) == (
        "TRANSACTION.SUCCESS",
        "encrypt-resource",
        "支付成功",
    )
    assert taken["resource"] == {**paid, "trade_state": "REFUND", "trade_state_desc": "转入退款"}
    taken = client.callback(*reversed(fake.refund_notification("RF7001")))
    assert taken is not None and taken["event_type"] == "REFUND.SUCCESS"
    resource = taken["resource"]
    assert (resource["refund_status"], resource["out_trade_no"], resource["amount"]["refund"]) == (
        "SUCCESS",
        "SH7001",
        990,
    )
    body, headers = fake.payment_notification("SH7001", probe=True)
    assert headers["Wechatpay-Signature"].startswith("WECHATPAY/SIGNTEST/")
    assert client.callback(headers, body) is None
    assert client.callback(*reversed(fake.payment_notification("SH7001", bad_signature=True))) is None
    tampered, headers = fake.payment_notification("SH7001")
    assert client.callback(headers, tampered.replace(b"encrypt-resource", b"encrypt-resourcf")) is None


async def test_notification_delivery_to_an_app(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    """deliver() POSTs as WeChat Pay does; the app hands aiohttp's headers to callback()."""

    async def notify(request: web.Request) -> web.Response:
        taken = client.callback(request.headers, await request.read())
        return web.json_response(status=200 if taken else 401)

    app = web.Application()
    app.router.add_post("/notify", notify)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/notify"
    try:
        await native_order(client, "SH8001")
        fake.pay("SH8001")
        assert await fake.deliver(url, *fake.payment_notification("SH8001")) == 200
        assert await fake.deliver(url, *fake.payment_notification("SH8001", probe=True)) == 401
    finally:
        await runner.cleanup()
    assert fake.deliveries == [(url, 200), (url, 401)]


async def test_certificate_mode_callback_needs_loaded_certificates(base: str, fake: FakeWeChatPay) -> None:
    """callback() verifies synchronously and cannot fetch certificates: before `async with` has
    loaded them it refuses even a good notification (public-key mode needs no download)."""
    client = make_client(fake, base)
    body, headers = fake.notification("TRANSACTION.SUCCESS", {"out_trade_no": "SH9001"})
    before = client.callback(headers, body)
    async with client:
        after = client.callback(headers, body)

    assert after is not None and after["resource"] == {"out_trade_no": "SH9001"}
    if fake.mode == "certificate":
        assert before is None
        assert [c[1] for c in fake.calls] == ["/v3/certificates"]
    else:
        assert before is not None and fake.calls == []


async def test_a_wrong_merchant_key_gets_401(fake: FakeWeChatPay, base: str) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    client = make_client(fake, base, private_key_pem=pem)
    if fake.mode == "certificate":
        # the certificate download is refused, so the client cannot even start
        with pytest.raises(Exception, match="No wechatpay platform certificate"):
            await client.__aenter__()
        await client._core._client.aclose()  # __aenter__ opened it before failing
        assert fake.calls[-1][1] == "/v3/certificates"
        return
    async with client:
        code, text = await native_order(client, "SH10001")
    assert (code, text["code"]) == (401, "SIGN_ERROR")
    assert "SH10001" not in fake.orders


async def test_wrongly_signed_responses_are_refused(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    fake.sign_responses_wrongly = True
    with pytest.raises(Exception, match="failed to verify the signature"):
        await native_order(client, "SH11001")
    fake.sign_responses_wrongly = False
    assert (await native_order(client, "SH11002"))[0] == 200


async def test_queued_errors_answer_once(fake: FakeWeChatPay, client: AsyncWeChatPay) -> None:
    fake.errors["/v3/pay/transactions/native"] = [(500, "SYSTEM_ERROR")]

    code, text = await native_order(client, "SH12001")
    assert (code, text["code"]) == (500, "SYSTEM_ERROR")
    assert (await native_order(client, "SH12001"))[0] == 200
