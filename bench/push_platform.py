"""A fake messaging platform on 127.0.0.1 for the push benchmark and the push crash test, and
the push channel that talks to it over HTTP.

The platform enforces a configured rate (a token bucket: ``rate`` messages a second, bursts
of ``burst``) and answers anything over it with HTTP 429 and ``retry_after`` in seconds, the
way Telegram does (``{"ok": false, "parameters": {"retry_after": …}}``). It counts every
request, every accepted message per account, and — with ``dedupe`` — accepts a repeated
message key once (as a gateway with idempotency keys would), counting the repeat apart.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable

import aiohttp
from aiohttp import web

from core.pushes.delivery import Pace, RateLimited, Unreachable
from core.replies import Reply, Text


class FakePlatform:
    def __init__(self, rate: float, burst: int = 1, *, dedupe: bool = False) -> None:
        self.rate = rate
        self.burst = burst
        self.dedupe = dedupe
        self.requests = 0
        self.throttled = 0
        self.accepted = 0  # messages accepted (repeats of a key included when not deduplicating)
        self.repeats = 0  # requests for a key already accepted
        self.deliveries: Counter[str] = Counter()  # account -> messages shown to it
        self.keys: dict[str, str] = {}  # key -> message id
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.blocked: set[str] = set()
        # Called with the number of accepted messages after each one, before answering
        # (the crash test kills the sender here).
        self.on_accept: Callable[[int], None] | None = None
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/send", self._send)
        app.router.add_get("/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stats(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "accepted": self.accepted,
            "repeats": self.repeats,
            "accounts": len(self.deliveries),
            "duplicates": sum(n - 1 for n in self.deliveries.values()),
            "busy_seconds": (self.last_at - self.first_at) if self.first_at and self.last_at else 0.0,
        }

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    def _take(self) -> float:
        """0 when a message may pass now, else the seconds until one may."""
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests += 1
        wait = self._take()
        if wait > 0:
            self.throttled += 1
            return web.json_response(
                {"ok": False, "error_code": 429, "parameters": {"retry_after": round(wait, 4)}}, status=429
            )
        account, key = str(body["account"]), str(body["key"])
        if account in self.blocked:
            return web.json_response({"ok": False, "error_code": 403}, status=403)
        now = time.monotonic()
        self.first_at = self.first_at if self.first_at is not None else now
        self.last_at = now
        if key in self.keys:
            self.repeats += 1
            if self.dedupe:
                return web.json_response({"ok": True, "message_id": self.keys[key]})
        self.accepted += 1
        self.deliveries[account] += 1
        message_id = self.keys.setdefault(key, str(self.accepted))
        if self.on_accept is not None:
            self.on_accept(self.accepted)
        return web.json_response({"ok": True, "message_id": message_id})


class HttpPushChannel:
    """A push channel to the fake platform: 429 → RateLimited, 403 → Unreachable."""

    def __init__(self, url: str, pace: Pace) -> None:
        self.url = url.rstrip("/") + "/send"
        self.pace = pace
        self._session: aiohttp.ClientSession | None = None

    async def push(self, account: str, reply: Reply, locale: str, key: str) -> str:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        text = "".join(
            s.content for s in reply.segments if isinstance(s, Text) and isinstance(s.content, str)
        )
        async with self._session.post(
            self.url, json={"account": account, "text": text, "key": key}
        ) as response:
            body = await response.json()
        if response.status == 429:
            raise RateLimited(float(body["parameters"]["retry_after"]))
        if response.status == 403:
            raise Unreachable("blocked")
        if response.status != 200:
            raise RuntimeError(f"platform answered {response.status}")
        return str(body["message_id"])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def serve(rate: float, burst: int) -> None:
    """Run a platform until killed, printing its URL (the benchmark runs it in a process of
    its own, so its work does not share the sender's core)."""
    platform = FakePlatform(rate, burst)
    print(await platform.start(), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(float(sys.argv[1]), int(sys.argv[2])))
