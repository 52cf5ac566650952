"""WeChat Pay has no sandbox for API v3: a local fake of api.mch.weixin.qq.com for the calls
studyhall makes (Native and JSAPI orders, query, close, refunds, trade bills, platform
certificates), with the real v3 signatures both ways, and notifications as WeChat Pay POSTs them.

Requests must carry a merchant ``Authorization`` signature; answers are signed with the
platform key, announced by ``Wechatpay-Serial`` as a public key id (``mode="public_key"``) or
as a platform certificate's serial number (``mode="certificate"``, served at /v3/certificates).
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import hashlib
import itertools
import json
import re
import secrets
import string
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from bot.app import App
from bot.http import HttpServer
from bot.payments.wechatpay import WeChatPayProvider
from bot.payments.wechatpay_client import MerchantKeys
from bot.payments.wechatpay_notify import PATH, WeChatPayNotify
from bot.payments.wechatpay_setup import wechatpay_provider
from tests.telegram_peer import free_port

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST: a fixed +08:00 is exact
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
SIGN_SKEW = 300  # WeChat Pay refuses an Authorization timestamp more than 5 minutes off

BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
BILL_SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
FEE_RATE_PER_MILLE = 6  # 0.60%, the usual rate for virtual goods

TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
}
SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
}

Handler = Callable[[web.Request, Any], Awaitable[web.Response]]


class WeChatPayError(Exception):
    """Answered as WeChat Pay's error body ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Order:
    request: dict[str, Any]  # the body as first sent: a repeat must match it
    trade_type: str
    answer: dict[str, str]  # the code_url or prepay_id, returned again on a repeat
    trade_state: str = "NOTPAY"
    openid: str | None = None
    transaction_id: str | None = None
    success_time: datetime | None = None
    payer_total: int | None = None
    refunded: int = 0  # asked back so far, in fen


@dataclass
class Refund:
    request: dict[str, Any]
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    refund: int
    total: int
    payer_total: int
    payer_refund: int
    currency: str
    create_time: datetime
    status: str = "PROCESSING"
    success_time: datetime | None = None


@dataclass(frozen=True)
class BillRow:
    """One payment line of a trade bill."""

    time: datetime
    transaction_id: str
    out_trade_no: str
    openid: str
    trade_type: str
    total: int
    description: str
    attach: str = ""


