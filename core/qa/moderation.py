"""Q&A moderation: members report a question or an answer (/report); moderators see the queues
(open, unanswered, reported, hidden), hide and unhide items with a reason, and dismiss reports.
Every moderator action is audited with where it was taken (``via``: command or dashboard).

Hiding an open question closes it and returns its bounty (QAService._close_and_return);
unhiding shows it again, closed. Hiding an item resolves the reports about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update

from core.audit.log import record
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed, NotFound
from core.i18n import msg
from core.members.models import Community, Member, Role
from core.members.service import MemberService
from core.notices import Notices
from core.qa.models import Answer, Question
from core.qa.reading import QAReading, _answer, _question, _with_answer_counts
from core.qa.tables import answers, qa_documents, qa_reports, questions
from core.replies import Reply
from core.storage.database import Database

QUEUES = ("open", "unanswered", "reported", "hidden")
KINDS = ("question", "answer")
MAX_REASON = 300
STAFF_ONLY = msg("Only moderators can hide questions and answers.")
REASON_NEEDED = msg("Say why it is hidden.")


@dataclass(frozen=True)
class Report:
    id: int
    question_id: int
    answer_id: int | None
    reporter_id: int
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class Reviewed:
    """A question as moderators see it: hidden answers included, and its open reports."""

    question: Question
    answers: tuple[Answer, ...]
    reports: tuple[Report, ...]


class QAModeration(QAReading):
    """QAService's moderation side (core/qa/service.py)."""

    _db: Database
    _clock: Clock
    _members: MemberService
    _notices: Notices

    async def _close_and_return(self, community: Community, question: Question, now: datetime) -> bool:
        raise NotImplementedError  # QAService

    # -- members -------------------------------------------------------------------------

    async def report(
        self, community: Community, member: Member, kind: str, item_id: int, reason: str
    ) -> bool:
        """Report a visible question or answer to the moderators; False when the member has an
        open report about it already (told once, not again)."""
        reason = " ".join(reason.split())[:MAX_REASON]
        if not reason:
            raise InvalidInput(msg("Say what is wrong with it."))
        if kind == "question":
            question_id, answer_id = (await self.question(community, item_id)).id, None
        else:
            answer = await self._answer(item_id, community_id=community.id)
            if answer.hidden:
                raise InvalidInput(msg("There is no answer #{id}.", id=item_id))
            question_id, answer_id = (await self.question(community, answer.question_id)).id, answer.id
        same = (
            select(qa_reports.c.id)
            .where(
                qa_reports.c.question_id == question_id,
                qa_reports.c.reporter_member_id == member.id,
                qa_reports.c.resolved_at.is_(None),
            )
            .where(
                qa_reports.c.answer_id.is_(None) if answer_id is None else qa_reports.c.answer_id == answer_id
            )
        )
        async with self._db.write() as conn:
            if (await conn.execute(same)).first() is not None:
                return False
            await conn.execute(
                qa_reports.insert().values(
                    community_id=community.id,
                    question_id=question_id,
                    answer_id=answer_id,
                    reporter_member_id=member.id,
                    reason=reason,
                    created_at=self._clock.now(),
                )
            )
        item = f"#{question_id}" if answer_id is None else f"A{answer_id}"
        note = msg("{item} was reported: {reason}", item=item, reason=reason)
        for moderator in await self._members.members_by_role(community.id, [Role.MODERATOR, Role.CREATOR]):
            self._notices.add(community.id, Reply.text(note, to_member=moderator.id))
        return True

    # -- moderators ----------------------------------------------------------------------

    async def queue(
        self, community: Community, actor: Member, which: str, *, before: int | None = None, limit: int = 20
    ) -> list[Question]:
        """One of QUEUES, newest first, by pages keyed on the question id (``before``)."""
        _staff(community, actor)
        if which not in QUEUES:
            raise InvalidInput(msg("There is no such list of questions."))
        query = _with_answer_counts().where(questions.c.community_id == community.id)
        open_reports = exists().where(
            qa_reports.c.question_id == questions.c.id, qa_reports.c.resolved_at.is_(None)
        )
        if which == "hidden":
            query = query.where(questions.c.hidden.is_(True))
        else:
            query = query.where(questions.c.hidden.is_(False))
        if which in ("open", "unanswered"):
            query = query.where(questions.c.status == "open")
        if which == "unanswered":
            other = answers.alias("visible_answers")  # the listing joins ``answers`` already
            visible = exists().where(other.c.question_id == questions.c.id, other.c.hidden.is_(False))
            query = query.where(~visible)
        if which == "reported":
            query = query.where(open_reports)
        if before is not None:
            query = query.where(questions.c.id < before)
        async with self._db.read() as conn:
            rows = await conn.execute(query.order_by(questions.c.id.desc()).limit(limit))
            return [_question(row) for row in rows]

    async def open_report_counts(self, community: Community, question_ids: list[int]) -> dict[int, int]:
        """How many open reports each question (or its answers) has."""
        if not question_ids:
            return {}
        query = (
            select(qa_reports.c.question_id, func.count())
            .where(
                qa_reports.c.community_id == community.id,
                qa_reports.c.question_id.in_(question_ids),
                qa_reports.c.resolved_at.is_(None),
            )
            .group_by(qa_reports.c.question_id)
        )
        async with self._db.read() as conn:
            return {row[0]: row[1] for row in await conn.execute(query)}

    async def review(self, community: Community, actor: Member, question_id: int) -> Reviewed:
        """A question of the community with every answer (hidden ones too) and its open
        reports; NotFound for another community's."""
        _staff(community, actor)
        query = _with_answer_counts().where(
            questions.c.id == question_id, questions.c.community_id == community.id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                raise NotFound(msg("There is no question #{id}.", id=question_id))
            found = [
                _answer(a)
                for a in await conn.execute(select(answers).where(answers.c.question_id == question_id))
            ]
            reports = await conn.execute(
                select(qa_reports)
                .where(qa_reports.c.question_id == question_id, qa_reports.c.resolved_at.is_(None))
                .order_by(qa_reports.c.id)
            )
            reported = tuple(
                Report(r.id, r.question_id, r.answer_id, r.reporter_member_id, r.reason, r.created_at)
                for r in reports
            )
        question = _question(row)
        ordered = sorted(found, key=lambda a: (a.id != question.accepted_answer_id, -a.votes, a.id))
        return Reviewed(question, tuple(ordered), reported)

    async def hide(
        self,
        community: Community,
        actor: Member,
        kind: str,
        item_id: int,
        reason: str,
        *,
        via: str = "command",
    ) -> None:
        """Take a question or an answer out of listings and search (moderators); a hidden
        open question returns its bounty to the asker. Its open reports are resolved."""
        await self._set_hidden(community, actor, kind, item_id, reason, hidden=True, via=via)

    async def unhide(
        self,
        community: Community,
        actor: Member,
        kind: str,
        item_id: int,
        reason: str,
        *,
        via: str = "command",
    ) -> None:
        """Show a hidden question or answer again (a question hidden while open stays closed)."""
        await self._set_hidden(community, actor, kind, item_id, reason, hidden=False, via=via)

    async def dismiss_reports(
        self, community: Community, actor: Member, question_id: int, reason: str, *, via: str = "command"
    ) -> int:
        """Resolve the open reports about a question and its answers without hiding anything."""
        _staff(community, actor)
        reason = _reason(reason, msg("Say why the reports are dismissed."))
        question = await self.question(community, question_id, include_hidden=True)
        now = self._clock.now()
        async with self._db.write() as conn:
            done = await conn.execute(
                update(qa_reports)
                .where(qa_reports.c.question_id == question.id, qa_reports.c.resolved_at.is_(None))
                .values(resolved_at=now)
            )
            if done.rowcount:
                await record(
                    conn,
                    community_id=community.id,
                    at=now,
                    action="qa.dismiss_reports",
                    actor_member_id=actor.id,
                    subject_member_id=question.asker_id,
                    item=question.id,
                    reports=done.rowcount,
                    reason=reason,
                    via=via,
                )
        return int(done.rowcount)

    async def _set_hidden(
        self,
        community: Community,
        actor: Member,
        kind: str,
        item_id: int,
        reason: str,
        *,
        hidden: bool,
        via: str,
    ) -> None:
        _staff(community, actor)
        reason = _reason(reason, REASON_NEEDED if hidden else msg("Say why it is shown again."))
        if kind not in KINDS:
            raise InvalidInput(msg("Hide a question (Q…) or an answer (A…)."))
        now = self._clock.now()
        documents: Any
        if kind == "question":
            question = await self.question(community, item_id, include_hidden=True)
            current, subject, table = question.hidden, question.asker_id, questions
            documents = (qa_documents.c.question_id == item_id) & qa_documents.c.answer_id.is_(None)
            reports = qa_reports.c.question_id == item_id
        else:
            answer = await self._answer(item_id, community_id=community.id)
            current, subject, table = answer.hidden, answer.answerer_id, answers
            documents = qa_documents.c.answer_id == item_id
            reports = qa_reports.c.answer_id == item_id
        if current == hidden:
            raise InvalidInput(msg("It is hidden already.") if hidden else msg("It is not hidden."))
        if hidden and kind == "question" and question.status == "open":
            await self._close_and_return(community, question, now)
        async with self._db.write() as conn:
            await conn.execute(update(table).where(table.c.id == item_id).values(hidden=hidden))
            await conn.execute(update(qa_documents).where(documents).values(hidden=hidden))
            if hidden:
                await conn.execute(
                    update(qa_reports)
                    .where(reports, qa_reports.c.resolved_at.is_(None))
                    .values(resolved_at=now)
                )
            await record(
                conn,
                community_id=community.id,
                at=now,
                action=f"qa.{'hide' if hidden else 'unhide'}_{kind}",
                actor_member_id=actor.id,
                subject_member_id=subject,
                item=item_id,
                reason=reason,
                via=via,
            )


def _staff(community: Community, actor: Member) -> None:
    if not actor.role.is_staff or actor.community_id != community.id:
        raise NotAllowed(STAFF_ONLY)


def _reason(reason: str, needed: Any) -> str:
    reason = " ".join(reason.split())[:MAX_REASON]
    if not reason:
        raise InvalidInput(needed)
    return reason
