"""Retention: weekly cohort matrices, churn and the conversion funnel.

A cohort is the members who joined in the same week (weeks start on Monday, counted from a
fixed origin). Cell (c, k) is the share of cohort c active in its k-th week after joining
(week 0 is the joining week). "Active" is either taking part (activity-based) or paying in
that week (paying-based) — the same computation over a different set of (member, week).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class CohortMatrix:
    weeks: list[int]  # the cohorts' joining weeks, oldest first
    sizes: list[int]  # members per cohort
    rates: NDArray  # shape (cohorts, offsets); NaN where the week is still in the future

    def as_rows(self) -> list[list[float | None]]:
        return [[None if np.isnan(v) else round(float(v), 4) for v in row] for row in self.rates]


def cohort_matrix(
    member_ids: NDArray,
    join_weeks: NDArray,
    active_members: NDArray,
    active_weeks: NDArray,
    current_week: int,
    offsets: int = 12,
    cohorts: int = 12,
) -> CohortMatrix:
    """Members ``member_ids`` joined in ``join_weeks``; (``active_members``[i],
    ``active_weeks``[i]) are the weeks each was active (repeats are counted once). The last
    ``cohorts`` joining weeks are shown."""
    weeks = sorted(set(join_weeks.tolist()))[-cohorts:]
    if not weeks:
        return CohortMatrix([], [], np.zeros((0, offsets)))
    index = {week: i for i, week in enumerate(weeks)}
    order = np.argsort(member_ids)
    sorted_ids, sorted_joins = member_ids[order], join_weeks[order]
    sizes = np.array([int((join_weeks == week).sum()) for week in weeks], dtype=np.int64)
    hits = np.zeros((len(weeks), offsets), dtype=np.int64)
    if len(active_members):
        at = np.searchsorted(sorted_ids, active_members)
        known = (at < len(sorted_ids)) & (sorted_ids[np.minimum(at, len(sorted_ids) - 1)] == active_members)
        joined = sorted_joins[at[known]]
        offset = active_weeks[known] - joined
        pairs = np.unique(
            np.column_stack([active_members[known], active_weeks[known]]), axis=0, return_index=True
        )[1]
        keep = np.zeros(known.sum(), dtype=bool)
        keep[pairs] = True
        wanted = keep & (offset >= 0) & (offset < offsets) & np.isin(joined, weeks)
        rows = np.array([index[w] for w in joined[wanted].tolist()], dtype=np.int64)
        np.add.at(hits, (rows, offset[wanted]), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = hits / sizes[:, None]
    for i, week in enumerate(weeks):
        rates[i, np.arange(offsets) > current_week - week] = np.nan
    return CohortMatrix(weeks, sizes.tolist(), rates)


def churn_rate(active_before: set[int], active_now: set[int]) -> float:
    """The share of members active in the previous window who are not in the latest one."""
    if not active_before:
        return 0.0
    return len(active_before - active_now) / len(active_before)


@dataclass(frozen=True)
class Funnel:
    joined: int
    active: int  # took part at least once
    first_purchase: int
    repeat_purchase: int

    def steps(self) -> list[tuple[str, int]]:
        return [
            ("joined", self.joined),
            ("active", self.active),
            ("first purchase", self.first_purchase),
            ("repeat purchase", self.repeat_purchase),
        ]


def funnel(members: Iterable[int], active: set[int], orders_per_member: dict[int, int]) -> Funnel:
    everyone = set(members)
    return Funnel(
        len(everyone),
        len(everyone & active),
        sum(1 for m in everyone if orders_per_member.get(m, 0) >= 1),
        sum(1 for m in everyone if orders_per_member.get(m, 0) >= 2),
    )
