"""core/clock.py: injected time that only moves forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.clock import ManualClock, OffsetClock, SystemClock, to_utc

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))


# -- to_utc ---------------------------------------------------------------------------------


def test_to_utc_takes_naive_as_utc() -> None:
    result = to_utc(datetime(2026, 1, 5, 9, 0))
    assert result == START
    assert result.tzinfo is UTC


def test_to_utc_converts_aware_times() -> None:
    result = to_utc(datetime(2026, 1, 5, 17, 0, tzinfo=SHANGHAI))
    assert result == START
    assert result.hour == 9
    assert result.utcoffset() == timedelta(0)


def test_to_utc_keeps_utc() -> None:
    assert to_utc(START) == START


# -- SystemClock ----------------------------------------------------------------------------


def test_system_clock_is_aware_utc_and_current() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


# -- ManualClock ----------------------------------------------------------------------------


def test_manual_clock_stands_still() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.now() == START


def test_manual_clock_start_is_converted_to_utc() -> None:
    naive = ManualClock(datetime(2026, 1, 5, 9, 0))
    assert naive.now() == START
    assert naive.now().utcoffset() == timedelta(0)
    shanghai = ManualClock(datetime(2026, 1, 5, 17, 0, tzinfo=SHANGHAI))
    assert shanghai.now().hour == 9
    assert shanghai.now().utcoffset() == timedelta(0)


def test_manual_clock_without_start_begins_now() -> None:
    before = datetime.now(UTC)
    now = ManualClock().now()
    assert before <= now <= datetime.now(UTC)
    assert now.utcoffset() == timedelta(0)


def test_manual_clock_advance() -> None:
    clock = ManualClock(START)
    assert clock.advance(timedelta(hours=2)) == START + timedelta(hours=2)
    assert clock.advance(timedelta(0)) == START + timedelta(hours=2)
    assert clock.now() == START + timedelta(hours=2)


def test_manual_clock_refuses_to_go_back() -> None:
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == START


def test_manual_clock_set() -> None:
    clock = ManualClock(START)
    later = datetime(2026, 2, 1, 8, 0, tzinfo=SHANGHAI)
    assert clock.set(later) == datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    assert clock.now() == later
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.set(later) == later  # the same instant is fine


def test_manual_clock_set_takes_naive_as_utc() -> None:
    clock = ManualClock(START)
    assert clock.set(datetime(2026, 1, 6)) == datetime(2026, 1, 6, tzinfo=UTC)


def test_manual_clock_set_refuses_the_past() -> None:
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="forward"):
        clock.set(START - timedelta(microseconds=1))
    # 16:59 in Shanghai is 08:59 UTC: earlier, even though the wall time looks later.
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 1, 5, 16, 59, tzinfo=SHANGHAI))
    assert clock.now() == START


# -- OffsetClock ----------------------------------------------------------------------------


def test_offset_clock_without_offset_follows_the_wall() -> None:
    before = datetime.now(UTC)
    now = OffsetClock().now()
    assert before <= now <= datetime.now(UTC)
    assert now.utcoffset() == timedelta(0)


def test_offset_clock_is_shifted_by_its_offset() -> None:
    clock = OffsetClock(timedelta(days=3))
    before = datetime.now(UTC) + timedelta(days=3)
    now = clock.now()
    assert before <= now <= datetime.now(UTC) + timedelta(days=3)


def test_offset_clock_advance_adds_to_the_offset() -> None:
    clock = OffsetClock()
    before = datetime.now(UTC)
    result = clock.advance(timedelta(hours=5))
    assert clock.offset == timedelta(hours=5)
    assert before + timedelta(hours=5) <= result <= datetime.now(UTC) + timedelta(hours=5)
    clock.advance(timedelta(minutes=30))
    assert clock.offset == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1), timedelta(days=-2)])
def test_offset_clock_advance_refuses_zero_and_negative(delta: timedelta) -> None:
    clock = OffsetClock(timedelta(hours=1))
    with pytest.raises(ValueError, match="forward"):
        clock.advance(delta)
    assert clock.offset == timedelta(hours=1)


def test_offset_clock_set_jumps_to_the_time() -> None:
    clock = OffsetClock()
    target = datetime.now(UTC) + timedelta(days=10)
    result = clock.set(target)
    assert result >= target
    assert result - target < timedelta(seconds=5)
    assert timedelta(days=10) - timedelta(seconds=5) < clock.offset <= timedelta(days=10)


def test_offset_clock_set_accepts_naive_and_other_zones() -> None:
    clock = OffsetClock()
    target = (datetime.now(UTC) + timedelta(days=1)).astimezone(SHANGHAI)
    assert abs(clock.set(target) - target) < timedelta(seconds=5)
    naive = (datetime.now(UTC) + timedelta(days=2)).replace(tzinfo=None)
    assert abs(clock.set(naive) - naive.replace(tzinfo=UTC)) < timedelta(seconds=5)


def test_offset_clock_set_refuses_the_past() -> None:
    clock = OffsetClock(timedelta(days=1))
    with pytest.raises(ValueError, match="forward"):
        clock.set(datetime.now(UTC))
    assert clock.offset == timedelta(days=1)
