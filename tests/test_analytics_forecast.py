"""core/analytics/forecast.py: an AR forecast on series whose next value is known."""

from __future__ import annotations

from core.analytics.forecast import forecast_next


def test_a_linear_trend_is_continued() -> None:
    result = forecast_next([float(v) for v in range(10, 40, 2)])  # 10, 12, … 38
    assert result.order == 3
    assert abs(result.next_value - 40) < 0.5
    assert result.mean_abs_error is not None and result.mean_abs_error < 0.5


def test_a_steady_series_stays_and_its_error_is_small() -> None:
    result = forecast_next([20, 21, 19, 20, 20, 21, 19, 20, 20, 21, 19, 20])
    assert 18 <= result.next_value <= 22


def test_short_series_fall_back_to_the_mean_and_forecasts_are_never_negative() -> None:
    assert forecast_next([3.0, 5.0]).order == 0 and forecast_next([3.0, 5.0]).next_value == 4.0
    assert forecast_next([]).next_value == 0.0
    assert forecast_next([50, 40, 30, 20, 10, 5, 1, 0, 0]).next_value >= 0
