"""core/analytics/retention.py: a cohort matrix computed by hand, churn and the funnel."""

from __future__ import annotations

import numpy as np

from core.analytics.retention import churn_rate, cohort_matrix, funnel


def test_a_hand_computed_cohort_matrix() -> None:
    # Members 1, 2 join in week 10; 3, 4 in week 11. Activity, with a repeat (member 1, week 11).
    ids, joins = np.array([1, 2, 3, 4]), np.array([10, 10, 11, 11])
    who = np.array([1, 1, 2, 3, 3, 4, 1, 9])  # 9 is not a member of these cohorts
    week = np.array([10, 11, 10, 11, 12, 13, 11, 10])
    matrix = cohort_matrix(ids, joins, who, week, current_week=13, offsets=4)
    assert (matrix.weeks, matrix.sizes) == ([10, 11], [2, 2])
    assert matrix.as_rows() == [[1.0, 0.5, 0.0, 0.0], [0.5, 0.5, 0.5, None]]


def test_activity_before_joining_and_past_the_offsets_is_ignored() -> None:
    matrix = cohort_matrix(np.array([1]), np.array([5]), np.array([1, 1]), np.array([4, 20]), 30, offsets=3)
    assert matrix.as_rows() == [[0.0, 0.0, 0.0]]


def test_an_empty_community() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert cohort_matrix(empty, empty, empty, empty, 10).weeks == []


def test_churn_and_funnel() -> None:
    assert churn_rate({1, 2, 3, 4}, {1, 2}) == 0.5
    assert churn_rate(set(), {1}) == 0.0
    steps = funnel([1, 2, 3, 4, 5], active={1, 2, 3, 4}, orders_per_member={1: 3, 2: 1, 9: 5})
    assert steps.steps() == [("joined", 5), ("active", 4), ("first purchase", 2), ("repeat purchase", 1)]
