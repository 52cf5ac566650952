"""Prometheus metrics: every metric object of one running studyhall, in one place.

Each App owns a ``Metrics`` with its own ``CollectorRegistry`` (never the process-global one),
so several Apps in one test process do not collide, and ``/metrics`` shows exactly one App's
numbers. Several processes (webhook workers, a scheduler) each expose their own registry;
Prometheus scrapes each and sums across instances.

The choke points call the small ``observe_*``/``count_*`` methods below, so what a label means
is decided here and nowhere else. Counters are thread-safe: the SQLite writer thread may count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Handler latency: from a few ms (a cached /points) to seconds (a chart).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Job durations: from a fraction of a second to an analytics rebuild of many minutes.
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
# Postings per committed ledger batch (group commit gathers up to 1000).
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)

PoolReading = Callable[[], dict[str, float]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter(
            "studyhall_events_handled", "Inbound events handled", ["platform", "kind"], registry=r
        )
        self.handler_seconds = Histogram(
            "studyhall_handler_seconds",
            "Time to handle one inbound event (database work included)",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.internal_errors = Counter(
            "studyhall_internal_errors",
            "Failures answered with an error id (an event handler raised)",
            ["where"],
            registry=r,
        )
        self.ledger_postings = Counter(
            "studyhall_ledger_postings",
            "Ledger postings committed, by outcome (posted, replayed, insufficient, capped, ...)",
            ["outcome"],
            registry=r,
        )
        self.ledger_batch = Histogram(
            "studyhall_ledger_batch_postings",
            "Postings per committed ledger batch (one transaction)",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.pushes = Counter(
            "studyhall_push_messages",
            "Outbox messages by platform and result (sent, skipped, failed, retried)",
            ["platform", "result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "studyhall_platform_rate_limited",
            "429 (rate limited) answers from a platform",
            ["platform"],
            registry=r,
        )
        self.job_runs = Counter(
            "studyhall_job_runs",
            "Scheduled job runs, by job and result (ok, failed)",
            ["job", "result"],
            registry=r,
        )
        self.job_seconds = Histogram(
            "studyhall_job_seconds", "Duration of one job run", ["job"], buckets=JOB_BUCKETS, registry=r
        )
        self.webhook_requests = Counter(
            "studyhall_webhook_requests",
            "HTTP requests to the webhook routes, by route and status code",
            ["route", "status"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "studyhall_outbox_depth",
            "Push outbox messages waiting (pending or being sent), by platform; read at scrape time",
            ["platform"],
            registry=r,
        )
        self._pool = _PoolCollector()
        r.register(self._pool)

    # -- the choke points ------------------------------------------------------------------

    def observe_event(self, platform: str, kind: str, seconds: float) -> None:
        self.events.labels(platform, kind).inc()
        self.handler_seconds.labels(platform).observe(seconds)

    def count_error(self, where: str) -> None:
        self.internal_errors.labels(where).inc()

    def observe_ledger_batch(self, outcomes: Iterable[str]) -> None:
        """One committed batch of postings with each one's outcome."""
        size = 0
        for outcome in outcomes:
            self.ledger_postings.labels(outcome).inc()
            size += 1
        if size:
            self.ledger_batch.observe(size)

    def observe_pushes(self, platform: str, sent: int, skipped: int, failed: int, retried: int) -> None:
        for result, count in (("sent", sent), ("skipped", skipped), ("failed", failed), ("retried", retried)):
            if count:
                self.pushes.labels(platform, result).inc(count)

    def count_rate_limited(self, platform: str, times: int = 1) -> None:
        if times:
            self.rate_limited.labels(platform).inc(times)

    def observe_job(self, job: str, ok: bool, seconds: float) -> None:
        self.job_runs.labels(job, "ok" if ok else "failed").inc()
        self.job_seconds.labels(job).observe(seconds)

    def count_webhook(self, route: str, status: int) -> None:
        self.webhook_requests.labels(route, str(status)).inc()

    def set_outbox_depth(self, depth: dict[str, int]) -> None:
        self.outbox_depth.clear()  # a platform with nothing waiting disappears, not stale
        for platform, count in depth.items():
            self.outbox_depth.labels(platform).set(count)

    def watch_pool(self, reading: PoolReading) -> None:
        """``reading`` returns the database pool's numbers at scrape time."""
        self._pool.reading = reading

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


class _PoolCollector(Collector):
    """studyhall_db_pool_connections{state}: read from the engine's pool at scrape time."""

    def __init__(self) -> None:
        self.reading: PoolReading | None = None

    def describe(self) -> list[Any]:
        return [self._family()]

    def collect(self) -> list[Any]:
        family = self._family()
        for state, value in (self.reading() if self.reading else {}).items():
            family.add_metric([state], value)
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "studyhall_db_pool_connections",
            "Database pool connections: in_use (checked out), idle (in the pool), size, overflow",
            labels=["state"],
        )
