"""Revenue: by product and month, MRR, ARPU, CLV and CAC — in integer minor units of one
currency (a community reports each currency it sells in separately).

- Revenue counts paid orders less their refunds, in the month they were paid.
- MRR: the monthly value of live paid subscriptions (a quarter's price / 3, a year's / 12),
  rounded down.
- ARPU: the month's revenue / the members active that month.
- CLV = average order value × orders per buying member × expected lifetime in months, where
  the lifetime is 1 / the monthly churn of buyers (capped at 24 months; 24 when nobody churned).
- CAC: recorded marketing spend / new buying members in the same months (None without spend).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_LIFETIME_MONTHS = 24
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class PaidOrder:
    member_id: int
    product: str  # the title, as sold
    month: str  # YYYY-MM it was paid in
    amount: int  # minor units, less refunds


@dataclass(frozen=True)
class RevenueReport:
    currency: str
    by_month: dict[str, int]
    by_product: dict[str, int]
    total: int
    orders: int
    buyers: int
    aov: int  # average order value
    mrr: int
    arpu: int  # this month
    clv: int
    cac: int | None


def revenue_report(
    currency: str,
    orders: Iterable[PaidOrder],
    *,
    subscriptions: Iterable[tuple[int, str]] = (),  # (price in minor units, period) of live paid ones
    month: str,
    active_members: int,
    buyer_churn: float,
    spend: int = 0,
    new_buyers: int = 0,
) -> RevenueReport:
    orders = list(orders)
    by_month: dict[str, int] = {}
    by_product: dict[str, int] = {}
    for order in orders:
        by_month[order.month] = by_month.get(order.month, 0) + order.amount
        by_product[order.product] = by_product.get(order.product, 0) + order.amount
    total = sum(o.amount for o in orders)
    buyers = len({o.member_id for o in orders})
    aov = total // len(orders) if orders else 0
    mrr = sum(price // PERIOD_MONTHS[period] for price, period in subscriptions)
    arpu = by_month.get(month, 0) // active_members if active_members else 0
    lifetime = MAX_LIFETIME_MONTHS if buyer_churn <= 0 else min(1 / buyer_churn, MAX_LIFETIME_MONTHS)
    per_buyer = len(orders) / buyers if buyers else 0.0
    clv = int(aov * per_buyer * lifetime)
    cac = spend // new_buyers if spend and new_buyers else None
    return RevenueReport(
        currency,
        dict(sorted(by_month.items())),
        dict(sorted(by_product.items(), key=lambda kv: -kv[1])),
        total,
        len(orders),
        buyers,
        aov,
        mrr,
        arpu,
        clv,
        cac,
    )
