"""Scheduled jobs. Each is idempotent and safe to re-run; they use core services only."""

from jobs.registry import JobRegistry


def build_registry() -> JobRegistry:
    """Every job studyhall schedules (later issues add theirs here)."""
    from jobs import analytics, orders, paid_chats, points_expiry, qa, referrals, subscriptions

    registry = JobRegistry()
    for module in (points_expiry, orders, subscriptions, paid_chats, referrals, qa, analytics):
        registry.add(module.SPEC)
    registry.add(orders.RECONCILE_SPEC)
    return registry
