"""core/analytics/engagement.py: the score's formula on hand-computed members."""

from __future__ import annotations

import math

import numpy as np

from core.analytics.engagement import contribution, engagement_scores


def test_known_scores() -> None:
    days = np.array([0.0, 14.0, np.nan, 0.0])
    active = np.array([20.0, 10.0, 0.0, 0.0])
    contrib = contribution(
        np.array([60.0, 0, 0, 0]), np.zeros(4), np.array([0.0, 1, 0, 0]), np.array([0.0, 1, 0, 0])
    )
    assert contrib.tolist() == [60.0, 8.0, 0.0, 0.0]
    scores = engagement_scores(days, active, contrib)
    # Active today, 20 days, full contribution: everything counts in full.
    assert scores[0] == 100.0
    # Two weeks ago (R = e^-1), half the days (F = 0.5), ln 9 / ln 61 of the contribution.
    expected = 100 * (0.40 * math.exp(-1) + 0.35 * 0.5 + 0.25 * math.log(9) / math.log(61))
    assert scores[1] == round(expected, 1)
    assert scores[2] == 0.0  # never active
    assert scores[3] == 40.0  # seen today, nothing else


def test_scores_stay_between_0_and_100() -> None:
    rng = np.random.default_rng(3)
    days = rng.uniform(0, 400, 1000)
    scores = engagement_scores(days, rng.uniform(0, 31, 1000), rng.uniform(0, 10_000, 1000))
    assert scores.min() >= 0 and scores.max() <= 100
