"""The sandbox payment provider: nothing is charged; the console's ``:pay`` completes it."""

from __future__ import annotations

from core.i18n import msg
from core.orders.models import Checkout, Order

NAME = "sandbox"


class SandboxProvider:
    name = NAME

    def accepts(self, currency: str) -> bool:
        return True

    async def start(self, order: Order) -> Checkout:
        return Checkout(msg("Sandbox payment: nothing is charged. Type :pay to complete it."))

    async def refund(self, order: Order, amount_minor: int) -> str:
        return f"sandbox-refund:{order.id}:{order.refunded + amount_minor}"
