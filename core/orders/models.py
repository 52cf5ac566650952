"""Order values and the payment provider port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from core.catalog.models import Product
from core.catalog.money import Money
from core.i18n import Msg, msg
from core.members.models import Member
from core.replies import Invoice


class Status(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"  # in full; a partial refund leaves the order fulfilled


STATUS_LABELS: dict[Status, Msg] = {  # the words /orders, the Orders and Members pages use
    Status.PENDING: msg("awaiting payment"),
    Status.PAID: msg("paid, being delivered"),
    Status.FULFILLED: msg("delivered"),
    Status.CANCELLED: msg("cancelled"),
    Status.EXPIRED: msg("expired unpaid"),
    Status.REFUNDED: msg("refunded"),
}


@dataclass(frozen=True)
class Order:
    id: int
    community_id: int
    member_id: int
    product_kind: str
    product_id: int
    title: str
    amount: Money
    status: Status
    provider: str
    provider_ref: str | None
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    fulfilled_at: datetime | None
    refunded: int = 0  # minor units refunded so far
    purchase_points: int = 0
    list_minor: int = 0  # the price before a coupon
    coupon_id: int | None = None
    offset_points: int = 0  # points paying part of the price (core/orders/offsets.py)
    offset_minor: int = 0  # what they are worth

    @property
    def discount(self) -> Money:
        """The coupon's part: what the price lost besides the points."""
        return Money(self.amount.currency, max(0, self.list_minor - self.amount.minor - self.offset_minor))

    @property
    def offset(self) -> Money:
        """What the order's points paid."""
        return Money(self.amount.currency, self.offset_minor)

    @property
    def refundable(self) -> int:
        return self.amount.minor - self.refunded if self.status in (Status.PAID, Status.FULFILLED) else 0


@dataclass(frozen=True)
class Fulfilment:
    """The outcome of fulfilling an order. ``fresh`` is True for exactly one caller: the one
    whose call delivered it (so materials are sent once however often payment is reported)."""

    order: Order
    fresh: bool
    points: int = 0


@dataclass(frozen=True)
class Checkout:
    """How the member pays: a link to open (Stripe), an in-chat invoice (Stars), a QR code to
    scan or the parameters of WeChat's in-app payment (WeChat Pay), or an instruction (the
    sandbox)."""

    note: Msg
    url: str | None = None
    invoice: Invoice | None = None
    image: bytes | None = None  # a PNG to show: WeChat Pay's QR code to scan
    client: dict[str, str] | None = None  # parameters a page hands the app's own payment (JSAPI)


@dataclass(frozen=True)
class SettledPayment:
    """A payment a provider reports as settled (reconciliation asks for these)."""

    order_id: int
    provider_ref: str
    paid: Money


@dataclass(frozen=True)
class Refund:
    """A refund recorded on an order: how much now in all, and the points taken back."""

    order: Order
    amount: int  # minor units refunded by this call (0 when it was already recorded)
    points_clawed: int = 0
    points_short: int = 0  # purchase points the member had already spent


@dataclass(frozen=True)
class Clawback:
    """What a refund takes back from one member: points (the purchase's, or a referrer's
    first-purchase reward) or a share of a commission."""

    member_id: int
    what: str  # purchase_points | referral_points | commission
    points: int = 0  # points the refund takes back
    short: int = 0  # points it wants beyond the member's balance (left with them, audited)
    money: Money | None = None  # a commission's share taken back
    held: bool = False  # the commission is still held: cancelled rather than clawed back
    level: int = 0  # the commission's level (1: the buyer's referrer; 2: theirs)

    @classmethod
    def of_points(cls, member_id: int, what: str, wanted: int, balance: int) -> Clawback:
        """``wanted`` points taken back from a member with ``balance``: refunds post them as a
        partial posting, which takes what the member has and no more."""
        taken = min(wanted, max(balance, 0))
        return cls(member_id, what, points=taken, short=wanted - taken)


@dataclass(frozen=True)
class RefundPreview:
    """What a refund of ``amount`` would do, computed by the rules the refund itself runs."""

    order: Order  # as it would be after the refund
    amount: int  # minor units
    clawbacks: tuple[Clawback, ...]

    @property
    def full(self) -> bool:
        return self.order.status is Status.REFUNDED


# The WeChat Pay provider's name (bot/payments/wechatpay.py), for the pages and replies that
# show its QR code or pay in place inside WeChat.
WECHAT_PAY_PROVIDER = "wechatpay"


class PaymentProvider(Protocol):
    """One way to pay. Implementations: sandbox (core), Stripe and Telegram Stars (bot/)."""

    name: str

    def accepts(self, currency: str) -> bool: ...

    async def start(self, order: Order) -> Checkout:
        """Begin paying ``order``: a link, an invoice or an instruction for the buyer."""
        ...

    async def refund(self, order: Order, amount_minor: int) -> str:
        """Give ``amount_minor`` of ``order`` back through the provider; returns its refund
        id. Raises RefundFailed with a reason for the creator."""
        ...


class ReconcilingProvider(PaymentProvider, Protocol):
    """A provider that can list settled payments, for orders whose webhook never came."""

    async def settled_since(self, since: datetime) -> list[SettledPayment]: ...


class RefundFailed(Exception):
    """The provider refused or failed a refund; the message is for the creator."""


@dataclass(frozen=True)
class ProductKind:
    """A kind of product sold through orders besides courses and bundles (plans): how to find
    one, whether a member may order it now, and what paying for it (and a full refund) does —
    ``grant`` and ``revoke`` run inside the order's own transaction."""

    resolve: Callable[[int], Awaitable[Product]]
    check: Callable[[Member, Product], Awaitable[None]]  # raises InvalidInput to refuse
    grant: Callable[[AsyncConnection, Order, datetime], Awaitable[None]]
    revoke: Callable[[AsyncConnection, Order, datetime], Awaitable[None]]


class PaymentMismatch(Exception):
    """A provider reported a payment whose amount or currency is not the order's."""


def order_from_row(row: Any) -> Order:
    """An ``orders`` row as an Order."""
    return Order(
        row.id,
        row.community_id,
        row.member_id,
        row.product_kind,
        row.product_id,
        row.title,
        Money(row.currency, row.amount_minor),
        Status(row.status),
        row.provider,
        row.provider_ref,
        row.created_at,
        row.expires_at,
        row.paid_at,
        row.fulfilled_at,
        row.refunded_minor,
        row.purchase_points,
        row.list_minor,
        row.coupon_id,
        row.offset_points,
        row.offset_minor,
    )
