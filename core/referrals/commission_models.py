"""Commission values: rates (in basis points), commissions, balances, and the percentage
arithmetic creators' rates go through."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from core.catalog.money import Money
from core.errors import InvalidInput
from core.i18n import msg
from core.orders.models import Order, Status

_PERCENT = re.compile(r"^(\d{1,3})(?:[.,](\d{1,2}))?%?$")


@dataclass(frozen=True)
class Rate:
    code: str  # the product's code, or "all"
    title: str
    level1_bp: int  # basis points: 1250 = 12.5%
    level2_bp: int


@dataclass(frozen=True)
class Commission:
    id: int
    order_id: int
    level: int
    buyer_id: int
    amount: Money
    reversed_minor: int
    status: str  # pending | available
    available_at: datetime

    @property
    def net_minor(self) -> int:
        return self.amount.minor - self.reversed_minor


@dataclass(frozen=True)
class Balance:
    currency: str
    pending: int
    available: int  # may be below zero after a clawback
    paid: int


def parse_percent(text: str) -> int:
    """``12.5``, ``12.5%`` or ``12,5`` → 1250 basis points (0 to 100%)."""
    match = _PERCENT.match(text.strip())
    if match is None:
        raise InvalidInput(msg("A commission is a percentage like 10 or 12.5, not {value}.", value=text[:20]))
    whole, part = match.group(1), (match.group(2) or "").ljust(2, "0")
    bp = int(whole) * 100 + int(part)
    if bp > 10_000:
        raise InvalidInput(msg("A commission is at most 100%."))
    return bp


def percent_text(bp: int) -> str:
    whole, part = divmod(bp, 100)
    return f"{whole}%" if part == 0 else f"{whole}.{part:02d}".rstrip("0") + "%"


def commission_for(amount_minor: int, bp: int) -> int:
    """The commission on ``amount_minor`` at ``bp`` basis points, rounded down."""
    return amount_minor * bp // 10_000


def reversed_share(amount_minor: int, order: Order) -> int:
    """How much of a commission of ``amount_minor`` on ``order`` its refunds take back in all:
    the refunded share, rounded down; all of it once the order is refunded in full."""
    if order.status is Status.REFUNDED:
        return amount_minor
    if order.amount.minor <= 0:
        return 0
    return amount_minor * min(order.refunded, order.amount.minor) // order.amount.minor
