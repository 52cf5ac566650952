"""Every minute: expire unpaid orders past their time; deliver paid orders left undelivered.
Every 10 minutes: ask providers for payments whose report never came, then check each provider's
latest daily bill once (core/orders/bill_check.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from core.orders.bill_check import BillChecks
from core.services import Services
from jobs.registry import JobSpec

log = logging.getLogger(__name__)

RECONCILE_WINDOW = timedelta(days=2)


async def tend_orders(services: Services, now: datetime) -> None:
    expired = await services.orders.expire_due(now)
    if expired:
        log.info("expired %d unpaid orders", expired)
    delivered = [f for f in await services.orders.fulfil_stuck() if f.fresh]
    await services.orders.settle_offsets()  # points a crash left held or unspent
    if delivered:
        log.info("delivered %d paid orders left undelivered", len(delivered))


async def reconcile_payments(services: Services, now: datetime) -> None:
    delivered = await services.orders.reconcile(now - RECONCILE_WINDOW)
    if delivered:
        log.info("reconciliation delivered %d orders whose payment report never arrived", len(delivered))
    # After the above, so that a payment whose report was only late is no difference.
    bills = BillChecks(services.db, services.clock, services.orders, services.members, services.notices)
    await bills.check_due(now)


RECONCILE_SPEC = JobSpec(
    "payments_reconcile",
    CronTrigger(minute="*/10", timezone="UTC"),
    reconcile_payments,
    "ask payment providers for settled payments we missed; check each provider's daily bill once",
)

# Cron, not interval, triggers: an interval counts from when it was built (wall time), and the
# sandbox clock of the console and tests may be anywhere.
SPEC = JobSpec(
    "orders",
    CronTrigger(minute="*", timezone="UTC"),
    tend_orders,
    "expire unpaid orders; deliver paid ones left undelivered",
)
