"""bot/adapters/telegram/ratelimit.py: a 429 is waited out in its own chat; others go on."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.adapters.telegram.ratelimit import PerChatRateLimiter


class FloodedOnce:
    """A Bot API call that answers 429 (retry after 1 s) the first time for ``flooded`` chats."""

    def __init__(self, flooded: set[int]) -> None:
        self.flooded = set(flooded)
        self.done: list[int] = []

    async def __call__(self, chat_id: int) -> bool:
        if chat_id in self.flooded:
            self.flooded.discard(chat_id)
            raise RetryAfter(timedelta(seconds=1))
        self.done.append(chat_id)
        return True


async def send(
    limiter: PerChatRateLimiter, call: FloodedOnce, chat_id: int, retries: int | None = None
) -> Any:
    return await limiter.process_request(call, (chat_id,), {}, "sendMessage", {"chat_id": chat_id}, retries)


async def test_a_429_in_one_chat_does_not_hold_up_another() -> None:
    limiter = PerChatRateLimiter()
    call = FloodedOnce({1})
    flooded = asyncio.create_task(send(limiter, call, 1))
    await asyncio.sleep(0.05)  # chat 1 has had its 429 and waits
    assert await send(limiter, call, 2) is True
    assert call.done == [2]  # chat 2 went while chat 1 waited
    assert await flooded is True
    assert call.done == [2, 1]  # chat 1 went after its wait


async def test_the_same_chat_waits_for_its_own_429_and_gives_up_after_the_retries() -> None:
    limiter = PerChatRateLimiter(max_retries=0)
    with pytest.raises(RetryAfter):
        await send(limiter, FloodedOnce({7}), 7)


async def test_private_chats_get_one_message_a_second_and_groups_twenty_a_minute() -> None:
    limiter = PerChatRateLimiter()
    assert limiter._limiter(5).max_rate == 1 and limiter._limiter(5).time_period == 1
    assert limiter._limiter(-100123).max_rate == 20 and limiter._limiter(-100123).time_period == 60
    assert limiter._limiter("@channel").max_rate == 20
