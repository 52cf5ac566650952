"""The engagement score: one number from 0 to 100 per member, from recency, frequency and
contribution.

    score = 100 × (0.40 · R + 0.35 · F + 0.25 · C)

    R (recency)      = exp(−days since the member's last activity / 14)        1 today, 0.5 after ~10 days
    F (frequency)    = min(days active in the last 30 / 20, 1)                 20 active days of 30 is full
    C (contribution) = min(ln(1 + weighted contributions in 90 days) / ln(1 + 60), 1)
                       weights: message 1, check-in 1, answer 3, accepted answer 5

A member with no activity at all scores 0. The weights favour what helps others (answers) over
what only shows presence (check-ins).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

RECENCY_DAYS = 14.0
FREQUENT_DAYS = 20.0
CONTRIBUTION_FULL = 60.0
WEIGHTS = {"message": 1.0, "checkin": 1.0, "answer": 3.0, "accepted": 5.0}


def contribution(messages: NDArray, checkins: NDArray, answers: NDArray, accepted: NDArray) -> NDArray:
    """The weighted contribution count per member."""
    return (
        WEIGHTS["message"] * messages
        + WEIGHTS["checkin"] * checkins
        + WEIGHTS["answer"] * answers
        + WEIGHTS["accepted"] * accepted
    )


def engagement_scores(days_since_last: NDArray, active_days_30: NDArray, contributions: NDArray) -> NDArray:
    """Scores (0-100) per member; ``days_since_last`` is NaN for members never active."""
    never = np.isnan(days_since_last)
    recency = np.where(never, 0.0, np.exp(-np.nan_to_num(days_since_last, nan=0.0) / RECENCY_DAYS))
    frequency = np.minimum(active_days_30 / FREQUENT_DAYS, 1.0)
    contrib = np.minimum(np.log1p(contributions) / np.log1p(CONTRIBUTION_FULL), 1.0)
    score = 100.0 * (0.40 * recency + 0.35 * frequency + 0.25 * contrib)
    return np.where(never, 0.0, np.round(score, 1))
