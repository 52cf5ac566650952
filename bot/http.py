"""The project's one HTTP app (aiohttp): every webhook — Telegram, Stripe and the WeChat
callback — is a route on it. It listens on STUDYHALL_HTTP_HOST:STUDYHALL_HTTP_PORT; put a
TLS-terminating proxy in front of it."""

from __future__ import annotations

import logging

from aiohttp import web

from core.tracing import request_scope

log = logging.getLogger(__name__)


class HttpServer:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        # webhook bodies are small; every request's log lines carry its id
        self.app = web.Application(client_max_size=1024**2, middlewares=[_request_ids])
        self.app.router.add_get("/healthz", _health)
        self._runner: web.AppRunner | None = None

    def add_post(self, path: str, handler: web.Handler) -> None:
        self.app.router.add_post(path, handler)

    def add_get(self, path: str, handler: web.Handler) -> None:
        self.app.router.add_get(path, handler, allow_head=False)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("http: listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@web.middleware
async def _request_ids(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    with request_scope():
        return await handler(request)


async def _health(_request: web.Request) -> web.Response:
    return web.Response(text="ok")
