"""bot/adapters/telegram/threads.py through the real python-telegram-bot Application on a
recording Bot API, fed recorded update payloads: an answer in a forum supergroup goes to the topic
the command came from as a reply to it (``message_thread_id``, ``reply_parameters`` with
``allow_sending_without_reply``); a button pressed in a topic answers there; a private chat gets
neither; a closed topic sends the answer privately instead, once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import App
from tests.telegram_peer import BotApiError, RecordedBot, recorded_bot

FORUM = {"id": -1005001, "type": "supergroup", "title": "Data club", "is_forum": True}
ANA = {"id": 100, "is_bot": False, "first_name": "Ana", "language_code": "en"}
SENT = {"message_id": 900, "date": 0, "chat": FORUM, "text": "ok"}


def in_topic(update_id: int, text: str, *, topic: int | None = 7) -> dict[str, Any]:
    """A command as Telegram sends it from a forum topic (or from General, ``topic`` None)."""
    message: dict[str, Any] = {
        "message_id": 40 + update_id,
        "date": 0,
        "chat": FORUM,
        "from": ANA,
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
    }
    if topic is not None:
        message.update(message_thread_id=topic, is_topic_message=True)
    return {"update_id": update_id, "message": message}


def private(update_id: int, text: str) -> dict[str, Any]:
    chat = {"id": 100, "type": "private", "first_name": "Ana"}
    entity = {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
    message = {
        "message_id": update_id,
        "date": 0,
        "chat": chat,
        "from": ANA,
        "text": text,
        "entities": [entity],
    }
    return {"update_id": update_id, "message": message}


class Bot:
    """The recorded bot, answering with the messages it sent."""

    def __init__(self, recorded: RecordedBot) -> None:
        self.recorded = recorded

    async def __call__(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        return [p for e, p in await self.recorded(payload) if e == "sendMessage"]


async def _bot(app: App, results: dict[str, Any]) -> AsyncIterator[Bot]:
    async with recorded_bot(app, results) as recorded:
        yield Bot(recorded)


@pytest.fixture
async def bot(app: App) -> AsyncIterator[Bot]:
    async for running in _bot(app, {"sendMessage": SENT}):
        yield running


def _reply_to(sent: dict[str, Any]) -> dict[str, Any] | None:
    value = sent.get("reply_parameters")
    return json.loads(value) if isinstance(value, str) else value


async def test_an_answer_goes_to_the_topic_as_a_reply_to_the_command(bot: Bot) -> None:
    [sent] = await bot(in_topic(1, "/points"))
    assert sent["chat_id"] == "-1005001" and sent["message_thread_id"] == 7
    assert _reply_to(sent) == {"message_id": 41, "allow_sending_without_reply": True}
    [general] = await bot(in_topic(2, "/points", topic=None))  # General: a reply, no thread
    assert "message_thread_id" not in general and _reply_to(general) == {
        "message_id": 42,
        "allow_sending_without_reply": True,
    }


async def test_a_private_chat_gets_no_thread_and_no_reply(bot: Bot) -> None:
    [sent] = await bot(private(3, "/points"))
    assert "message_thread_id" not in sent and "reply_parameters" not in sent


async def test_a_button_pressed_in_a_topic_answers_in_that_topic(bot: Bot) -> None:
    message = {**SENT, "message_id": 901, "message_thread_id": 7, "is_topic_message": True}
    query = {"id": "q5", "from": ANA, "chat_instance": "c", "message": message, "data": "cmd:/points"}
    [answered] = await bot({"update_id": 5, "callback_query": query})
    assert answered["chat_id"] == "-1005001" and answered["message_thread_id"] == 7
    assert "reply_parameters" not in answered  # a press is no message to reply to


async def test_a_closed_topic_sends_the_answer_privately_once(app: App) -> None:
    closed = BotApiError(400, "Bad Request: TOPIC_CLOSED")
    async for bot in _bot(app, {"sendMessage": [closed, SENT]}):
        sent = await bot(in_topic(6, "/points"))
        assert [(s["chat_id"], s.get("message_thread_id")) for s in sent] == [("-1005001", 7), ("100", None)]


BOB = {"id": 200, "is_bot": False, "first_name": "Bob", "language_code": "en"}


def from_bob(payload: dict[str, Any]) -> dict[str, Any]:
    payload["message"]["from"] = BOB
    return payload


async def _ask_and_answer(bot: Bot) -> list[dict[str, Any]]:
    """Ana asks in topic 7 (message 41); Bob answers there: what was sent for the answer."""
    await bot(in_topic(1, "/ask How do I read a CSV file with pandas quickly?"))
    return await bot(from_bob(in_topic(2, "/answer 1 Use pandas.read_csv with the path of the file")))


async def test_a_note_about_a_question_asked_in_a_topic_goes_to_that_topic(app: App, bot: Bot) -> None:
    sent = await _ask_and_answer(bot)
    [note] = [s for s in sent if "answered your question" in s["text"]]
    assert note["chat_id"] == "-1005001" and note["message_thread_id"] == 7
    assert _reply_to(note) == {"message_id": 41, "allow_sending_without_reply": True}
    assert note["text"].startswith('<a href="tg://user?id=100">Ana</a> ')  # the mention notifies her
    # Ana accepts in her private chat: the note to Bob goes to the topic too, naming him.
    accepted = await bot(private(3, "/accept A1"))
    [bobs] = [s for s in accepted if "was accepted" in s["text"]]
    assert bobs["chat_id"] == "-1005001" and bobs["message_thread_id"] == 7
    assert bobs["text"].startswith('<a href="tg://user?id=200">Bob</a> ')
    question = await app.services.qa.question(await app.community(), 1)
    assert question.thread == "7" and question.message_id == "-1005001:41"


async def test_a_question_asked_outside_a_topic_is_noted_privately(bot: Bot) -> None:
    await bot(in_topic(1, "/ask How do I read a CSV file with pandas quickly?", topic=None))
    sent = await bot(from_bob(in_topic(2, "/answer 1 Use pandas.read_csv with the path", topic=None)))
    [note] = [s for s in sent if "answered your question" in s["text"]]
    assert note["chat_id"] == "100" and "message_thread_id" not in note


async def test_a_note_for_a_closed_topic_goes_privately(app: App) -> None:
    closed = BotApiError(400, "Bad Request: TOPIC_CLOSED")
    # The ask's and the answer's own answers go through; the note to the closed topic does not.
    async for bot in _bot(app, {"sendMessage": [SENT, SENT, closed, SENT]}):
        sent = await _ask_and_answer(bot)
        assert [(s["chat_id"], s.get("message_thread_id")) for s in sent[-2:]] == [
            ("-1005001", 7),
            ("100", None),
        ]
        assert "answered your question" in sent[-1]["text"] and "tg://user" not in sent[-1]["text"]
