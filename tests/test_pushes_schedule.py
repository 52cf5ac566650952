"""core/pushes/schedule.py: ``at TIME`` in the community's time zone, and quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import InvalidInput
from core.i18n import render
from core.pushes.schedule import is_quiet, parse_send_time

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("18:00", "Asia/Shanghai", datetime(2026, 1, 5, 10, 0, tzinfo=UTC)),
        ("17:00", "Asia/Shanghai", datetime(2026, 1, 6, 9, 0, tzinfo=UTC)),  # passed today: tomorrow
        ("9:45", "UTC", datetime(2026, 1, 5, 9, 45, tzinfo=UTC)),
        ("2026-12-24T09:00", "Asia/Shanghai", datetime(2026, 12, 24, 1, 0, tzinfo=UTC)),
        ("2026-12-24 09:00", "UTC", datetime(2026, 12, 24, 9, 0, tzinfo=UTC)),
    ],
)
def test_send_times_are_read_in_the_community_zone(text: str, zone: str, expected: datetime) -> None:
    assert parse_send_time(text, zone, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("24:00", "Give the time as HH:MM or YYYY-MM-DDTHH:MM, not 24:00."),
        ("tomorrow", "Give the time as HH:MM or YYYY-MM-DDTHH:MM, not tomorrow."),
        ("2026-01-05T09:00", "2026-01-05T09:00 is in the past."),
        ("2026-13-01T09:00", "2026-13-01T09:00 is not a date."),
    ],
)
def test_bad_send_times_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_send_time(text, "UTC", NOW)
    assert render(error.value.message, "en") == message


@pytest.mark.parametrize(
    ("hour", "start", "end", "quiet"),
    [
        (23, 22, 8, True),
        (3, 22, 8, True),
        (8, 22, 8, False),
        (21, 22, 8, False),
        (12, 12, 14, True),
        (14, 12, 14, False),
        (5, 0, 0, False),
        (0, 0, 24, True),
    ],
)
def test_quiet_hours(hour: int, start: int, end: int, quiet: bool) -> None:
    assert is_quiet(datetime(2026, 1, 5, hour, tzinfo=UTC), "UTC", start, end) is quiet


def test_quiet_hours_follow_the_community_zone() -> None:
    # 15:00 UTC is 23:00 in Shanghai.
    assert is_quiet(datetime(2026, 1, 5, 15, tzinfo=UTC), "Asia/Shanghai", 22, 8)
    assert not is_quiet(datetime(2026, 1, 5, 15, tzinfo=UTC), "UTC", 22, 8)
