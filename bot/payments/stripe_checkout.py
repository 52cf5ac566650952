"""Stripe Checkout as a payment provider (core/orders/models.PaymentProvider).

Each order gets a Checkout Session carrying its id (``client_reference_id`` and metadata),
created with an idempotency key from the order, so asking twice gives the same session. The
link goes to the buyer in chat; the webhook (``stripe_webhook.py``) reports the payment, and
reconciliation lists recent sessions for any whose webhook never came.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import stripe

from bot.payments.stripe_objects import Fields, Malformed, fields_of
from core.catalog.money import STARS, Money
from core.clock import Clock
from core.i18n import msg
from core.orders.models import Checkout, Order, RefundFailed, SettledPayment

log = logging.getLogger(__name__)

NAME = "stripe"
MIN_OPEN, MAX_OPEN = timedelta(minutes=31), timedelta(hours=23, minutes=59)  # Stripe's bounds, inside
MAX_LISTED = 1_000  # sessions one reconciliation looks at
MAX_ORDER_DIGITS = 18  # order ids are 64-bit: any 18-digit number fits
RECURRING = {"month": ("month", 1), "quarter": ("month", 3), "year": ("year", 1)}
# One-off payments in these currencies also offer WeChat Pay and Alipay on the Checkout page
# (WeChat Pay's "web" client shows a QR code the buyer scans in WeChat). Both are for one-off
# payments only: a subscription is paid by card.
WALLET_CURRENCIES = frozenset({"CNY"})
WALLET_METHODS = ("card", "alipay", "wechat_pay")


class StripeProvider:
    name = NAME
    bills_plans_itself = True  # a plan bought here is a Stripe subscription that renews by itself

    def __init__(
        self,
        secret_key: str,
        *,
        public_url: str,
        clock: Clock,
        api_base: str | None = None,
        plan_period: Callable[[int], Awaitable[str]] | None = None,
    ) -> None:
        """``plan_period``: a plan's period (month, quarter, year) by its id, for subscriptions."""
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else {},
            http_client=stripe.HTTPXClient(),
            max_network_retries=2,
        )
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._plan_period = plan_period

    def accepts(self, currency: str) -> bool:
        return currency != STARS

    async def start(self, order: Order) -> Checkout:
        now = self._clock.now()
        closes = min(max(order.expires_at, now + MIN_OPEN), now + MAX_OPEN)
        price_data: dict[str, Any] = {
            "currency": order.amount.currency.lower(),
            "unit_amount": order.amount.minor,
            "product_data": {"name": order.title[:250]},
        }
        metadata = {"order_id": str(order.id), "community_id": str(order.community_id)}
        params: dict[str, Any] = {
            "client_reference_id": str(order.id),
            "metadata": metadata,
            "success_url": f"{self._public_url}/paid?order={order.id}",
            "cancel_url": f"{self._public_url}/cancelled?order={order.id}",
            "expires_at": int(closes.timestamp()),
        }
        if order.product_kind == "plan" and self._plan_period is not None:
            # A Stripe subscription: it charges every period by itself; invoices come by webhook.
            interval, count = RECURRING[await self._plan_period(order.product_id)]
            price_data["recurring"] = {"interval": interval, "interval_count": count}
            params.update(mode="subscription", subscription_data={"metadata": metadata})
        else:
            params.update(mode="payment", payment_intent_data={"metadata": {"order_id": str(order.id)}})
            if order.amount.currency in WALLET_CURRENCIES:
                params["payment_method_types"] = list(WALLET_METHODS)
                params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
        params["line_items"] = [{"quantity": 1, "price_data": price_data}]
        session = await self._client.v1.checkout.sessions.create_async(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": f"studyhall-checkout-{order.id}"},
        )
        return Checkout(
            msg("Pay {price} securely with Stripe: press Pay.", price=order.amount), url=session.url
        )

    async def stop_renewing(self, subscription_id: str) -> None:
        """/cancel: the Stripe subscription ends at the end of the paid period."""
        await self._client.v1.subscriptions.update_async(
            subscription_id, params={"cancel_at_period_end": True}
        )

    async def resume_renewing(self, subscription_id: str) -> None:
        await self._client.v1.subscriptions.update_async(
            subscription_id, params={"cancel_at_period_end": False}
        )

    async def refund(self, order: Order, amount_minor: int) -> str:
        if not order.provider_ref:
            raise RefundFailed("the Stripe payment of this order is unknown")
        try:
            refund = await self._client.v1.refunds.create_async(
                params={"payment_intent": order.provider_ref, "amount": amount_minor},
                options={"idempotency_key": f"studyhall-refund-{order.id}-{order.refunded + amount_minor}"},
            )
        except stripe.StripeError as error:
            log.warning("stripe: refund of order %s failed: %s", order.id, error.user_message or error)
            raise RefundFailed(error.user_message or "Stripe refused the refund") from None
        return str(refund.id)

    async def settled_since(self, since: datetime) -> list[SettledPayment]:
        """Paid sessions created since ``since`` (reconciliation)."""
        page = await self._client.v1.checkout.sessions.list_async(
            params={"created": {"gte": int(since.timestamp())}, "limit": 100}
        )
        settled: list[SettledPayment] = []
        seen = 0
        async for session in page.auto_paging_iter():
            seen += 1
            if seen > MAX_LISTED:
                break
            try:
                payment = settled_payment(session)
            except Malformed as error:  # one odd session must not stop the others
                log.warning("stripe: reconciliation skipped a session: %s", error)
                continue
            if payment is not None:
                settled.append(payment)
        return settled


def order_reference(session: Fields) -> int | None:
    """The order a Checkout Session is for (its ``client_reference_id``), or None when it is
    not one of ours (another integration on the same Stripe account)."""
    reference = session.text("client_reference_id") or ""
    # ASCII digits only (``isdigit`` takes "²"), and no more than an order id can have.
    if not (reference.isascii() and reference.isdigit() and len(reference) <= MAX_ORDER_DIGITS):
        return None
    return int(reference)


def settled_payment(session: Any) -> SettledPayment | None:
    """The payment a completed, paid Checkout Session reports for one of our orders. Raises
    Malformed when a field it reads is not of the type Stripe documents."""
    fields = fields_of(session, "session")
    order_id = order_reference(fields)
    status, paid = fields.word("status"), fields.word("payment_status")
    mode = fields.word("mode")
    # A subscription is known by its id (its invoices name it); a one-off payment by its intent.
    ref = fields.ref("subscription") if mode == "subscription" else fields.ref("payment_intent")
    ref = ref or fields.ref("id")
    if status != "complete" or paid != "paid" or order_id is None:
        return None
    amount, currency = fields.amount("amount_total"), fields.currency("currency")
    for key, value in (("id", ref), ("amount_total", amount), ("currency", currency)):
        if value is None:
            raise fields.missing(key)
    assert ref is not None and amount is not None and currency is not None  # checked just above
    return SettledPayment(order_id, ref, Money(currency, amount))
