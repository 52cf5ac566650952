"""The whole audit trail of a community as people read it: the audit log (rules, roles,
erasures, catalog and order changes…) and the staff point movements of the ledger (awards,
deductions, corrections) in one newest-first list, each marked with where it was done.

Both sources are read by keyset: ordered by (time, source, id) descending, a page ends at a
:class:`Cursor` and the next page starts strictly after it in that order, so entries of the
two sources made in the same instant are neither repeated nor skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from core.audit.tables import audit_log
from core.errors import NotAllowed
from core.i18n import Msg, msg
from core.ledger.audit import AUDITED_KINDS, NOBODY, describe_transfers
from core.ledger.service import Ledger
from core.ledger.store import transfer_from_row
from core.ledger.tables import ledger_transfers
from core.members.models import Community, Member
from core.members.service import MemberService
from core.storage.database import Database

LOG, LEDGER = "log", "ledger"
_RANK = {LEDGER: 0, LOG: 1}  # which source comes first among entries of the same instant
POINTS = "points."  # ledger kinds appear as actions "points.award", "points.deduct"…
DASHBOARD, COMMAND, SYSTEM = "dashboard", "command", "system"
WEB_KEY = "web:"  # the ledger key of a posting a dashboard form made (web.kit.Kit.submit)
ACTION_PATTERN = re.compile(r"[a-z][a-z_]{0,24}\.[a-z_]{1,24}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The actions a filter offers, with their names for people; an action not here still shows
# (by its code) and can still be filtered on.
ACTIONS: dict[str, Msg] = {
    "points.award": msg("award"),
    "points.deduct": msg("deduction"),
    "points.reversal": msg("correction"),
    "rules.set": msg("rule changed"),
    "role.change": msg("role changed"),
    "role.assign": msg("role assigned"),
    "community.owner": msg("owner set"),
    "member.forget": msg("member erased"),
    "member.merge": msg("accounts linked"),
    "member.unlink": msg("account unlinked"),
    "course.add": msg("course added"),
    "course.edit": msg("course edited"),
    "course.hide": msg("course hidden"),
    "course.show": msg("course shown"),
    "lesson.add": msg("lesson added"),
    "lesson.edit": msg("lesson edited"),
    "lesson.draft": msg("lesson draft written"),
    "lesson.approve": msg("lesson draft approved"),
    "lesson.reject": msg("lesson draft rejected"),
    "wechat.template": msg("WeChat template set"),
    "bundle.add": msg("bundle added"),
    "plan.add": msg("plan added"),
    "plan.edit": msg("plan edited"),
    "coupon.add": msg("coupon added"),
    "coupon.disable": msg("coupon disabled"),
    "mall.add": msg("mall item added"),
    "mall.stock": msg("mall stock changed"),
    "mall.hide": msg("mall item hidden"),
    "mall.show": msg("mall item shown"),
    "review.hide": msg("review hidden"),
    "order.paid": msg("order paid"),
    "order.refund": msg("order refunded"),
    "order.refund_points_short": msg("refund short of points"),
    "order.renewal": msg("subscription renewed"),
    "order.bill_differs": msg("payment bill differs"),
    "chat.bind": msg("paid chat bound"),
    "chat.unbind": msg("paid chat unbound"),
    "chat.migrate": msg("chat moved to a new id"),
    "chat.reconcile": msg("paid chats fixed"),
    "referral.attributed": msg("referral recorded"),
    "commission.rate": msg("commission rate set"),
    "commission.payout": msg("payout recorded"),
    "qa.accept": msg("answer accepted"),
    "qa.hide_question": msg("question hidden"),
    "qa.unhide_question": msg("question shown"),
    "qa.hide_answer": msg("answer hidden"),
    "qa.unhide_answer": msg("answer shown"),
    "qa.dismiss_reports": msg("reports dismissed"),
    "analytics.spend": msg("marketing spend recorded"),
    "channel.add": msg("channel added"),
    "analytics.recompute": msg("analytics recomputed"),
    "segment.name": msg("segment named"),
    "tier.set": msg("tier set"),
    "push.draft": msg("push drafted"),
    "push.test": msg("push test sent"),
    "push.confirm": msg("push confirmed"),
    "push.cancel": msg("push cancelled"),
    "push.discard": msg("push discarded"),
    "push.auto_text": msg("automation text changed"),
    "feedback.answer": msg("feedback answered"),
    "feedback.close": msg("feedback closed"),
    "session.revoke": msg("dashboard session ended"),
    "session.revoke_all": msg("signed out everywhere"),
}
VIA: dict[str, Msg] = {
    DASHBOARD: msg("via dashboard"),
    COMMAND: msg("via command"),
    SYSTEM: msg("automatic"),
}


@dataclass(frozen=True, order=True)
class Cursor:
    """Where a page ended: the last entry's time, source rank and id."""

    at: datetime
    rank: int
    id: int

    def text(self) -> str:
        """For a page's address: ``MICROSECONDS-l123`` (log) or ``MICROSECONDS-t123`` (ledger)."""
        micros = (self.at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{'l' if self.rank == _RANK[LOG] else 't'}{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """The cursor :meth:`text` wrote; ValueError for anything else."""
        found = re.fullmatch(r"(\d{1,17})-([lt])(\d{1,18})", text)
        if found is None:
            raise ValueError(text)
        at = _EPOCH + timedelta(microseconds=int(found.group(1)))
        return cls(at, _RANK[LOG] if found.group(2) == "l" else _RANK[LEDGER], int(found.group(3)))


@dataclass(frozen=True)
class TrailEntry:
    source: str  # LOG or LEDGER
    id: int  # the audit entry's or the transfer's id
    at: datetime
    action: str  # "rules.set", "points.award"…
    actor_member_id: int | None
    actor: str  # display name, NOBODY for the system
    subject: str  # the member it concerns, "" when none
    via: str  # DASHBOARD, COMMAND or SYSTEM
    amount: str  # points, signed ("+30", "-5"), for ledger entries; "" otherwise
    detail: dict[str, Any]  # the log entry's detail without "via"; a transfer's memo

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, _RANK[self.source], self.id)


def _after(cursor: Cursor | None, rank: int, at: Any, id_: Any) -> ColumnElement[bool] | None:
    """Rows of the source ranked ``rank`` that come after ``cursor`` (time, rank, id descending)."""
    if cursor is None:
        return None
    if rank == cursor.rank:
        return or_(at < cursor.at, and_(at == cursor.at, id_ < cursor.id))
    return at <= cursor.at if rank < cursor.rank else at < cursor.at


class AuditTrail:
    """Reads the trail; writing stays with each service (core.audit.log.record, the ledger)."""

    def __init__(self, db: Database, ledger: Ledger, members: MemberService) -> None:
        self._db = db
        self._ledger = ledger
        self._members = members

    async def read(self, community: Community, reader: Member, **filters: Any) -> list[TrailEntry]:
        """``entries`` for a creator or moderator of ``community``; anyone else is refused."""
        if reader.community_id != community.id or not reader.role.is_staff:
            raise NotAllowed(msg("Only moderators and creators can read the audit log."))
        return await self.entries(community.id, **filters)

    async def entries(
        self,
        community_id: int,
        *,
        actor_id: int | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: Cursor | None = None,
        limit: int = 20,
    ) -> list[TrailEntry]:
        """Up to ``limit`` entries, newest first, made by ``actor_id``, of ``action``, at or
        after ``since`` and before ``until``, after ``before`` in the trail's order."""
        want_log = action is None or not action.startswith(POINTS)
        kinds = list(AUDITED_KINDS) if action is None else [action.removeprefix(POINTS)]
        want_ledger = action is None or (action.startswith(POINTS) and kinds[0] in AUDITED_KINDS)
        names: dict[int, str] = {}
        found: list[TrailEntry] = []
        if want_log:
            found += await self._log(community_id, actor_id, action, since, until, before, limit, names)
        if want_ledger:
            found += await self._points(community_id, actor_id, kinds, since, until, before, limit)
        found.sort(key=lambda e: e.cursor, reverse=True)
        return found[:limit]

    async def _log(
        self,
        community_id: int,
        actor_id: int | None,
        action: str | None,
        since: datetime | None,
        until: datetime | None,
        before: Cursor | None,
        limit: int,
        names: dict[int, str],
    ) -> list[TrailEntry]:
        c = audit_log.c
        query = select(audit_log).where(c.community_id == community_id)
        conditions = [
            None if actor_id is None else c.actor_member_id == actor_id,
            None if action is None else c.action == action,
            None if since is None else c.at >= since,
            None if until is None else c.at < until,
            _after(before, _RANK[LOG], c.at, c.id),
        ]
        query = query.where(*(x for x in conditions if x is not None))
        async with self._db.read() as conn:
            rows = (await conn.execute(query.order_by(c.at.desc(), c.id.desc()).limit(limit))).all()
        entries = []
        for row in rows:
            detail = json.loads(row.detail)
            via = detail.pop("via", None)
            if via not in (DASHBOARD, COMMAND):
                via = SYSTEM if row.actor_member_id is None else COMMAND
            entries.append(
                TrailEntry(
                    LOG,
                    row.id,
                    row.at,
                    row.action,
                    row.actor_member_id,
                    await self._name(row.actor_member_id, names),
                    "" if row.subject_member_id is None else await self._name(row.subject_member_id, names),
                    via,
                    "",
                    detail,
                )
            )
        return entries

    async def _points(
        self,
        community_id: int,
        actor_id: int | None,
        kinds: list[str],
        since: datetime | None,
        until: datetime | None,
        before: Cursor | None,
        limit: int,
    ) -> list[TrailEntry]:
        c = ledger_transfers.c
        conditions = [
            c.community_id == community_id,
            c.kind.in_(kinds),
            None if actor_id is None else c.actor_member_id == actor_id,
            None if since is None else c.at >= since,
            None if until is None else c.at < until,
            _after(before, _RANK[LEDGER], c.at, c.id),
        ]
        query = select(ledger_transfers).where(*(x for x in conditions if x is not None))
        async with self._db.read() as conn:
            rows = (await conn.execute(query.order_by(c.at.desc(), c.id.desc()).limit(limit))).all()
        transfers = [transfer_from_row(row) for row in rows]
        described = await describe_transfers(self._ledger, self._members, transfers)
        return [
            TrailEntry(
                LEDGER,
                e.transfer.id,
                e.transfer.at,
                POINTS + e.transfer.kind,
                e.transfer.actor_member_id,
                e.actor,
                e.subject,
                _ledger_via(e.transfer.key, e.transfer.actor_member_id),
                e.signed_amount,
                {"memo": e.transfer.memo} if e.transfer.memo else {},
            )
            for e in described
        ]

    async def _name(self, member_id: int | None, names: dict[int, str]) -> str:
        if member_id is None:
            return NOBODY
        if member_id not in names:
            names[member_id] = (await self._members.get_member(member_id)).display_name
        return names[member_id]


def _ledger_via(key: str, actor_member_id: int | None) -> str:
    if key.startswith(WEB_KEY):
        return DASHBOARD
    return SYSTEM if actor_member_id is None else COMMAND
