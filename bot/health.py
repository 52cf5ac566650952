"""Liveness, readiness and metrics on the HTTP app (docs/operations/health-and-metrics.md).

- ``/healthz`` (bot/http.py): the process and its event loop answer; no database.
- ``/readyz``: JSON; 200 when the database answers at the head migration and every adapter
  is connected, else 503 with what is wrong.
- ``/metrics``: this process's Prometheus registry (core/metrics.py); loopback clients only,
  unless STUDYHALL_METRICS_TOKEN is set: then a bearer token, from anywhere.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.app import App
from bot.http import HttpServer
from core.metrics import CONTENT_TYPE
from core.storage.migrate import current_revision, head_revision

log = logging.getLogger(__name__)

DB_TIMEOUT = 3.0  # seconds: a database slower than this is as good as unreachable for a probe
# Set by a reverse proxy: a request carrying one came from elsewhere, whatever its socket says.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def install_health(app: App, http: HttpServer, *, leading: Callable[[], bool] | None = None) -> None:
    """Add ``/readyz`` and ``/metrics`` to ``http`` (``/healthz`` is always there).
    ``leading``: whether this process holds the scheduler lock (None: it runs no scheduler)."""
    token = app.config.metrics_token.reveal() if app.config.metrics_token is not None else None

    async def readyz(_request: web.Request) -> web.Response:
        body = await readiness(app, leading)
        return web.json_response(body, status=200 if body["ready"] else 503)

    async def metrics(request: web.Request) -> web.Response:
        refusal = _refusal(request, token)
        if refusal is not None:
            return refusal
        try:
            app.metrics.set_outbox_depth(
                await asyncio.wait_for(app.services.pushes.outbox_depth(), DB_TIMEOUT)
            )
        except Exception as error:  # the rest of the page is still worth serving
            log.warning("metrics: cannot read the outbox depth: %s", type(error).__name__)
        return web.Response(body=app.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    http.add_get("/readyz", readyz, webhook=False)
    http.add_get("/metrics", metrics, webhook=False)


async def readiness(app: App, leading: Callable[[], bool] | None) -> dict[str, Any]:
    """The readiness report: ``ready`` is true when the database answers at the head revision
    and no adapter is down or still connecting."""
    head = head_revision()
    database: dict[str, Any] = {"reachable": False, "revision": None, "head": head, "at_head": False}
    try:
        revision = await asyncio.wait_for(current_revision(app.db), DB_TIMEOUT)
    except Exception as error:
        database["error"] = type(error).__name__  # the message may hold the database address
    else:
        database.update(reachable=True, revision=revision, at_head=revision == head)
    adapters = {
        name: {
            "connected": state.connected,
            "last_error": state.last_error,
            "since": state.since.isoformat(timespec="seconds"),
        }
        for name, state in app.adapters.states().items()
    }
    ready = database["at_head"] and all(a["connected"] for a in adapters.values())
    return {
        "ready": ready,
        "database": database,
        "adapters": adapters,
        "scheduler": {"leader": leading() if leading is not None else False},
    }


def is_loopback(remote: str | None) -> bool:
    """Whether a socket peer address is this machine (127.0.0.0/8, ::1, ::ffff:127.x)."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _refusal(request: web.Request, token: str | None) -> web.Response | None:
    """None when ``request`` may read the metrics, else the response that refuses it."""
    if token is None:
        proxied = any(name in request.headers for name in FORWARDING_HEADERS)
        if is_loopback(request.remote) and not proxied:
            return None
        return web.Response(
            status=403, text="metrics are served to loopback only; set STUDYHALL_METRICS_TOKEN\n"
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    return web.Response(
        status=401,
        text="a bearer token is required\n",
        headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
    )
