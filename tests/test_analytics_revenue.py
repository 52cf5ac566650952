"""core/analytics/revenue.py: revenue, MRR, ARPU, CLV and CAC on known numbers."""

from __future__ import annotations

from core.analytics.revenue import PaidOrder, revenue_report


def test_known_revenue_figures() -> None:
    orders = [
        PaidOrder(1, "Python", "2026-10", 2000),
        PaidOrder(1, "ML", "2026-11", 3000),
        PaidOrder(2, "Python", "2026-11", 2000),
        PaidOrder(3, "Python", "2026-11", 1000),  # partly refunded
    ]
    report = revenue_report(
        "USD",
        orders,
        subscriptions=[(999, "month"), (2700, "quarter"), (12000, "year")],
        month="2026-11",
        active_members=4,
        buyer_churn=0.25,
        spend=9000,
        new_buyers=3,
    )
    assert report.by_month == {"2026-10": 2000, "2026-11": 6000}
    assert report.by_product == {"Python": 5000, "ML": 3000}
    assert (report.total, report.orders, report.buyers, report.aov) == (8000, 4, 3, 2000)
    assert report.mrr == 999 + 900 + 1000
    assert report.arpu == 1500  # 6000 this month / 4 active members
    assert report.clv == int(2000 * (4 / 3) * 4)  # AOV × orders per buyer × 1/churn months
    assert report.cac == 3000


def test_no_churn_caps_the_lifetime_and_no_spend_has_no_cac() -> None:
    report = revenue_report(
        "USD", [PaidOrder(1, "A", "2026-11", 100)], month="2026-11", active_members=0, buyer_churn=0
    )
    assert (report.clv, report.arpu, report.cac) == (2400, 0, None)
