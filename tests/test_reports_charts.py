"""bot/reports/charts.py: PNG charts, and labels in a language the installed fonts can draw."""

from __future__ import annotations

import pytest

from bot.reports import charts

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
