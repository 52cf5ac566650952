"""bot/adapters/telegram/adapter.py end to end: the real PTB Application running the real
adapter against the telegram-test-api Bot API emulator (npm, tests/peers/telegram), with the
emulator's quirks corrected by tests/telegram_peer.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from telegram.error import TimedOut

from bot.adapters.callbacks import CallbackData
from bot.adapters.telegram.adapter import TelegramAdapter
from bot.app import App
from bot.config import Config
from core.catalog.money import Money
from core.clock import ManualClock
from core.events import UserRef
from core.links import telegram_username
from core.members.models import Role
from core.pushes.delivery import RateLimited, Unreachable
from core.pushes.tables import push_outbox
from core.replies import Reply
from tests.conftest import START
from tests.telegram_peer import EmulatorRequest, available, running_emulator

PEER = Path(__file__).parent / "peers" / "telegram"
TOKEN = "123456:TEST-token"
ANA = {"id": 1001, "is_bot": False, "first_name": "Ana", "username": "ana", "language_code": "en"}
LI = {"id": 1002, "is_bot": False, "first_name": "Li", "username": "li", "language_code": "zh-hans"}
GROUP = {"id": -5001, "type": "supergroup", "title": "Python study group"}
NULL_IS_TRUE = ("answerCallbackQuery", "setWebhook", "deleteWebhook", "deleteMessage")

pytestmark = pytest.mark.skipif(
    not available(),
    reason="the Telegram emulator is installed by `make test` (npm ci in tests/peers/telegram)",
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with running_emulator() as base:
        yield base


class Chat:
    """The user side of the emulator: send as a user, read what the bot sent."""

    def __init__(self, base: str, client: httpx.AsyncClient) -> None:
        self.base = base
        self.client = client
        self.moment = count()

    async def send(self, user: dict[str, Any], chat: dict[str, Any], text: str) -> None:
        message: dict[str, Any] = {
            "botToken": TOKEN,
            "from": user,
            "chat": chat,
            "text": text,
            "date": int((START + timedelta(minutes=next(self.moment))).timestamp()),
        }
        endpoint = "sendMessage"
        if text.startswith("/"):
            endpoint = "sendCommand"
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        response = await self.client.post(f"{self.base}/{endpoint}", json=message)
        assert response.json()["ok"]

    async def press(self, user: dict[str, Any], message: dict[str, Any], data: str) -> None:
        callback = {"botToken": TOKEN, "from": user, "message": message, "data": data}
        response = await self.client.post(f"{self.base}/sendCallback", json=callback)
        assert response.json()["ok"]

    async def bot_messages(self, chat_id: int, expected: int = 1, wait: float = 15.0) -> list[dict[str, Any]]:
        """What the bot sent to ``chat_id`` since the last read: at least ``expected`` messages."""
        found: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            response = await self.client.post(
                f"{self.base}/getUpdates", json={"token": TOKEN, "chatId": chat_id}
            )
            found += [update["message"] for update in response.json()["result"]]
            if len(found) >= expected or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.05)


@pytest.fixture
async def running(app: App, emulator: str) -> AsyncIterator[tuple[TelegramAdapter, Chat]]:
    adapter = TelegramAdapter(
        app,
        {"token": TOKEN, "api_base": emulator},
        request=EmulatorRequest(),
        updates_request=EmulatorRequest(),
    )
    await adapter.start_polling(poll_interval=0.02)
    async with httpx.AsyncClient() as client:
        chat = Chat(emulator, client)
        await chat.bot_messages(ANA["id"], expected=0, wait=0)  # forget earlier tests' messages
        yield adapter, chat
    await adapter.stop()


def _private(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


async def test_start_help_and_points_in_a_private_chat(running: tuple[TelegramAdapter, Chat]) -> None:
    adapter, chat = running
    await chat.send(ANA, _private(ANA), "/start")
    (welcome,) = await chat.bot_messages(ANA["id"])
    assert "Ana" in welcome["text"]
    assert welcome["parse_mode"] == "HTML"

    await chat.send(ANA, _private(ANA), f"/help@{adapter.bot.username}")
    (help_text,) = await chat.bot_messages(ANA["id"])
    assert "/points" in help_text["text"]

    await chat.send(ANA, _private(ANA), "/points")
    (points,) = await chat.bot_messages(ANA["id"])
    assert "0" in points["text"]


async def test_the_bots_username_is_remembered_for_the_course_pages_links(
    running: tuple[TelegramAdapter, Chat],
) -> None:
    adapter, _ = running
    username = adapter.bot.username
    assert username  # from getMe, on the emulator
    assert await telegram_username(adapter.app.db) == username


async def test_checkin_credits_points_and_points_shows_them(running: tuple[TelegramAdapter, Chat]) -> None:
    adapter, chat = running
    await chat.send(ANA, _private(ANA), "/checkin")
    (checked_in,) = await chat.bot_messages(ANA["id"])
    member = await adapter.app.services.members.find_by_identity(
        (await adapter.app.community()).id, "telegram", str(ANA["id"])
    )
    assert member is not None
    balance = await adapter.app.services.ledger.balance(member.community_id, member.id)
    assert balance.balance > 0
    assert str(balance.balance) in checked_in["text"]


async def test_learn_and_courses_offer_the_learner_pages_as_a_mini_app(
    running: tuple[TelegramAdapter, Chat],
) -> None:
    adapter, chat = running
    app = adapter.app
    app.services.web_sessions.enable("https://learn.example.org")  # served over HTTPS
    community = await app.community()
    mei = await app.services.members.ensure_member(community, UserRef("console", "mei", "Mei"))
    mei = await app.services.members.assign_role(community, mei, Role.CREATOR, via="test")
    course = await app.services.catalog.add_course(community, mei, "py101", Money("USD", 1999), "Python")
    await app.services.catalog.add_lesson(community, mei, "py101", "Setup", "Install Python.")
    await chat.send(ANA, _private(ANA), "/start")
    await chat.bot_messages(ANA["id"])
    ana = await app.services.members.find_by_identity(community.id, "telegram", str(ANA["id"]))
    assert ana is not None
    order = await app.services.orders.order_course(community, ana, course)
    await app.services.orders.record_payment(
        order.id, provider="sandbox", provider_ref="r1", paid=order.amount
    )

    await chat.send(ANA, _private(ANA), "/learn py101")
    lesson, _finished = await chat.bot_messages(ANA["id"], expected=2)  # its only lesson: done
    await chat.send(ANA, _private(ANA), "/courses")
    (courses,) = await chat.bot_messages(ANA["id"])

    [[open_lesson]] = lesson["reply_markup"]["inline_keyboard"]
    assert open_lesson["web_app"] == {"url": "https://learn.example.org/learn/app?next=/learn/py101/1"}
    [[open_page]] = courses["reply_markup"]["inline_keyboard"]
    assert open_page["web_app"] == {"url": "https://learn.example.org/learn/app?next=/me"}


async def test_a_button_press_runs_its_command(running: tuple[TelegramAdapter, Chat]) -> None:
    _adapter, chat = running
    await chat.send(ANA, _private(ANA), "/lang")
    (choices,) = await chat.bot_messages(ANA["id"])
    buttons = [button for row in choices["reply_markup"]["inline_keyboard"] for button in row]
    chinese = next(button for button in buttons if "zh" in button["callback_data"])

    pressed_on = {
        "message_id": 1,  # the emulator's read-back has no id; any id will do
        "date": 0,
        "chat": _private(ANA),
        "text": choices["text"],
    }
    await chat.press(ANA, pressed_on, chinese["callback_data"])
    (changed,) = await chat.bot_messages(ANA["id"])
    assert any("\u4e00" <= character <= "\u9fff" for character in changed["text"])  # answered in Chinese


async def test_a_button_rendered_by_another_process_works_here(
    running: tuple[TelegramAdapter, Chat], config: Config, clock: ManualClock
) -> None:
    """Long button data goes behind a token stored in the database: a process on the same
    database (another App, with its own Database and caches) rendered it, this one answers."""
    _adapter, chat = running
    other = await App.open(config, clock=clock)
    try:
        callbacks = CallbackData(other.services.callback_tokens)
        token = callbacks.pack("cmd:/lang zh" + " " * 80)  # too long for callback_data
        await callbacks.save()
    finally:
        await other.close()
    pressed_on = {"message_id": 1, "date": 0, "chat": _private(ANA), "text": "Choose"}
    await chat.press(ANA, pressed_on, token)
    (changed,) = await chat.bot_messages(ANA["id"])
    assert any("\u4e00" <= character <= "\u9fff" for character in changed["text"])  # answered in Chinese


async def test_a_group_conversation_earns_points(running: tuple[TelegramAdapter, Chat]) -> None:
    adapter, chat = running
    lines = [
        "How do I read a CSV file with pandas?",
        "Use pandas.read_csv and pass the path of the file",
        "Thanks, that worked for my homework dataset",
    ]
    for line in lines:
        await chat.send(ANA, GROUP, line)
    community = await adapter.app.community()
    members = adapter.app.services.members
    for _ in range(200):
        member = await members.find_by_identity(community.id, "telegram", str(ANA["id"]))
        if member is not None:
            balance = await adapter.app.services.ledger.balance(community.id, member.id)
            if balance.earned >= len(lines):
                break
        await asyncio.sleep(0.05)
    assert member is not None
    history = await adapter.app.services.ledger.history(community.id, member.id)
    assert [line.transfer.kind for line in history] == ["message"] * len(lines)
    assert await chat.bot_messages(GROUP["id"], expected=0, wait=0.3) == []  # earning is silent


async def test_one_senders_updates_run_in_order_while_others_overlap() -> None:
    from telegram import Bot, Update

    from bot.adapters.telegram.adapter import InOrderPerSender

    bot = Bot(TOKEN)

    def update(update_id: int, user: dict[str, Any]) -> Update:
        message = {"message_id": update_id, "date": 0, "chat": GROUP, "from": user, "text": "hi"}
        return Update.de_json({"update_id": update_id, "message": message}, bot)

    processor = InOrderPerSender(8)
    order: list[str] = []
    ana_first_may_finish = asyncio.Event()

    async def work(name: str, wait: asyncio.Event | None = None) -> None:
        order.append(f"{name} starts")
        if wait is not None:
            await wait.wait()
        order.append(f"{name} ends")

    async def li_then_release() -> None:
        await work("li")
        ana_first_may_finish.set()

    await asyncio.gather(
        processor.process_update(update(1, ANA), work("ana-1", ana_first_may_finish)),
        processor.process_update(update(2, ANA), work("ana-2")),
        processor.process_update(update(3, LI), li_then_release()),
    )
    # Ana's second update waited for her first; Li's ran meanwhile.
    assert order.index("ana-1 ends") < order.index("ana-2 starts")
    assert order.index("li ends") < order.index("ana-1 ends")
    assert processor._locks == {}  # nothing left behind


WEBHOOK_TOKEN = "777:WEBHOOK-token"  # its own bot: the emulator delivers this one's updates by webhook


@pytest.fixture
async def webhook(app: App, emulator: str) -> AsyncIterator[tuple[TelegramAdapter, str]]:
    from bot.http import HttpServer
    from tests.telegram_peer import free_port

    http = HttpServer("127.0.0.1", free_port())
    adapter = TelegramAdapter(
        app,
        {"token": WEBHOOK_TOKEN, "api_base": emulator},
        request=EmulatorRequest(),
        updates_request=EmulatorRequest(),
    )
    url = f"http://127.0.0.1:{http.port}/telegram/hook"
    await adapter.start_webhook(http, url, "s3cret_-token")
    await http.start()
    yield adapter, url
    await http.stop()
    await adapter.stop()


async def test_webhook_mode_answers_through_the_http_app(
    webhook: tuple[TelegramAdapter, str], emulator: str
) -> None:
    _adapter, _url = webhook
    async with httpx.AsyncClient() as client:
        message = {
            "botToken": WEBHOOK_TOKEN,
            "from": ANA,
            "chat": _private(ANA),
            "text": "/start",
            "date": int(START.timestamp()),
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        }
        assert (await client.post(f"{emulator}/sendCommand", json=message)).json()["ok"]
        sent: list[dict[str, Any]] = []
        for _ in range(200):
            reply = await client.post(
                f"{emulator}/getUpdates", json={"token": WEBHOOK_TOKEN, "chatId": ANA["id"]}
            )
            sent += [update["message"] for update in reply.json()["result"]]
            if sent:
                break
            await asyncio.sleep(0.05)
    assert sent and "Ana" in sent[0]["text"]


@pytest.mark.parametrize("header", [None, "wrong-token", "s3cret_-token-and-more"])
async def test_webhook_calls_without_the_secret_are_refused_and_do_nothing(
    webhook: tuple[TelegramAdapter, str], header: str | None
) -> None:
    adapter, url = webhook
    update = {
        "update_id": 900,
        "message": {"message_id": 5, "date": 0, "chat": _private(LI), "from": LI, "text": "/start"},
    }
    headers = {"X-Telegram-Bot-Api-Secret-Token": header} if header is not None else {}
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json=update, headers=headers)
    assert response.status_code == 403
    community = await adapter.app.community()
    assert (
        await adapter.app.services.members.find_by_identity(community.id, "telegram", str(LI["id"])) is None
    )


async def test_a_webhook_update_is_answered_once_handled_and_counts_once_when_sent_again(
    webhook: tuple[TelegramAdapter, str],
) -> None:
    """The 200 means the update's writes are committed (a process killed before it leaves the
    update to be delivered again), and a second delivery changes nothing."""
    adapter, url = webhook
    group = {"id": -100777, "type": "supergroup", "title": "Study group"}
    update = {
        "update_id": 901,
        "message": {
            "message_id": 6,
            "date": int(START.timestamp()),
            "chat": group,
            "from": LI,
            "text": "a long enough message to earn a point",
        },
    }
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret_-token"}
    app = adapter.app
    async with httpx.AsyncClient() as client:
        assert (await client.post(url, json=update, headers=headers)).status_code == 200
        community = await app.community()
        li = await app.services.members.find_by_identity(community.id, "telegram", str(LI["id"]))
        assert li is not None
        assert await app.services.activity.count(community.id) == 1
        assert (await app.services.ledger.balance(community.id, li.id)).balance == 1
        assert (await client.post(url, json=update, headers=headers)).status_code == 200
    assert await app.services.activity.count(community.id) == 1
    assert (await app.services.ledger.balance(community.id, li.id)).balance == 1


async def test_a_malformed_webhook_body_is_acknowledged_and_skipped(
    webhook: tuple[TelegramAdapter, str],
) -> None:
    _adapter, url = webhook
    async with httpx.AsyncClient() as client:
        response = await client.post(
            url, content=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret_-token"}
        )
    assert response.status_code == 200


async def test_a_429_is_waited_out_and_the_message_still_goes(app: App) -> None:
    from bot.app import Outgoing
    from core.events import ChatKind, ChatRef
    from core.replies import Reply
    from tests.telegram_peer import BotApiError, RecordingRequest

    sent = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"}
    flood = BotApiError(429, "Too Many Requests: retry after 1", retry_after=1)
    recorder = RecordingRequest({"sendMessage": [flood, sent]})
    adapter = TelegramAdapter(app, {"token": "1:RL"}, request=recorder, updates_request=RecordingRequest())
    await adapter.application.initialize()
    try:
        started = asyncio.get_running_loop().time()
        delivered = await adapter.deliver(
            Outgoing(Reply.text("hi"), "en", chat=ChatRef("telegram", "5", ChatKind.PRIVATE))
        )
        waited = asyncio.get_running_loop().time() - started
    finally:
        await adapter.application.shutdown()
    assert delivered
    assert [endpoint for endpoint, _ in recorder.calls if endpoint == "sendMessage"] == ["sendMessage"] * 2
    assert waited >= 1.0  # retry_after honoured, not hammered


async def test_a_push_reaches_a_member_in_their_private_chat(
    running: tuple[TelegramAdapter, Chat], app: App
) -> None:
    adapter, chat = running
    await chat.send(ANA, _private(ANA), "/start")
    await chat.bot_messages(ANA["id"])
    community = await app.community()
    members = app.services.members
    mei = await members.ensure_member(community, UserRef("console", "mei", "Mei"))
    mei = await members.assign_role(community, mei, Role.CREATOR, via="test")
    for key in ("push.quiet_start", "push.quiet_end"):
        await app.services.settings.set(community.id, key, "0", actor=mei)
    pushes = app.services.pushes
    assert pushes.channels["telegram"] is adapter
    draft = await pushes.draft(community, mei, "all", "Live class at 8")
    assert draft.per_platform == {"telegram": 1}
    await pushes.confirm(community, mei, draft.campaign.id)
    assert (await pushes.send_due()).sent == 1
    (message,) = await chat.bot_messages(ANA["id"])
    assert message["text"] == "Live class at 8"
    async with app.db.read() as conn:
        (message_id,) = (await conn.execute(select(push_outbox.c.message_id))).scalars()
    assert message_id  # the id Telegram gave the message


async def test_pushes_to_blocked_members_and_lasting_429s_become_neutral_errors(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.adapters.telegram.adapter as adapter_module
    from tests.telegram_peer import BotApiError, RecordingRequest

    monkeypatch.setattr(adapter_module, "RETRIES_AFTER_429", 0)  # the 429 comes straight through
    blocked = BotApiError(403, "Forbidden: bot was blocked by the user")
    flood = BotApiError(429, "Too Many Requests: retry after 7", retry_after=7)
    recorder = RecordingRequest({"sendMessage": [blocked, flood]})
    adapter = TelegramAdapter(app, {"token": "1:RL"}, request=recorder, updates_request=RecordingRequest())
    await adapter.application.initialize()
    try:
        with pytest.raises(Unreachable) as unreachable:
            await adapter.push("5", Reply.text("hi"), "en", "push:1:1")
        with pytest.raises(RateLimited) as limited:
            await adapter.push("5", Reply.text("hi"), "en", "push:1:1")
    finally:
        await adapter.application.shutdown()
    assert unreachable.value.reason == "blocked"
    assert limited.value.retry_after == 7


def test_a_failed_last_mark_read_at_shutdown_is_one_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """python-telegram-bot logs it with a traceback (seen in CI); nothing is lost by it."""
    updater = logging.getLogger("telegram.ext.Updater")
    try:
        raise TimedOut("Timed out")
    except TimedOut:
        updater.exception("Error while calling `get_updates` one more time to mark all fetched updates.")
    updater.error("Something else", exc_info=(ValueError, ValueError("kept"), None))
    mark_read, other = caplog.records[-2:]
    assert mark_read.levelname == "WARNING" and mark_read.exc_info is None
    assert mark_read.getMessage() == (
        "telegram: could not mark the last updates read while stopping (TimedOut);"
        " any sent again are handled once"
    )
    assert "Traceback" not in caplog.text.split("Something else")[0]
    assert other.exc_info is not None  # the updater's other records pass unchanged
