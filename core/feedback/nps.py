"""NPS surveys: a creator's survey push (the pushes' own draft → confirm → outbox, with 0–10
buttons), the answers (once per member per survey, by the table's primary key, so two presses
at once record one), and the score with its 95% interval.

The score is the share of promoters (9–10) minus the share of detractors (0–6), in points
from −100 to +100. Its standard error follows from the two proportions (a trinomial):
var = (p_P + p_D − (p_P − p_D)²) / n, and the interval is the score ± 1.96·√var (×100),
kept within −100..+100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.clock import Clock
from core.errors import InvalidInput, NotFound
from core.feedback.survey import SCORES, SURVEY_KIND
from core.feedback.tables import nps_answers
from core.i18n import msg
from core.members.models import Community, Member, require_creator
from core.numbers import parse_whole_number
from core.pushes.campaigns import Preview
from core.pushes.service import PushService
from core.pushes.tables import push_campaigns, push_outbox
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore

Z95 = 1.96
CONFIRMED = ("scheduled", "sending", "done")
SCORE_RANGE = msg("An answer is a whole number from 0 to 10.")
ONLY_CREATORS = msg("Only creators can send surveys and see their scores.")


@dataclass(frozen=True)
class NpsScore:
    survey_id: int | None
    promoters: int
    passives: int
    detractors: int
    sent_at: datetime | None = None

    @property
    def answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> float:
        """Promoters minus detractors, as a share of the answers ×100 (0 without answers)."""
        n = self.answers
        return 100 * (self.promoters - self.detractors) / n if n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% interval of the score (−100..+100); the whole range without answers."""
        n = self.answers
        if not n:
            return (-100.0, 100.0)
        p, d = self.promoters / n, self.detractors / n
        half = 100 * Z95 * math.sqrt(max(0.0, p + d - (p - d) ** 2) / n)
        return (max(-100.0, self.score - half), min(100.0, self.score + half))


@dataclass(frozen=True)
class Answered:
    survey_id: int
    score: int
    recorded: bool  # False: this member had answered the survey already (with ``score``)


def score_of(survey_id: int | None, scores: dict[int, int], sent_at: datetime | None = None) -> NpsScore:
    """The NPS of ``scores`` (how many answers gave each score)."""
    promoters = sum(n for s, n in scores.items() if s >= 9)
    passives = sum(n for s, n in scores.items() if 7 <= s <= 8)
    detractors = sum(n for s, n in scores.items() if s <= 6)
    return NpsScore(survey_id, promoters, passives, detractors, sent_at)


def parse_score(text: str) -> int:
    """A typed answer: 0 to 10, else InvalidInput (buttons cannot send anything else)."""
    value = parse_whole_number(text.strip(), bound=10, allow_plus=False)
    if value is None or value not in SCORES:
        raise InvalidInput(SCORE_RANGE, field="score")
    return value


def parse_survey(text: str) -> int:
    value = parse_whole_number(text.strip().removeprefix("#"), bound=10**12, allow_plus=False)
    if value is None or value < 1:
        raise InvalidInput(msg("Name a survey by its number, like #3."), field="survey")
    return value


class NpsService:
    def __init__(self, db: Database, clock: Clock, pushes: PushService) -> None:
        self._db = db
        self._clock = clock
        self._pushes = pushes

    async def draft(
        self,
        community: Community,
        actor: Member,
        segment: str,
        text: str | None = None,
        send_at: datetime | None = None,
    ) -> Preview:
        """A survey push to ``segment`` as a draft (confirmed with /push confirm like any push);
        ``text`` None: the default question in each recipient's language."""
        require_creator(community, actor, ONLY_CREATORS)
        return await self._pushes.draft(community, actor, segment, text, None, send_at, kind=SURVEY_KIND)

    async def answer(
        self, community: Community, member: Member, score: int, survey_id: int | None, *, platform: str
    ) -> Answered:
        """Record ``member``'s answer to a survey that reached them (the newest one when
        ``survey_id`` is None). A second answer changes nothing and says the first."""
        if score not in SCORES:
            raise InvalidInput(SCORE_RANGE, field="score")
        reached = (
            select(push_outbox.c.campaign_id)
            .join(push_campaigns, push_campaigns.c.id == push_outbox.c.campaign_id)
            .where(
                push_outbox.c.member_id == member.id,
                push_outbox.c.status == "sent",
                push_campaigns.c.community_id == community.id,
                push_campaigns.c.kind == SURVEY_KIND,
            )
        )
        if survey_id is not None:
            reached = reached.where(push_outbox.c.campaign_id == survey_id)
        async with self._db.read() as conn:
            found = (await conn.execute(reached.order_by(push_outbox.c.campaign_id.desc()).limit(1))).first()
        if found is None:
            if survey_id is None:
                raise NotFound(msg("There is no survey for you to answer."))
            raise NotFound(msg("Survey #{id} did not reach you, so it cannot be answered.", id=survey_id))
        survey = int(found.campaign_id)
        async with self._db.write() as conn:
            inserted = await conn.execute(
                insert_or_ignore(self._db.dialect, nps_answers).values(
                    campaign_id=survey,
                    community_id=community.id,
                    member_id=member.id,
                    score=score,
                    platform=platform[:20],
                    answered_at=self._clock.now(),
                )
            )
            if inserted.rowcount == 1:
                return Answered(survey, score, True)
            first = (
                await conn.execute(
                    select(nps_answers.c.score).where(
                        nps_answers.c.campaign_id == survey, nps_answers.c.member_id == member.id
                    )
                )
            ).scalar_one()
        return Answered(survey, int(first), False)

    async def score(
        self, community: Community, actor: Member, survey_id: int | None = None
    ) -> NpsScore | None:
        """The score of a survey (the newest confirmed one by default); None when there is none."""
        found = await self.surveys(community, actor, limit=1, survey_id=survey_id)
        if survey_id is not None and not found:
            raise NotFound(msg("There is no survey #{id}.", id=survey_id))
        return found[0] if found else None

    async def surveys(
        self, community: Community, actor: Member, *, limit: int = 5, survey_id: int | None = None
    ) -> list[NpsScore]:
        """The newest confirmed surveys with their scores, newest first."""
        require_creator(community, actor, ONLY_CREATORS)
        query = select(push_campaigns.c.id, push_campaigns.c.send_at).where(
            push_campaigns.c.community_id == community.id,
            push_campaigns.c.kind == SURVEY_KIND,
            push_campaigns.c.status.in_(CONFIRMED),
        )
        if survey_id is not None:
            query = query.where(push_campaigns.c.id == survey_id)
        async with self._db.read() as conn:
            surveys = (await conn.execute(query.order_by(push_campaigns.c.id.desc()).limit(limit))).all()
            if not surveys:
                return []
            counts = await conn.execute(
                select(nps_answers.c.campaign_id, nps_answers.c.score, func.count())
                .where(nps_answers.c.campaign_id.in_([s.id for s in surveys]))
                .group_by(nps_answers.c.campaign_id, nps_answers.c.score)
            )
            by_survey: dict[int, dict[int, int]] = {}
            for campaign_id, score, n in counts:
                by_survey.setdefault(int(campaign_id), {})[int(score)] = int(n)
        return [score_of(s.id, by_survey.get(s.id, {}), s.send_at) for s in surveys]