def rfc3339(moment: datetime) -> str:
    """China time as WeChat Pay writes it: ``2026-12-07T10:34:56+08:00``."""
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _random(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@functools.cache
def _rsa_key(role: str) -> rsa.RSAPrivateKey:
    """One key per role for the whole test run: an RSA-2048 key costs ~40 ms to make, and every
    fake has the same merchant and platform keys (its certificate serial and APIv3 key differ)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def _aes_encrypt(apiv3_key: str, plaintext: str, associated_data: str) -> tuple[str, str]:
    """AEAD_AES_256_GCM with the APIv3 key, as WeChat Pay seals resources: (nonce, ciphertext)."""
    nonce = _random(12)
    sealed = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext.encode(), associated_data.encode())
    return nonce, base64.b64encode(sealed).decode()


def _as_day(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(day)


class FakeWeChatPay:
    """Answers like https://api.mch.weixin.qq.com for WeChat Pay API v3, and records every call.

    ``calls`` holds (method, path, query, JSON body or None). ``errors`` maps a request path
    (``/v3/pay/transactions/native``) to (status, code) answers, one per matching call.
    """

    def __init__(self, mode: Literal["public_key", "certificate"] = "public_key") -> None:
        if mode not in ("public_key", "certificate"):
            raise ValueError(f"mode must be 'public_key' or 'certificate', not {mode!r}")
        self.mode = mode
        self.mchid = "1900000109"
        self.appid = "wx0123456789abcdef"
        self.apiv3_key = secrets.token_hex(16)  # 32 characters, used as the AES-256 key's bytes
        self.merchant_serial = "3775B6A45ACD588826D15E583A95F5DD00000001"
        self._merchant_key = _rsa_key("merchant")
        self.merchant_private_key_pem = self._merchant_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._platform_key = _rsa_key("platform")
        self.platform_public_key_pem = (
            self._platform_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self.public_key_id = "PUB_KEY_ID_0119000000000000000000000000001"
        self.platform_certificate: x509.Certificate | None = None
        self.platform_certificate_pem: str | None = None
        if mode == "certificate":
            self.platform_certificate = self._make_certificate()
            self.platform_certificate_pem = self.platform_certificate.public_bytes(
                serialization.Encoding.PEM
            ).decode()
            # upper-case hex without padding: what the library makes of cert.serial_number
            self.platform_serial = format(self.platform_certificate.serial_number, "X")
        else:
            self.platform_serial = self.public_key_id

        self.base_url = ""  # set by running_wechatpay; bill download URLs start with it
        self.calls: list[tuple[str, str, dict[str, str], Any]] = []
        self.errors: dict[str, list[tuple[int, str]]] = {}
        self.sign_responses_wrongly = False
        self.orders: dict[str, Order] = {}  # by out_trade_no
        self.refunds: dict[str, Refund] = {}  # by out_refund_no
        self.bill_only: list[BillRow] = []
        self.deliveries: list[tuple[str, int]] = []  # (notify URL, HTTP status) per deliver()
        self._bills: dict[str, bytes] = {}  # download token: the gzip file
        self._numbers = itertools.count(1)

    # -- keys ---------------------------------------------------------------------------------

    def _make_certificate(self) -> x509.Certificate:
        now = datetime.now(tz=CHINA)
        # 157 bits: 40 hex digits like real platform serials, and still a positive 20-octet DER integer
        serial = secrets.randbits(156) | (1 << 156)
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (fake)")])
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com sign"),
            ]
        )
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(self._platform_key.public_key())
            .serial_number(serial)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(self._platform_key, hashes.SHA256())
        )

    @property
    def impostor_key(self) -> rsa.RSAPrivateKey:
        """Some other key, for signatures the client must refuse."""
        return _rsa_key("impostor")

    def signature_headers(self, body: str, *, key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:
        """The ``Wechatpay-*`` headers over ``body``, signed with ``key`` (default: the platform's)."""
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16).upper()
        signature = _rsa_sign(key or self._platform_key, f"{timestamp}\n{nonce}\n{body}\n")
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        }

    # -- HTTP -----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        routes: list[tuple[str, str, Handler]] = [
            ("POST", "/v3/pay/transactions/native", self._native),
            ("POST", "/v3/pay/transactions/jsapi", self._jsapi),
            ("GET", "/v3/pay/transactions/out-trade-no/{out_trade_no}", self._query),
            ("GET", "/v3/pay/transactions/id/{transaction_id}", self._query_by_id),
            ("POST", "/v3/pay/transactions/out-trade-no/{out_trade_no}/close", self._close),
            ("POST", "/v3/refund/domestic/refunds", self._refund),
            ("GET", "/v3/refund/domestic/refunds/{out_refund_no}", self._query_refund),
            ("GET", "/v3/bill/tradebill", self._trade_bill),
            ("GET", "/v3/billdownload/file", self._download),
            ("GET", "/v3/certificates", self._certificates),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._wrap(handler))
        return app

    def _wrap(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            raw = await request.text()  # read once already: aiohttp keeps it
            try:
                return await handler(request, json.loads(raw) if raw else None)
            except WeChatPayError as error:
                return self._answer(error.status, {"code": error.code, "message": error.message})

        return route

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Record the call, check its Authorization, then answer a queued error or the route."""
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.calls.append((request.method, request.path, dict(request.query), body))
        refusal = self._check_authorization(request, raw)
        if refusal is not None:
            return self._answer(401, {"code": "SIGN_ERROR", "message": refusal})
        queued = self.errors.get(request.path)
        if queued:
            status, code = queued.pop(0)
            return self._answer(status, {"code": code, "message": f"fake error {code}"})
        if isinstance(body, str):
            return self._answer(400, {"code": "PARAM_ERROR", "message": "请求体不是合法的JSON"})
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return self._answer(404, {"code": "NOT_FOUND", "message": "请求的资源不存在"})
        except web.HTTPMethodNotAllowed:
            return self._answer(405, {"code": "NOT_FOUND", "message": "请求方法不支持"})

    def _check_authorization(self, request: web.Request, body: str) -> str | None:
        """Why the request's merchant signature is refused, or None when it holds."""
        header = request.headers.get("Authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme != SIGNATURE_TYPE:
            return "Authorization不合法: 缺少或不支持的认证类型"
        fields = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if fields.get("mchid") != self.mchid:
            return "商户号不匹配"
        if fields.get("serial_no", "").upper() != self.merchant_serial:
            return "商户证书序列号有误"
        timestamp, nonce = fields.get("timestamp", ""), fields.get("nonce_str", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > SIGN_SKEW:
            return "请求时间戳已过期"
        if not nonce:
            return "缺少随机串"
        # the path as sent, query string included: what the client signed
        message = f"{request.method}\n{request.raw_path}\n{timestamp}\n{nonce}\n{body}\n"
        try:
            signature = base64.b64decode(fields.get("signature", ""), validate=True)
            self._merchant_key.public_key().verify(
                signature, message.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (binascii.Error, ValueError, InvalidSignature):
            return "错误的签名，验签失败"
        return None

    def _answer(self, status: int, payload: dict[str, Any] | None) -> web.Response:
        """A JSON answer (or none, for 204) signed over its exact body text."""
        text = "" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        headers = self.signature_headers(text, key=self.impostor_key if self.sign_responses_wrongly else None)
        headers["Request-ID"] = uuid.uuid4().hex.upper()
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.Response(status=status, text=text, content_type="application/json", headers=headers)

    # -- orders ---------------------------------------------------------------------------------

    async def _native(self, request: web.Request, body: Any) -> web.Response:
        return self._create_order(body, "NATIVE")

    async def _jsapi(self, request: web.Request, body: Any) -> web.Response:
        return self._create_order(body, "JSAPI")

    def _create_order(self, body: Any, trade_type: str) -> web.Response:
        body = _object(body)
        for name in ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount"):
            _require(body, name)
        amount = _object(body["amount"], "amount")
        total = amount.get("total")
        if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
            raise WeChatPayError(400, "PARAM_ERROR", "输入源“/body/amount/total”映射到值字段“总金额”校验失败")
        if trade_type == "JSAPI" and not _object(body.get("payer") or {}, "payer").get("openid"):
            raise _missing("payer/openid")
        if body["mchid"] != self.mchid:
            raise WeChatPayError(400, "MCH_NOT_EXISTS", "商户号不存在")
        if body["appid"] != self.appid:
            raise WeChatPayError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        out_trade_no = str(body["out_trade_no"])
        order = self.orders.get(out_trade_no)
        if order is not None:
            if order.trade_state == "CLOSED":
                raise WeChatPayError(400, "ORDER_CLOSED", "订单已关闭")
            if order.trade_state != "NOTPAY":
                raise WeChatPayError(400, "ORDER_PAID", "订单已支付")
            if order.request != body or order.trade_type != trade_type:
                raise WeChatPayError(400, "INVALID_REQUEST", "201 商户订单号重复")
            return self._answer(200, order.answer)
        now = datetime.now(tz=CHINA)
        if trade_type == "NATIVE":
            answer = {"code_url": f"weixin://wxpay/bizpayurl?pr={_random(9)}"}
            openid = None
        else:
            answer = {"prepay_id": f"wx{now:%d%H%M%S}{secrets.token_hex(13)}"}
            openid = body["payer"]["openid"]
        self.orders[out_trade_no] = Order(request=body, trade_type=trade_type, answer=answer, openid=openid)
        return self._answer(200, answer)

    def _order(self, out_trade_no: str) -> Order:
        order = self.orders.get(out_trade_no)
        if order is None:
            raise WeChatPayError(404, "ORDER_NOT_EXIST", "订单不存在")
        return order

    def _check_mchid_query(self, request: web.Request) -> None:
        if "mchid" not in request.query:
            raise _missing("mchid", "query")
        if request.query["mchid"] != self.mchid:
            raise WeChatPayError(400, "PARAM_ERROR", "商户号与订单不匹配")

    async def _query(self, request: web.Request, body: Any) -> web.Response:
        self._check_mchid_query(request)
        return self._answer(200, self.transaction(request.match_info["out_trade_no"]))

    async def _query_by_id(self, request: web.Request, body: Any) -> web.Response:
        self._check_mchid_query(request)
        wanted = request.match_info["transaction_id"]
        for out_trade_no, order in self.orders.items():
            if order.transaction_id == wanted:
                return self._answer(200, self.transaction(out_trade_no))
        raise WeChatPayError(404, "ORDER_NOT_EXIST", "订单不存在")

    async def _close(self, request: web.Request, body: Any) -> web.Response:
        body = _object(body)
        _require(body, "mchid")
        if body["mchid"] != self.mchid:
            raise WeChatPayError(400, "PARAM_ERROR", "商户号与订单不匹配")
        order = self._order(request.match_info["out_trade_no"])
        if order.trade_state in ("SUCCESS", "REFUND"):
            raise WeChatPayError(400, "ORDER_PAID", "订单已支付")
        order.trade_state = "CLOSED"  # closing a closed order again is fine, as at WeChat Pay
        return self._answer(204, None)

    def transaction(self, out_trade_no: str) -> dict[str, Any]:
        """The order as GET /v3/pay/transactions/out-trade-no/{out_trade_no} shows it."""
        order = self._order(out_trade_no)
        request = order.request
        currency = request["amount"].get("currency", "CNY")
        amount: dict[str, Any] = {"total": request["amount"]["total"], "currency": currency}
        view: dict[str, Any] = {
            "appid": request["appid"],
            "mchid": request["mchid"],
            "out_trade_no": out_trade_no,
            "trade_type": order.trade_type,
            "trade_state": order.trade_state,
            "trade_state_desc": TRADE_STATE_DESC[order.trade_state],
            "attach": request.get("attach", ""),
            "payer": {"openid": order.openid} if order.openid else {},
            "amount": amount,
        }
        if order.success_time is not None:
            view["transaction_id"] = order.transaction_id
            view["bank_type"] = "OTHERS"
            view["success_time"] = rfc3339(order.success_time)
            amount["payer_total"] = order.payer_total
        amount["payer_currency"] = currency
        return view

    # -- refunds --------------------------------------------------------------------------------

    async def _refund(self, request: web.Request, body: Any) -> web.Response:
        body = _object(body)
        _require(body, "out_refund_no")
        _require(body, "amount")
        amount = _object(body["amount"], "amount")
        for name in ("refund", "total", "currency"):
            if name not in amount:
                raise _missing(f"amount/{name}")
        refund_fen, total = amount["refund"], amount["total"]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in (refund_fen, total)):
            raise WeChatPayError(400, "PARAM_ERROR", "退款金额或订单金额必须为正整数")
        out_refund_no = str(body["out_refund_no"])
        known = self.refunds.get(out_refund_no)
        if known is not None:
            if (known.refund, known.total) != (refund_fen, total):
                raise WeChatPayError(
                    400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试"
                )
            return self._answer(200, self.refund_view(out_refund_no))
        order = self._order_for_refund(body)
        if order.success_time is None or order.transaction_id is None or order.payer_total is None:
            raise WeChatPayError(400, "INVALID_REQUEST", "订单未支付，无法退款")
        order_total = order.request["amount"]["total"]
        if total != order_total:
            raise WeChatPayError(400, "INVALID_REQUEST", "订单金额与原订单金额不一致")
        if amount["currency"] != order.request["amount"].get("currency", "CNY"):
            raise WeChatPayError(400, "PARAM_ERROR", "币种与原订单不一致")
        if refund_fen > order_total - order.refunded:
            raise WeChatPayError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        order.refunded += refund_fen
        order.trade_state = "REFUND"
        now = datetime.now(tz=CHINA)
        self.refunds[out_refund_no] = Refund(
            request=body,
            out_refund_no=out_refund_no,
            refund_id=f"50300001234{now:%Y%m%d}{next(self._numbers):010d}",
            out_trade_no=order.request["out_trade_no"],
            transaction_id=order.transaction_id,
            refund=refund_fen,
            total=order_total,
            payer_total=order.payer_total,
            # the payer gets back their share: less than ``refund`` when a coupon paid part
            payer_refund=refund_fen * order.payer_total // order_total,
            currency=amount["currency"],
            create_time=now,
        )
        return self._answer(200, self.refund_view(out_refund_no))

    def _order_for_refund(self, body: dict[str, Any]) -> Order:
        if body.get("transaction_id"):
            for order in self.orders.values():
                if order.transaction_id == body["transaction_id"]:
                    return order
        elif body.get("out_trade_no"):
            order = self.orders.get(str(body["out_trade_no"]))
            if order is not None:
                return order
        else:
            raise _missing("transaction_id")
        raise WeChatPayError(404, "RESOURCE_NOT_EXISTS", "订单不存在")

    async def _query_refund(self, request: web.Request, body: Any) -> web.Response:
        if request.match_info["out_refund_no"] not in self.refunds:
            raise WeChatPayError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self._answer(200, self.refund_view(request.match_info["out_refund_no"]))

    def refund_view(self, out_refund_no: str) -> dict[str, Any]:
        """The refund as POST /v3/refund/domestic/refunds answers it."""
        refund = self.refunds[out_refund_no]
        view: dict[str, Any] = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": refund.transaction_id,
            "out_trade_no": refund.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(refund.create_time),
            "status": refund.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.payer_total,
                "payer_refund": refund.payer_refund,
                "settlement_total": refund.total,
                "settlement_refund": refund.refund,
                "discount_refund": refund.refund - refund.payer_refund,
                "currency": refund.currency,
            },
        }
        if refund.success_time is not None:
            view["success_time"] = rfc3339(refund.success_time)
        return view

    # -- bills and certificates -----------------------------------------------------------------

    async def _trade_bill(self, request: web.Request, body: Any) -> web.Response:
        query = request.query
        if "bill_date" not in query:
            raise _missing("bill_date", "query")
        try:
            day = date.fromisoformat(query["bill_date"])
        except ValueError:
            raise WeChatPayError(400, "PARAM_ERROR", "bill_date格式错误，应为YYYY-MM-DD") from None
        if query.get("bill_type", "ALL") != "ALL" or query.get("tar_type", "GZIP") != "GZIP":
            raise WeChatPayError(400, "PARAM_ERROR", "本地替身只提供 bill_type=ALL、tar_type=GZIP 的账单")
        if not self.bill_rows(day):
            raise WeChatPayError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        # mtime=0: the same day's bill gives the same bytes, so the same SHA1
        data = gzip.compress(self.bill_text(day).encode(), mtime=0)
        token = secrets.token_urlsafe(32)
        self._bills[token] = data
        base = self.base_url or f"{request.scheme}://{request.host}"
        return self._answer(
            200,
            {
                "hash_type": "SHA1",
                "hash_value": hashlib.sha1(data).hexdigest(),
                "download_url": f"{base}/v3/billdownload/file?token={token}",
            },
        )

    async def _download(self, request: web.Request, body: Any) -> web.Response:
        data = self._bills.get(request.query.get("token", ""))
        if data is None:
            raise WeChatPayError(400, "INVALID_REQUEST", "账单下载链接无效或已过期")
        # the file itself: not JSON and not signed (the client checks hash_value instead)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _certificates(self, request: web.Request, body: Any) -> web.Response:
        if self.platform_certificate is None or self.platform_certificate_pem is None:
            raise WeChatPayError(404, "NOT_FOUND", "此商户使用微信支付公钥验签，无平台证书")
        nonce, ciphertext = _aes_encrypt(self.apiv3_key, self.platform_certificate_pem, "certificate")
        cert = self.platform_certificate
        entry = {
            "serial_no": self.platform_serial,
            "effective_time": rfc3339(cert.not_valid_before_utc),
            "expire_time": rfc3339(cert.not_valid_after_utc),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": "certificate",
                "ciphertext": ciphertext,
            },
        }
        return self._answer(200, {"data": [entry]})

    def bill_rows(self, day: date | str) -> list[BillRow]:
        """The payments of ``day`` (China time) a trade bill lists, oldest first."""
        day = _as_day(day)
        rows = list(self.bill_only)
        for order in self.orders.values():
            if order.success_time is None or order.transaction_id is None:
                continue
            rows.append(
                BillRow(
                    time=order.success_time,
                    transaction_id=order.transaction_id,
                    out_trade_no=order.request["out_trade_no"],
                    openid=order.openid or "",
                    trade_type=order.trade_type,
                    total=order.request["amount"]["total"],
                    description=order.request["description"],
                    attach=order.request.get("attach", ""),
                )
            )
        return sorted((r for r in rows if r.time.astimezone(CHINA).date() == day), key=lambda r: r.time)

    def bill_text(self, day: date | str) -> str:
        """The ``ALL`` trade bill of ``day`` in WeChat Pay's CSV: every field after a backtick.

        Only payment lines: refunds are not listed, so the refund totals are 0.00.
        """
        rows = self.bill_rows(day)
        lines = [BILL_HEADER]
        for row in rows:
            amount = yuan(row.total)
            fields = [
                row.time.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
                self.appid,
                self.mchid,
                "0",  # 特约商户号: 0 for a direct merchant
                "",
                row.transaction_id,
                row.out_trade_no,
                row.openid,
                row.trade_type,
                "SUCCESS",
                "OTHERS",
                "CNY",
                amount,
                "0.00",
                "0",
                "0",
                "0.00",
                "0.00",
                "",
                "",
                row.description,
                row.attach,
                yuan(_fee(row.total)),
                f"{FEE_RATE_PER_MILLE / 10:.2f}%",
                amount,
                "0.00",
                "",
            ]
            lines.append(",".join(f"`{value}" for value in fields))
        total = sum(r.total for r in rows)
        fees = sum(_fee(r.total) for r in rows)
        lines.append(BILL_SUMMARY_HEADER)
        summary = [str(len(rows)), yuan(total), "0.00", "0.00", yuan(fees), yuan(total), "0.00"]
        lines.append(",".join(f"`{value}" for value in summary))
        return "\r\n".join(lines) + "\r\n"

    # -- test-side controls ---------------------------------------------------------------------

    def pay(
        self,
        out_trade_no: str,
        *,
        openid: str = "o_payer_1",
        payer_total: int | None = None,
        when: datetime | None = None,
    ) -> dict[str, Any]:
        """The payer pays: the order turns SUCCESS. A JSAPI order keeps the payer it was made for;
        ``payer_total`` below the total stands for a coupon; a naive ``when`` is China time."""
        order = self._order(out_trade_no)
        if order.trade_state == "CLOSED":
            raise ValueError(f"order {out_trade_no} is closed and cannot be paid")
        if order.success_time is None:
            moment = when or datetime.now(tz=CHINA)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=CHINA)
            order.success_time = moment.astimezone(CHINA)
            order.transaction_id = f"4200001234{order.success_time:%Y%m%d}{next(self._numbers):010d}"
            order.openid = order.openid or openid
            order.payer_total = order.request["amount"]["total"] if payer_total is None else payer_total
            order.trade_state = "SUCCESS"
        return self.transaction(out_trade_no)

    def complete_refund(self, out_refund_no: str, *, when: datetime | None = None) -> dict[str, Any]:
        """The refund reaches the payer: status SUCCESS."""
        refund = self.refunds[out_refund_no]
        if refund.success_time is None:
            moment = when or datetime.now(tz=CHINA)
            refund.success_time = (moment if moment.tzinfo else moment.replace(tzinfo=CHINA)).astimezone(
                CHINA
            )
            refund.status = "SUCCESS"
        return self.refund_view(out_refund_no)

    def add_bill_only(
        self,
        out_trade_no: str,
        total: int,
        day: date | str,
        *,
        openid: str = "o_payer_1",
        trade_type: str = "NATIVE",
        description: str = "bill only",
    ) -> BillRow:
        """A payment that only the trade bill of ``day`` knows (noon, China time)."""
        moment = datetime.combine(_as_day(day), datetime.min.time(), CHINA) + timedelta(hours=12)
        row = BillRow(
            time=moment,
            transaction_id=f"4200001234{moment:%Y%m%d}{next(self._numbers):010d}",
            out_trade_no=out_trade_no,
            openid=openid,
            trade_type=trade_type,
            total=total,
            description=description,
        )
        self.bill_only.append(row)
        return row

    def notification(
        self,
        event_type: str,
        resource: dict[str, Any],
        *,
        bad_signature: bool = False,
        probe: bool = False,
        serial: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers WeChat Pay POSTs to a notify_url for ``resource``.

        ``probe``: WeChat Pay's deliberate mis-signed probe (the merchant must refuse it);
        ``bad_signature``: signed with another key; ``serial``: another ``Wechatpay-Serial``.
        """
        kind = "transaction" if event_type.startswith("TRANSACTION.") else "refund"
        nonce, ciphertext = _aes_encrypt(self.apiv3_key, json.dumps(resource, ensure_ascii=False), kind)
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": rfc3339(datetime.now(tz=CHINA)),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": SUMMARIES.get(event_type, event_type),
            "resource": {
                "original_type": kind,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": kind,
                "nonce": nonce,
            },
        }
        text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        headers = self.signature_headers(text, key=self.impostor_key if bad_signature else None)
        if probe:
            noise = base64.b64encode(secrets.token_bytes(192)).decode()
            headers["Wechatpay-Signature"] = f"WECHATPAY/SIGNTEST/{noise}"
        if serial is not None:
            headers["Wechatpay-Serial"] = serial
        return text.encode(), headers

    def payment_notification(self, out_trade_no: str, **kw: Any) -> tuple[bytes, dict[str, str]]:
        """TRANSACTION.SUCCESS for a paid order (call ``pay`` first)."""
        order = self._order(out_trade_no)
        if order.success_time is None:
            raise ValueError(f"order {out_trade_no} is not paid: call pay() first")
        return self.notification("TRANSACTION.SUCCESS", self.transaction(out_trade_no), **kw)

    def refund_notification(self, out_refund_no: str, **kw: Any) -> tuple[bytes, dict[str, str]]:
        """REFUND.SUCCESS for a refund, completing it first if it is still PROCESSING."""
        self.complete_refund(out_refund_no)
        refund = self.refunds[out_refund_no]
        assert refund.success_time is not None
        resource = {
            "mchid": self.mchid,
            "out_trade_no": refund.out_trade_no,
            "transaction_id": refund.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": "SUCCESS",
            "success_time": rfc3339(refund.success_time),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.payer_total,
                "payer_refund": refund.payer_refund,
            },
        }
        return self.notification("REFUND.SUCCESS", resource, **kw)

    async def deliver(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST a notification to the app under test, as WeChat Pay does; its HTTP status."""
        sent = {"Content-Type": "application/json", "User-Agent": "Mozilla/4.0", **headers}
        async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=sent) as response:
            await response.read()
            self.deliveries.append((url, response.status))
            return response.status


