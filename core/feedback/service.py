"""Feedback tickets: a member's /feedback becomes a ticket (open); moderators and creators are
told at once and see it in the dashboard inbox; an answer goes back to the member privately on
the platform they wrote from (through the App's delivery, so WeChat's 48-hour window applies and
what it refuses is recorded as skipped) and marks the ticket answered; closing ends it.

Status moves are conditional UPDATEs, so an answer and a close racing each other leave one
consistent ticket; a ticket sent twice (a redelivered message) is recorded once by its key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from core.audit.log import record
from core.clock import Clock
from core.errors import InvalidInput, NotFound
from core.feedback.tables import feedback_tickets
from core.i18n import msg
from core.members.models import Community, Member, Role, require_staff
from core.members.service import MemberService
from core.notices import Notices
from core.replies import Reply
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

MAX_TEXT = 2000  # characters in a ticket or an answer
STATUSES = ("open", "answered", "closed")
PAGE = 20
STAFF_ONLY = msg("Only moderators and creators can see and answer feedback.")


@dataclass(frozen=True)
class Ticket:
    id: int
    community_id: int
    member_id: int
    platform: str
    text: str
    status: str
    created_at: datetime
    answer: str | None
    answered_by: int | None
    answered_at: datetime | None
    closed_at: datetime | None


def check_text(text: str, *, what: str = "feedback") -> str:
    """Stripped ``text``; InvalidInput when empty or longer than MAX_TEXT (saying the limit)."""
    text = text.strip()
    if not text:
        if what == "answer":
            raise InvalidInput(msg("An answer needs a text."), field="text")
        raise InvalidInput(
            msg("Write your feedback after /feedback, like /feedback the videos are too quiet.")
        )
    if len(text) > MAX_TEXT:
        if what == "answer":
            raise InvalidInput(
                msg("An answer is at most {max} characters; this one has {n}.", max=MAX_TEXT, n=len(text)),
                field="text",
            )
        raise InvalidInput(
            msg("Feedback is at most {max} characters; yours has {n}.", max=MAX_TEXT, n=len(text)),
            field="text",
        )
    return text


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FeedbackService:
    def __init__(self, db: Database, clock: Clock, members: MemberService, notices: Notices) -> None:
        self._db = db
        self._clock = clock
        self._members = members
        self._notices = notices

    # -- members -----------------------------------------------------------------------------

    async def submit(
        self, community: Community, member: Member, text: str, *, platform: str, key: str
    ) -> Ticket:
        """Record a ticket (once per ``key``) and tell the moderators and creators."""
        text = check_text(text)
        now = self._clock.now()
        async with self._db.write() as conn:
            inserted = await conn.execute(
                insert_or_ignore(self._db.dialect, feedback_tickets).values(
                    community_id=community.id,
                    member_id=member.id,
                    platform=platform[:20],
                    key=key[:200],
                    text=text,
                    status="open",
                    created_at=now,
                )
            )
            row = (
                await conn.execute(
                    select(feedback_tickets).where(
                        feedback_tickets.c.community_id == community.id, feedback_tickets.c.key == key[:200]
                    )
                )
            ).one()
        ticket = _ticket(row)
        if inserted.rowcount == 1:
            note = msg(
                "New feedback #{id} from {name}: /feedback answer {id} TEXT replies to them.",
                id=ticket.id,
                name=member.display_name,
            )
            for staff in await self._members.members_by_role(community.id, [Role.MODERATOR, Role.CREATOR]):
                if staff.id != member.id:
                    self._notices.add(community.id, Reply.text(note, _short(text), to_member=staff.id))
        return ticket

    # -- staff -------------------------------------------------------------------------------

    async def tickets(
        self,
        community: Community,
        actor: Member,
        status: str = "open",
        *,
        before: int | None = None,
        limit: int = PAGE,
    ) -> list[Ticket]:
        """Tickets with ``status``, newest first; ``before``: older than that ticket (next page)."""
        require_staff(community, actor, STAFF_ONLY)
        if status not in STATUSES:
            raise InvalidInput(
                msg("{value} is not one of: {choices}.", value=status[:30], choices=", ".join(STATUSES))
            )
        query = select(feedback_tickets).where(
            feedback_tickets.c.community_id == community.id, feedback_tickets.c.status == status
        )
        if before is not None:
            query = query.where(feedback_tickets.c.id < before)
        async with self._db.read() as conn:
            rows = await conn.execute(query.order_by(feedback_tickets.c.id.desc()).limit(limit))
            return [_ticket(r) for r in rows]

    async def counts(self, community: Community, actor: Member) -> dict[str, int]:
        """How many tickets have each status."""
        require_staff(community, actor, STAFF_ONLY)
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(feedback_tickets.c.status, func.count())
                .where(feedback_tickets.c.community_id == community.id)
                .group_by(feedback_tickets.c.status)
            )
            found = {status: int(n) for status, n in rows}
        return {status: found.get(status, 0) for status in STATUSES}

    async def ticket(self, community: Community, actor: Member, ticket_id: int) -> Ticket:
        require_staff(community, actor, STAFF_ONLY)
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(feedback_tickets).where(
                        feedback_tickets.c.id == ticket_id, feedback_tickets.c.community_id == community.id
                    )
                )
            ).first()
        if row is None:
            raise NotFound(msg("There is no feedback #{id}.", id=ticket_id))
        return _ticket(row)

    async def answer(self, community: Community, actor: Member, ticket_id: int, text: str) -> Ticket:
        """Answer a ticket that is not closed (again, if it was answered): the member gets the
        answer privately on the platform they wrote from; the ticket is answered."""
        require_staff(community, actor, STAFF_ONLY)
        text = check_text(text, what="answer")
        ticket = await self.ticket(community, actor, ticket_id)
        now = self._clock.now()
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(feedback_tickets)
                .where(feedback_tickets.c.id == ticket.id, feedback_tickets.c.status != "closed")
                .values(status="answered", answer=text, answered_by=actor.id, answered_at=now)
            )
            if moved.rowcount != 1:
                raise InvalidInput(msg("Feedback #{id} is closed.", id=ticket.id))
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="feedback.answer",
                actor_member_id=actor.id,
                subject_member_id=ticket.member_id,
                ticket=ticket.id,
            )
        reply = Reply.text(
            msg("An answer to your feedback #{id} in {community}:", id=ticket.id, community=community.name),
            text,
            to_member=ticket.member_id,
        )
        self._notices.add(community.id, replace(reply, via=ticket.platform))
        return await self.ticket(community, actor, ticket.id)

    async def close(self, community: Community, actor: Member, ticket_id: int) -> Ticket:
        """Close a ticket (answered or not); closing a closed one is refused."""
        require_staff(community, actor, STAFF_ONLY)
        ticket = await self.ticket(community, actor, ticket_id)
        now = self._clock.now()
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(feedback_tickets)
                .where(feedback_tickets.c.id == ticket.id, feedback_tickets.c.status != "closed")
                .values(status="closed", closed_by=actor.id, closed_at=now)
            )
            if moved.rowcount != 1:
                raise InvalidInput(msg("Feedback #{id} is closed already.", id=ticket.id))
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="feedback.close",
                actor_member_id=actor.id,
                subject_member_id=ticket.member_id,
                ticket=ticket.id,
                was=ticket.status,
            )
        return await self.ticket(community, actor, ticket.id)


def _ticket(row: Any) -> Ticket:
    return Ticket(
        row.id,
        row.community_id,
        row.member_id,
        row.platform,
        row.text,
        row.status,
        row.created_at,
        row.answer,
        row.answered_by,
        row.answered_at,
        row.closed_at,
    )
