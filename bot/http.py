"""The project's one HTTP app (aiohttp): every webhook — Telegram, Stripe and the WeChat
callback — is a route on it. It listens on STUDYHALL_HTTP_HOST:STUDYHALL_HTTP_PORT; put a
TLS-terminating proxy in front of it."""

from __future__ import annotations

import logging
from functools import wraps

from aiohttp import web

from core.metrics import Metrics
from core.tracing import request_scope

log = logging.getLogger(__name__)


class HttpServer:
    def __init__(self, host: str, port: int, metrics: Metrics | None = None) -> None:
        self.host = host
        self.port = port
        self.metrics = metrics  # webhook requests are counted there, by route and status
        # webhook bodies are small; every request's log lines carry its id
        self.app = web.Application(client_max_size=1024**2, middlewares=[_request_ids])
        self.app.router.add_get("/healthz", _health)
        self._runner: web.AppRunner | None = None

    def add_post(self, path: str, handler: web.Handler, *, webhook: bool = True) -> None:
        self.app.router.add_post(path, self._counted(path, handler) if webhook else handler)

    def add_get(self, path: str, handler: web.Handler, *, webhook: bool = True) -> None:
        self.app.router.add_get(path, self._counted(path, handler) if webhook else handler, allow_head=False)

    def _counted(self, route: str, handler: web.Handler) -> web.Handler:
        """``handler`` counting its responses in studyhall_webhook_requests (route, status)."""
        metrics = self.metrics
        if metrics is None:
            return handler

        @wraps(handler)
        async def counted(request: web.Request) -> web.StreamResponse:
            try:
                response = await handler(request)
            except web.HTTPException as refusal:  # raised responses (400, 403, ...) count too
                metrics.count_webhook(route, refusal.status)
                raise
            except Exception:
                metrics.count_webhook(route, 500)
                raise
            metrics.count_webhook(route, response.status)
            return response

        return counted

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
