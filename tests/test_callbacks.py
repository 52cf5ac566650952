"""bot/adapters/callbacks.py with a store: what is saved, when, and what happens when the store
fails (the platform renderings and the in-memory behaviour are in test_telegram_outbound.py)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

import core.cache
from bot.adapters.callbacks import SAVE_AGAIN_AFTER, CallbackData

LONG = "cmd:/course edit py101 description " + "x" * 100


class Store:
    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self.saves: list[set[str]] = []
        self.recalls = 0
        self.failing = False

    async def remember(self, tokens: Mapping[str, str]) -> None:
        if self.failing:
            raise ConnectionError("database down")
        self.saves.append(set(tokens))
        self.rows.update(tokens)

    async def recall(self, token: str) -> str | None:
        self.recalls += 1
        return self.rows.get(token)


async def test_new_tokens_are_saved_once_in_one_statement() -> None:
    store = Store()
    callbacks = CallbackData(store)
    a, b = callbacks.pack(LONG), callbacks.pack(LONG + "b")
    callbacks.pack(LONG)
    assert callbacks.pack("cmd:/help") == "cmd:/help"  # short data needs no token
    await callbacks.save()
    await callbacks.save()
    callbacks.pack(LONG)  # saved already
    await callbacks.save()
    assert store.saves == [{a, b}]


async def test_a_token_in_use_is_saved_again_after_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(core.cache, "_now", lambda: now[0])
    store = Store()
    callbacks = CallbackData(store)
    token = callbacks.pack(LONG)
    await callbacks.save()
    now[0] += SAVE_AGAIN_AFTER + 1
    callbacks.pack(LONG)
    await callbacks.save()
    assert store.saves == [{token}, {token}]


async def test_when_the_store_fails_buttons_work_here_and_the_next_save_retries() -> None:
    store = Store()
    callbacks = CallbackData(store)
    store.failing = True
    token = callbacks.pack(LONG)
    await callbacks.save()  # logged, not raised: the reply still goes out
    assert await callbacks.unpack(token) == LONG
    store.failing = False
    await callbacks.save()
    assert store.rows == {token: LONG}


async def test_unpack_reads_the_store_once_then_from_memory() -> None:
    store = Store()
    token = CallbackData(store).pack(LONG)
    store.rows[token] = LONG
    reader = CallbackData(store)
    assert await reader.unpack(token) == LONG
    assert await reader.unpack(token) == LONG
    assert await reader.unpack("cmd:/help") == "cmd:/help"
    assert store.recalls == 1
