"""WeChat Pay (API v3, the creator's own merchant account) as a payment provider for CNY orders
(core/orders/models.PaymentProvider).

- Native: outside WeChat (a desktop page, Telegram, Discord) an order's ``code_url`` is shown as
  a QR code the buyer scans with WeChat.
- JSAPI: inside WeChat (the H5 page) the follower pays in place: a ``prepay_id`` for their
  openid under the same AppID as the Official Account (so the adapter's openid is the payer's),
  and the client parameters signed as WeChat's ``getBrandWCPayRequest`` expects.
Each order is WeChat Pay's ``out_trade_no`` ``studyhall-ID`` (``studyhall-ID-j`` paid inside
WeChat), with the order's own expiry; asking again for the same order gives the same code
(WeChat Pay answers a repeat alike).
Payments arrive by notification (wechatpay_notify.py); reconciliation queries WeChat Pay for the
open orders whose notification never came, and closes the expired ones there too; the daily bill
check compares WeChat Pay's trade bill with the orders (wechatpay_bill.py, core/orders/bill_check.py).
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import segno
from wechatpayv3.async_.type import RequestType

from bot.payments import wechatpay_bill
from bot.payments.wechatpay_client import WeChatPayClient, WeChatPayError
from core.catalog.money import Money
from core.clock import Clock
from core.i18n import msg
from core.orders.bill_check import BillPayment, ProviderBill
from core.orders.models import WECHAT_PAY_PROVIDER, Checkout, Order, RefundFailed, SettledPayment
from core.orders.service import OrderService

log = logging.getLogger(__name__)

NAME = WECHAT_PAY_PROVIDER
CURRENCY = "CNY"
TRADE_PREFIX = "studyhall-"
JSAPI_SUFFIX = "-j"
CHINA = ZoneInfo("Asia/Shanghai")
MAX_DESCRIPTION = 127  # WeChat Pay's description limit, in characters
LABEL = msg("WeChat Pay")
UNAVAILABLE = msg("WeChat Pay is not answering right now. Please try again in a minute.")


def trade_no(order: Order, *, jsapi: bool = False) -> str:
    """WeChat Pay's ``out_trade_no`` of the order: one for the QR code and one for paying inside
    WeChat, since WeChat Pay keeps an ``out_trade_no`` to the trade type it was made with."""
    return f"{TRADE_PREFIX}{order.id}{JSAPI_SUFFIX if jsapi else ''}"


def order_id_of(out_trade_no: str) -> int | None:
    """The order an ``out_trade_no`` names, or None for one studyhall did not make."""
    digits = out_trade_no.removeprefix(TRADE_PREFIX).removesuffix(JSAPI_SUFFIX)
    if not out_trade_no.startswith(TRADE_PREFIX) or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits) if len(digits) <= 18 else None


def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=8, border=2)
    return out.getvalue()


class WeChatPayProvider:
    name = NAME

    def __init__(
        self,
        client: WeChatPayClient,
        orders: OrderService,
        clock: Clock,
        openid_of: Callable[[int], Awaitable[str | None]],
    ) -> None:
        """``openid_of``: a member's openid on the Official Account (JSAPI's payer), if any."""
        self.client = client
        self._orders = orders
        self._clock = clock
        self._openid_of = openid_of

    def accepts(self, currency: str) -> bool:
        return currency == CURRENCY

    async def close(self) -> None:
        await self.client.close()

    def _body(self, order: Order, *, jsapi: bool = False) -> dict[str, Any]:
        keys = self.client.keys
        return {
            "appid": keys.app_id,
            "mchid": keys.mchid,
            "description": order.title[:MAX_DESCRIPTION],
            "out_trade_no": trade_no(order, jsapi=jsapi),
            "notify_url": keys.notify_url,
            "time_expire": order.expires_at.astimezone(CHINA).isoformat(timespec="seconds"),
            "amount": {"total": order.amount.minor, "currency": CURRENCY},
        }

    async def start(self, order: Order) -> Checkout:
        """The Native QR code, for a chat (or a page outside WeChat) to show."""
        try:
            answer = await self.client.call(
                RequestType.POST, "/v3/pay/transactions/native", self._body(order)
            )
        except WeChatPayError as error:
            log.warning("wechatpay: no code for order %s: %s", order.id, error)
            return Checkout(UNAVAILABLE)
        return Checkout(
            msg("Scan the code with WeChat to pay {price}.", price=order.amount),
            image=qr_png(str(answer["code_url"])),
        )

    async def start_on_web(self, order: Order, *, in_wechat: bool = False) -> Checkout:
        """Inside WeChat, for a buyer the Official Account knows: JSAPI's signed parameters;
        anywhere else, the Native code."""
        openid = await self._openid_of(order.member_id) if in_wechat else None
        if openid is None:
            return await self.start(order)
        body = {**self._body(order, jsapi=True), "payer": {"openid": openid}}
        try:
            answer = await self.client.call(RequestType.POST, "/v3/pay/transactions/jsapi", body)
        except WeChatPayError as error:
            log.warning("wechatpay: no JSAPI payment for order %s: %s", order.id, error)
            return Checkout(UNAVAILABLE)
        return Checkout(
            msg("Pay {price} with WeChat Pay.", price=order.amount), client=self.jsapi(answer["prepay_id"])
        )

    def jsapi(self, prepay_id: str) -> dict[str, str]:
        """The parameters of ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)``, signed over
        appId, timeStamp, nonceStr and package, each on its own line, with the merchant key."""
        app_id = self.client.keys.app_id
        stamp, nonce, package = (
            str(int(self._clock.now().timestamp())),
            secrets.token_hex(16),
            f"prepay_id={prepay_id}",
        )
        return {
            "appId": app_id,
            "timeStamp": stamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": self.client.sign([app_id, stamp, nonce, package]),
        }

    async def refund(self, order: Order, amount_minor: int) -> str:
        if not order.provider_ref:
            raise RefundFailed("the WeChat Pay payment of this order is unknown")
        body = {
            "transaction_id": order.provider_ref,
            "out_refund_no": f"{trade_no(order)}-r{order.refunded + amount_minor}",
            "notify_url": self.client.keys.notify_url,
            "amount": {"refund": amount_minor, "total": order.amount.minor, "currency": CURRENCY},
        }
        try:
            answer = await self.client.call(RequestType.POST, "/v3/refund/domestic/refunds", body)
        except WeChatPayError as error:
            log.warning("wechatpay: refund of order %s failed: %s", order.id, error)
            raise RefundFailed(f"WeChat Pay refused the refund ({error.code or error.status})") from None
        return str(answer["refund_id"])

    async def query(self, out_trade_no: str) -> dict[str, Any] | None:
        """What WeChat Pay knows of the trade (None: it has no such trade)."""
        path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.client.keys.mchid}"
        try:
            return dict(await self.client.call(RequestType.GET, path))
        except WeChatPayError as error:
            if error.code == "ORDER_NOT_EXIST":
                return None
            raise

    async def settled_since(self, since: datetime) -> list[SettledPayment]:
        """Open orders of ours since ``since`` that WeChat Pay says are paid (a notification
        that never came); expired ones are closed at WeChat Pay too, so a late scan fails."""
        settled = []
        now = self._clock.now()
        for order in await self._orders.open_with(NAME, since - timedelta(days=1)):
            for number in (trade_no(order), trade_no(order, jsapi=True)):
                try:
                    found = await self.query(number)
                    if found is not None and found.get("trade_state") == "SUCCESS":
                        paid = found["amount"]
                        money = Money(paid["currency"], paid["total"])
                        settled.append(SettledPayment(order.id, str(found["transaction_id"]), money))
                    elif (
                        found is not None and found.get("trade_state") == "NOTPAY" and order.expires_at <= now
                    ):
                        close = f"/v3/pay/transactions/out-trade-no/{number}/close"
                        await self.client.call(RequestType.POST, close, {"mchid": self.client.keys.mchid})
                except (WeChatPayError, KeyError, TypeError) as error:
                    log.warning("wechatpay: reconciling order %s: %s", order.id, error)
        return settled

    def latest_bill_day(self, now: datetime) -> date:
        """The last China day whose trade bill WeChat Pay has made by ``now`` (the bill check)."""
        return wechatpay_bill.latest_bill_day(now)

    async def bill_payments(self, day: date) -> ProviderBill:
        """The payments of WeChat Pay's trade bill of ``day`` (China time), for the daily bill
        check: BillNotReady before WeChat Pay has made it, WeChatPayError when it could not be
        had or its SHA1 is wrong."""
        rows = await wechatpay_bill.fetch_bill(self.client, day)
        start, end = wechatpay_bill.day_bounds(day)
        payments = tuple(
            BillPayment(
                order_id_of(row.out_trade_no),
                row.out_trade_no,
                row.transaction_id,
                Money(row.currency, row.total),
            )
            for row in rows
            if row.state == wechatpay_bill.PAID
        )
        return ProviderBill(NAME, LABEL, day, start, end, payments)
