"""The Stripe webhook on the project's HTTP app: ``POST /stripe/webhook``.

Every delivery's ``Stripe-Signature`` is verified (HMAC with the endpoint's secret, 5 minutes'
tolerance); anything unverifiable is answered 400 and changes nothing. Events already handled
are skipped by id; the order's own state makes a duplicate, late or out-of-order delivery
harmless too (an expired checkout never undoes a payment; a payment reported twice delivers
once).

What can never succeed is answered so that Stripe stops sending it, logged as one line:
- a signed body that is not an event (not JSON, not an object, no id or type): 400, as
  Stripe's own webhook samples answer an invalid payload; there is no id to remember it by;
- an event whose object lacks a field or has one of another type (stripe_objects.py), a
  payment that does not match its order, or an unknown order: 200, and the event id is
  remembered, as Stripe asks for every event received (a retry would bring the same body).
What may succeed later (the database is down) answers 500, so Stripe retries.
"""

from __future__ import annotations

import logging
from datetime import datetime

import stripe
from aiohttp import web

from bot.app import App
from bot.http import HttpServer
from bot.payments.stripe_checkout import NAME, order_reference, settled_payment
from bot.payments.stripe_objects import Fields, Malformed, NotAnEvent, StripeEvent, read_event
from core.catalog.money import Money
from core.errors import InvalidInput
from core.orders.models import PaymentMismatch

log = logging.getLogger(__name__)

PATH = "/stripe/webhook"
TOLERANCE_SECONDS = 300  # Stripe's default: an older signature is a replay
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
            stripe.WebhookSignature.verify_header(
                payload, request.headers.get("Stripe-Signature", ""), self._secret, TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            log.warning(
                "stripe: refused a webhook call that is not signed with our secret (%s)", request.remote
            )
            return web.Response(status=400)
        try:
            event = read_event(payload)
        except NotAnEvent as error:
            log.warning("stripe: a signed webhook call is not an event (%s); answered 400", error)
            return web.Response(status=400)
        try:
            return await self._receive(event)
        except Exception:
            log.exception("stripe: event %s failed; Stripe will retry", event.id)
            return web.Response(status=500)

    async def _receive(self, event: StripeEvent) -> web.Response:
        orders = self._app.services.orders
        if await orders.event_seen(NAME, event.id):
            return web.Response(status=200)
        order_id: int | None = None
        try:
            order_id = await self._handle(event)
        except Malformed as error:
            log.warning("stripe: event %s (%s) is malformed and was ignored: %s", event.id, event.type, error)
        except PaymentMismatch:
            log.error("stripe: event %s pays an amount its order does not have; left for a creator", event.id)
        except InvalidInput:
            log.warning("stripe: event %s names an order studyhall does not have", event.id)
        await orders.remember_event(NAME, event.id, event.type, order_id)
        return web.Response(status=200)

    async def _handle(self, event: StripeEvent) -> int | None:
        """Act on one event; every field is read (and Malformed raised) before anything changes."""
        kind = event.type
        orders = self._app.services.orders
        subscriptions = self._app.services.subscriptions
        if kind in PAID:
            payment = settled_payment(event.object())
            if payment is None:  # not paid yet (a delayed method): its own event follows
                return None
            await self._app.send(
                await self._app.settle_payment(payment.order_id, NAME, payment.provider_ref, payment.paid)
            )
            return payment.order_id
        if kind == "checkout.session.expired":
            order_id = order_reference(event.object())
            if order_id is not None:
                await orders.expire(order_id)
            return order_id
        if kind == "invoice.paid":
            invoice = event.object()
            ref, end, reason = _subscription_of(invoice), _period_end(invoice), invoice.word("billing_reason")
            paid, invoice_id = _amount_paid(invoice), invoice.ref("id")
            if reason == "subscription_create":  # the first period came with the checkout
                return None
            # A renewal: runs to the invoice's period end.
            if ref and end and await subscriptions.renewed_by_provider(NAME, ref, end):
                if paid is not None and invoice_id:  # kept as an order: revenue, refunds, commissions
                    await subscriptions.renewal_paid(NAME, ref, invoice_id, paid)
                await self._app.send(await self._app.pending_notices())
            return None
        if kind == "invoice.payment_failed":
            ref = _subscription_of(event.object())
            if ref and await subscriptions.renewal_failed_by_provider(NAME, ref):
                await self._app.send(await self._app.pending_notices())
            return None
        if kind == "customer.subscription.deleted":
            subscription = event.object()
            ref = subscription.ref("id")
            if ref is None:
                raise subscription.missing("id")
            if await subscriptions.ended_by_provider(NAME, ref):
                await self._app.send(await self._app.pending_notices())
            return None
        if kind == "charge.refunded":
            charge = event.object()
            intent, refunded, charge_id = (
                charge.ref("payment_intent"),
                charge.amount("amount_refunded"),
                charge.ref("id"),
            )
            for key, value in (("amount_refunded", refunded), ("id", charge_id)):
                if value is None:
                    raise charge.missing(key)
            assert refunded is not None and charge_id is not None  # checked just above
            order = await orders.by_provider_ref(NAME, intent) if intent else None
            if order is None:
                log.warning("stripe: a refund for a payment studyhall does not know")
                return None
            await orders.record_refund(order.id, refunded_total=refunded, provider_ref=charge_id)
            return order.id
        return None


def _subscription_of(invoice: Fields) -> str | None:
    """The subscription an invoice bills (older API versions name it at the top, newer ones
    under ``parent``)."""
    direct = invoice.ref("subscription")
    parent = invoice.child("parent")
    details = parent.child("subscription_details") if parent is not None else None
    nested = details.ref("subscription") if details is not None else None
    return direct or nested


def _amount_paid(invoice: Fields) -> Money | None:
    """What the invoice took, in minor units (Stripe's amounts are minor units already)."""
    amount, currency = invoice.amount("amount_paid"), invoice.currency("currency")
    if not amount or currency is None:
        return None
    return Money(currency, amount)


def _period_end(invoice: Fields) -> datetime | None:
    """When the period this invoice paid for ends (its subscription lines' latest end)."""
    lines = invoice.child("lines")
    ends: list[datetime] = []
    for line in lines.children("data") if lines is not None else []:
        period = line.child("period")
        end = period.time("end") if period is not None else None
        if end is not None:
            ends.append(end)
    return max(ends, default=None)