def _object(value: Any, name: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        where = f"/body/{name}" if name else "/body"
        raise WeChatPayError(400, "PARAM_ERROR", f"输入源“{where}”应为JSON对象")
    return value


def _missing(name: str, location: str = "body") -> WeChatPayError:
    return WeChatPayError(
        400,
        "PARAM_ERROR",
        f"输入源“/{location}/{name}”映射到值字段“{name}”必填性规则校验失败，此字段为必填项",
    )


def _require(body: dict[str, Any], name: str) -> None:
    if body.get(name) in (None, ""):
        raise _missing(name)


def _fee(total: int) -> int:
    """The handling fee in fen, rounded half up."""
    return (total * FEE_RATE_PER_MILLE + 500) // 1000


@asynccontextmanager
async def running_wechatpay(fake: FakeWeChatPay) -> AsyncIterator[str]:
    """The fake on 127.0.0.1; yields its base URL (``http://127.0.0.1:PORT``, no trailing slash)."""
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.base_url = f"http://127.0.0.1:{port}"
    try:
        yield fake.base_url
    finally:
        await runner.cleanup()


def merchant_keys_for(fake: FakeWeChatPay, base: str, notify_url: str) -> MerchantKeys:
    """The merchant settings studyhall's client needs to talk to ``fake`` at ``base``, in its mode."""
    public = fake.mode == "public_key"
    return MerchantKeys(
        mchid=fake.mchid,
        cert_serial=fake.merchant_serial,
        private_key=fake.merchant_private_key_pem,
        apiv3_key=fake.apiv3_key,
        app_id=fake.appid,
        notify_url=notify_url,
        public_key=fake.platform_public_key_pem if public else None,
        public_key_id=fake.public_key_id if public else None,
        api_base=base,
    )


@dataclass
class Merchant:
    """A merchant's WeChat Pay against the fake: the provider and its notification address."""

    fake: FakeWeChatPay
    provider: WeChatPayProvider
    notify_url: str


@asynccontextmanager
async def open_merchant(app: App, fake: FakeWeChatPay) -> AsyncIterator[Merchant]:
    """``fake`` running, the app's WeChat Pay provider on it, and its notification route."""
    async with running_wechatpay(fake) as base:
        http = HttpServer("127.0.0.1", 0)
        server = TestServer(http.app)
        keys = merchant_keys_for(fake, base, "http://placeholder" + PATH)
        provider = wechatpay_provider(app, keys)
        WeChatPayNotify(app, provider).install(http)
        await server.start_server(access_log=None)
        app.services.orders.register(provider, first=True)
        try:
            yield Merchant(fake, provider, str(server.make_url(PATH)))
        finally:
            await provider.client.close()
            await server.close()
