"""Telegram Stars as a payment provider (core/orders/models.PaymentProvider).

An order in ``XTR`` is paid with an in-chat invoice (``sendInvoice`` without a provider
token); Telegram asks the bot to confirm before it takes the Stars (``pre_checkout_query``,
answered within 10 seconds) and then sends ``successful_payment``. Refunds are whole: Stars
can only be given back in full (``refundStarPayment``).
"""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import TelegramError

from bot.adapters.telegram.inbound import PLATFORM
from core.catalog.money import STARS
from core.i18n import msg
from core.members.service import MemberService
from core.orders.models import Checkout, Order, RefundFailed
from core.replies import Invoice

log = logging.getLogger(__name__)

NAME = "stars"
PAYLOAD_PREFIX = "order:"


def payload_of(order: Order) -> str:
    return f"{PAYLOAD_PREFIX}{order.id}"


def order_id_of(payload: str) -> int | None:
    """The order id in an invoice payload, or None for anything studyhall did not send."""
    if not payload.startswith(PAYLOAD_PREFIX):
        return None
    digits = payload[len(PAYLOAD_PREFIX) :]
    return int(digits) if digits.isdigit() and len(digits) < 19 else None


class TelegramStarsProvider:
    name = NAME

    def __init__(self, bot: Bot, members: MemberService) -> None:
        self._bot = bot
        self._members = members

    def accepts(self, currency: str) -> bool:
        return currency == STARS

    async def start(self, order: Order) -> Checkout:
        return Checkout(
            msg("Pay with Telegram Stars: press the Pay button below."),
            invoice=Invoice(order.title, order.title, payload_of(order), STARS, order.amount.minor),
        )

    async def refund(self, order: Order, amount_minor: int) -> str:
        if amount_minor != order.amount.minor - order.refunded:
            raise RefundFailed("Telegram Stars can only be refunded in full")
        account = next(
            (
                i.external_id
                for i in await self._members.identities_of(order.member_id)
                if i.platform == PLATFORM
            ),
            None,
        )
        if account is None or not order.provider_ref:
            raise RefundFailed("the buyer's Telegram account or the payment id is unknown")
        try:
            await self._bot.refund_star_payment(int(account), order.provider_ref)
        except TelegramError as error:
            log.warning("telegram: refundStarPayment for order %s failed: %s", order.id, error)
            raise RefundFailed(error.message) from None
        return order.provider_ref
