"""Scheduled jobs. Each is idempotent and safe to re-run; they use core services only."""

from jobs.registry import JobRegistry


def build_registry() -> JobRegistry:
    """Every job studyhall schedules (later issues add theirs here)."""
    from jobs import (
        analytics,
        cleanup,
        orders,
        paid_chats,
        points_expiry,
        pushes,
        qa,
        referrals,
        subscriptions,
    )

    registry = JobRegistry()
    # analytics before pushes: a win-back goes to the at-risk segment as just computed.
    for module in (points_expiry, orders, subscriptions, paid_chats, referrals, qa, analytics, pushes):
        registry.add(module.SPEC)
    registry.add(orders.RECONCILE_SPEC)
    registry.add(cleanup.SPEC)
    return registry
