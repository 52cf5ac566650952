"""Commissions for referrals (分销): money a referrer earns on the orders of those they invited.

A creator sets a rate per product, or for all products, with an optional second level (the
referrer's own referrer). A paid order accrues each level's commission in the order's
currency: ``amount × rate``, rounded down to the currency's minor unit (never more than the
rate). It is *pending* for ``commission.hold_days`` (14), then *available*. A refund during
the hold cancels the refunded share; after the hold it is clawed back from what the member has
available, which may go below zero and is then offset against later commissions. Creators pay
out what is available and record the payment's reference.

The money moves in a double-entry ledger of its own (``commission_transfers``): accounts
``expense`` (the community's cost) and ``pending:ID``, ``available:ID``, ``paid:ID`` per earner;
every row is immutable with a unique key, so the accounts always sum to zero and a retried
step changes nothing. A commission's state moves by conditional UPDATEs, each in the same
transaction as its transfer, so a release and a refund racing cannot both take the same money.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from core.access.plans import PlanService
from core.audit.log import record
from core.catalog.money import Money
from core.catalog.service import CatalogService
from core.clock import Clock
from core.errors import InvalidInput
from core.i18n import msg
from core.members.models import Community, Member, require_creator
from core.members.service import MemberService
from core.members.tables import members as members_table
from core.notices import Notices
from core.orders.models import Clawback, Order, Status
from core.orders.service import OrderService
from core.orders.tables import orders as orders_table
from core.referrals.commission_ledger import EXPENSE, CommissionLedger, _balances_on, _earners_after
from core.referrals.commission_models import Balance, Commission, Rate, commission_for, reversed_share
from core.referrals.service import ReferralService
from core.referrals.tables import commission_rates, commissions
from core.replies import Reply
from core.settings.service import SettingsService
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore, insert_or_update

FOR_CREATORS = msg("Only creators can manage commissions.")
LEVELS_OVER_100 = msg("Both levels together are at most 100%.")
ALL = "all"
CATCH_UP = timedelta(days=45)  # how far back the job looks for orders a hook missed


class CommissionService(CommissionLedger):
    def __init__(
        self,
        db: Database,
        clock: Clock,
        members: MemberService,
        catalog: CatalogService,
        plans: PlanService,
        settings: SettingsService,
        referrals: ReferralService,
        orders: OrderService,
        notices: Notices,
    ) -> None:
        self._db = db
        self._clock = clock
        self._members = members
        self._catalog = catalog
        self._plans = plans
        self._settings = settings
        self._referrals = referrals
        self._orders = orders
        self._notices = notices
        orders.on_fulfilled(self.accrue)
        orders.on_refunded(self.reverse_refunded)
        orders.on_refund_preview(self.refund_clawbacks)

    # -- rates ---------------------------------------------------------------------------

    async def set_rate(
        self,
        community: Community,
        actor: Member,
        code: str,
        level1_bp: int,
        level2_bp: int = 0,
        *,
        via: str = "command",
    ) -> Rate:
        """The commission on ``code`` (a course, bundle or plan; ``all`` for every product
        without its own rate). 0% and 0% removes it. Audited with ``via``."""
        require_creator(community, actor, FOR_CREATORS)
        if level1_bp + level2_bp > 10_000:
            raise InvalidInput(LEVELS_OVER_100)
        kind, product_id, title = await self._product(community, code)
        async with self._db.write() as conn:
            await conn.execute(
                insert_or_update(
                    self._db.dialect,
                    commission_rates,
                    {
                        "community_id": community.id,
                        "product_kind": kind,
                        "product_id": product_id,
                        "level1_bp": level1_bp,
                        "level2_bp": level2_bp,
                    },
                    keys=("community_id", "product_kind", "product_id"),
                    update=("level1_bp", "level2_bp"),
                )
            )
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="commission.rate",
                actor_member_id=actor.id,
                product=code.lower(),
                level1_bp=level1_bp,
                level2_bp=level2_bp,
                via=via,
            )
        return Rate(code.lower(), title, level1_bp, level2_bp)

    async def _product(self, community: Community, code: str) -> tuple[str, int, str]:
        if code.lower() == ALL:
            return ALL, 0, ALL
        try:
            product = await self._catalog.product(community, code, include_hidden=True)
            return product.kind, product.id, product.title
        except InvalidInput:
            pass
        try:
            plan = await self._plans.get(community, code, include_hidden=True)
        except InvalidInput:
            raise InvalidInput(msg("There is no course, bundle or plan {code}.", code=code[:30])) from None
        return "plan", plan.id, plan.title

    async def rates(self, community: Community) -> list[Rate]:
        query = select(commission_rates).where(commission_rates.c.community_id == community.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        found = []
        for row in rows:
            if row.level1_bp == 0 and row.level2_bp == 0:
                continue
            if row.product_kind == ALL:
                found.append(Rate(ALL, ALL, row.level1_bp, row.level2_bp))
            elif row.product_kind == "plan":
                plan = await self._plans.by_id(row.product_id)
                found.append(Rate(plan.code, plan.title, row.level1_bp, row.level2_bp))
            else:
                product = await self._catalog.product_by_id(row.product_kind, row.product_id)
                found.append(Rate(product.code, product.title, row.level1_bp, row.level2_bp))
        return sorted(found, key=lambda rate: (rate.code != ALL, rate.code))

    async def _rate_of(self, order: Order) -> tuple[int, int]:
        query = select(commission_rates).where(
            commission_rates.c.community_id == order.community_id,
            (
                (commission_rates.c.product_kind == order.product_kind)
                & (commission_rates.c.product_id == order.product_id)
            )
            | (commission_rates.c.product_kind == ALL),
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        own = [row for row in rows if row.product_kind != ALL]
        chosen = own or rows  # the product's own rate, else the community's
        return (chosen[0].level1_bp, chosen[0].level2_bp) if chosen else (0, 0)

    # -- accrual, release, refunds ---------------------------------------------------------

    async def accrue(self, order: Order) -> int:
        """A delivered order's commissions (pending), once per order and level; how many new."""
        if order.amount.minor <= 0 or order.paid_at is None:
            return 0
        referral = await self._referrals.referral_of(order.member_id)
        if referral is None or order.paid_at < referral.attributed_at:
            return 0
        level1_bp, level2_bp = await self._rate_of(order)
        earners = [(1, referral.referrer_id, level1_bp)]
        upline = await self._referrals.referral_of(referral.referrer_id)
        if upline is not None and upline.referrer_id != order.member_id:
            earners.append((2, upline.referrer_id, level2_bp))
        hold = timedelta(days=await self._settings.get(order.community_id, "commission.hold_days"))
        now, added = self._clock.now(), 0
        for level, earner, bp in earners:
            amount = commission_for(order.amount.minor, bp)
            if amount <= 0:
                continue
            available_at = order.paid_at + hold
            async with self._db.write() as conn:
                inserted = await conn.execute(
                    insert_or_ignore(self._db.dialect, commissions, keys=("order_id", "level")).values(
                        community_id=order.community_id,
                        order_id=order.id,
                        level=level,
                        earner_member_id=earner,
                        buyer_member_id=order.member_id,
                        amount_minor=amount,
                        currency=order.amount.currency,
                        status="pending",
                        available_at=available_at,
                        created_at=now,
                    )
                )
                if inserted.rowcount != 1:
                    continue
                commission_id = (
                    await conn.execute(
                        select(commissions.c.id).where(
                            commissions.c.order_id == order.id, commissions.c.level == level
                        )
                    )
                ).scalar_one()
                await self._transfer(
                    conn,
                    order.community_id,
                    EXPENSE,
                    f"pending:{earner}",
                    amount,
                    order.amount.currency,
                    "accrual",
                    earner,
                    f"accrue:{order.id}:{level}",
                    commission_id=commission_id,
                )
            added += 1
            buyer = await self._members.get_member(order.member_id)
            self._tell(
                order.community_id,
                earner,
                msg(
                    "You earned a commission of {amount} on {name}'s order; it is available from {date}.",
                    amount=Money(order.amount.currency, amount),
                    name=buyer.display_name,
                    date=available_at.date().isoformat(),
                ),
            )
        return added

    async def release_due(self, now: datetime) -> int:
        """Commissions whose hold is over become available; how many."""
        query = select(commissions).where(
            commissions.c.status == "pending", commissions.c.available_at <= now
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        released = 0
        for row in rows:
            async with self._db.write() as conn:
                moved = await conn.execute(
                    update(commissions)
                    .where(
                        commissions.c.id == row.id,
                        commissions.c.status == "pending",
                        commissions.c.reversed_minor == row.reversed_minor,
                    )
                    .values(status="available")
                )
                if moved.rowcount != 1:
                    continue  # a refund moved it meanwhile: the next run looks again
                left = row.amount_minor - row.reversed_minor
                if left > 0:
                    await self._transfer(
                        conn,
                        row.community_id,
                        f"pending:{row.earner_member_id}",
                        f"available:{row.earner_member_id}",
                        left,
                        row.currency,
                        "release",
                        row.earner_member_id,
                        f"release:{row.id}",
                        commission_id=row.id,
                    )
            released += 1
            if left > 0:
                self._tell(
                    row.community_id,
                    row.earner_member_id,
                    msg(
                        "A commission of {amount} is now available to you (/commissions).",
                        amount=Money(row.currency, left),
                    ),
                )
        return released

    async def reverse_refunded(self, order: Order) -> None:
        """Take back the refunded share of the order's commissions: cancelled while held,
        clawed back after. Idempotent (the share only grows with the refunded total)."""
        if order.refunded <= 0 or order.amount.minor <= 0:
            return
        for _ in range(5):  # a release racing this one: read again and retry
            async with self._db.read() as conn:
                rows = (
                    await conn.execute(select(commissions).where(commissions.c.order_id == order.id))
                ).all()
            raced = False
            for row in rows:
                wanted = reversed_share(row.amount_minor, order)
                delta = wanted - row.reversed_minor
                if delta <= 0:
                    continue
                async with self._db.write() as conn:
                    moved = await conn.execute(
                        update(commissions)
                        .where(
                            commissions.c.id == row.id,
                            commissions.c.reversed_minor == row.reversed_minor,
                            commissions.c.status == row.status,
                        )
                        .values(reversed_minor=wanted)
                    )
                    if moved.rowcount != 1:
                        raced = True
                        continue
                    held = row.status == "pending"
                    await self._transfer(
                        conn,
                        row.community_id,
                        f"{row.status}:{row.earner_member_id}",
                        EXPENSE,
                        delta,
                        row.currency,
                        "cancel" if held else "clawback",
                        row.earner_member_id,
                        f"reverse:{row.id}:{wanted}",
                        commission_id=row.id,
                    )
                self._tell(
                    row.community_id,
                    row.earner_member_id,
                    msg(
                        "Order #{id} was refunded: {amount} of your commission is cancelled.",
                        id=order.id,
                        amount=Money(row.currency, delta),
                    )
                    if held
                    else msg(
                        "Order #{id} was refunded after the hold: {amount} is taken back from your"
                        " commissions.",
                        id=order.id,
                        amount=Money(row.currency, delta),
                    ),
                )
            if not raced:
                return

    async def refund_clawbacks(self, order: Order) -> list[Clawback]:
        """What reverse_refunded takes back when ``order`` stands as given (a refund's
        preview): each commission's share beyond what earlier refunds took."""
        async with self._db.read() as conn:
            rows = (await conn.execute(select(commissions).where(commissions.c.order_id == order.id))).all()
        found = []
        for row in rows:
            delta = reversed_share(row.amount_minor, order) - row.reversed_minor
            if delta > 0:
                found.append(
                    Clawback(
                        row.earner_member_id,
                        "commission",
                        money=Money(row.currency, delta),
                        held=row.status == "pending",
                        level=row.level,
                    )
                )
        return found

    async def catch_up(self, now: datetime) -> None:
        """What a failed hook left undone: accrue recent delivered orders of referees, and
        reverse the commissions of refunded ones."""
        from core.referrals.tables import referrals

        since = now - CATCH_UP
        delivered = select(orders_table.c.id).where(
            orders_table.c.member_id.in_(select(referrals.c.referee_member_id)),
            orders_table.c.status.in_([Status.FULFILLED.value, Status.REFUNDED.value]),
            orders_table.c.paid_at >= since,
        )
        refunded = (
            select(commissions.c.order_id)
            .join(orders_table, orders_table.c.id == commissions.c.order_id)
            .where(
                commissions.c.reversed_minor < commissions.c.amount_minor, orders_table.c.refunded_minor > 0
            )
        )
        async with self._db.read() as conn:
            accrue_ids = list((await conn.execute(delivered)).scalars())
            reverse_ids = sorted(set((await conn.execute(refunded)).scalars()))
        for order_id in accrue_ids:
            await self.accrue(await self._orders.get(order_id))
        for order_id in reverse_ids:
            await self.reverse_refunded(await self._orders.get(order_id))

    # -- members' and creators' views ------------------------------------------------------

    async def balances(self, member: Member) -> list[Balance]:
        return (await self._balances(member.community_id, member.id)).get(member.id, [])

    async def _balances(self, community_id: int, member_id: int | None = None) -> dict[int, list[Balance]]:
        async with self._db.read() as conn:
            return await _balances_on(conn, community_id, member_id)

    async def history(self, member: Member, limit: int = 10) -> list[Commission]:
        query = (
            select(commissions)
            .where(commissions.c.earner_member_id == member.id)
            .order_by(commissions.c.id.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [_commission(row) for row in await conn.execute(query)]

    async def owed(self, community: Community, actor: Member) -> list[tuple[Member, Balance]]:
        """Every earner with something pending or available, for the payouts view."""
        require_creator(community, actor, FOR_CREATORS)
        rows = []
        for earner, found in (await self._balances(community.id)).items():
            member = await self._members.get_member(earner)
            rows.extend((member, balance) for balance in found if balance.pending or balance.available)
        return sorted(rows, key=lambda pair: (-pair[1].available, pair[0].display_name))

    async def owed_page(
        self, community: Community, actor: Member, *, after: int | None = None, limit: int = 50
    ) -> tuple[list[tuple[Member, Balance]], int | None]:
        """Earners with something pending or available, by member id, from the ``limit``
        earners after member ``after``; and the id to continue after (None: no more)."""
        require_creator(community, actor, FOR_CREATORS)
        async with self._db.read() as conn:
            earners = await _earners_after(conn, community.id, after, limit + 1)
            page = earners[:limit]
            found = await _balances_on(conn, community.id, member_ids=page) if page else {}
        rows = []
        for earner in page:
            member = await self._members.get_member(earner)
            rows.extend((member, b) for b in found.get(earner, []) if b.pending or b.available)
        return rows, (page[-1] if len(earners) > limit else None)

    async def export_csv(self, community: Community, actor: Member) -> bytes:
        """Every earner's balances as CSV (money as decimal amounts in the currency)."""
        require_creator(community, actor, FOR_CREATORS)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["member_id", "member", "currency", "pending", "available", "paid"])
        for earner, found in sorted((await self._balances(community.id)).items()):
            member = await self._members.get_member(earner)
            for b in found:
                writer.writerow(
                    [earner, member.display_name, b.currency]
                    + [str(Money(b.currency, v).major) for v in (b.pending, b.available, b.paid)]
                )
        return out.getvalue().encode("utf-8")

    async def pay(
        self, community: Community, actor: Member, member: Member, reference: str, *, via: str = "command"
    ) -> list[Money]:
        """Record that the creator paid ``member`` all they have available, under
        ``reference`` (a bank or transfer id); the amounts paid. The same reference again
        pays nothing more. Audited with ``via``."""
        require_creator(community, actor, FOR_CREATORS)
        reference = " ".join(reference.split())
        if not 1 <= len(reference) <= 100:
            raise InvalidInput(msg("Give the payment's reference (up to 100 characters)."))
        paid: list[Money] = []
        now = self._clock.now()
        async with self._db.write() as conn:
            # One payout at a time per member: the balance read below stays true until commit.
            await conn.execute(
                select(members_table.c.id).where(members_table.c.id == member.id).with_for_update()
            )
            for balance in (await _balances_on(conn, community.id, member.id)).get(member.id, []):
                if balance.available <= 0:
                    continue
                done = await self._transfer(
                    conn,
                    community.id,
                    f"available:{member.id}",
                    f"paid:{member.id}",
                    balance.available,
                    balance.currency,
                    "payout",
                    member.id,
                    f"payout:{member.id}:{balance.currency}:{reference}",
                    reference=reference,
                    actor_member_id=actor.id,
                    ignore_replay=True,
                )
                if done:
                    paid.append(Money(balance.currency, balance.available))
            if paid:
                await record(
                    conn,
                    community_id=community.id,
                    at=now,
                    action="commission.payout",
                    actor_member_id=actor.id,
                    subject_member_id=member.id,
                    reference=reference,
                    amounts=", ".join(str(m.minor) + " " + m.currency for m in paid),
                    via=via,
                )
        for money in paid:
            self._tell(
                community.id,
                member.id,
                msg(
                    "{actor} paid you {amount} in commissions (reference {reference}).",
                    actor=actor.display_name,
                    amount=money,
                    reference=reference,
                ),
            )
        return paid

    def _tell(self, community_id: int, member_id: int, text: Any) -> None:
        self._notices.add(community_id, Reply.text(text, to_member=member_id))


def _commission(row: Any) -> Commission:
    return Commission(
        row.id,
        row.order_id,
        row.level,
        row.buyer_member_id,
        Money(row.currency, row.amount_minor),
        row.reversed_minor,
        row.status,
        row.available_at,
    )
