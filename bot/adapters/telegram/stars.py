"""Telegram Stars as a payment provider (core/orders/models.PaymentProvider).

An order in ``XTR`` is paid with an in-chat invoice (``sendInvoice`` without a provider
token); Telegram asks the bot to confirm before it takes the Stars (``pre_checkout_query``,
answered within 10 seconds) and then sends ``successful_payment``. Refunds are whole: Stars
can only be given back in full (``refundStarPayment``).

A monthly plan priced in Stars is a Stars subscription: an invoice link with a 30-day
``subscription_period`` (the only period Telegram allows), which Telegram charges again every
30 days by itself. Each charge arrives as a ``successful_payment`` with ``is_recurring`` and
the new ``subscription_expiration_date``; ``editUserStarSubscription`` stops or resumes it.
Plans of a quarter or a year in Stars are paid one period at a time, like any order.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Bot, LabeledPrice
from telegram.error import TelegramError

from bot.adapters.telegram.inbound import PLATFORM
from bot.adapters.telegram.outbound import MAX_INVOICE_DESCRIPTION, MAX_INVOICE_TITLE
from core.access.plans import PlanService
from core.catalog.money import STARS
from core.i18n import msg
from core.members.service import MemberService
from core.orders.models import Checkout, Order, RefundFailed
from core.orders.service import OrderService
from core.replies import Invoice

log = logging.getLogger(__name__)

NAME = "stars"
PAYLOAD_PREFIX = "order:"
SUBSCRIPTION_DAYS = 30  # Telegram's one subscription period


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

    def __init__(self, bot: Bot, members: MemberService, plans: PlanService, orders: OrderService) -> None:
        self._bot = bot
        self._members = members
        self._plans = plans
        self._orders = orders

    def accepts(self, currency: str) -> bool:
        return currency == STARS

    async def start(self, order: Order) -> Checkout:
        if order.product_kind == "plan" and (await self._plans.by_id(order.product_id)).period == "month":
            return Checkout(
                msg(
                    "Subscribe with Telegram Stars: press the button below. Telegram charges it again"
                    " every 30 days until you /cancel."
                ),
                invoice=Invoice(
                    order.title,
                    order.title,
                    payload_of(order),
                    STARS,
                    order.amount.minor,
                    every_days=SUBSCRIPTION_DAYS,
                ),
            )
        return Checkout(
            msg("Pay with Telegram Stars: press the Pay button below."),
            invoice=Invoice(order.title, order.title, payload_of(order), STARS, order.amount.minor),
        )

    async def start_on_web(self, order: Order, *, in_wechat: bool = False) -> Checkout:
        """The same invoice as a link (``createInvoiceLink``): a page opens it in place inside the
        Mini App (``openInvoice``), and anywhere else the link opens it in Telegram."""
        monthly = (
            order.product_kind == "plan" and (await self._plans.by_id(order.product_id)).period == "month"
        )
        link = await self._bot.create_invoice_link(
            title=order.title[:MAX_INVOICE_TITLE],
            description=order.title[:MAX_INVOICE_DESCRIPTION],
            payload=payload_of(order),
            currency=STARS,
            prices=[LabeledPrice(order.title[:MAX_INVOICE_TITLE], order.amount.minor)],
            subscription_period=timedelta(days=SUBSCRIPTION_DAYS) if monthly else None,
        )
        return Checkout(msg("Pay with Telegram Stars: press the Pay button below."), url=link)

    async def stop_renewing(self, charge_id: str) -> None:
        """/cancel of a Stars subscription (known by its first charge): Telegram stops
        charging; the period already paid stays."""
        await self._set_cancelled(charge_id, True)

    async def resume_renewing(self, charge_id: str) -> None:
        await self._set_cancelled(charge_id, False)

    async def _set_cancelled(self, charge_id: str, cancelled: bool) -> None:
        order = await self._orders.by_provider_ref(NAME, charge_id)
        account = None if order is None else await self._telegram_account(order.member_id)
        if account is None:
            raise RefundFailed("the subscriber's Telegram account or the subscription is unknown")
        await self._bot.edit_user_star_subscription(int(account), charge_id, is_canceled=cancelled)

    async def _telegram_account(self, member_id: int) -> str | None:
        return next(
            (i.external_id for i in await self._members.identities_of(member_id) if i.platform == PLATFORM),
            None,
        )

    async def refund(self, order: Order, amount_minor: int) -> str:
        if amount_minor != order.amount.minor - order.refunded:
            raise RefundFailed("Telegram Stars can only be refunded in full")
        account = await self._telegram_account(order.member_id)
        if account is None or not order.provider_ref:
            raise RefundFailed("the buyer's Telegram account or the payment id is unknown")
        try:
            await self._bot.refund_star_payment(int(account), order.provider_ref)
        except TelegramError as error:
            log.warning("telegram: refundStarPayment for order %s failed: %s", order.id, error)
            raise RefundFailed(error.message) from None
        return order.provider_ref
