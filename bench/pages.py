"""Timing web pages through the real HTTP stack, each beside its queries as raw SQL: what
bench/dashboard.py and bench/web.py share."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.http import HttpServer

REQUESTS = int(os.environ.get("BENCH_REQUESTS", 60))
WARMUP = 5


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 of ``samples`` (seconds), in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def timed(call: Callable[[], Awaitable[object]]) -> list[float]:
    """Seconds each of REQUESTS calls took, after WARMUP untimed ones."""
    for _ in range(WARMUP):
        await call()
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def measure(client: TestClient, pages: dict[str, str]) -> dict[str, list[float]]:
    """Each page (name: path) requested REQUESTS times; a page that is not a 200 stops the run."""

    def request(page: str) -> Callable[[], Awaitable[object]]:
        async def call() -> object:
            response = await client.get(page, allow_redirects=False)
            body = await response.read()
            assert response.status == 200, (page, response.status)
            return body

        return call

    return {name: await timed(request(page)) for name, page in pages.items()}


async def against_references(
    measured: dict[str, list[float]], references: dict[str, Callable[[], object]]
) -> dict[str, dict[str, float]]:
    """Each page's p50 and p95 beside its reference's (its queries, timed the same way), and
    ``ratio``: page p95 / reference p95."""
    results: dict[str, dict[str, float]] = {}
    for name, samples in measured.items():
        query = references[name]

        async def reference(query: Callable[[], object] = query) -> object:
            return query()

        p50, p95 = percentiles(samples)
        ref_p50, ref_p95 = percentiles(await timed(reference))
        results[name] = {
            "p50_ms": round(p50, 1),
            "p95_ms": round(p95, 1),
            "ref_p50_ms": round(ref_p50, 2),
            "ref_p95_ms": round(ref_p95, 2),
            "ratio": round(p95 / max(ref_p95, 1e-3), 1),
        }
    return results


@asynccontextmanager
async def served(app: App, install: Callable[[App, HttpServer], object]) -> AsyncIterator[TestClient]:
    """``app``'s HTTP app (``install`` mounts its pages) on loopback, and a client for it; the
    app is closed on the way out."""
    http = HttpServer("127.0.0.1", 0)
    install(app, http)
    server = TestServer(http.app)
    await server.start_server(access_log=None)
    client = TestClient(server)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await app.close()


def page_figures(results: dict[str, dict[str, float]], target_p95_ms: float) -> dict[str, Any]:
    """The JSON line's part about the pages: each page's figures and whether all are in target."""
    return {
        "pages": results,
        "target_p95_ms": target_p95_ms,
        "within_target": all(r["p95_ms"] < target_p95_ms for r in results.values()),
    }
