"""Telegram Stars arriving as updates: the pre-checkout question (take the Stars or not), the
payment itself, and a Stars subscription's later charges. The provider the core orders
through is stars.py; this is what Telegram sends back."""

from __future__ import annotations

import logging

from telegram import Bot, SuccessfulPayment, Update

from bot.adapters.telegram.inbound import PLATFORM
from bot.adapters.telegram.outbound import quietly
from bot.adapters.telegram.stars import NAME, order_id_of
from bot.app import App
from core.catalog.money import Money
from core.i18n import Msg, msg, normalize_locale, render
from core.orders.models import Order, PaymentMismatch

log = logging.getLogger(__name__)


class StarsCheckout:
    def __init__(self, app: App, bot: Bot) -> None:
        self.app = app
        self.bot = bot

    async def pre_checkout(self, update: Update) -> None:
        """Telegram asks whether to take the Stars: yes only for the buyer's own open order at
        its price (answered within Telegram's 10 seconds; any failure answers no)."""
        query = update.pre_checkout_query
        assert query is not None
        locale = normalize_locale(query.from_user.language_code or "en")
        reason = msg("This invoice is no longer valid. Use /buy again.")
        try:
            order_id = order_id_of(query.invoice_payload)
            if order_id is not None:
                orders = self.app.services.orders
                reason = await orders.check_payable(order_id, Money(query.currency, query.total_amount))
                order = await orders.get(order_id)
                if reason is not None and await self._renews(order, query.total_amount):
                    reason = None  # the next charge of a Stars subscription this order began
                if reason is None:
                    reason = await self._payer_mismatch(order.member_id, query.from_user.id)
        except Exception:
            log.warning("telegram: pre-checkout check failed", exc_info=True)
        if reason is None:
            await quietly(query.answer(ok=True))
        else:
            await quietly(query.answer(ok=False, error_message=render(reason, locale)))

    async def _renews(self, order: Order, amount: int) -> bool:
        """Whether ``order`` began a Stars subscription that is still running, at that price."""
        if order.provider != NAME or not order.provider_ref or order.amount.minor != amount:
            return False
        sub = await self.app.services.subscriptions.billed_by(NAME, order.provider_ref)
        return sub is not None and sub.status != "ended"

    async def _payer_mismatch(self, member_id: int, payer: int) -> Msg | None:
        identities = await self.app.services.members.identities_of(member_id)
        if any(i.platform == PLATFORM and i.external_id == str(payer) for i in identities):
            return None
        return msg("This invoice is for another member. Use /buy to get your own.")

    async def paid(self, update: Update) -> None:
        """The Stars arrived: the order is paid and delivered (once, however often Telegram
        delivers this update)."""
        message = update.message
        assert message is not None and message.successful_payment is not None
        paid = message.successful_payment
        order_id = order_id_of(paid.invoice_payload)
        if order_id is None:
            log.error("telegram: a payment with an unknown payload %r", paid.invoice_payload)
            return
        if paid.is_recurring and not paid.is_first_recurring:
            await self._renewal(order_id, paid)
            return
        try:
            outgoing = await self.app.settle_payment(
                order_id, NAME, paid.telegram_payment_charge_id, Money(paid.currency, paid.total_amount)
            )
        except PaymentMismatch:
            # The Stars are in: never lose them; a creator refunds or delivers by hand.
            log.error(
                "telegram: payment %s for order %s does not match it",
                paid.telegram_payment_charge_id,
                order_id,
            )
            notice = msg(
                "We received your payment but could not match it to your order; a creator will sort it out."
            )
            language = message.from_user.language_code if message.from_user else None
            await quietly(message.reply_text(render(notice, normalize_locale(language or "en"))))
            return
        if paid.is_recurring and paid.subscription_expiration_date is not None:
            # A Stars subscription's first charge: Telegram bills the next ones by itself.
            await self.app.services.subscriptions.billed_by_provider(
                await self.app.services.orders.get(order_id),
                NAME,
                paid.telegram_payment_charge_id,
                paid.subscription_expiration_date,
            )
        await self.app.send(outgoing)

    async def _renewal(self, order_id: int, paid: SuccessfulPayment) -> None:
        """Telegram charged a Stars subscription again: the period runs to the new expiry.
        Each charge is recorded once by its id (Telegram may deliver the update again)."""
        orders, subscriptions = self.app.services.orders, self.app.services.subscriptions
        charge = paid.telegram_payment_charge_id
        if await orders.event_seen(NAME, charge):
            return
        order = await orders.get(order_id)
        end = paid.subscription_expiration_date
        renewed = (
            order.provider_ref is not None
            and end is not None
            and await subscriptions.renewed_by_provider(NAME, order.provider_ref, end)
        )
        await orders.remember_event(NAME, charge, "subscription.renewal", order_id)
        if not renewed:
            log.error("telegram: Stars renewal %s for order %s matches no subscription", charge, order_id)
            return
        # Kept as an order too: revenue, refunds (refundStarPayment by this charge) and commissions.
        assert order.provider_ref is not None
        await subscriptions.renewal_paid(
            NAME, order.provider_ref, charge, Money(paid.currency, paid.total_amount)
        )
        await self.app.send(await self.app.pending_notices())
