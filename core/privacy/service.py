"""One learner across platforms (/link, /unlink), and their data in their hands (/mydata,
/forget; creators' /export members).

Linking: ``/link`` gives a one-time code (8 characters, 10 minutes, single use, at most 5 an
hour); ``/link CODE`` sent from another account joins that account to the code's member. When
both already hold data they merge (core/privacy/merge.py): the older member survives, points
move by a ledger transfer, everything else is re-pointed, and the merge is audited.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from core.audit.log import record
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed, NotFound
from core.i18n import msg, nmsg
from core.ledger.models import Kind, MemberAccount, Posting, SystemAccount, SystemCode
from core.ledger.points import PointsService
from core.ledger.tables import ledger_accounts, ledger_transfers
from core.members.models import Community, Member, Role, require_creator
from core.members.service import MemberService
from core.members.tables import communities, identities, link_codes, members
from core.orders.tables import orders
from core.privacy import merge
from core.privacy.coverage import ACCOUNT_TABLES, MEMBER_COLUMNS
from core.referrals.commission_ledger import cancel_commissions_between
from core.storage.database import Database
from core.storage.schema import load_all_tables

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=10)
CODES_PER_HOUR = 5
DELETED = "deleted member"


@dataclass(frozen=True)
class Linked:
    member: Member  # the one member there is now
    merged: bool  # two members became one
    points_moved: int


class PrivacyService:
    def __init__(
        self, db: Database, clock: Clock, members_service: MemberService, points: PointsService
    ) -> None:
        self._db = db
        self._clock = clock
        self._members = members_service
        self._points = points

    # -- linking -------------------------------------------------------------------------

    async def link_code(self, member: Member) -> str:
        now = self._clock.now()
        async with self._db.read() as conn:
            recent = (
                await conn.execute(
                    select(func.count())
                    .select_from(link_codes)
                    .where(
                        link_codes.c.member_id == member.id,
                        link_codes.c.created_at > now - timedelta(hours=1),
                    )
                )
            ).scalar_one()
        if recent >= CODES_PER_HOUR:
            raise InvalidInput(
                nmsg(
                    "You have asked for {n} code this hour; try again later.",
                    "You have asked for {n} codes this hour; try again later.",
                    recent,
                )
            )
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        async with self._db.write() as conn:
            await conn.execute(
                insert(link_codes).values(
                    code=code,
                    community_id=member.community_id,
                    member_id=member.id,
                    created_at=now,
                    expires_at=now + CODE_TTL,
                )
            )
        return code

    async def link(self, community: Community, member: Member, code: str) -> Linked:
        """``member`` (the account that sent the code) joins the code's member."""
        now = self._clock.now()
        code = code.strip().upper()
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    select(link_codes).where(
                        link_codes.c.code == code,
                        link_codes.c.community_id == community.id,
                        link_codes.c.used_at.is_(None),
                        link_codes.c.expires_at > now,
                    )
                )
            ).first()
            if row is None:
                raise InvalidInput(msg("That code is unknown, used or expired. /link gives a new one."))
            if row.member_id == member.id:
                raise InvalidInput(msg("That code is yours: send it from your other account."))
            await conn.execute(update(link_codes).where(link_codes.c.code == code).values(used_at=now))
        owner = await self._members.get_member(row.member_id, fresh=True)
        if owner.id == member.id:  # already one member (linked before)
            return Linked(owner, False, 0)
        survivor, merged = sorted((owner, member), key=lambda m: (m.created_at, m.id))
        return await self._merge(community, survivor, merged, now)

    async def settle_merged(self, now: datetime) -> int:
        """Points that reached a member after it was merged into another move on to the
        survivor, by ledger transfers; lifetime earned points follow. (Another process's
        member cache may know the old member for up to its time to live after a merge, and
        credit it meanwhile.) Returns how many members were settled. Safe to run again:
        what has moved leaves nothing to move, and a transfer's key names the last credit
        it settles."""
        a = ledger_accounts.c
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    select(members.c.id, members.c.community_id, a.id.label("account"), a.balance, a.earned)
                    .join(ledger_accounts, a.member_id == members.c.id)
                    .where(members.c.merged_into.is_not(None), or_(a.balance > 0, a.earned > 0))
                    .order_by(members.c.id)
                )
            ).all()
        for row in rows:
            survivor = await self._members.get_member(row.id, fresh=True)  # follows merged_into
            if survivor.id == row.id:
                continue
            if row.balance > 0:
                async with self._db.read() as conn:
                    last = (
                        await conn.execute(
                            select(func.max(ledger_transfers.c.id)).where(
                                ledger_transfers.c.credit_account_id == row.account
                            )
                        )
                    ).scalar_one()
                await self._points.ledger.post(
                    Posting(
                        community_id=row.community_id,
                        debit=MemberAccount(row.id),
                        credit=MemberAccount(survivor.id),
                        amount=row.balance,
                        kind=Kind.TRANSFER,
                        key=f"merge-rest:{row.id}:{last}",
                        at=now,
                        memo=f"points after the link: member {row.id} into {survivor.id}",
                        partial=True,
                    )
                )
            if row.earned > 0:
                async with self._db.write() as conn:
                    await merge.move_earned(conn, row.community_id, survivor.id, row.id)
        return len(rows)

    async def _merge(self, community: Community, survivor: Member, merged: Member, now: datetime) -> Linked:
        ledger = self._points.ledger
        async with self._db.read() as conn:
            mutual = await merge.mutual_referral(conn, survivor.id, merged.id)
        # Points first, through the ledger: the merged member's whole balance to the survivor.
        moved = 0
        balance = (await ledger.balance(community.id, merged.id)).balance
        if balance > 0:
            result = await ledger.post(
                Posting(
                    community_id=community.id,
                    debit=MemberAccount(merged.id),
                    credit=MemberAccount(survivor.id),
                    amount=balance,
                    kind=Kind.TRANSFER,
                    key=f"merge:{merged.id}",
                    at=now,
                    memo=f"accounts linked: member {merged.id} into {survivor.id}",
                    partial=True,
                )
            )
            moved = result.amount if result.ok else 0
        async with self._db.write() as conn:
            if mutual is not None:
                await self._undo_self_referral(conn, community, mutual, now)
            touched = await merge.merge_rows(conn, survivor.id, merged.id)
            await merge.merge_referrals(conn, survivor.id, merged.id)
            await merge.move_earned(conn, community.id, survivor.id, merged.id)
            await merge.close_member(conn, community.id, survivor.id, merged.id, merged.role.value, now)
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="member.merge",
                actor_member_id=None,
                subject_member_id=survivor.id,
                merged=merged.id,
                points=moved,
                rows=json.dumps(touched, sort_keys=True),
                self_referral=mutual is not None,
            )
        if mutual is not None:
            owed = mutual.join_points + mutual.purchase_points
            if owed:  # a referral to oneself earns nothing: its points go back
                await ledger.post(
                    Posting(
                        community_id=community.id,
                        debit=MemberAccount(survivor.id),
                        credit=SystemAccount(SystemCode.ISSUANCE),
                        amount=owed,
                        kind=Kind.DEDUCT,
                        key=f"merge-referral:{mutual.referee_member_id}",
                        at=now,
                        memo="a referral between two accounts of one member",
                        partial=True,
                    )
                )
        for member_id in (survivor.id, merged.id):
            self._members.forget_cached(member_id)
        self._points.forget_tier_grants(community.id)
        return Linked(await self._members.get_member(survivor.id, fresh=True), True, moved)

    async def _undo_self_referral(self, conn: Any, community: Community, mutual: Any, now: datetime) -> None:
        """The referral and every commission between the two accounts go (cancelled in the
        commission ledger, like a refund)."""
        from core.referrals.tables import referrals

        pair = (mutual.referee_member_id, mutual.referrer_member_id)
        await cancel_commissions_between(conn, community.id, pair, now)
        await conn.execute(delete(referrals).where(referrals.c.referee_member_id == mutual.referee_member_id))

    async def unlink(self, community: Community, member: Member, platform: str) -> Member:
        """Detach the member's account on ``platform`` into a member of its own (never the
        last account)."""
        mine = await self._members.identities_of(member.id)
        leaving = [i for i in mine if i.platform == platform.lower()]
        if not leaving:
            raise InvalidInput(msg("You have no linked account on {platform}.", platform=platform[:20]))
        if len(leaving) == len(mine):
            raise InvalidInput(msg("That is your only account: there is nothing to unlink it from."))
        now = self._clock.now()
        async with self._db.write() as conn:
            new_id = (
                await conn.execute(
                    insert(members)
                    .values(
                        community_id=community.id,
                        display_name=member.display_name,
                        name_key=member.display_name.casefold(),
                        role=Role.LEARNER.value,
                        locale=member.locale,
                        created_at=now,
                    )
                    .returning(members.c.id)
                )
            ).scalar_one()
            await conn.execute(
                update(identities)
                .where(identities.c.id.in_([i.id for i in leaving]))
                .values(member_id=new_id)
            )
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="member.unlink",
                actor_member_id=member.id,
                subject_member_id=member.id,
                platform=platform.lower(),
                new_member=new_id,
            )
        self._members.forget_cached(member.id)
        return await self._members.get_member(member.id, fresh=True)

    # -- privacy -------------------------------------------------------------------------

    async def export(self, member: Member) -> dict[str, Any]:
        """Everything stored about the member (and nothing about anyone else)."""
        tables = load_all_tables().tables
        ids = await self._own_ids(member)
        found: dict[str, list[dict[str, Any]]] = {}
        async with self._db.read() as conn:
            me = (await conn.execute(select(members).where(members.c.id == member.id))).one()
            for (table_name, column_name), handling in MEMBER_COLUMNS.items():
                if not handling.export:
                    continue
                table = tables[table_name]
                others = [c.name for c in table.columns if _points_at_members(c) and c.name != column_name]
                for row in await conn.execute(select(table).where(table.c[column_name].in_(ids))):
                    item = {k: _plain(v) for k, v in row._mapping.items() if k not in others or v in ids}
                    found.setdefault(table_name, []).append(item)
        return {
            "member": {k: _plain(v) for k, v in me._mapping.items()},
            "exported_at": self._clock.now().isoformat(),
            "data": found,
        }

    async def _own_ids(self, member: Member) -> list[int]:
        """The member and the members merged into it."""
        async with self._db.read() as conn:
            merged = (
                await conn.execute(select(members.c.id).where(members.c.merged_into == member.id))
            ).scalars()
            return [member.id, *merged]

    async def forget(
        self, community: Community, member: Member, *, actor: Member | None = None, via: str = "command"
    ) -> None:
        """Erase the member's personal data: names, accounts, texts; what accounting needs
        (orders, points, commissions) stays, attached to an anonymous member.

        ``actor``: who asks, when not the member themselves (the dashboard's erase): a creator
        of the community, and only the owner erases another creator. Audited with ``via``."""
        async with self._db.read() as conn:  # the owner as stored now, not as ``community`` was read
            owner = (
                await conn.execute(
                    select(communities.c.owner_member_id).where(communities.c.id == community.id)
                )
            ).scalar()
        if member.community_id != community.id:
            raise NotFound(msg("No such member."))
        if actor is not None and actor.id != member.id:
            actor = await self._members.get_member(actor.id, fresh=True)  # the role as it is now
            require_creator(community, actor, msg("Only creators can erase a member's data."))
            if member.role is Role.CREATOR and owner != actor.id and owner != member.id:
                raise NotAllowed(msg("Only the owner can erase a creator's data."))
        if owner == member.id:
            raise NotAllowed(msg("The owner cannot be forgotten: make another creator the owner first."))
        tables = load_all_tables().tables
        ids = await self._own_ids(member)
        now = self._clock.now()
        accounts = [(i.platform, i.external_id) for m in ids for i in await self._members.identities_of(m)]
        async with self._db.write() as conn:
            for table_name in ACCOUNT_TABLES:  # before the identities that name them go
                table = tables[table_name]
                for platform, external_id in accounts:
                    await conn.execute(
                        delete(table).where(table.c.platform == platform, table.c.external_id == external_id)
                    )
            for (table_name, column_name), handling in MEMBER_COLUMNS.items():
                table = tables[table_name]
                if handling.forget == "delete":
                    await conn.execute(delete(table).where(table.c[column_name].in_(ids)))
                elif handling.forget.startswith("blank:"):
                    blank = handling.forget.split(":", 1)[1]
                    await conn.execute(update(table).where(table.c[column_name].in_(ids)).values({blank: ""}))
            await conn.execute(
                update(members)
                .where(members.c.id.in_(ids))
                .values(display_name=DELETED, name_key=DELETED, locale=None, forgotten_at=now)
            )
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="member.forget",
                actor_member_id=(actor or member).id,
                subject_member_id=member.id,
                via=via,
            )
        for member_id in ids:
            self._members.forget_cached(member_id)

    async def export_members(self, community: Community, actor: Member) -> bytes:
        """The community's members as CSV, for its creators."""
        require_creator(community, actor, msg("Only creators can export the members."))
        from core.ledger.tables import ledger_accounts

        paid = (
            select(orders.c.member_id, func.count().label("n"))
            .where(orders.c.status.in_(("paid", "fulfilled", "refunded")))
            .group_by(orders.c.member_id)
            .subquery()
        )
        query = (
            select(members, ledger_accounts.c.balance, paid.c.n)
            .outerjoin(
                ledger_accounts,
                (ledger_accounts.c.member_id == members.c.id)
                & (ledger_accounts.c.community_id == community.id),
            )
            .outerjoin(paid, paid.c.member_id == members.c.id)
            .where(members.c.community_id == community.id, members.c.merged_into.is_(None))
            .order_by(members.c.id)
        )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["member_id", "name", "role", "joined", "accounts", "points", "paid_orders"])
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            accounts: dict[int, list[str]] = {}
            for member_id, platform in await conn.execute(
                select(identities.c.member_id, identities.c.platform).where(
                    identities.c.community_id == community.id
                )
            ):
                accounts.setdefault(member_id, []).append(platform)
        for row in rows:
            writer.writerow(
                [
                    row.id,
                    row.display_name,
                    row.role,
                    _plain(row.created_at),
                    " ".join(sorted(accounts.get(row.id, []))),
                    row.balance or 0,
                    row.n or 0,
                ]
            )
        return out.getvalue().encode("utf-8")


def _points_at_members(column: Any) -> bool:
    return any(fk.column.table.name == "members" for fk in column.foreign_keys)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
