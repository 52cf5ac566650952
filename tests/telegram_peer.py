"""The Telegram Bot API emulator for tests: npm telegram-test-api in tests/peers/telegram.

Its quirks against PTB 22 are fixed here, in a test-only request class (see TESTING.md):
getMe lacks ``is_bot``, dates are milliseconds, some methods answer ``null``, a sent message's
fields come back as JSON strings, callback queries lack ``chat_instance``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram.request import BaseRequest, HTTPXRequest, RequestData

PEER = Path(__file__).parent / "peers" / "telegram"
NULL_IS_TRUE = ("answerCallbackQuery", "setWebhook", "deleteWebhook", "deleteMessage")


def available() -> bool:
    return shutil.which("node") is not None and (PEER / "node_modules").exists()


class EmulatorRequest(HTTPXRequest):
    """HTTPXRequest that corrects the emulator's known deviations from the Bot API."""

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        status, payload = await super().do_request(url, method, *args, **kwargs)
        return status, corrected(url, payload)


def corrected(url: str, payload: bytes) -> bytes:
    body = json.loads(payload)
    endpoint = url.rsplit("/", 1)[-1]
    if body.get("ok") and body.get("result") is None and endpoint in NULL_IS_TRUE:
        body["result"] = True
    if endpoint == "getMe" and body.get("ok"):
        body["result"] = {"is_bot": True, **body["result"]}
    _seconds(body.get("result"))
    _objects(body.get("result"))
    if endpoint == "getUpdates":
        for update in body.get("result") or []:
            if "callback_query" in update:  # the emulator leaves out a required field
                update["callback_query"].setdefault("chat_instance", "emulator")
    return json.dumps(body).encode()


def _seconds(value: Any) -> None:
    """Milliseconds → seconds for every ``date`` in a result."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "date" and isinstance(item, int) and item > 10**11:
                value[key] = item // 1000
            else:
                _seconds(item)
    elif isinstance(value, list):
        for item in value:
            _seconds(item)


def _objects(result: Any) -> None:
    """The emulator echoes a sent message's form fields back as JSON strings; decode them."""
    if isinstance(result, dict):
        for key in ("link_preview_options", "reply_markup", "entities", "reply_parameters"):
            if isinstance(result.get(key), str):
                result[key] = json.loads(result[key])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_emulator(port: int | None = None, *, reject: tuple[str, ...] = ()) -> Iterator[str]:
    """The emulator on ``port`` (default: a free one); it answers 401 to the ``reject`` tokens."""
    port = port or free_port()
    process = subprocess.Popen(
        ["node", str(PEER / "server.js"), str(port), ",".join(reject)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PEER,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def install_request_fix() -> None:
    """Make every HTTPXRequest correct the emulator's quirks (for a subprocess under test)."""
    original = HTTPXRequest.do_request

    async def do_request(
        self: HTTPXRequest, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        status, payload = await original(self, url, method, *args, **kwargs)
        return status, corrected(url, payload)

    HTTPXRequest.do_request = do_request  # type: ignore[method-assign]


class RecordingRequest(BaseRequest):
    """Answers every Bot API call and records (method, parameters). ``results`` gives a
    method's result (default ``True``); a ``BotApiError`` there is answered as that error."""

    def __init__(self, results: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.results = results or {}

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        parameters = request_data.parameters if request_data is not None else {}
        self.calls.append((endpoint, parameters))
        result: Any = self.results.get(endpoint, True)
        if isinstance(result, list):  # one answer per call, in order; the last one repeats
            result = result.pop(0) if len(result) > 1 else result[0]
        if isinstance(result, bytes):  # a file download: the bytes themselves
            return 200, result
        if endpoint == "getMe":
            result = {"id": 42, "is_bot": True, "first_name": "Study", "username": "studyhall_bot"}
        if isinstance(result, BotApiError):
            body: dict[str, Any] = {
                "ok": False,
                "error_code": result.status,
                "description": result.description,
            }
            if result.retry_after is not None:
                body["parameters"] = {"retry_after": result.retry_after}
            if result.migrate_to_chat_id is not None:  # "group chat was upgraded to a supergroup chat"
                body["parameters"] = {"migrate_to_chat_id": result.migrate_to_chat_id}
            return result.status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()


@dataclass(frozen=True)
class BotApiError:
    status: int
    description: str
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None


class RecordedBot:
    """The adapter on a recording Bot API: feed it an update's JSON, get the calls it made."""

    def __init__(self, adapter: Any, recorder: RecordingRequest) -> None:
        self.adapter, self.recorder = adapter, recorder

    async def __call__(self, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        from telegram import Update

        start = len(self.recorder.calls)
        await self.adapter._on_update(Update.de_json(payload, self.adapter.bot), None)
        return [(e, p) for e, p in self.recorder.calls[start:] if e != "getMe"]


@asynccontextmanager
async def recorded_bot(app: Any, results: dict[str, Any] | None = None) -> AsyncIterator[RecordedBot]:
    """A TelegramAdapter for ``app`` whose Bot API calls are answered from ``results``."""
    from bot.adapters.telegram.adapter import TelegramAdapter

    recorder = RecordingRequest(results)
    adapter = TelegramAdapter(app, {"token": "1:REC"}, request=recorder, updates_request=RecordingRequest())
    await adapter.application.initialize()
    try:
        yield RecordedBot(adapter, recorder)
    finally:
        await adapter.application.shutdown()
