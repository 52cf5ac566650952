"""core/catalog/versions.py: what a version changed, line by line (title and drip day first)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.catalog.versions import PUBLISHED, LessonVersion, diff_lines

AT = datetime(2026, 12, 7, tzinfo=UTC)


def version(title: str, body: str, days: int = 0, file: str | None = None) -> LessonVersion:
    return LessonVersion(1, 1, 1, title, body, days, file, None, AT, PUBLISHED)


def test_a_changed_line_shows_as_removed_then_added_with_its_context() -> None:
    before = version("Setup", "Install Python.\nThen pandas.\nDone.")
    after = version("Setup", "Install Python 3.13.\nThen pandas.\nDone.")

    shown = diff_lines(before, after)

    assert ("-", "Install Python.") in shown and ("+", "Install Python 3.13.") in shown
    assert ("+", "Then pandas.") not in shown and (" ", "Then pandas.") in shown
    assert shown[0][0] == "@"


def test_a_new_title_drip_day_or_file_is_a_change_too() -> None:
    shown = diff_lines(version("Setup", "x"), version("Set-up", "x", days=2, file="slides.pdf"))

    assert ("-", "# Setup") in shown and ("+", "# Set-up") in shown
    assert ("-", "day 0") in shown and ("+", "day 2") in shown
    assert ("+", "file slides.pdf") in shown


def test_the_first_version_is_all_new_and_an_unchanged_one_shows_nothing() -> None:
    first = diff_lines(None, version("Setup", "a\nb"))
    assert [kind for kind, _ in first if kind != "@"] == ["+"] * 5
    assert diff_lines(version("Setup", "a"), version("Setup", "a")) == []
