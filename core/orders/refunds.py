"""Refunds of orders: through the order's provider, or as the provider reports them; a full
refund revokes what was bought, and purchase points are taken back in proportion.

``refund_preview`` says what a refund would take back without doing it: it runs the same
checks as ``refund`` and asks the same rules (``points_to_take_back`` here, and the hooks other
packages register for their own clawbacks, which their refund follow-ups use too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import update

from core.audit.log import record
from core.catalog.money import Money, parse_money
from core.catalog.service import CatalogService
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed
from core.i18n import Msg, msg
from core.ledger.models import Kind, MemberAccount, Posting, SystemAccount, SystemCode
from core.ledger.points import PointsService
from core.members.models import Community, Member, Role
from core.orders.models import Clawback, Order, PaymentProvider, ProductKind, Refund, RefundPreview, Status
from core.orders.tables import orders
from core.replies import Notice, Reply
from core.storage.database import Database

ClawbackPreview = Callable[[Order], Awaitable[list[Clawback]]]


def parse_refund_amount(order: Order, text: str | None) -> int | None:
    """A refund amount typed in the order's currency (``5`` or ``5.50``) → minor units; None
    (refund all that is left) when blank. The refusals are the price parser's."""
    if text is None or not text.strip():
        return None
    return parse_money(f"{text.strip()} {order.amount.currency}").minor


def points_to_take_back(order: Order, refunded_total: int) -> int:
    """Purchase points a refund bringing the order's refunded total to ``refunded_total``
    takes back: the purchase's points in proportion, less what earlier refunds took."""
    if order.amount.minor <= 0:
        return 0
    share = order.purchase_points * min(refunded_total, order.amount.minor) // order.amount.minor
    return share - order.purchase_points * order.refunded // order.amount.minor


def after_refund(order: Order, refunded_total: int) -> Order:
    """The order as a refund bringing its refunded total to ``refunded_total`` leaves it."""
    total = min(refunded_total, order.amount.minor)
    full = total == order.amount.minor
    return replace(order, refunded=total, status=Status.REFUNDED if full else order.status)


def refund_notice(order: Order, amount: int) -> Msg:
    """What the buyer is told of a refund of ``amount`` minor units."""
    return msg(
        "You were refunded {amount} for order #{id}: {title}.",
        amount=Money(order.amount.currency, amount),
        id=order.id,
        title=order.title,
    )


def refund_reply(order: Order, amount: int, at: datetime) -> Reply:
    """The buyer's private note of that refund, with its notice (core/replies.Notice) for
    platforms that send it by template."""
    refunded = Money(order.amount.currency, amount)
    fields = (
        ("order", f"#{order.id}"),
        ("title", order.title),
        ("amount", refunded),
        ("date", at.date().isoformat()),
    )
    return Reply.text(
        refund_notice(order, amount), to_member=order.member_id, notice=Notice("refund_done", fields)
    )


