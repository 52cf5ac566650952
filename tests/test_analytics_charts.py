"""core/analytics/charts.py: PNG and SVG charts, and labels in a language the installed fonts can draw."""

from __future__ import annotations

import pytest

from core.analytics import charts
from core.i18n import render

PNG = b"\x89PNG\r\n\x1a\n"
COHORTS = {"weeks": ["2026-01-05", "2026-01-12"], "sizes": [3, 4], "rates": [[1.0, 0.33], [0.75, None]]}


def test_each_chart_is_a_png() -> None:
    assert charts.retention_heatmap(COHORTS, "en").startswith(PNG)
    assert charts.revenue_chart({"currency": "USD", "by_month": {"2026-11": 1999}}, "en").startswith(PNG)
    summary = {"segments": {"new": 1, "active": 2}, "clusters": [{"number": 1, "size": 3, "name": None}]}
    assert charts.segments_chart(summary, "zh_CN").startswith(PNG)


def test_chinese_labels_fall_back_to_english_without_a_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    assert charts.chart_locale("zh_CN") == "en"
    monkeypatch.setattr(charts, "cjk_font", lambda: "Noto Sans CJK SC")
    assert charts.chart_locale("zh_CN") == "zh_CN"
    assert charts.chart_locale("en") == "en"


SUMMARY = {
    "computed_at": "2026-12-02T09:00:00+00:00",  # a Wednesday: the last complete week began 11-23
    "segments": {"new": 1, "active": 2},
    "clusters": [{"number": 1, "size": 3, "name": "<night owls>"}],
    "forecast": {
        "signups": {"next_value": 4.5, "mean_abs_error": 1.25, "history": [1, 0, 3, 2, 5]},
        "sales": {"next_value": 1.0, "mean_abs_error": None, "history": [0, 0, 1, 0, 1]},
    },
}


def test_each_chart_is_also_an_svg_with_its_glyphs_as_paths() -> None:
    for chart, source in (
        (charts.retention_heatmap, COHORTS),
        (charts.revenue_chart, {"currency": "USD", "by_month": {"2026-11": 1999}}),
        (charts.signups_chart, SUMMARY),
        (charts.segments_chart, SUMMARY),
    ):
        svg = chart(source, "en", "svg")
        assert svg.startswith(b"<?xml") and b"<svg" in svg and b"<script" not in svg
        assert b"<text" not in svg  # no font needed where the chart is shown
        assert chart(source, "en", "svg") == svg  # the same chart, the same bytes


async def test_draw_runs_the_chart_in_a_thread() -> None:
    import threading

    seen: list[str] = []

    def chart(source: object, locale: str, format: str) -> bytes:
        seen.append(threading.current_thread().name)
        return b"drawn"

    assert await charts.draw(chart, {}, "en", "svg") == b"drawn"
    assert seen and seen[0] != threading.main_thread().name


def test_the_weeks_of_the_sign_ups_and_the_text_alternatives() -> None:
    assert charts.signup_weeks(SUMMARY) == [
        ("2026-10-26", 1),
        ("2026-11-02", 0),
        ("2026-11-09", 3),
        ("2026-11-16", 2),
        ("2026-11-23", 5),
    ]
    assert charts.signups_text(SUMMARY, "en") == (
        "Sign-ups in the last weeks: 2026-11-02 0, 2026-11-09 3, 2026-11-16 2, 2026-11-23 5;"
        " next week's forecast 4.5"
    )
    report = {"currency": "USD", "by_month": {"2026-09": 500, "2026-10": 0, "2026-11": 1999, "2026-12": 100}}
    assert charts.revenue_text(report, "en") == (
        "Revenue by month (USD): 2026-10 $0.00, 2026-11 $19.99, 2026-12 $1.00"
    )
    assert charts.retention_text(COHORTS, "en") == "2 weekly cohorts; active in the week after joining: 33%"
    assert charts.segments_text(SUMMARY, "en") == "Segments: new 1, active 2, <night owls> 3"
    assert render(charts.forecast_text(SUMMARY), "en") == (
        "Next week, forecast: 4 sign-ups (typical error ±1.25), 1 sale (—)"
    )


def test_the_heatmap_is_titled_by_its_basis() -> None:
    active = charts.retention_heatmap(COHORTS, "en", "svg")
    assert charts.retention_heatmap({**COHORTS, "basis": "activity"}, "en", "svg") == active
    assert charts.retention_heatmap({**COHORTS, "basis": "paying"}, "en", "svg") != active
