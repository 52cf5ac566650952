"""core/analytics/incentives.py: matched comparison and the z-test's verdict."""

from __future__ import annotations

from core.analytics.incentives import compare


def test_a_clear_difference_within_bands_is_likely_real() -> None:
    rows = [(True, "high", i < 60) for i in range(100)] + [(False, "high", i < 20) for i in range(100)]
    report = compare(rows)
    assert (report.treated, report.control, report.matched_control) == (100, 100, 100)
    assert (report.treated_repeat_rate, report.control_repeat_rate) == (0.6, 0.2)
    assert report.likely_real and report.z is not None and report.z > 1.96


def test_matching_removes_a_difference_that_is_only_about_who_got_coupons() -> None:
    # Coupons went mostly to engaged members, who buy again more anyway; within each band the
    # rates are the same, so the matched difference is zero.
    rows = (
        [(True, "high", i < 8) for i in range(10)]
        + [(False, "high", i < 8) for i in range(10)]
        + [(True, "low", False)] * 2
        + [(False, "low", i < 2) for i in range(20)]
    )
    report = compare(rows)
    assert (report.control, report.matched_control) == (30, 30)
    assert report.difference < 0.1 and not report.likely_real


def test_nothing_to_compare() -> None:
    assert compare([]).z is None and not compare([]).likely_real
