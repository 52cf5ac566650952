"""core/feedback/nps.py: the score and its 95% interval against a worked example; a survey is a
push (draft → confirm → outbox) whose reply carries 0–10 buttons; answers count once per member
per survey, also when two presses arrive at once; typed scores outside 0–10 are refused."""

from __future__ import annotations

import asyncio
import math

import pytest

from bot.app import App
from core.errors import InvalidInput, NotAllowed, NotFound
from core.feedback.nps import NpsScore, parse_score, score_of
from core.feedback.survey import answer_data, survey_reply
from core.i18n import render
from core.members.models import Community, Member
from core.replies import Buttons, Text
from tests.conftest import snapshot
from tests.test_pushes_service import FakeChannel, people


def test_the_score_and_interval_of_a_known_example() -> None:
    # 10 answers: 5 promoters (9, 10), 3 passives (7, 8), 2 detractors (0-6).
    found = score_of(1, {10: 3, 9: 2, 8: 2, 7: 1, 6: 1, 0: 1})
    assert (found.promoters, found.passives, found.detractors, found.answers) == (5, 3, 2, 10)
    assert found.score == pytest.approx(30.0)
    # var = (0.5 + 0.2 - 0.3²) / 10 = 0.061; half-width 1.96 · √0.061 · 100 = 48.41
    low, high = found.interval
    assert low == pytest.approx(30 - 100 * 1.96 * math.sqrt(0.061))
    assert (round(low, 1), round(high, 1)) == (-18.4, 78.4)


def test_the_interval_stays_within_the_scale_and_is_whole_without_answers() -> None:
    assert NpsScore(1, 0, 0, 0).interval == (-100.0, 100.0)
    assert NpsScore(1, 0, 0, 0).score == 0.0
    all_promoters = NpsScore(1, 4, 0, 0)
    assert (all_promoters.score, all_promoters.interval) == (100.0, (100.0, 100.0))
    two = NpsScore(1, 1, 0, 1)  # +100 and -100: the widest spread
    assert two.score == 0.0 and two.interval == (-100.0, 100.0)


def test_typed_scores_outside_0_to_10_are_refused() -> None:
    assert [parse_score(str(n)) for n in range(11)] == list(range(11))
    for bad in ("11", "-1", "7.5", "ten", "", "99999999999999999999"):
        with pytest.raises(InvalidInput) as refused:
            parse_score(bad)
        assert render(refused.value.message, "en") == "An answer is a whole number from 0 to 10."


def test_the_survey_reply_has_a_button_per_score() -> None:
    reply = survey_reply(7, "testhall")
    assert isinstance(reply.segments[0], Text)
    assert render(reply.segments[0].content, "en").startswith("How likely are you to recommend testhall")
    buttons = reply.segments[1]
    assert isinstance(buttons, Buttons)
    flat = [b for row in buttons.rows for b in row]
    assert [b.label for b in flat] == [str(n) for n in range(11)]
    assert [b.data for b in flat] == [answer_data(7, n) for n in range(11)] and flat[
        3
    ].data == "cmd:/nps 3 #7"
    assert render(survey_reply(7, "x", "Recommend us?").segments[0].content, "en") == "Recommend us?"


async def sent_survey(app: App, n: int = 3) -> tuple[Community, Member, list[Member], int, FakeChannel]:
    community, mei, learners = await people(app, n)
    channel = app.services.pushes.channels["fake"]
    assert isinstance(channel, FakeChannel)
    preview = await app.services.nps.draft(community, mei, "all")
    assert preview.campaign.kind == "nps" and preview.campaign.text_a is None
    await app.services.pushes.confirm(community, mei, preview.campaign.id)
    await app.services.pushes.send_due()
    return community, mei, learners, preview.campaign.id, channel


async def test_a_survey_goes_out_as_a_push_and_answers_count_once(app: App) -> None:
    community, mei, learners, survey, channel = await sent_survey(app)
    assert len(channel.sent) == len(learners)
    assert all(text.startswith("How likely are you to recommend testhall") for _, text, _ in channel.sent)
    nps = app.services.nps
    ana, ben, cai = learners
    first = await nps.answer(community, ana, 10, survey, platform="fake")
    assert (first.survey_id, first.score, first.recorded) == (survey, 10, True)
    again = await nps.answer(community, ana, 2, None, platform="fake")  # the newest survey
    assert (again.score, again.recorded) == (10, False)  # the first answer stands
    await nps.answer(community, ben, 6, None, platform="fake")
    found = await nps.score(community, mei)
    assert found is not None
    assert (found.survey_id, found.promoters, found.passives, found.detractors) == (survey, 1, 0, 1)
    assert [s.survey_id for s in await nps.surveys(community, mei)] == [survey]
    with pytest.raises(NotAllowed):
        await nps.score(community, ana)
    with pytest.raises(NotAllowed):
        await nps.draft(community, ana, "all")
    assert cai  # Cai did not answer: not counted


async def test_two_presses_at_once_record_one_answer(app: App) -> None:
    community, mei, learners, survey, _ = await sent_survey(app, 1)
    [ana] = learners
    nps = app.services.nps
    results = await asyncio.gather(
        *(nps.answer(community, ana, score, survey, platform="fake") for score in (9, 3, 9, 0))
    )
    assert sum(r.recorded for r in results) == 1
    kept = next(r.score for r in results if r.recorded)
    assert all(r.score == kept for r in results)
    found = await nps.score(community, mei)
    assert found is not None and found.answers == 1


async def test_a_survey_that_did_not_reach_the_member_cannot_be_answered(app: App) -> None:
    community, mei, learners = await people(app, 1)
    nps = app.services.nps
    assert await nps.score(community, mei) is None  # no survey yet
    draft = await nps.draft(community, mei, "all", "Would you recommend us?")
    before = await snapshot(app.db)
    with pytest.raises(NotFound):
        await nps.answer(community, learners[0], 8, None, platform="fake")
    with pytest.raises(NotFound):
        await nps.answer(community, learners[0], 8, draft.campaign.id, platform="fake")
    with pytest.raises(InvalidInput):
        await nps.answer(community, learners[0], 11, draft.campaign.id, platform="fake")
    assert await snapshot(app.db) == before
    assert await nps.score(community, mei) is None  # a draft is no survey yet
