"""Referral codes, attribution and the rewards in points.

Attribution: a new member who starts with a valid code (``/start ref_CODE``) within
``referral.window_days`` of first contact is the code owner's referee. The first valid code
wins; one referrer per member; nobody refers themselves; no cycles (A refers B, B refers A);
links of staff count only with ``referral.staff`` on.

Rewards, all ledger postings with keys derived from the referee, so nothing pays twice:
welcome points for the referee when attributed; points for the referrer when the referee
first takes part (a check-in, an earning group message or an accepted answer — a mere
account earns nothing) and again at the referee's first paid order (taken back if that order
is refunded in full). Referral points to one member fall under the daily cap ``cap.referral``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core.audit.log import record
from core.clock import Clock
from core.i18n import msg, nmsg
from core.ledger.models import (
    TIERED_KINDS,
    Kind,
    MemberAccount,
    Posting,
    SystemAccount,
    SystemCode,
)
from core.ledger.points import PointsService
from core.ledger.tables import ledger_accounts, ledger_transfers
from core.members.models import Community, Member
from core.members.service import MemberService
from core.notices import Notices
from core.orders.models import Clawback, Order, Status
from core.orders.service import OrderService
from core.referrals.tables import referral_codes, referrals
from core.replies import Reply
from core.settings.service import SettingsService
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

PAYLOAD_PREFIX = "ref_"
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are read aloud too
CODE_LENGTH = 8
CODE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
MAX_CHAIN = 1_000  # referrers followed upwards when looking for a cycle
JOIN_BATCH = 500  # referees checked per job run


@dataclass(frozen=True)
class Referral:
    referee_id: int
    referrer_id: int
    attributed_at: datetime
    joined_at: datetime | None
    join_points: int
    first_order_id: int | None
    purchase_points: int


@dataclass(frozen=True)
class Attribution:
    referrer: Member
    welcome_points: int


@dataclass(frozen=True)
class ReferralStats:
    code: str
    invited: int  # attributed to this member
    joined: int  # of those, took part
    first_purchases: int
    points: int  # points this member got for them


def code_from_payload(payload: str | None) -> str | None:
    """The code in a start payload (``ref_CODE``), or None for any other payload."""
    if not payload or not payload.lower().startswith(PAYLOAD_PREFIX):
        return None
    return payload[len(PAYLOAD_PREFIX) :].lower()


class ReferralService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        members: MemberService,
        points: PointsService,
        settings: SettingsService,
        orders: OrderService,
        notices: Notices,
    ) -> None:
        self._db = db
        self._clock = clock
        self._members = members
        self._points = points
        self._settings = settings
        self._notices = notices
        orders.on_fulfilled(self.first_purchase)
        orders.on_refunded(self.purchase_refunded)
        orders.on_refund_preview(self.refund_clawbacks)

    # -- codes ---------------------------------------------------------------------------

    async def code_of(self, member: Member) -> str:
        """The member's referral code, made on first use."""
        for _ in range(5):
            async with self._db.read() as conn:
                found = (
                    await conn.execute(
                        select(referral_codes.c.code).where(referral_codes.c.member_id == member.id)
                    )
                ).scalar()
            if found is not None:
                return str(found)
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            try:
                async with self._db.write() as conn:
                    await conn.execute(
                        insert_or_ignore(self._db.dialect, referral_codes, keys=("member_id",)).values(
                            member_id=member.id,
                            community_id=member.community_id,
                            code=code,
                            created_at=self._clock.now(),
                        )
                    )
            except IntegrityError:
                continue  # another member drew the same code: draw again
        raise RuntimeError("could not make a referral code")

    # -- attribution ---------------------------------------------------------------------

    async def is_code(self, community: Community, code: str) -> bool:
        """Whether ``code`` is someone's referral code in ``community`` (a link's ``?ref=``)."""
        if not CODE.match(code):
            return False
        query = select(referral_codes.c.member_id).where(
            referral_codes.c.community_id == community.id, referral_codes.c.code == code
        )
        async with self._db.read() as conn:
            return (await conn.execute(query)).first() is not None

    async def attribute(self, community: Community, referee: Member, code: str) -> Attribution | None:
        """Make ``referee`` the referee of ``code``'s owner if every rule allows it; None
        (and nothing changed) otherwise. Idempotent: a second start changes nothing."""
        if not CODE.match(code):
            return None
        now = self._clock.now()
        rules = await self._settings.all(community.id)
        if now - referee.created_at > timedelta(days=rules["referral.window_days"]):
            return None
        if referee.role.is_staff or referee.is_owner_of(community):
            return None
        async with self._db.read() as conn:
            referrer_id = (
                await conn.execute(
                    select(referral_codes.c.member_id).where(
                        referral_codes.c.community_id == community.id, referral_codes.c.code == code
                    )
                )
            ).scalar()
        if referrer_id is None or referrer_id == referee.id:
            return None
        referrer = await self._members.get_member(referrer_id)
        if (referrer.role.is_staff or referrer.is_owner_of(community)) and not rules["referral.staff"]:
            return None
        async with self._db.write() as conn:
            if await self._is_upline(conn, referee.id, referrer_id):
                return None
            added = await conn.execute(
                insert_or_ignore(self._db.dialect, referrals, keys=("referee_member_id",)).values(
                    referee_member_id=referee.id,
                    community_id=community.id,
                    referrer_member_id=referrer_id,
                    attributed_at=now,
                )
            )
            if added.rowcount != 1:
                return None
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="referral.attributed",
                actor_member_id=None,
                subject_member_id=referee.id,
                referrer=referrer_id,
                code=code,
            )
        welcome = await self._reward(
            community, referee.id, rules["referral.welcome_points"], f"referral-welcome:{referee.id}"
        )
        return Attribution(referrer, welcome)

    async def _is_upline(self, conn: Any, member_id: int, start_id: int) -> bool:
        """Whether ``member_id`` is ``start_id`` or above it in the referral chain."""
        current: int | None = start_id
        for _ in range(MAX_CHAIN):
            if current is None:
                return False
            if current == member_id:
                return True
            current = (
                await conn.execute(
                    select(referrals.c.referrer_member_id).where(referrals.c.referee_member_id == current)
                )
            ).scalar()
        return True  # a chain this long is refused rather than followed further

    async def referral_of(self, referee_id: int) -> Referral | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(referrals).where(referrals.c.referee_member_id == referee_id))
            ).first()
        return None if row is None else _referral(row)

    async def stats(self, member: Member) -> ReferralStats:
        query = select(
            func.count(),
            func.count(referrals.c.joined_at),
            func.count(referrals.c.first_order_id),
            func.coalesce(func.sum(referrals.c.join_points + referrals.c.purchase_points), 0),
        ).where(referrals.c.referrer_member_id == member.id)
        async with self._db.read() as conn:
            invited, joined, bought, points = (await conn.execute(query)).one()
        return ReferralStats(await self.code_of(member), invited, joined, bought, int(points))

    # -- rewards -------------------------------------------------------------------------

    async def reward_joins(self, now: datetime) -> int:
        """Referees who have taken part since they came: their referrers get the join reward."""
        took_part = (
            select(ledger_transfers.c.id)
            .join(ledger_accounts, ledger_accounts.c.id == ledger_transfers.c.credit_account_id)
            .where(
                ledger_accounts.c.member_id == referrals.c.referee_member_id,
                ledger_transfers.c.kind.in_([str(kind) for kind in TIERED_KINDS]),
                ledger_transfers.c.at >= referrals.c.attributed_at,
            )
            .exists()
        )
        query = select(referrals).where(referrals.c.joined_at.is_(None), took_part).limit(JOIN_BATCH)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        rewarded = 0
        for row in rows:
            community = await self._members.community_by_id(row.community_id)
            rules = await self._settings.all(community.id)
            points = await self._reward(
                community,
                row.referrer_member_id,
                rules["referral.join_points"],
                f"referral-join:{row.referee_member_id}",
            )
            async with self._db.write() as conn:
                moved = await conn.execute(
                    update(referrals)
                    .where(
                        referrals.c.referee_member_id == row.referee_member_id,
                        referrals.c.joined_at.is_(None),
                    )
                    .values(joined_at=now, join_points=points)
                )
            if moved.rowcount == 1:
                rewarded += 1
                referee = await self._members.get_member(row.referee_member_id)
                self._tell(
                    community,
                    row.referrer_member_id,
                    msg("{name}, whom you invited, has joined in.", name=referee.display_name),
                    points,
                )
        return rewarded

    async def first_purchase(self, order: Order) -> None:
        """After an order is delivered: the referee's first paid order rewards the referrer."""
        referral = await self.referral_of(order.member_id)
        if (
            referral is None
            or referral.first_order_id is not None
            or order.amount.minor <= 0
            or order.paid_at is None
            or order.paid_at < referral.attributed_at
        ):
            return
        community = await self._members.community_by_id(order.community_id)
        rules = await self._settings.all(community.id)
        # The key is the referee's: of two orders delivered at once, one pays the reward.
        points = await self._reward(
            community,
            referral.referrer_id,
            rules["referral.purchase_points"],
            f"referral-purchase:{order.member_id}",
        )
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(referrals)
                .where(referrals.c.referee_member_id == order.member_id, referrals.c.first_order_id.is_(None))
                .values(first_order_id=order.id, purchase_points=points)
            )
        if moved.rowcount == 1:
            buyer = await self._members.get_member(order.member_id)
            self._tell(
                community,
                referral.referrer_id,
                msg("{name}, whom you invited, made a first purchase.", name=buyer.display_name),
                points,
            )

    async def _reward_back(self, order: Order) -> tuple[int, int] | None:
        """The referrer and the first-purchase reward a refund leaving ``order`` as given takes
        back: all of it when the referee's first order is refunded in full; else None."""
        referral = await self.referral_of(order.member_id)
        if referral is None or referral.first_order_id != order.id or order.status is not Status.REFUNDED:
            return None
        if referral.purchase_points <= 0:
            return None
        return referral.referrer_id, referral.purchase_points

    async def refund_clawbacks(self, order: Order) -> list[Clawback]:
        """What purchase_refunded takes back when ``order`` stands as given (a refund's preview)."""
        back = await self._reward_back(order)
        if back is None:
            return []
        referrer_id, points = back
        balance = (await self._points.ledger.balance(order.community_id, referrer_id)).balance
        return [Clawback.of_points(referrer_id, "referral_points", points, balance)]

    async def purchase_refunded(self, order: Order) -> None:
        """A first order refunded in full takes its reward back (as far as the balance allows)."""
        back = await self._reward_back(order)
        if back is None:
            return
        referrer_id, points = back
        await self._points.ledger.post(
            Posting(
                community_id=order.community_id,
                debit=MemberAccount(referrer_id),
                credit=SystemAccount(SystemCode.ISSUANCE),
                amount=points,
                kind=Kind.DEDUCT,
                key=f"referral-purchase-back:{order.member_id}",
                at=self._clock.now(),
                memo=f"refund of order #{order.id}",
                partial=True,
            )
        )

    async def _reward(self, community: Community, member_id: int, amount: int, key: str) -> int:
        """Referral points (under ``cap.referral``); the points posted (a replay: the first)."""
        if amount <= 0:
            return 0
        return await self._points.issue(community, member_id, amount, Kind.REFERRAL, key)

    def _tell(self, community: Community, member_id: int, what: Any, points: int) -> None:
        earned = nmsg("+{n} point for your invitation.", "+{n} points for your invitation.", points)
        lines = [what, earned] if points else [what]
        self._notices.add(community.id, Reply.text(*lines, to_member=member_id))


def _referral(row: Any) -> Referral:
    return Referral(
        row.referee_member_id,
        row.referrer_member_id,
        row.attributed_at,
        row.joined_at,
        row.join_points,
        row.first_order_id,
        row.purchase_points,
    )
