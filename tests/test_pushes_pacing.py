"""core/pushes/pacing.py: the token bucket, the per-chat interval and the 429 pause."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.pushes.delivery import Pace
from core.pushes.pacing import Pacer


async def test_the_rate_holds_after_the_first_burst() -> None:
    pacer = Pacer(Pace(100, burst=10))
    start = time.monotonic()
    await asyncio.gather(*(pacer.wait(f"chat{i}") for i in range(60)))
    elapsed = time.monotonic() - start
    assert 0.45 <= elapsed < 1.0  # (60 - 10) / 100 s


async def test_one_chat_gets_at_most_one_message_per_interval() -> None:
    pacer = Pacer(Pace(1000, burst=100, per_chat_interval=0.2))
    times = []
    for _ in range(3):
        await pacer.wait("same")
        times.append(time.monotonic())
    assert times[1] - times[0] >= 0.19 and times[2] - times[1] >= 0.19
    start = time.monotonic()
    await pacer.wait("other")  # other chats are not held up by it
    assert time.monotonic() - start < 0.05


async def test_a_429_pauses_everything_for_retry_after_and_empties_the_bucket() -> None:
    pacer = Pacer(Pace(1000, burst=50))
    await pacer.wait("a")
    pacer.pause(0.3)
    start = time.monotonic()
    await pacer.wait("b")
    assert time.monotonic() - start >= 0.29
    assert pacer.throttled == 1
    burst_start = time.monotonic()
    await asyncio.gather(*(pacer.wait(f"c{i}") for i in range(20)))
    assert time.monotonic() - burst_start >= 0.01  # no full burst of 50 right after the pause


def test_idle_chat_times_are_forgotten_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.pushes.pacing as pacing

    clock = [0.0]
    pacer = Pacer(Pace(1000, per_chat_interval=1.0), now=lambda: clock[0])
    monkeypatch.setattr(pacing, "MAX_CHATS", 3)
    for i in range(3):
        pacer._remember(f"c{i}", clock[0] + 1.0)
    clock[0] = 5.0
    pacer._remember("new", 6.0)
    assert set(pacer._next_in_chat) == {"new"}
