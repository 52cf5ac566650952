"""Recommending courses to members: loading implicit feedback from the database, fitting the
model (core/recommend/model.py) per community and keeping it, and each member's top picks
with a plain reason. /recommend, the dashboard, the ``recommended`` push segment and the
nightly ``analytics`` job all come here.

The fitted model is small (course × course similarities, each course's strongest
neighbours, and popularity: no member ids) and kept in app_state per community, so every
process serves the same one; it is refitted nightly and fitted on demand when missing.
A member's own history is read fresh on each request, so what they bought a minute ago is
never recommended.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.catalog.models import Course
from core.catalog.rows import course_from_row
from core.catalog.tables import courses, enrollments, lesson_progress, lessons, reviews
from core.clock import Clock
from core.i18n import Msg, msg, nmsg
from core.members.models import Community, Member, require_creator
from core.qa.tables import questions
from core.recommend import model
from core.storage.database import Database
from core.storage.state import get_state, set_state

MODEL_KEY = "recommend.model.{community}"
QUESTIONS_PER_MEMBER = 20  # the newest questions a member's topics are read from
MAX_PICKS = 5
FOR_CREATORS = msg("Only creators can see what the recommendations learned.")


@dataclass(frozen=True)
class Recommendation:
    course: Course
    reason: Msg
    source: str  # cf, content or popular


@dataclass(frozen=True)
class Learned:
    """What the last fit learned, for /stats and the dashboard."""

    fitted_at: datetime
    members: int  # members with any history
    interactions: int
    covered: int  # of those, members who get at least one collaborative pick
    pairs: list[tuple[Course, Course, float]]  # the strongest course pairs, similarity 0 to 1


@dataclass(frozen=True)
class Interactions:
    """Implicit feedback as parallel arrays: row (index into ``member_ids``), column (into
    ``course_ids``), strength, and when (for leaving the last purchase out)."""

    member_ids: list[int]
    course_ids: list[int]
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    order: np.ndarray
    refunded: set[tuple[int, int]]  # (member id, course id) given back: never recommended again

    def matrix(self) -> sp.csr_matrix:
        shape = (len(self.member_ids), len(self.course_ids))
        return sp.csr_matrix((self.values, (self.rows, self.cols)), shape=shape, dtype=np.float32)


async def load_interactions(
    conn: AsyncConnection, community_id: int, member_ids: Sequence[int] | None = None
) -> Interactions:
    """Every course of the community and its members' feedback (only ``member_ids``' when
    given): enrollments (bought or granted), share of lessons completed, review stars."""
    course_ids = list(
        (
            await conn.execute(
                select(courses.c.id).where(courses.c.community_id == community_id).order_by(courses.c.id)
            )
        ).scalars()
    )
    wanted = enrollments.c.community_id == community_id
    if member_ids is not None:
        wanted = wanted & enrollments.c.member_id.in_(list(member_ids))
    owned = (
        await conn.execute(
            select(
                enrollments.c.member_id,
                enrollments.c.course_id,
                enrollments.c.order_id,
                enrollments.c.granted_at,
                enrollments.c.revoked_at,
            ).where(wanted)
        )
    ).all()
    who = sorted({r.member_id for r in owned})
    totals = dict(
        (
            await conn.execute(
                select(lessons.c.course_id, func.count())
                .join(courses, courses.c.id == lessons.c.course_id)
                .where(courses.c.community_id == community_id)
                .group_by(lessons.c.course_id)
            )
        ).all()
    )
    done: dict[tuple[int, int], int] = {}
    stars: dict[tuple[int, int], int] = {}
    if who:
        for start in range(0, len(who), 2000):
            chunk = who[start : start + 2000]
            for member_id, course_id, n in await conn.execute(
                select(lesson_progress.c.member_id, lessons.c.course_id, func.count())
                .join(lessons, lessons.c.id == lesson_progress.c.lesson_id)
                .where(lesson_progress.c.member_id.in_(chunk))
                .group_by(lesson_progress.c.member_id, lessons.c.course_id)
            ):
                done[(member_id, course_id)] = n
            for member_id, course_id, n in await conn.execute(
                select(reviews.c.member_id, reviews.c.course_id, reviews.c.stars).where(
                    reviews.c.community_id == community_id, reviews.c.member_id.in_(chunk)
                )
            ):
                stars[(member_id, course_id)] = n
    row_of = {m: i for i, m in enumerate(who)}
    col_of = {c: i for i, c in enumerate(course_ids)}
    rows, cols, values, order = [], [], [], []
    refunded = set()
    for r in owned:
        key = (r.member_id, r.course_id)
        if r.revoked_at is not None:
            refunded.add(key)
            continue
        total = totals.get(r.course_id, 0)
        rows.append(row_of[r.member_id])
        cols.append(col_of[r.course_id])
        values.append(
            model.strength(r.order_id is not None, done.get(key, 0) / total if total else 0.0, stars.get(key))
        )
        order.append(r.granted_at.timestamp())
    return Interactions(
        who,
        course_ids,
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(values, dtype=np.float32),
        np.array(order, dtype=np.float64),
        refunded,
    )


class RecommendService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        # Each community's stored model as last read and parsed: parsed again only when the
        # stored text changed (a refit here or in another process). Callers only read it.
        self._parsed: dict[int, tuple[str, dict[str, Any]]] = {}

    # -- fitting -------------------------------------------------------------------------------

    async def refit(self, community: Community, now: datetime | None = None) -> dict[str, Any]:
        """Fit the model on the community's whole history and keep it (the nightly job)."""
        now = now or self._clock.now()
        async with self._db.read() as conn:
            loaded = await load_interactions(conn, community.id)
        matrix = loaded.matrix()
        sims = model.similarity(matrix)
        personal = np.asarray(((matrix @ sims) > 0).sum(axis=1)).ravel()
        ids = loaded.course_ids
        fitted = {
            "fitted_at": now.isoformat(),
            "course_ids": ids,
            "sims": {
                "data": [round(float(v), 4) for v in sims.data],
                "indices": sims.indices.tolist(),
                "indptr": sims.indptr.tolist(),
            },
            "popular": model.popularity(matrix).tolist(),
            "members": len(loaded.member_ids),
            "interactions": int(matrix.nnz),
            "covered": int((personal > 0).sum()),
            "pairs": [[ids[a], ids[b], s] for a, b, s in model.strongest_pairs(sims)],
        }
        await set_state(self._db, MODEL_KEY.format(community=community.id), json.dumps(fitted))
        return fitted

    async def _fitted(self, community: Community) -> dict[str, Any]:
        kept = await get_state(self._db, MODEL_KEY.format(community=community.id))
        if not kept:
            return await self.refit(community)
        cached = self._parsed.get(community.id)
        if cached is not None and cached[0] == kept:
            return cached[1]
        fitted: dict[str, Any] = json.loads(kept)
        self._parsed[community.id] = (kept, fitted)
        return fitted

    # -- serving -------------------------------------------------------------------------------

    async def recommend(self, community: Community, member: Member, n: int = 3) -> list[Recommendation]:
        """``member``'s top ``n`` courses, each with a plain reason; never one they own, had
        refunded, or that is hidden. Empty when there is nothing left to recommend."""
        n = max(1, min(n, MAX_PICKS))
        picks, catalog = await self._picks(community, [member.id], n, reasons=True)
        found = []
        texts = await self._question_texts(community, [member.id]) if picks else {}
        for pick in picks[0]:
            course = catalog[pick.course]
            found.append(
                Recommendation(
                    course, self._reason(pick, course, catalog, texts.get(member.id, [])), pick.source
                )
            )
        return found

    async def top_picks(self, community: Community, member_ids: Sequence[int]) -> dict[int, Course]:
        """Each member's first pick (members with nothing to recommend are left out): the
        ``recommended`` push segment and its ``{course}``."""
        if not member_ids:
            return {}
        picks, catalog = await self._picks(community, list(member_ids), 1, reasons=False)
        return {m: catalog[row[0].course] for m, row in zip(member_ids, picks, strict=True) if row}

    async def _picks(
        self, community: Community, member_ids: list[int], n: int, *, reasons: bool
    ) -> tuple[list[list[model.Pick]], list[Course]]:
        fitted = await self._fitted(community)
        async with self._db.read() as conn:
            catalog = [
                course_from_row(r)
                for r in await conn.execute(
                    select(courses).where(courses.c.community_id == community.id).order_by(courses.c.id)
                )
            ]
            loaded = await load_interactions(conn, community.id, member_ids)
        texts = await self._question_texts(community, member_ids)
        col_of = {c.id: i for i, c in enumerate(catalog)}
        sims, popular = _on_catalog(fitted, col_of)
        # Each wanted member's history, on today's catalog (courses made since the fit included).
        row_of = {m: i for i, m in enumerate(member_ids)}
        shape = (len(member_ids), len(catalog))
        history = sp.csr_matrix(
            (
                loaded.values,
                (
                    [row_of[loaded.member_ids[r]] for r in loaded.rows],
                    [col_of[loaded.course_ids[c]] for c in loaded.cols],
                ),
            ),
            shape=shape,
            dtype=np.float32,
        )
        excluded = history.toarray() > 0
        excluded[:, [i for i, c in enumerate(catalog) if c.hidden]] = True
        for member_id, course_id in loaded.refunded:
            excluded[row_of[member_id], col_of[course_id]] = True
        content = None
        if texts:
            course_texts = [f"{c.title}\n{c.description}" for c in catalog]
            content = model.content_similarity(course_texts, [" ".join(texts.get(m, [])) for m in member_ids])
        picks = model.recommend(history, sims, excluded, popular, content, n, reasons=reasons)
        return picks, catalog

    async def _question_texts(self, community: Community, member_ids: Sequence[int]) -> dict[int, list[str]]:
        """Each member's newest questions (visible ones), for their topics."""
        found: dict[int, list[str]] = {}
        async with self._db.read() as conn:
            for start in range(0, len(member_ids), 2000):
                rows = await conn.execute(
                    select(questions.c.asker_member_id, questions.c.text)
                    .where(
                        questions.c.community_id == community.id,
                        questions.c.asker_member_id.in_(list(member_ids[start : start + 2000])),
                        questions.c.hidden.is_(False),
                    )
                    .order_by(questions.c.id.desc())
                )
                for member_id, text in rows:
                    mine = found.setdefault(member_id, [])
                    if len(mine) < QUESTIONS_PER_MEMBER:
                        mine.append(text)
        return found

    def _reason(self, pick: model.Pick, course: Course, catalog: list[Course], asked: list[str]) -> Msg:
        if pick.source == "cf" and pick.because is not None:
            return msg("learners who took {course} took this", course=catalog[pick.because].title)
        if pick.source == "content":
            text = f"{course.title}\n{course.description}"
            topics = [t for t in (model.shared_topic(q, text) for q in asked) if t]
            if topics:
                return msg("matches your questions about {topic}", topic=max(topics, key=len))
            return msg("matches your questions")
        return nmsg(
            "popular here: {n} learner took it", "popular here: {n} learners took it", int(pick.score)
        )

    # -- for creators --------------------------------------------------------------------------

    async def learned(self, community: Community, actor: Member) -> Learned:
        """What the last fit learned (fitting now when there is none)."""
        require_creator(community, actor, FOR_CREATORS)
        fitted = await self._fitted(community)
        async with self._db.read() as conn:
            by_id = {
                r.id: course_from_row(r)
                for r in await conn.execute(select(courses).where(courses.c.community_id == community.id))
            }
        pairs = [(by_id[a], by_id[b], s) for a, b, s in fitted["pairs"] if a in by_id and b in by_id]
        return Learned(
            datetime.fromisoformat(fitted["fitted_at"]),
            fitted["members"],
            fitted["interactions"],
            fitted["covered"],
            pairs,
        )


