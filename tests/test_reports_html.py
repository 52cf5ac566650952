"""bot/reports/html.py: one self-contained file with the tables and the charts."""

from __future__ import annotations

from bot.reports.html import html_report

SUMMARY = {
    "computed_at": "2026-12-01T03:00:00+00:00",
    "members": 2,
    "engagement": {"mean": 40.0, "median": 40.0},
    "churn": 0.0,
    "funnel": {"joined": 2, "active": 2, "first purchase": 1, "repeat purchase": 0},
    "cohorts": {
        "activity": {"weeks": ["2026-11-30"], "sizes": [2], "rates": [[1.0]]},
        "paying": {"weeks": [], "sizes": [], "rates": []},
    },
    "revenue": [
        {
            "currency": "USD",
            "by_month": {"2026-12": 1999},
            "by_product": {"Python <basics>": 1999},
            "total": 1999,
            "mrr": 0,
            "arpu": 999,
            "aov": 1999,
            "clv": 47976,
            "cac": None,
        }
    ],
    "channels": [{"channel": "direct", "members": 2, "buyers": 1, "conversion": 0.5}],
    "segments": {"new": 2},
    "clusters": [],
    "forecast": {"signups": {"next_value": 1.0, "mean_abs_error": 0.5, "history": [0, 2, 1]}},
}


def test_the_report_is_self_contained_html() -> None:
    page = html_report("demo", SUMMARY, "en")
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert page.count('src="data:image/png;base64,') == 4  # retention, revenue, segments, sign-ups
    assert "http://" not in page and "https://" not in page
    assert "Python &lt;basics&gt;" in page  # titles are escaped
    assert "$19.99" in page and "—" in page  # no CAC without spend


def test_the_report_in_chinese() -> None:
    page = html_report("demo", SUMMARY, "zh_CN")
    assert '<html lang="zh-CN">' in page