class OrderRefunds:
    """OrderService's refunds (core/orders/service.py)."""

    _db: Database
    _clock: Clock
    _catalog: CatalogService
    _points: PointsService
    _kinds: dict[str, ProductKind]
    _on_refunded: list[Callable[[Order], Awaitable[None]]]
    _clawback_previews: list[ClawbackPreview]
    providers: dict[str, PaymentProvider]
    return_offset: Callable[[Order, int, int], Awaitable[int]]  # core/orders/offsets.py

    def on_refund_preview(self, hook: ClawbackPreview) -> None:
        """``hook(order as refunded)`` lists what that package's refund follow-up (registered
        with on_refunded) will take back; it must use the same rule as the follow-up."""
        self._clawback_previews.append(hook)

    async def _checked(
        self, community: Community, actor: Member, order_id: int, amount: int | None
    ) -> tuple[Order, int, PaymentProvider]:
        """The order, the amount to refund and its provider, or the refusal (creators only)."""
        if actor.role is not Role.CREATOR or actor.community_id != community.id:
            raise NotAllowed(msg("Only creators can refund orders."))
        order = await self.get(order_id)
        if order.community_id != community.id:
            raise InvalidInput(msg("There is no order {id}.", id=order_id))
        if order.refundable <= 0:
            raise InvalidInput(msg("Order {id} has nothing left to refund.", id=order_id))
        amount = order.refundable if amount is None else amount
        if not 0 < amount <= order.refundable:
            raise InvalidInput(
                msg(
                    "Order {id} can be refunded at most {left}.",
                    id=order_id,
                    left=Money(order.amount.currency, order.refundable),
                )
            )
        provider = self.providers.get(order.provider)
        if provider is None:
            raise InvalidInput(
                msg("Refunds through {provider} are not set up here.", provider=order.provider)
            )
        return order, amount, provider

    async def refund(
        self,
        community: Community,
        actor: Member,
        order_id: int,
        amount: int | None,
        *,
        via: str = "command",
    ) -> Refund:
        """Refund ``amount`` minor units (all that is left when None) through the order's
        provider, then record it (audited with ``via``). Creators only."""
        order, amount, provider = await self._checked(community, actor, order_id, amount)
        reference = await provider.refund(order, amount)
        return await self.record_refund(
            order_id,
            refunded_total=order.refunded + amount,
            provider_ref=reference,
            actor_member_id=actor.id,
            via=via,
        )

    async def refund_preview(
        self, community: Community, actor: Member, order_id: int, amount: int | None
    ) -> RefundPreview:
        """What ``refund`` with these arguments would take back, refused as it would be."""
        order, amount, _ = await self._checked(community, actor, order_id, amount)
        refunded = after_refund(order, order.refunded + amount)
        found: list[Clawback] = []
        wanted = points_to_take_back(order, refunded.refunded)
        if wanted > 0:
            balance = (await self._points.ledger.balance(order.community_id, order.member_id)).balance
            found.append(Clawback.of_points(order.member_id, "purchase_points", wanted, balance))
        for hook in self._clawback_previews:
            found.extend(await hook(refunded))
        return RefundPreview(refunded, amount, tuple(found))

    async def record_refund(
        self,
        order_id: int,
        *,
        refunded_total: int,
        provider_ref: str,
        actor_member_id: int | None = None,
        via: str = "provider",
    ) -> Refund:
        """The provider has refunded ``refunded_total`` of the order in all (a webhook, or our
        own refund call). Idempotent: the total only rises, and the rise is recorded once.
        A full refund revokes the course; purchase points are taken back in proportion, as
        far as the member's balance allows (the shortfall is audited)."""
        order = await self.get(order_id)
        total = min(refunded_total, order.amount.minor)
        if total <= order.refunded:
            return Refund(order, 0)
        now = self._clock.now()
        full = total == order.amount.minor
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.refunded_minor == order.refunded)
                .values(refunded_minor=total, **({"status": Status.REFUNDED.value} if full else {}))
            )
            raced = moved.rowcount != 1
            if not raced:
                if full:
                    await self._catalog.revoke_order(conn, order.id, now)
                    kind = self._kinds.get(order.product_kind)
                    if kind is not None:
                        await kind.revoke(conn, order, now)
                await record(
                    conn,
                    community_id=order.community_id,
                    at=now,
                    action="order.refund",
                    actor_member_id=actor_member_id,
                    subject_member_id=order.member_id,
                    order=order_id,
                    amount=total - order.refunded,
                    total=total,
                    ref=provider_ref,
                    via=via,
                )
        if raced:  # another caller recorded a refund meanwhile: read the order again
            return await self.record_refund(
                order_id,
                refunded_total=refunded_total,
                provider_ref=provider_ref,
                actor_member_id=actor_member_id,
                via=via,
            )
        await self.return_offset(order, order.refunded, total)  # points that paid part, pro rata
        wanted = points_to_take_back(order, total)
        clawed = await self._claw_back(order, wanted, total) if wanted > 0 else 0
        if clawed < wanted:
            async with self._db.write() as conn:
                await record(
                    conn,
                    community_id=order.community_id,
                    at=now,
                    action="order.refund_points_short",
                    actor_member_id=actor_member_id,
                    subject_member_id=order.member_id,
                    order=order_id,
                    wanted=wanted,
                    taken=clawed,
                )
        refunded = await self.get(order_id)
        await self._run_hooks(self._on_refunded, refunded)
        return Refund(refunded, total - order.refunded, clawed, wanted - clawed)

    async def _claw_back(self, order: Order, points: int, total: int) -> int:
        result = await self._points.ledger.post(
            Posting(
                community_id=order.community_id,
                debit=MemberAccount(order.member_id),
                credit=SystemAccount(SystemCode.ISSUANCE),
                amount=points,
                kind=Kind.DEDUCT,
                key=f"refund:{order.id}:{total}",
                at=self._clock.now(),
                memo=f"refund of order #{order.id}",
                partial=True,
            )
        )
        return result.transfer.amount if result.ok and result.transfer is not None else 0
