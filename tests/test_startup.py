"""bot/startup.py: connecting again while a platform cannot be reached, with capped and
jittered exponential backoff; a rejection ends at once."""

from __future__ import annotations

import itertools
import logging
import random

import pytest

from bot.startup import Backoff, Rejected, Unavailable, connect_until_up


def test_the_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    backoff = Backoff(first=1.0, cap=60.0)
    rng = random.Random(7)
    for attempt, ceiling in ((1, 1), (2, 2), (3, 4), (4, 8), (6, 32), (7, 60), (40, 60), (5000, 60)):
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not one fixed delay


async def test_each_failed_attempt_is_one_log_line_and_waits_longer(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[int] = []
    waits: list[float] = []

    async def connect() -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) < 5:
            raise Unavailable("httpx.ConnectError: All connection attempts failed")

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    with caplog.at_level(logging.WARNING, logger="bot.startup"):
        took = await connect_until_up("telegram", connect, rng=random.Random(1), sleep=sleep)
    assert took == 5 and attempts == [1, 2, 3, 4, 5]
    assert len(waits) == 4
    assert all(later > earlier for earlier, later in itertools.pairwise(waits))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4
    assert lines[0].startswith(
        "telegram: cannot connect (httpx.ConnectError: All connection attempts failed)"
    )
    assert "attempt 1 failed" in lines[0] and "attempt 4 failed" in lines[3]
    assert not any(r.exc_info for r in caplog.records)  # a line, not a traceback


async def test_a_rejection_is_not_retried() -> None:
    calls = 0

    async def connect() -> None:
        nonlocal calls
        calls += 1
        raise Rejected("telegram: Telegram rejected the token (Unauthorized); check TELEGRAM_TOKEN")

    async def sleep(seconds: float) -> None:
        raise AssertionError("no retry after a rejection")

    with pytest.raises(Rejected, match="TELEGRAM_TOKEN"):
        await connect_until_up("telegram", connect, sleep=sleep)
    assert calls == 1
