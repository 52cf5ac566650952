"""Reading Q&A: a question, its answers, listings and search; hidden ones left out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.errors import InvalidInput
from core.i18n import msg
from core.members.models import Community, Member
from core.qa.models import Answer, Question
from core.qa.search import search_questions
from core.qa.tables import answers, questions
from core.storage.database import Database


class QAReading:
    """QAService's reading side (core/qa/service.py)."""

    _db: Database

    async def question(
        self, community: Community, question_id: int, *, include_hidden: bool = False
    ) -> Question:
        query = _with_answer_counts().where(
            questions.c.id == question_id, questions.c.community_id == community.id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None or (row.hidden and not include_hidden):
            raise InvalidInput(msg("There is no question #{id}.", id=question_id))
        return _question(row)

    async def _question_by_key(self, community_id: int, key: str) -> Question:
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(questions).where(questions.c.community_id == community_id, questions.c.key == key)
                )
            ).one()
        return _question(row)

    async def answers_of(self, question: Question) -> list[Answer]:
        """Visible answers: the accepted one first, then by votes."""
        query = select(answers).where(answers.c.question_id == question.id, answers.c.hidden.is_(False))
        async with self._db.read() as conn:
            found = [_answer(row) for row in await conn.execute(query)]
        return sorted(found, key=lambda a: (a.id != question.accepted_answer_id, -a.votes, a.id))

    async def listing(
        self, community: Community, which: str, member: Member, limit: int = 10
    ) -> list[Question]:
        """``open``: open ones, newest first; ``mine``: the member's; ``top``: by their
        answers' votes, then bounty."""
        votes = func.coalesce(func.sum(answers.c.votes), 0).label("answer_votes")
        query = (
            _with_answer_counts(votes)
            .where(questions.c.community_id == community.id, questions.c.hidden.is_(False))
            .limit(limit)
        )
        if which == "open":
            query = query.where(questions.c.status == "open").order_by(questions.c.id.desc())
        elif which == "mine":
            query = query.where(questions.c.asker_member_id == member.id).order_by(questions.c.id.desc())
        else:
            query = query.order_by(votes.desc(), questions.c.bounty.desc(), questions.c.id.desc())
        async with self._db.read() as conn:
            return [_question(row) for row in await conn.execute(query)]

    async def search(self, community: Community, text: str, limit: int = 5) -> list[Question]:
        async with self._db.read() as conn:
            ids = await search_questions(conn, community.id, text, limit)
        return await self._questions(community, ids)

    async def _questions(self, community: Community, ids: list[int]) -> list[Question]:
        """Visible questions by id, in the order of ``ids``, in one query."""
        if not ids:
            return []
        query = _with_answer_counts().where(
            questions.c.community_id == community.id, questions.c.id.in_(ids), questions.c.hidden.is_(False)
        )
        async with self._db.read() as conn:
            found = {row.id: _question(row) for row in await conn.execute(query)}
        return [found[qid] for qid in ids if qid in found]

    async def _answer(self, answer_id: int, *, community_id: int | None = None) -> Answer:
        async with self._db.read() as conn:
            row = (await conn.execute(select(answers).where(answers.c.id == answer_id))).first()
        if row is None or (community_id is not None and row.community_id != community_id):
            raise InvalidInput(msg("There is no answer #{id}.", id=answer_id))
        return _answer(row)

    async def _visible_answer(self, community: Community, answer_id: int) -> Answer:
        answer = await self._answer(answer_id, community_id=community.id)
        if answer.hidden:
            raise InvalidInput(msg("There is no answer #{id}.", id=answer_id))
        return answer


def _with_answer_counts(*columns: Any) -> Any:
    """Questions with the number of their visible answers (``answer_count``), and ``columns``."""
    return (
        select(questions, func.count(answers.c.id).label("answer_count"), *columns)
        .outerjoin(answers, (answers.c.question_id == questions.c.id) & answers.c.hidden.is_(False))
        .group_by(*questions.c)
    )


def _question(row: Any) -> Question:
    return Question(
        row.id,
        row.asker_member_id,
        row.text,
        row.bounty,
        row.status,
        row.accepted_answer_id,
        row.hidden,
        row.created_at,
        getattr(row, "answer_count", 0),
        row.chat_id,
        row.thread,
        row.message_id,
    )


def _answer(row: Any) -> Answer:
    return Answer(row.id, row.question_id, row.answerer_member_id, row.text, row.votes, row.hidden)