def _on_catalog(fitted: dict[str, Any], col_of: dict[int, int]) -> tuple[sp.csr_matrix, np.ndarray]:
    """The fitted similarities and popularity re-indexed onto today's catalog: courses made
    since the fit have none (content and popularity still reach them), deleted ones drop out."""
    ids = fitted["course_ids"]
    kept = fitted["sims"]
    size = len(col_of)
    fitted_sims = sp.csr_matrix(
        (np.array(kept["data"], dtype=np.float32), kept["indices"], kept["indptr"]),
        shape=(len(ids), len(ids)),
    ).tocoo()
    keep = [
        i
        for i in range(fitted_sims.nnz)
        if ids[fitted_sims.row[i]] in col_of and ids[fitted_sims.col[i]] in col_of
    ]
    sims = sp.csr_matrix(
        (
            fitted_sims.data[keep],
            (
                [col_of[ids[fitted_sims.row[i]]] for i in keep],
                [col_of[ids[fitted_sims.col[i]]] for i in keep],
            ),
        ),
        shape=(size, size),
        dtype=np.float32,
    )
    popular = np.zeros(size, dtype=np.int64)
    for course_id, count in zip(ids, fitted["popular"], strict=True):
        if course_id in col_of:
            popular[col_of[course_id]] = count
    return sims, popular
