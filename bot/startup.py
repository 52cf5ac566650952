"""Faults at start: what ends a command with one line (exit status 2), and connecting to a
platform that cannot be reached yet, again and again, with capped exponential backoff.

Each adapter's connect step turns its SDK's errors into one of two kinds: ``Unavailable``
(DNS, a refused connection, a timeout, a 5xx: it may work in a moment) or ``Rejected`` (the
platform refused the token or a setting: trying again cannot help). ``connect_until_up``
retries the first kind, one log line per attempt, and lets the second end the run.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


class StartupError(Exception):
    """studyhall cannot start as configured: the message is one line for the operator, and
    the command exits with status 2."""


class Rejected(StartupError):
    """A platform refused the credentials or a setting (a 401/403, an invalid AppSecret)."""


class Unavailable(Exception):
    """A platform cannot be reached now; the message says how it failed (never a secret)."""


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: doubling from ``first`` up to ``cap`` seconds, each drawn
    between half and all of that (jitter: many processes restarted together do not knock
    at the same instant)."""

    first: float = 1.0
    cap: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt`` (1, 2, …)."""
        ceiling = min(self.cap, self.first * 2 ** min(attempt - 1, 30))
        return rng.uniform(ceiling / 2, ceiling)


async def connect_until_up(
    name: str,
    connect: Callable[[], Awaitable[None]],
    *,
    backoff: Backoff | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_error: Callable[[Unavailable], None] | None = None,
) -> int:
    """Call ``connect`` until it returns; returns how many attempts it took. An attempt
    that raises Unavailable is logged in one line and retried after a backoff delay;
    Rejected (and anything unforeseen) propagates at once. Cancel the caller to give up."""
    backoff = backoff or Backoff()
    rng = rng or random.Random()
    attempt = 0
    while True:
        attempt += 1
        try:
            await connect()
        except Unavailable as error:
            if on_error is not None:  # /readyz shows why the adapter is not up yet
                on_error(error)
            delay = backoff.delay(attempt, rng)
            log.warning(
                "%s: cannot connect (%s); attempt %d failed, trying again in %.1f s",
                name,
                error,
                attempt,
                delay,
            )
            await sleep(delay)
            continue
        return attempt
