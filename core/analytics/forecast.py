"""A simple autoregressive forecast of next period's count (sign-ups, sales).

AR(p) with an intercept, fitted by least squares on the series; p is the largest of 1..3 the
series supports (it needs at least 2p + 2 points). The error shown is the mean absolute error
of one-step-ahead forecasts over the series' last third, each made from the data before it
(an honest backtest, not the fit's residuals). Too short a series falls back to its mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Forecast:
    next_value: float
    mean_abs_error: float | None  # None: too little history to backtest
    order: int  # p; 0 for the mean


def _fit(series: NDArray, p: int) -> NDArray:
    rows = [series[i - p : i][::-1] for i in range(p, len(series))]
    x = np.column_stack([np.ones(len(rows)), np.array(rows)])
    coef, *_ = np.linalg.lstsq(x, series[p:], rcond=None)
    return coef


def _predict(series: NDArray, coef: NDArray) -> float:
    p = len(coef) - 1
    return float(coef[0] + coef[1:] @ series[-p:][::-1])


def _order(n: int) -> int:
    return max((p for p in (1, 2, 3) if n >= 2 * p + 2), default=0)


def forecast_next(values: list[float]) -> Forecast:
    series = np.asarray(values, dtype=float)
    p = _order(len(series))
    if p == 0:
        return Forecast(float(series.mean()) if len(series) else 0.0, None, 0)
    nxt = max(0.0, _predict(series, _fit(series, p)))
    errors = []
    for end in range(max(2 * p + 2, len(series) - len(series) // 3), len(series)):
        history = series[:end]
        q = _order(len(history))
        guess = float(history.mean()) if q == 0 else _predict(history, _fit(history, q))
        errors.append(abs(max(0.0, guess) - series[end]))
    return Forecast(round(nxt, 2), round(float(np.mean(errors)), 2) if errors else None, p)
