"""Injected time. Every piece of the core that needs "now" receives a Clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class MovableClock(Protocol):
    """A clock the sandbox or a test can move forward."""

    def now(self) -> datetime: ...

    def advance(self, delta: timedelta) -> datetime: ...

    def set(self, when: datetime) -> datetime: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: tests and the console sandbox."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = to_utc(start) if start else datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._now += delta
        return self._now

    def set(self, when: datetime) -> datetime:
        when = to_utc(when)
        if when < self._now:
            raise ValueError("the clock only moves forward")
        self._now = when
        return self._now


def to_utc(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


class OffsetClock:
    """Wall-clock time shifted forward by an offset: the console sandbox's clock.

    Time keeps flowing between messages (cooldowns elapse), and ``advance`` jumps ahead.
    """

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        if delta <= timedelta(0):
            raise ValueError("the clock only moves forward")
        self.offset += delta
        return self.now()

    def set(self, when: datetime) -> datetime:
        delta = to_utc(when) - self.now()
        return self.advance(delta)
