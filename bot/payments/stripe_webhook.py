"""The Stripe webhook on the project's HTTP app: ``POST /stripe/webhook``.

Every delivery's ``Stripe-Signature`` is verified (HMAC with the endpoint's secret, 5 minutes'
tolerance); anything unverifiable is answered 400 and changes nothing. Events already handled
are skipped by id; the order's own state makes a duplicate, late or out-of-order delivery
harmless too (an expired checkout never undoes a payment; a payment reported twice delivers
once). A failure answers 500 so Stripe retries; a payment that does not match its order is
logged for a human and answered 200 (retrying would not change it).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import stripe
from aiohttp import web

from bot.app import App
from bot.http import HttpServer
from bot.payments.stripe_checkout import NAME, plain, settled_payment
from core.catalog.money import Money
from core.errors import InvalidInput
from core.orders.models import PaymentMismatch

log = logging.getLogger(__name__)

PATH = "/stripe/webhook"
PAID = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
# Subscriptions: invoice.paid extends a period, invoice.payment_failed starts grace,
# customer.subscription.deleted ends it.


class StripeWebhook:
    def __init__(self, app: App, secret: str) -> None:
        self._app = app
        self._secret = secret

    def install(self, http: HttpServer) -> None:
        http.add_post(PATH, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        payload = (await request.read()).decode("utf-8", "replace")
        try:
            event = stripe.Webhook.construct_event(
                payload, request.headers.get("Stripe-Signature", ""), self._secret
            )
        except (ValueError, stripe.SignatureVerificationError):
            log.warning(
                "stripe: refused a webhook call that is not signed with our secret (%s)", request.remote
            )
            return web.Response(status=400)
        orders = self._app.services.orders
        if await orders.event_seen(NAME, event.id):
            return web.Response(status=200)
        try:
            order_id = await self._handle(event.type, plain(event.data.object))
        except PaymentMismatch:
            log.error("stripe: event %s pays an amount its order does not have; left for a creator", event.id)
            order_id = None
        except InvalidInput:
            log.warning("stripe: event %s names an order studyhall does not have", event.id)
            order_id = None
        except Exception:
            log.exception("stripe: event %s failed; Stripe will retry", event.id)
            return web.Response(status=500)
        await orders.remember_event(NAME, event.id, event.type, order_id)
        return web.Response(status=200)

    async def _handle(self, kind: str, obj: Any) -> int | None:
        orders = self._app.services.orders
        if kind in PAID:
            payment = settled_payment(obj)
            if payment is None:  # not paid yet (a delayed method): its own event follows
                return None
            await self._app.send(
                await self._app.settle_payment(payment.order_id, NAME, payment.provider_ref, payment.paid)
            )
            return payment.order_id
        if kind == "checkout.session.expired":
            reference = str(obj.get("client_reference_id") or "")
            if reference.isdigit():
                await orders.expire(int(reference))
                return int(reference)
            return None
        if kind == "invoice.paid" and obj.get("billing_reason") != "subscription_create":
            # A renewal (the first period came with the checkout): runs to the invoice's period end.
            ref, end = _subscription_of(obj), _period_end(obj)
            subscriptions = self._app.services.subscriptions
            if ref and end and await subscriptions.renewed_by_provider(NAME, ref, end):
                paid = _amount_paid(obj)
                if paid is not None and obj.get("id"):  # kept as an order: revenue, refunds, commissions
                    await subscriptions.renewal_paid(NAME, ref, str(obj["id"]), paid)
                await self._app.send(await self._app.pending_notices())
            return None
        if kind == "invoice.payment_failed":
            ref = _subscription_of(obj)
            if ref and await self._app.services.subscriptions.renewal_failed_by_provider(NAME, ref):
                await self._app.send(await self._app.pending_notices())
            return None
        if kind == "customer.subscription.deleted":
            if await self._app.services.subscriptions.ended_by_provider(NAME, str(obj.get("id"))):
                await self._app.send(await self._app.pending_notices())
            return None
        if kind == "charge.refunded":
            order = await orders.by_provider_ref(NAME, str(obj.get("payment_intent") or ""))
            if order is None:
                log.warning("stripe: a refund for a payment studyhall does not know")
                return None
            await orders.record_refund(
                order.id, refunded_total=int(obj.get("amount_refunded") or 0), provider_ref=str(obj.get("id"))
            )
            return order.id
        return None


def _subscription_of(invoice: dict[str, Any]) -> str | None:
    """The subscription an invoice bills (older API versions name it at the top, newer ones
    under ``parent``)."""
    direct = invoice.get("subscription")
    if direct:
        return str(direct)
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return str(details["subscription"]) if details.get("subscription") else None


def _amount_paid(invoice: dict[str, Any]) -> Money | None:
    """What the invoice took, in minor units (Stripe's amounts are minor units already)."""
    amount, currency = invoice.get("amount_paid"), invoice.get("currency")
    if not isinstance(amount, int) or amount <= 0 or not currency:
        return None
    return Money(str(currency).upper(), amount)


def _period_end(invoice: dict[str, Any]) -> datetime | None:
    """When the period this invoice paid for ends (its subscription line's period)."""
    lines = (invoice.get("lines") or {}).get("data") or []
    ends = [line.get("period", {}).get("end") for line in lines if line.get("period", {}).get("end")]
    if not ends:
        return None
    return datetime.fromtimestamp(max(int(end) for end in ends), UTC)
