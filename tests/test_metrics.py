"""core/metrics.py and /metrics (bot/health.py): counters move at the real choke points, and
the page is served to loopback or to a bearer token only."""

from __future__ import annotations

import fcntl
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.config import Config, Secret, load_config
from bot.health import install_health, is_loopback
from bot.http import HttpServer
from bot.payments.stripe_webhook import PATH as STRIPE_PATH
from bot.payments.stripe_webhook import StripeWebhook
from core.clock import ManualClock
from core.events import UserRef
from core.members.models import Role
from core.pushes.delivery import Pace, RateLimited
from core.replies import Reply
from jobs.registry import JobRegistry, JobRunner, JobSpec
from tests.conftest import START, ConsoleDriver

TOKEN = "metrics-token-0123456789abcdef"


async def serve(app: App, host: str = "127.0.0.1") -> TestClient:
    http = HttpServer(host, 0, app.metrics)
    install_health(app, http)
    StripeWebhook(app, "whsec_test").install(http)  # a real webhook route, counted by status
    client = TestClient(TestServer(http.app, host=host))
    await client.start_server()
    return client


@pytest.fixture
async def client(app: App) -> AsyncIterator[TestClient]:
    served = await serve(app)
    yield served
    await served.close()


async def scrape(client: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# -- what is counted ----------------------------------------------------------------------------


async def test_console_events_are_counted_by_platform_and_kind_with_their_latency(
    client: TestClient, console: ConsoleDriver
) -> None:
    before = await scrape(client)
    await console(":as Ana", ":in lounge", "Good morning, study group!", "/points")
    after = await scrape(client)
    for kind in ("message", "command"):
        grew = value(after, "studyhall_events_handled_total", platform="console", kind=kind) - value(
            before, "studyhall_events_handled_total", platform="console", kind=kind
        )
        assert grew >= 1, kind
    assert value(after, "studyhall_handler_seconds_count", platform="console") >= 2
    assert value(after, "studyhall_handler_seconds_bucket", platform="console", le="+Inf") >= 2


async def test_a_handler_failure_counts_as_an_internal_error(
    app: App, client: TestClient, console: ConsoleDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> list[Reply]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.router, "dispatch", broken)
    out = await console(":as Ana", "/points")
    assert "something went wrong" in " ".join(out)
    assert value(await scrape(client), "studyhall_internal_errors_total", where="event") == 1


async def test_a_ledger_posting_is_counted_with_its_batch(client: TestClient, console: ConsoleDriver) -> None:
    before = await scrape(client)
    await console(":as Mei creator", ":as Ana", ":as Mei", "/award @Ana 5 course project")
    after = await scrape(client)
    posted = value(after, "studyhall_ledger_postings_total", outcome="posted")
    assert posted - value(before, "studyhall_ledger_postings_total", outcome="posted") >= 1
    batches = value(after, "studyhall_ledger_batch_postings_count")
    assert batches - value(before, "studyhall_ledger_batch_postings_count") >= 1
    assert value(after, "studyhall_ledger_batch_postings_sum") >= posted  # every posting in a batch


async def test_job_runs_and_failures_are_counted_with_their_duration(app: App, client: TestClient) -> None:
    assert await app.job_runner.run_job("points_expiry", START) is True

    async def fails(_services: object, _now: object) -> None:
        raise RuntimeError("boom")

    registry = JobRegistry()
    registry.add(JobSpec("flaky", IntervalTrigger(hours=1, start_date=START), fails, "fails"))
    assert await JobRunner(registry, app.services).run_job("flaky", START) is False

    samples = await scrape(client)
    assert value(samples, "studyhall_job_runs_total", job="points_expiry", result="ok") == 1
    assert value(samples, "studyhall_job_runs_total", job="flaky", result="failed") == 1
    assert value(samples, "studyhall_job_seconds_count", job="points_expiry") == 1
    assert value(samples, "studyhall_job_seconds_count", job="flaky") == 1


class OnceLimited:
    """A push channel whose platform answers 429 once, then accepts everything."""

    pace = Pace(100_000, burst=1000)

    def __init__(self) -> None:
        self.limited = False
        self.sent: list[str] = []

    async def push(self, account: str, reply: Reply, locale: str, key: str) -> str:
        if not self.limited:
            self.limited = True
            raise RateLimited(0.01)
        self.sent.append(account)
        return f"m{len(self.sent)}"


async def test_push_sends_429s_and_the_outbox_depth(app: App, client: TestClient) -> None:
    community = await app.community()
    members = app.services.members
    mei = await members.assign_role(
        community,
        await members.ensure_member(community, UserRef("console", "mei", "Mei")),
        Role.CREATOR,
        via="t",
    )
    for i in range(3):
        await members.ensure_member(community, UserRef("fake", f"u{i}", f"L{i}"))
    await app.services.settings.set(community.id, "push.quiet_start", "0", actor=mei)
    await app.services.settings.set(community.id, "push.quiet_end", "0", actor=mei)
    channel = OnceLimited()
    pushes = app.services.pushes
    pushes.channels["fake"] = channel
    draft = await pushes.draft(community, mei, "all", "Live class tonight")
    await pushes.confirm(community, mei, draft.campaign.id)

    waiting = await scrape(client)
    assert value(waiting, "studyhall_outbox_depth", platform="fake") == 3

    report = await pushes.send_due()
    assert report.sent == 3 and len(channel.sent) == 3
    sent = await scrape(client)
    assert value(sent, "studyhall_push_messages_total", platform="fake", result="sent") == 3
    assert value(sent, "studyhall_platform_rate_limited_total", platform="fake") == 1
    assert ("studyhall_outbox_depth", (("platform", "fake"),)) not in sent  # nothing waits now


async def test_webhook_requests_are_counted_by_route_and_status(client: TestClient) -> None:
    refused = await client.post(STRIPE_PATH, data=b"{}", headers={"Stripe-Signature": "t=1,v1=forged"})
    assert refused.status == 400
    samples = await scrape(client)
    assert value(samples, "studyhall_webhook_requests_total", route=STRIPE_PATH, status="400") == 1
    # /metrics, /readyz and /healthz are not webhooks
    assert not [k for k in samples if k[0] == "studyhall_webhook_requests_total" and "/metrics" in str(k)]


async def test_the_database_pool_is_read_at_scrape_time(app: App, client: TestClient) -> None:
    samples = await scrape(client)
    states = {dict(labels)["state"] for name, labels in samples if name == "studyhall_db_pool_connections"}
    assert states == {"in_use", "idle", "size", "overflow"}
    assert value(samples, "studyhall_db_pool_connections", state="overflow") == 0
    idle_in_use = value(samples, "studyhall_db_pool_connections", state="in_use")
    async with app.db.read():
        held = await scrape(client)
    assert value(held, "studyhall_db_pool_connections", state="in_use") == idle_in_use + 1


async def test_each_app_has_its_own_registry(app: App, config: Config, clock: ManualClock) -> None:
    other = await App.open(config, clock=clock)
    try:
        app.metrics.count_error("event")
        assert b'studyhall_internal_errors_total{where="event"} 1.0' in app.metrics.render()
        assert b"studyhall_internal_errors_total{" not in other.metrics.render()
    finally:
        await other.close()


# -- who may read it ----------------------------------------------------------------------------


async def test_loopback_reads_without_a_token_but_not_through_a_proxy(client: TestClient) -> None:
    assert (await client.get("/metrics")).status == 200
    proxied = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status == 403  # a proxy on this machine forwards strangers' requests


async def test_with_a_token_the_bearer_token_is_required(
    app: App, config: Config, clock: ManualClock
) -> None:
    guarded = await App.open(replace(config, metrics_token=Secret(TOKEN)), clock=clock)
    served = await serve(guarded)
    try:
        assert (await served.get("/metrics")).status == 401  # even from loopback
        wrong = await served.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        assert wrong.status == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await served.get("/metrics", headers={"Authorization": TOKEN})).status == 401
        samples = await scrape(served, Authorization=f"Bearer {TOKEN}")
        assert ("studyhall_db_pool_connections", (("state", "in_use"),)) in samples
        assert (await served.get("/healthz")).status == 200  # the probes need no token
        assert (await served.get("/readyz")).status == 200
    finally:
        await served.close()
        await guarded.close()


