"""Did incentives bring buyers back? Repeat-purchase rates of members who received a coupon or
bonus against similar members who did not.

"Similar" is the same engagement band (quartiles of the score) and the same number of orders
before the incentive; rates are compared band by band and weighted by the incentivised
members in each (an exact-matching estimate, so a difference is not just who got the coupon).
The note says whether the difference is likely real by a two-proportion z-test (|z| ≥ 1.96).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class IncentiveReport:
    treated: int
    treated_repeat_rate: float
    control: int  # members without an incentive
    control_repeat_rate: float  # weighted to the treated members' bands
    matched_control: int  # those in a band some treated member is in (the comparison's sample)
    difference: float
    z: float | None
    likely_real: bool


def compare(rows: list[tuple[bool, str, bool]]) -> IncentiveReport:
    """``rows``: (received an incentive, band key, bought again) per member."""
    bands: dict[str, list[list[int]]] = {}
    for treated, band, repeat in rows:
        cell = bands.setdefault(band, [[0, 0], [0, 0]])  # [treated n, repeats], [control n, repeats]
        cell[0 if treated else 1][0] += 1
        cell[0 if treated else 1][1] += int(repeat)
    t_n = sum(c[0][0] for c in bands.values())
    t_rep = sum(c[0][1] for c in bands.values())
    weighted, c_n = 0.0, 0
    for cell in bands.values():
        if cell[0][0] and cell[1][0]:
            weighted += cell[0][0] * cell[1][1] / cell[1][0]
            c_n += cell[1][0]
    matched = sum(c[0][0] for c in bands.values() if c[1][0])
    t_rate = t_rep / t_n if t_n else 0.0
    c_rate = weighted / matched if matched else 0.0
    z = None
    if t_n and c_n:
        pooled = (t_rep + c_rate * c_n) / (t_n + c_n)
        se = math.sqrt(pooled * (1 - pooled) * (1 / t_n + 1 / c_n))
        z = (t_rate - c_rate) / se if se > 0 else None
    return IncentiveReport(
        t_n,
        round(t_rate, 4),
        sum(c[1][0] for c in bands.values()),
        round(c_rate, 4),
        c_n,
        round(t_rate - c_rate, 4),
        None if z is None else round(z, 2),
        z is not None and abs(z) >= 1.96,
    )
