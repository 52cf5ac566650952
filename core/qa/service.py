"""Questions and answers with point bounties.

A bounty moves from the asker into escrow in the same ledger transaction that records the
question; accepting an answer pays it out to the answerer, and expiry returns it — each of
those is one ledger posting whose guard moves the question out of ``open`` with a conditional
UPDATE in the same transaction, so of two accepts, or an accept and an expiry, exactly one
happens. The accepted answerer also earns ``qa.accept_bonus`` participation points (their tier
multiplier applies; daily cap ``cap.answer``).

Before a question is posted, answered ones like it are suggested (core/qa/suggest.py); the
asker can post anyway. After ``qa.expire_days`` a question nobody answered returns its bounty
(or, with ``qa.escalate`` on, goes to the moderators); one with answers but none accepted goes
to the moderators, who can accept the best.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from core.audit.log import record
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed
from core.i18n import Msg, msg, nmsg
from core.ledger.models import (
    Kind,
    MemberAccount,
    Outcome,
    Posting,
    SystemAccount,
    SystemCode,
)
from core.ledger.points import PointsService
from core.members.models import Chat, Community, Member, Role
from core.members.service import MemberService
from core.notices import Notices
from core.qa.models import Accepted, Answer, Asked, Question
from core.qa.moderation import QAModeration
from core.qa.reading import _question, _with_answer_counts
from core.qa.suggest import similar
from core.qa.tables import answer_votes, answers, qa_documents, qa_drafts, questions
from core.qa.terms import indexed
from core.replies import Place, Reply
from core.settings.service import SettingsService
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore, insert_or_update

MIN_TEXT, MAX_TEXT = 5, 2000
MAX_BOUNTY = 100_000
SUGGEST_FROM = 2_000  # the newest answered questions compared with a new one
CLOSED = msg("That question is no longer open.")


class QAService(QAModeration):
    def __init__(
        self,
        db: Database,
        clock: Clock,
        members: MemberService,
        points: PointsService,
        settings: SettingsService,
        notices: Notices,
    ) -> None:
        self._db = db
        self._clock = clock
        self._members = members
        self._points = points
        self._settings = settings
        self._notices = notices

    # -- asking --------------------------------------------------------------------------

    async def ask(
        self,
        community: Community,
        member: Member,
        chat: Chat,
        text: str,
        bounty: int,
        key: str,
        *,
        message_id: str | None = None,
        thread: str | None = None,
        anyway: bool = False,
    ) -> Asked:
        """Post a question, its bounty held in escrow; unless ``anyway``, first suggest
        answered ones like it (the question then waits as a draft for /askanyway)."""
        text = _checked_text(text)
        if not 0 <= bounty <= MAX_BOUNTY:
            raise InvalidInput(msg("A bounty is 0 to {max} points.", max=MAX_BOUNTY))
        if not anyway:
            suggestions = await self.suggestions(community, text)
            if suggestions:
                await self._save_draft(member, chat, text, bounty, message_id, thread)
                return Asked(suggestions=tuple(suggestions))
        now = self._clock.now()
        values = {
            "community_id": community.id,
            "asker_member_id": member.id,
            "chat_id": chat.id,
            "message_id": message_id,
            "thread": thread,
            "key": key[:200],
            "text": text,
            "bounty": bounty,
            "status": "open",
            "created_at": now,
        }
        if bounty:
            result = await self._points.ledger.post(
                Posting(
                    community_id=community.id,
                    debit=MemberAccount(member.id),
                    credit=SystemAccount(SystemCode.ESCROW),
                    amount=bounty,
                    kind=Kind.BOUNTY,
                    key=f"ask:{key}"[:200],
                    at=now,
                    memo=text[:300],
                    guard=_Post(values).insert,
                )
            )
            if result.outcome is Outcome.INSUFFICIENT:
                raise InvalidInput(
                    nmsg(
                        "You have {n} point: not enough for a bounty of {bounty}.",
                        "You have {n} points: not enough for a bounty of {bounty}.",
                        result.available or 0,
                        bounty=bounty,
                    )
                )
            if not result.ok:
                raise InvalidInput(msg("The question could not be posted right now."))
        else:
            async with self._db.write() as conn:
                await conn.run_sync(_Post(values).insert)
        await self._drop_draft(member)
        return Asked(question=await self._question_by_key(community.id, key[:200]))

    async def ask_draft(self, community: Community, member: Member, key: str) -> Asked:
        """Post the member's held-back question as it is (/askanyway)."""
        async with self._db.read() as conn:
            draft = (await conn.execute(select(qa_drafts).where(qa_drafts.c.member_id == member.id))).first()
        if draft is None:
            raise InvalidInput(msg("You have no question waiting. /ask TEXT to ask one."))
        chat = await self._members.chat_by_id(draft.chat_id)
        return await self.ask(
            community,
            member,
            chat,
            draft.text,
            draft.bounty,
            key,
            message_id=draft.message_id,
            thread=draft.thread,
            anyway=True,
        )

    async def suggestions(self, community: Community, text: str) -> list[Question]:
        percent = await self._settings.get(community.id, "qa.suggest_percent")
        if percent <= 0:
            return []
        query = (
            select(questions.c.id, questions.c.text)
            .where(
                questions.c.community_id == community.id,
                questions.c.status == "answered",
                questions.c.hidden.is_(False),
            )
            .order_by(questions.c.id.desc())
            .limit(SUGGEST_FROM)
        )
        async with self._db.read() as conn:
            candidates = [(row.id, row.text) for row in await conn.execute(query)]
        return await self._questions(community, similar(candidates, text, percent / 100))

    async def _save_draft(
        self, member: Member, chat: Chat, text: str, bounty: int, message_id: str | None, thread: str | None
    ) -> None:
        values = {
            "member_id": member.id,
            "chat_id": chat.id,
            "message_id": message_id,
            "thread": thread,
            "text": text,
            "bounty": bounty,
            "created_at": self._clock.now(),
        }
        async with self._db.write() as conn:
            await conn.execute(
                insert_or_update(
                    self._db.dialect, qa_drafts, values, keys=("member_id",), update=tuple(values)[1:]
                )
            )

    async def _drop_draft(self, member: Member) -> None:
        async with self._db.write() as conn:
            await conn.execute(delete(qa_drafts).where(qa_drafts.c.member_id == member.id))

    # -- answering -----------------------------------------------------------------------

    async def answer(
        self, community: Community, member: Member, question_id: int, text: str, key: str
    ) -> tuple[Question, Answer]:
        question = await self.question(community, question_id)
        if question.status != "open":
            raise InvalidInput(CLOSED)
        if question.asker_id == member.id:
            raise InvalidInput(msg("You cannot answer your own question."))
        text = _checked_text(text)
        async with self._db.write() as conn:
            added = await conn.execute(
                insert_or_ignore(self._db.dialect, answers, keys=("community_id", "key")).values(
                    community_id=community.id,
                    question_id=question.id,
                    answerer_member_id=member.id,
                    key=key[:200],
                    text=text,
                    created_at=self._clock.now(),
                )
            )
            answer_id = (
                await conn.execute(
                    select(answers.c.id).where(
                        answers.c.community_id == community.id, answers.c.key == key[:200]
                    )
                )
            ).scalar_one()
            if added.rowcount == 1:
                await conn.execute(
                    insert(qa_documents).values(
                        community_id=community.id,
                        question_id=question.id,
                        answer_id=answer_id,
                        terms=indexed(text),
                    )
                )
        answer = await self._answer(answer_id)
        if added.rowcount == 1:
            self._notices.add(
                community.id,
                Reply.text(
                    msg(
                        "{name} answered your question #{question}: {text}",
                        name=member.display_name,
                        question=question.id,
                        text=_short(text),
                    ),
                    msg("/accept A{answer} if it solves it.", answer=answer.id),
                    to_member=question.asker_id,
                    place=place_of(question),
                ),
            )
        return question, answer

    async def question_replied_to(self, chat: Chat, message_id: str) -> Question | None:
        """The open question asked by the message ``message_id`` in ``chat``, if any."""
        query = select(questions).where(
            questions.c.chat_id == chat.id,
            questions.c.message_id == message_id,
            questions.c.status == "open",
            questions.c.hidden.is_(False),
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _question(row)

    async def upvote(self, community: Community, member: Member, answer_id: int) -> tuple[Answer, bool]:
        """One vote per member and answer (not their own); whether this one counted."""
        answer = await self._visible_answer(community, answer_id)
        if answer.answerer_id == member.id:
            raise InvalidInput(msg("You cannot vote for your own answer."))
        async with self._db.write() as conn:
            added = await conn.execute(
                insert_or_ignore(self._db.dialect, answer_votes).values(
                    answer_id=answer.id, member_id=member.id, at=self._clock.now()
                )
            )
            if added.rowcount == 1:
                await conn.execute(
                    update(answers).where(answers.c.id == answer.id).values(votes=answers.c.votes + 1)
                )
        return await self._answer(answer.id), added.rowcount == 1

    # -- accepting -----------------------------------------------------------------------

    async def accept(
        self, community: Community, actor: Member, answer_id: int, *, via: str = "command"
    ) -> Accepted:
        """The asker (or a moderator, on the asker's behalf) accepts an answer: the bounty and
        the bonus go to its author, audited with ``via``. Of two accepts at once, one happens;
        the other is told it is closed."""
        answer = await self._visible_answer(community, answer_id)
        question = await self.question(community, answer.question_id)
        if actor.id != question.asker_id and not actor.role.is_staff:
            raise NotAllowed(msg("Only the asker or a moderator can accept an answer."))
        if question.status != "open":
            raise InvalidInput(CLOSED)
        now = self._clock.now()
        close = _Close(question.id, "open", "answered", now, answer.id)
        if question.bounty:
            result = await self._points.ledger.post(
                Posting(
                    community_id=community.id,
                    debit=SystemAccount(SystemCode.ESCROW),
                    credit=MemberAccount(answer.answerer_id),
                    amount=question.bounty,
                    kind=Kind.BOUNTY,
                    key=f"accept:{question.id}",
                    at=now,
                    memo=f"question #{question.id}",
                    actor_member_id=actor.id,
                    guard=close.move,
                )
            )
            if result.outcome is not Outcome.POSTED:
                raise InvalidInput(CLOSED)
        else:
            async with self._db.write() as conn:
                if await conn.run_sync(close.move) is not None:
                    raise InvalidInput(CLOSED)
        async with self._db.write() as conn:
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="qa.accept",
                actor_member_id=actor.id,
                subject_member_id=answer.answerer_id,
                question=question.id,
                answer=answer.id,
                bounty=question.bounty,
                via=via,
            )
        bonus = await self.pay_bonus(community, question.id)
        closed = await self.question(
            community, question.id, include_hidden=True
        )  # hidden meanwhile: still paid
        accepted = Accepted(closed, answer, question.bounty, bonus)
        self._notices.add(
            community.id,
            Reply.text(
                nmsg(
                    "Your answer to question #{question} was accepted: +{n} point.",
                    "Your answer to question #{question} was accepted: +{n} points.",
                    question.bounty + bonus,
                    question=question.id,
                ),
                to_member=answer.answerer_id,
                place=place_of(question),
            ),
        )
        return accepted

    async def pay_bonus(self, community: Community, question_id: int) -> int:
        """The accept bonus for an answered question's answerer, once (the job catches up
        one a crash left unpaid)."""
        question = await self.question(community, question_id, include_hidden=True)
        if question.status != "answered" or question.accepted_answer_id is None:
            return 0
        answer = await self._answer(question.accepted_answer_id)
        amount = await self._settings.get(community.id, "qa.accept_bonus")
        posted = 0
        if amount > 0:
            posted = await self._points.issue(
                community,
                answer.answerer_id,
                amount,
                Kind.ANSWER,
                f"accept-bonus:{question.id}",
                memo=f"accepted answer #{answer.id}",
                tiered=True,
            )
        async with self._db.write() as conn:
            await conn.execute(update(questions).where(questions.c.id == question.id).values(bonus_paid=True))
        return posted

    # -- the job -------------------------------------------------------------------------

    async def tend(self, now: datetime) -> dict[str, int]:
        """Open questions past ``qa.expire_days``: no answers → the bounty goes back (or to
        the moderators with ``qa.escalate``); answers but none accepted → the moderators.
        Also pays any accept bonus a crash left unpaid. Idempotent."""
        counts = {"expired": 0, "escalated": 0, "bonuses": 0}
        query = _with_answer_counts().where(
            questions.c.status == "open", questions.c.created_at <= now - timedelta(days=1)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            unpaid = (
                await conn.execute(
                    select(questions.c.id, questions.c.community_id).where(
                        questions.c.status == "answered", questions.c.bonus_paid.is_(False)
                    )
                )
            ).all()
        for row in rows:
            community = await self._members.community_by_id(row.community_id)
            rules = await self._settings.all(community.id)
            if row.created_at > now - timedelta(days=rules["qa.expire_days"]):
                continue
            question = _question(row)
            if row.answer_count == 0 and not rules["qa.escalate"]:
                if await self._close_and_return(community, question, now):
                    counts["expired"] += 1
                    self._notices.add(
                        community.id,
                        Reply.text(_expired_note(question), to_member=question.asker_id),
                    )
            elif row.escalated_at is None:
                await self._escalate(community, question, row.answer_count, now)
                counts["escalated"] += 1
        for question_id, community_id in unpaid:
            await self.pay_bonus(await self._members.community_by_id(community_id), question_id)
            counts["bonuses"] += 1
        return counts

    async def _close_and_return(self, community: Community, question: Question, now: datetime) -> bool:
        """Close an open question and give its bounty back; False when it closed meanwhile."""
        close = _Close(question.id, "open", "expired", now, None)
        if not question.bounty:
            async with self._db.write() as conn:
                return await conn.run_sync(close.move) is None
        result = await self._points.ledger.post(
            Posting(
                community_id=community.id,
                debit=SystemAccount(SystemCode.ESCROW),
                credit=MemberAccount(question.asker_id),
                amount=question.bounty,
                kind=Kind.BOUNTY,
                key=f"return:{question.id}",
                at=now,
                memo=f"question #{question.id}",
                guard=close.move,
            )
        )
        return result.outcome is Outcome.POSTED

    async def _escalate(
        self, community: Community, question: Question, answer_count: int, now: datetime
    ) -> None:
        async with self._db.write() as conn:
            moved = await conn.execute(
                update(questions)
                .where(questions.c.id == question.id, questions.c.escalated_at.is_(None))
                .values(escalated_at=now)
            )
        if moved.rowcount != 1:
            return
        note = (
            nmsg(
                "Question #{id} has {n} answer but none accepted: /q {id}, then /accept it or wait for more.",
                "Question #{id} has {n} answers but none accepted: /q {id}, then /accept the best one.",
                answer_count,
                id=question.id,
            )
            if answer_count
            else msg("Question #{id} has no answer yet: /q {id}", id=question.id)
        )
        for moderator in await self._members.members_by_role(community.id, [Role.MODERATOR, Role.CREATOR]):
            self._notices.add(community.id, Reply.text(note, _short(question.text), to_member=moderator.id))


@dataclass(frozen=True)
class _Post:
    """Inserts the question and its search document (a bounty's guard, or on its own)."""

    values: dict[str, Any]

    def insert(self, conn: Connection) -> str | None:
        added = conn.execute(
            insert_or_ignore(conn.dialect.name, questions, keys=("community_id", "key")).values(**self.values)
        )
        if added.rowcount == 1:
            question_id = conn.execute(
                select(questions.c.id).where(
                    questions.c.community_id == self.values["community_id"],
                    questions.c.key == self.values["key"],
                )
            ).scalar_one()
            conn.execute(
                insert(qa_documents).values(
                    community_id=self.values["community_id"],
                    question_id=question_id,
                    terms=indexed(self.values["text"]),
                )
            )
        return None


@dataclass(frozen=True)
class _Close:
    """Moves a question from one status to the next, or refuses when it has moved already
    (a posting's guard: the bounty moves only with it)."""

    question_id: int
    before: str
    after: str
    at: datetime
    answer_id: int | None

    def move(self, conn: Connection) -> str | None:
        moved = conn.execute(
            update(questions)
            .where(questions.c.id == self.question_id, questions.c.status == self.before)
            .values(status=self.after, closed_at=self.at, accepted_answer_id=self.answer_id)
        )
        return None if moved.rowcount == 1 else "closed"


def _checked_text(text: str) -> str:
    text = " ".join(text.split())
    if not MIN_TEXT <= len(text) <= MAX_TEXT:
        raise InvalidInput(msg("Write {min} to {max} characters.", min=MIN_TEXT, max=MAX_TEXT))
    return text


def _short(text: str, length: int = 120) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _expired_note(question: Question) -> Msg:
    if question.bounty:
        return nmsg(
            "Nobody answered your question #{id}; its bounty of {n} point is back with you.",
            "Nobody answered your question #{id}; its bounty of {n} points is back with you.",
            question.bounty,
            id=question.id,
        )
    return msg("Nobody answered your question #{id}; it is closed.", id=question.id)


def place_of(question: Question) -> Place | None:
    """Where a note about ``question`` goes: the thread it was asked in, replying to the /ask
    message; None (privately) when it was not asked in a thread."""
    if question.chat_id is None or question.thread is None:
        return None
    return Place(question.chat_id, question.thread, question.message_id)