def _own_address() -> str | None:
    """An IPv4 address of one of this machine's own interfaces that is not loopback."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _index, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(probe.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on it
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127."):
                return address
    finally:
        probe.close()
    return None


async def test_a_client_on_another_address_is_refused_without_a_token(
    app: App, config: Config, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real TCP connection whose peer is not loopback: the server listens on this machine's
    own non-loopback interface, and the client connects to it."""
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 interface")
    guarded_connect = socket.socket.connect

    def connect(self: socket.socket, target: object) -> object:  # our own interface is not the internet
        if isinstance(target, tuple) and target[0] == address:
            return super(socket.socket, self).connect(target)  # type: ignore[misc]
        return guarded_connect(self, target)

    monkeypatch.setattr(socket.socket, "connect", connect)
    served = await serve(app, host=address)
    try:
        refused = await served.get("/metrics")
        assert refused.status == 403
        assert "STUDYHALL_METRICS_TOKEN" in await refused.text()
    finally:
        await served.close()
    guarded = await App.open(replace(config, metrics_token=Secret(TOKEN)), clock=clock)
    served = await serve(guarded, host=address)
    try:
        assert (await served.get("/metrics")).status == 401
        assert (await served.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
    finally:
        await served.close()
        await guarded.close()


@pytest.mark.parametrize(
    ("remote", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.2", False),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1%eth0", False),
        ("", False),
        (None, False),
        ("localhost", False),  # a name is not an address: never trusted
    ],
)
def test_is_loopback(remote: str | None, loopback: bool) -> None:
    assert is_loopback(remote) is loopback


def test_the_token_is_a_secret_never_shown(tmp_path: object) -> None:
    config = load_config({"STUDYHALL_METRICS_TOKEN": TOKEN, "STUDYHALL_DATA_DIR": str(tmp_path)})
    assert config.metrics_token == Secret(TOKEN)
    assert TOKEN not in repr(config)
    assert TOKEN in config.secret_values()  # so the log filter redacts it


def test_a_short_token_is_refused(tmp_path: object) -> None:
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="STUDYHALL_METRICS_TOKEN"):
        load_config({"STUDYHALL_METRICS_TOKEN": "short", "STUDYHALL_DATA_DIR": str(tmp_path)})
