"""A local stand-in for the Stripe API endpoints studyhall calls (Checkout Sessions, which
localstripe lacks, and refunds), and webhook payloads signed with Stripe's real scheme."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.telegram_peer import free_port


@dataclass
class FakeStripe:
    """Records every request (method, path, form fields, headers) and answers like Stripe."""

    sessions: list[dict[str, Any]] = field(default_factory=list)  # what GET /v1/checkout/sessions lists
    refuse_refunds: str | None = None
    calls: list[tuple[str, str, dict[str, str], dict[str, str]]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_get("/v1/checkout/sessions", self._list_sessions)
        app.router.add_post("/v1/refunds", self._refund)
        app.router.add_post("/v1/subscriptions/{id}", self._update_subscription)
        return app

    async def _update_subscription(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        ends = form.get("cancel_at_period_end") == "true"
        return web.json_response(
            {"id": request.match_info["id"], "object": "subscription", "cancel_at_period_end": ends}
        )

    async def _record(self, request: web.Request) -> dict[str, str]:
        form = dict(parse_qsl(await request.text())) if request.method == "POST" else dict(request.query)
        self.calls.append((request.method, request.path, form, dict(request.headers)))
        return form

    async def _create_session(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        number = len(self.calls)
        return web.json_response(
            {
                "id": f"cs_test_{number}",
                "object": "checkout.session",
                "url": f"https://checkout.stripe.test/c/pay/cs_test_{number}",
                "client_reference_id": form.get("client_reference_id"),
                "status": "open",
                "payment_status": "unpaid",
            }
        )

    async def _list_sessions(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response(
            {"object": "list", "url": "/v1/checkout/sessions", "has_more": False, "data": self.sessions}
        )

    async def _refund(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if self.refuse_refunds:
            error = {"message": self.refuse_refunds, "type": "invalid_request_error"}
            return web.json_response({"error": error}, status=400)
        return web.json_response(
            {
                "id": f"re_{len(self.calls)}",
                "object": "refund",
                "amount": int(form["amount"]),
                "status": "succeeded",
            }
        )


@asynccontextmanager
async def running_stripe(fake: FakeStripe) -> AsyncIterator[str]:
    """The fake on 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def signed(payload: str, secret: str, at: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends with ``payload``."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def event(event_id: str, kind: str, obj: dict[str, Any]) -> str:
    """A webhook event body as Stripe sends it."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "api_version": "2024-06-20",
            "data": {"object": obj},
        }
    )


def paid_session(order_id: int, amount: int, currency: str = "usd", intent: str = "pi_1") -> dict[str, Any]:
    return {
        "id": f"cs_{order_id}",
        "object": "checkout.session",
        "client_reference_id": str(order_id),
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": intent,
        "amount_total": amount,
        "currency": currency,
    }


@asynccontextmanager
async def running_localstripe() -> AsyncIterator[str]:
    """localstripe (a stateful fake Stripe) served in this process on 127.0.0.1, its state in
    memory only: its own CLI binds every interface and pickles to a fixed /tmp file."""
    import localstripe.server
    from localstripe.resources import store

    store.clear()
    saved = store.dump_to_disk
    store.dump_to_disk = lambda: None  # type: ignore[method-assign]
    runner = web.AppRunner(localstripe.server.app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        store.dump_to_disk = saved  # type: ignore[method-assign]
        store.clear()
