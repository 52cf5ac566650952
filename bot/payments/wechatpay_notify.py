"""WeChat Pay's notifications on the project's HTTP app: ``POST /wechatpay/notify``.

Each is verified before anything is read: the raw body and the ``Wechatpay-*`` headers against
the platform certificate or public key its serial names; WeChat Pay's deliberately mis-signed
probes and forgeries are answered 401 and change nothing. The resource is then decrypted with
the APIv3 key (AES-256-GCM). WeChat Pay sends a notification again until it is answered 2xx,
and may send the same payment under several notification ids: a payment is handled once per
transaction id, and the order's own state makes any repeat harmless too. The amount and currency
are checked against the order before it is paid; a mismatch is logged for a creator, never
delivered. A refund's notification may come before (or instead of) the payment's: it is
recorded and answered, nothing more (refunds are recorded when a creator makes them).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.app import App
from bot.http import HttpServer
from bot.payments.wechatpay import CURRENCY, NAME, WeChatPayProvider, order_id_of
from core.catalog.money import Money
from core.errors import InvalidInput
from core.orders.models import PaymentMismatch

log = logging.getLogger(__name__)

PATH = "/wechatpay/notify"
HEADERS = ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial")
SIGNATURE_TYPE = "Wechatpay-Signature-Type"


def failure(status: int, message: str) -> web.Response:
    """What WeChat Pay reads as "not received" (it tries again later)."""
    return web.json_response({"code": "FAIL", "message": message}, status=status)


class WeChatPayNotify:
    def __init__(self, app: App, provider: WeChatPayProvider) -> None:
        self._app = app
        self._provider = provider

    def install(self, http: HttpServer) -> None:
        http.add_post(PATH, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode("utf-8", "replace")
        headers = {name: request.headers.get(name, "") for name in HEADERS}
        headers[SIGNATURE_TYPE] = request.headers.get(SIGNATURE_TYPE, "")
        envelope = await self._provider.client.notification(headers, body)
        if envelope is None:
            log.warning("wechatpay: refused a notification not signed by WeChat Pay (%s)", request.remote)
            return failure(401, "signature")
        try:
            await self._handle(envelope)
        except Exception:
            log.exception(
                "wechatpay: notification %s failed; WeChat Pay will send it again", envelope.get("id")
            )
            return failure(500, "retry")
        return web.Response(status=204)

    async def _handle(self, envelope: dict[str, Any]) -> None:
        kind = str(envelope.get("event_type") or "")
        resource = envelope.get("resource")
        if not isinstance(resource, dict):
            log.warning("wechatpay: notification %s has no resource; ignored", envelope.get("id"))
            return
        if kind == "TRANSACTION.SUCCESS":
            await self._paid(resource)
        elif kind.startswith("REFUND."):
            await self._refunded(kind, resource)
        else:
            log.info("wechatpay: notification of %s ignored", kind or "no type")

    async def _paid(self, resource: dict[str, Any]) -> None:
        orders = self._app.services.orders
        transaction = str(resource.get("transaction_id") or "")
        key = f"transaction:{transaction}"
        if not transaction or await orders.event_seen(NAME, key):
            return  # a repeat of a payment handled already
        order_id = order_id_of(str(resource.get("out_trade_no") or ""))
        amount = resource.get("amount") if isinstance(resource.get("amount"), dict) else {}
        total, currency = amount.get("total"), amount.get("currency") or CURRENCY
        if order_id is None or resource.get("trade_state") != "SUCCESS" or not isinstance(total, int):
            log.warning("wechatpay: payment %s is not one of ours or not a success; ignored", transaction)
        else:
            try:
                await self._app.send(
                    await self._app.settle_payment(order_id, NAME, transaction, Money(currency, total))
                )
            except PaymentMismatch:
                log.error("wechatpay: payment %s is not its order's amount; left for a creator", transaction)
            except InvalidInput:
                log.warning("wechatpay: payment %s names an order studyhall does not have", transaction)
        await orders.remember_event(NAME, key, "TRANSACTION.SUCCESS", order_id)

    async def _refunded(self, kind: str, resource: dict[str, Any]) -> None:
        refund = str(resource.get("refund_id") or "")
        order_id = order_id_of(str(resource.get("out_trade_no") or ""))
        orders = self._app.services.orders
        if refund and not await orders.event_seen(NAME, f"refund:{refund}"):
            log.info("wechatpay: %s for order %s (%s)", kind, order_id, resource.get("refund_status"))
            await orders.remember_event(NAME, f"refund:{refund}", kind, order_id)
