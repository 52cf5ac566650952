"""Whether each configured adapter is connected to its platform, for ``/readyz`` (bot/health.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class AdapterState:
    connected: bool
    last_error: str | None
    since: datetime


class AdapterStatus:
    """What each adapter last reported: connected, or the error that keeps it down, and since
    when. The run loop and the adapters update it; ``/readyz`` reads it."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._states: dict[str, AdapterState] = {}

    def connecting(self, name: str) -> None:
        """``name`` is configured and not connected yet (no error so far)."""
        self._set(name, False, None)

    def connected(self, name: str) -> None:
        self._set(name, True, None)

    def failed(self, name: str, error: BaseException | str) -> None:
        """``name`` is down; ``error`` says why (one line, never a secret: adapters' errors
        are written for the log already)."""
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        self._set(name, False, text[:300])

    def _set(self, name: str, connected: bool, error: str | None) -> None:
        previous = self._states.get(name)
        if previous is not None and (previous.connected, previous.last_error) == (connected, error):
            return  # the same state again: keep when it began
        self._states[name] = AdapterState(connected, error, self._now())

    def states(self) -> dict[str, AdapterState]:
        return dict(self._states)
