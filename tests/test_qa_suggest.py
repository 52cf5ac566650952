"""core/qa/suggest.py: TF-IDF suggestions on the bilingual fixture, and the threshold."""

from __future__ import annotations

import pytest

from core.qa.suggest import similar
from tests.qa_fixtures import PROBES, QUESTIONS

CANDIDATES = list(enumerate(QUESTIONS))


@pytest.mark.parametrize(("query", "wanted"), PROBES, ids=[p for p, _ in PROBES])
def test_each_probe_has_its_question_among_three_suggestions(query: str, wanted: int) -> None:
    assert wanted in similar(CANDIDATES, query, threshold=0.0, limit=3), query


def test_a_rephrased_question_is_suggested_above_the_threshold() -> None:
    assert similar(CANDIDATES, "How can I merge 2 pandas dataframes on one column?", threshold=0.35)[0] == 0
    assert similar(CANDIDATES, "Python 的装饰器怎么使用？", threshold=0.35)[0] == 15


def test_an_unrelated_question_gets_no_suggestion() -> None:
    assert similar(CANDIDATES, "Where is the meetup next Friday?", threshold=0.35) == []
    assert similar(CANDIDATES, "周五的线下活动在哪里？", threshold=0.35) == []


def test_nothing_to_compare_with() -> None:
    assert similar([], "anything", threshold=0.0) == []
    assert similar(CANDIDATES, "   ", threshold=0.0) == []
