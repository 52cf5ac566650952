"""Subscriptions: a member's recurring access to a plan.

States: trial → (paid) active → (period over, renewal unpaid) grace → ended; a cancelled
subscription keeps its access to the end of the period it paid for, then ends without grace.
A trial is given once per member and plan. Paying is an order for one period (the order
machinery: providers, coupons, refunds); its fulfilment extends the period — from the end of
the current one while it lasts, else from the payment — in the order's own transaction.

The ``tend`` job moves subscriptions whose time is up and sends reminders (3 days before and
on the day a trial or a paid period ends), each recorded so it is sent once; a community turns
them off with ``push.renewal_reminders``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.access.plans import Plan, PlanService, add_period
from core.access.tables import plans, subscription_reminders, subscriptions
from core.catalog.models import Product
from core.catalog.money import Money
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import Msg, msg, nmsg
from core.ledger.points import PointsService, TierGrant
from core.members.models import Community, Member
from core.notices import Notices
from core.orders.models import Order, ProductKind
from core.orders.service import OrderService
from core.replies import Notice, Reply
from core.settings.service import SettingsService
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

log = logging.getLogger(__name__)

LIVE = ("trial", "active", "grace")
RENEW_WINDOW = timedelta(days=7)  # how early a paid period can be renewed
PROVIDER_SLACK = timedelta(days=1)  # how long a self-renewing period waits for its provider's renewal
REMIND_DAYS = (3, 0)


@dataclass(frozen=True)
class Subscription:
    id: int
    member_id: int
    plan: Plan
    status: str
    period_end: datetime
    grace_until: datetime | None
    cancel_at_period_end: bool
    trial_used: bool
    provider: str | None = None  # set when a provider bills it by itself (Stripe)
    provider_ref: str | None = None

    @property
    def renews_by_itself(self) -> bool:
        return self.provider_ref is not None

    @property
    def access_until(self) -> datetime:
        return self.grace_until or self.period_end


@dataclass(frozen=True)
class Subscribed:
    """What /subscribe did: started a trial, resumed a cancelled one, or made an order to pay."""

    trial: Subscription | None = None
    resumed: Subscription | None = None
    order: Order | None = None


class SubscriptionService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        plans: PlanService,
        orders: OrderService,
        notices: Notices,
        points: PointsService,
        settings: SettingsService | None = None,
    ) -> None:
        self._db = db
        self._settings = settings  # push.renewal_reminders: reminders on or off
        self._clock = clock
        self._plans = plans
        self._orders = orders
        self._notices = notices
        self._points = points
        orders.register_kind(
            "plan",
            ProductKind(resolve=self._product, check=self._check, grant=self._extend, revoke=self._end_now),
        )
        points.add_tier_grants(self.tier_grants)

    # -- members -------------------------------------------------------------------------

    async def subscribe(
        self, community: Community, member: Member, plan: Plan, coupon: str | None = None
    ) -> Subscribed:
        now = self._clock.now()
        current = await self.get(member, plan)
        if current is not None and current.status in LIVE and current.cancel_at_period_end:
            await self._tell_provider(current, "resume_renewing")
            async with self._db.write() as conn:
                await conn.execute(
                    update(subscriptions)
                    .where(subscriptions.c.id == current.id)
                    .values(cancel_at_period_end=False, updated_at=now)
                )
            return Subscribed(resumed=await self.get(member, plan))
        if plan.trial_days and (current is None or not current.trial_used):
            async with self._db.write() as conn:
                await self._ensure_row(conn, community.id, member.id, plan.id, now)
                moved = await conn.execute(
                    update(subscriptions)
                    .where(
                        subscriptions.c.member_id == member.id,
                        subscriptions.c.plan_id == plan.id,
                        subscriptions.c.trial_used.is_(False),
                    )
                    .values(
                        status="trial",
                        trial_used=True,
                        period_end=now + timedelta(days=plan.trial_days),
                        grace_until=None,
                        cancel_at_period_end=False,
                        started_at=now,
                        updated_at=now,
                    )
                )
            if moved.rowcount == 1:
                self._points.forget_tier_grants(community.id)
                return Subscribed(trial=await self.get(member, plan))
        return Subscribed(order=await self._orders.order(community, member, plan.product(), coupon))

    async def cancel(self, member: Member, plan: Plan) -> Subscription:
        """Stop renewing: access stays until the end of the period (or trial) already given."""
        current = await self.get(member, plan)
        if current is None or current.status not in LIVE:
            raise InvalidInput(msg("You have no subscription to {title}.", title=plan.title))
        await self._tell_provider(current, "stop_renewing")
        async with self._db.write() as conn:
            await conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == current.id)
                .values(cancel_at_period_end=True, updated_at=self._clock.now())
            )
        return await self.get(member, plan)  # type: ignore[return-value]

    async def _tell_provider(self, sub: Subscription, action: str) -> None:
        """For a subscription its provider bills by itself, stop or resume renewing there first
        (so studyhall never says "cancelled" while Stripe keeps charging)."""
        if not sub.renews_by_itself:
            return
        provider = self._orders.providers.get(sub.provider or "")
        call = getattr(provider, action, None)
        if call is None:
            raise InvalidInput(
                msg("{provider} is not set up here, so this cannot be changed now.", provider=sub.provider)
            )
        try:
            await call(sub.provider_ref)
        except Exception:
            log.warning(
                "subscriptions: %s %s at %s failed", action, sub.provider_ref, sub.provider, exc_info=True
            )
            raise InvalidInput(msg("The payment provider could not be reached; please try again.")) from None

    # -- renewals the provider reports (webhooks) -----------------------------------------

    async def billed_by_provider(self, order: Order, provider: str, ref: str, period_end: datetime) -> None:
        """From ``order`` on, the provider bills the plan by itself (a Stars subscription's
        first charge): known there as ``ref``, the period ends when the provider says."""
        async with self._db.write() as conn:
            await conn.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.member_id == order.member_id,
                    subscriptions.c.plan_id == order.product_id,
                    subscriptions.c.status == "active",
                )
                .values(
                    provider=provider, provider_ref=ref, period_end=period_end, updated_at=self._clock.now()
                )
            )

    async def renewed_by_provider(self, provider: str, ref: str, period_end: datetime) -> bool:
        """The provider charged the next period, which runs until ``period_end``. Idempotent."""
        now = self._clock.now()
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.provider == provider,
                    subscriptions.c.provider_ref == ref,
                    subscriptions.c.period_end <= period_end,
                )
                .values(status="active", period_end=period_end, grace_until=None, updated_at=now)
            )
        if moved.rowcount == 1:
            row = await self._by_ref(provider, ref)
            plan = await self._plans.by_id(row.plan_id)
            self._points.forget_tier_grants(row.community_id)  # a grace may have ended
            self._tell(
                _subscription(row, plan),
                msg(
                    "Your subscription to {title} renewed; it runs until {date}.",
                    title=plan.title,
                    date=period_end.date().isoformat(),
                ),
            )
        return moved.rowcount == 1

    async def renewal_failed_by_provider(self, provider: str, ref: str) -> bool:
        """The provider could not charge the renewal: grace starts now (it keeps retrying)."""
        row = await self._by_ref(provider, ref)
        if row is None or row.status != "active":
            return False
        plan = await self._plans.by_id(row.plan_id)
        now = self._clock.now()
        sub = _subscription(row, plan)
        grace_until = max(now, sub.period_end) + timedelta(days=plan.grace_days)
        await self._move(sub, "grace", now, grace_until=grace_until)
        self._tell(
            sub,
            nmsg(
                "Your payment for {title} did not go through. Your access continues for {n} day while "
                "it is tried again; update your card with the provider.",
                "Your payment for {title} did not go through. Your access continues for {n} days while "
                "it is tried again; update your card with the provider.",
                plan.grace_days,
                title=plan.title,
            ),
            "access_ends",
            grace_until,
        )
        return True

    async def ended_by_provider(self, provider: str, ref: str) -> bool:
        """The provider ended the subscription (cancelled there, or its retries ran out)."""
        row = await self._by_ref(provider, ref)
        if row is None or row.status == "ended":
            return False
        plan = await self._plans.by_id(row.plan_id)
        now = self._clock.now()
        await self._move(_subscription(row, plan), "ended", now)
        self._tell(
            _subscription(row, plan),
            msg(
                "Your subscription to {title} has ended. /subscribe {code} to come back.",
                title=plan.title,
                code=plan.code,
            ),
            "access_ends",
            now,
        )
        return True

    async def renewal_paid(self, provider: str, ref: str, charge_ref: str, paid: Money) -> Order | None:
        """Keep a renewal the provider charged (``charge_ref``: its invoice or charge id) as an
        order of the subscription's member and plan; None when already kept or unknown."""
        sub = await self.billed_by(provider, ref)
        if sub is None:
            return None
        return await self._orders.record_renewal(
            sub.plan.community_id,
            sub.member_id,
            sub.plan.product(),
            provider=provider,
            provider_ref=charge_ref,
            paid=paid,
        )

    async def billed_by(self, provider: str, ref: str) -> Subscription | None:
        """The subscription the provider bills as ``ref``, if any."""
        row = await self._by_ref(provider, ref)
        return None if row is None else _subscription(row, await self._plans.by_id(row.plan_id))

    async def _by_ref(self, provider: str, ref: str) -> Any:
        query = select(subscriptions).where(
            subscriptions.c.provider == provider, subscriptions.c.provider_ref == ref
        )
        async with self._db.read() as conn:
            return (await conn.execute(query)).first()

    async def get(self, member: Member, plan: Plan) -> Subscription | None:
        query = select(subscriptions).where(
            subscriptions.c.member_id == member.id, subscriptions.c.plan_id == plan.id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return _subscription(row, plan) if row else None

    async def of_member(self, member: Member) -> list[Subscription]:
        query = (
            select(subscriptions).where(subscriptions.c.member_id == member.id).order_by(subscriptions.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_subscription(row, await self._plans.by_id(row.plan_id)) for row in rows]

    async def due_for_renewal(self, member: Member) -> list[Subscription]:
        """The member's memberships whose next period can be paid now and that nothing pays
        by itself: in grace, or a trial or period ending within the renewal window; the
        soonest ending first. Cancelled ones are not due."""
        now = self._clock.now()
        return sorted(
            (
                sub
                for sub in await self.of_member(member)
                if not sub.renews_by_itself
                and not sub.cancel_at_period_end
                and (
                    sub.status == "grace"
                    or (sub.status in ("trial", "active") and sub.period_end - now <= RENEW_WINDOW)
                )
            ),
            key=lambda sub: sub.access_until,
        )

    async def tier_grants(self, community_id: int) -> dict[int, list[TierGrant]]:
        """Members whose live subscription's plan grants a tier (the points package asks)."""
        query = (
            select(subscriptions.c.member_id, plans.c.tier, plans.c.title)
            .join(plans, plans.c.id == subscriptions.c.plan_id)
            .where(
                subscriptions.c.community_id == community_id,
                subscriptions.c.status.in_(LIVE),
                plans.c.tier.is_not(None),
            )
        )
        grants: dict[int, list[TierGrant]] = {}
        async with self._db.read() as conn:
            for row in await conn.execute(query):
                grants.setdefault(row.member_id, []).append(TierGrant(row.tier, row.title))
        return grants

    async def entitled(self, member_id: int, plan_id: int) -> bool:
        """Whether the member has the plan's access now (trial, paid period or grace)."""
        query = select(subscriptions).where(
            subscriptions.c.member_id == member_id, subscriptions.c.plan_id == plan_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return row is not None and row.status in LIVE

    # -- orders --------------------------------------------------------------------------

    async def _product(self, plan_id: int) -> Product:
        return (await self._plans.by_id(plan_id)).product()

    async def _check(self, member: Member, product: Product) -> None:
        plan = await self._plans.by_id(product.id)
        current = await self.get(member, plan)
        now = self._clock.now()
        if current is not None and current.status == "active" and current.period_end - now > RENEW_WINDOW:
            raise InvalidInput(
                msg(
                    "You are subscribed to {title} until {date}; you can renew from 7 days before.",
                    title=plan.title,
                    date=current.period_end.date().isoformat(),
                )
            )

    async def _extend(self, conn: AsyncConnection, order: Order, now: datetime) -> None:
        """A paid period: from the end of the current trial or period while it lasts, else now."""
        plan = await self._plans.by_id(order.product_id)
        await self._ensure_row(conn, order.community_id, order.member_id, plan.id, now)
        row = (
            await conn.execute(
                select(subscriptions).where(
                    subscriptions.c.member_id == order.member_id, subscriptions.c.plan_id == plan.id
                )
            )
        ).one()
        start = row.period_end if row.status in ("trial", "active") and row.period_end > now else now
        provider = self._orders.providers.get(order.provider)
        recurring = bool(getattr(provider, "bills_plans_itself", False)) and order.provider_ref is not None
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == row.id)
            .values(
                status="active",
                period_end=add_period(start, plan.period),
                grace_until=None,
                cancel_at_period_end=False,
                updated_at=now,
                provider=order.provider if recurring else None,
                provider_ref=order.provider_ref if recurring else None,
                **({"started_at": now} if row.status == "ended" else {}),
            )
        )
        self._points.forget_tier_grants(order.community_id)

    async def _ensure_row(
        self, conn: AsyncConnection, community_id: int, member_id: int, plan_id: int, now: datetime
    ) -> None:
        """The member's one row for the plan (an ended one if new), to move with UPDATEs."""
        await conn.execute(
            insert_or_ignore(self._db.dialect, subscriptions).values(
                community_id=community_id,
                member_id=member_id,
                plan_id=plan_id,
                status="ended",
                period_end=now,
                started_at=now,
                updated_at=now,
            )
        )

    async def _end_now(self, conn: AsyncConnection, order: Order, now: datetime) -> None:
        """A fully refunded period: the access it paid for ends now."""
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.member_id == order.member_id, subscriptions.c.plan_id == order.product_id)
            .values(status="ended", period_end=now, grace_until=None, updated_at=now)
        )
        self._points.forget_tier_grants(order.community_id)

    # -- the job -------------------------------------------------------------------------

    async def tend(self, now: datetime) -> dict[str, int]:
        """Send due reminders; move trials and periods whose time is up. Idempotent."""
        counts = {"reminded": 0, "grace": 0, "ended": 0}
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    select(subscriptions).where(
                        subscriptions.c.status.in_(LIVE),
                        subscriptions.c.period_end <= now + timedelta(days=max(REMIND_DAYS)),
                    )
                )
            ).all()
        for row in rows:
            plan = await self._plans.by_id(row.plan_id)
            sub = _subscription(row, plan)
            if sub.status in ("trial", "active") and sub.period_end > now:
                if await self._reminders_on(plan.community_id):
                    counts["reminded"] += await self._remind(sub, now)
            elif sub.status in ("trial", "active"):
                if (
                    sub.renews_by_itself
                    and not sub.cancel_at_period_end
                    and now < sub.period_end + PROVIDER_SLACK
                ):
                    continue  # the provider's renewal normally arrives first
                counts[await self._period_over(sub, now)] += 1
            elif sub.grace_until is not None and sub.grace_until <= now:
                await self._move(sub, "ended", now, grace_until=sub.grace_until)
                self._tell(
                    sub,
                    msg(
                        "Your subscription to {title} has ended. /subscribe {code} to come back.",
                        title=plan.title,
                        code=plan.code,
                    ),
                    "access_ends",
                    now,
                )
                counts["ended"] += 1
        return counts

    async def _reminders_on(self, community_id: int) -> bool:
        if self._settings is None:
            return True
        return bool(await self._settings.get(community_id, "push.renewal_reminders"))

    async def _remind(self, sub: Subscription, now: datetime) -> int:
        days_left = (sub.period_end - now).total_seconds() / 86400
        due = [d for d in REMIND_DAYS if days_left <= max(d, 1)]
        if not due:
            return 0
        kind = f"{sub.status}_end:{min(due)}"
        async with self._db.write() as conn:
            sent = await conn.execute(
                insert_or_ignore(self._db.dialect, subscription_reminders).values(
                    subscription_id=sub.id, kind=kind, period_end=sub.period_end, sent_at=now
                )
            )
        if sent.rowcount != 1:
            return 0
        plan, date = sub.plan, sub.period_end.date().isoformat()
        if sub.status == "trial":
            text = msg(
                "Your trial of {title} ends on {date}. /subscribe {code} to keep your access.",
                title=plan.title,
                date=date,
                code=plan.code,
            )
        elif sub.renews_by_itself and not sub.cancel_at_period_end:
            text = msg(
                "Your subscription to {title} renews by itself on {date}. /cancel stops it.",
                title=plan.title,
                date=date,
            )
        elif sub.cancel_at_period_end:
            text = msg(
                "Your subscription to {title} ends on {date}, as you cancelled it."
                " /subscribe {code} to stay.",
                title=plan.title,
                date=date,
                code=plan.code,
            )
        else:
            text = msg(
                "Your subscription to {title} renews on {date}:"
                " /subscribe {code} to pay for the next {period}.",
                title=plan.title,
                date=date,
                code=plan.code,
                period=PERIOD_NAMES[plan.period],
            )
        ends = sub.status == "trial" or sub.cancel_at_period_end
        self._tell(sub, text, "access_ends" if ends else "renews_soon", sub.period_end)
        return 1

    async def _period_over(self, sub: Subscription, now: datetime) -> str:
        plan = sub.plan
        if sub.status == "trial" or sub.cancel_at_period_end or plan.grace_days == 0:
            await self._move(sub, "ended", now)
            self._tell(
                sub,
                msg(
                    "Your access to {title} has ended. /subscribe {code} to come back.",
                    title=plan.title,
                    code=plan.code,
                ),
                "access_ends",
                now,
            )
            return "ended"
        grace_until = sub.period_end + timedelta(days=plan.grace_days)
        await self._move(sub, "grace", now, grace_until=grace_until)
        self._tell(
            sub,
            msg(
                "Your renewal of {title} is not paid yet. Your access continues until {date}: "
                "/subscribe {code} to pay.",
                title=plan.title,
                date=grace_until.date().isoformat(),
                code=plan.code,
            ),
            "access_ends",
            grace_until,
        )
        return "grace"

    async def _move(
        self, sub: Subscription, status: str, now: datetime, *, grace_until: datetime | None = None
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.id == sub.id,
                    subscriptions.c.status == sub.status,
                    subscriptions.c.period_end == sub.period_end,
                )
                .values(status=status, grace_until=grace_until, updated_at=now)
            )
        self._points.forget_tier_grants(sub.plan.community_id)

    def _tell(
        self, sub: Subscription, text: Msg, notice: str | None = None, date: datetime | None = None
    ) -> None:
        """Tell the member; with the notice (``renews_soon``, ``access_ends``) and its date for
        platforms that send it by template outside their send window."""
        told = None
        if notice is not None and date is not None:
            told = Notice(notice, (("title", sub.plan.title), ("date", date.date().isoformat())))
        reply = Reply.text(text, to_member=sub.member_id, notice=told)
        self._notices.add(sub.plan.community_id, reply)


PERIOD_NAMES: dict[str, Msg] = {"month": msg("month"), "quarter": msg("quarter"), "year": msg("year")}


def _subscription(row: Any, plan: Plan) -> Subscription:
    return Subscription(
        row.id,
        row.member_id,
        plan,
        row.status,
        row.period_end,
        row.grace_until,
        row.cancel_at_period_end,
        row.trial_used,
        row.provider,
        row.provider_ref,
    )
