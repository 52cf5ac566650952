"""The kill test (issue 25): three real ``studyhall run`` processes on one PostgreSQL database,
Telegram in webhook mode behind a round-robin proxy on loopback, group messages and commands
flowing and a push to 2,000 members going out, one process SIGKILLed mid-stream and started
again. Then the database and the Telegram emulator are counted: every update handled exactly
once, every push recipient reached (repeats bounded by the outbox's crash window), the push
never faster than Telegram allows, the ledger balanced.

PostgreSQL only (STUDYHALL_TEST_PG); 5,000 updates in a normal run, 20,000 when selected with
``-m slow``. Every wait is bounded and every process is killed in the end, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from sqlalchemy import update
from sqlalchemy.engine import make_url

from bot.app import App
from bot.config import Config
from core.events import UserRef
from core.ledger.tables import effective_sql
from core.members.models import Role
from core.storage.database import Database
from core.storage.migrate import upgrade
from core.storage.state_tables import job_runs
from tests.process_output import Lines
from tests.telegram_peer import available, free_port, running_emulator

PG_URL = os.environ.get("STUDYHALL_TEST_PG", "").strip()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set STUDYHALL_TEST_PG"),
]

ROOT = Path(__file__).parent.parent
# The installed CLI (what `pip install` put beside this interpreter), with PTB's HTTP client
# taught the emulator's quirks at interpreter start (a sitecustomize; tests/telegram_peer.py).
STUDYHALL = Path(sys.executable).parent / "studyhall"
QUIRKS = "from tests.telegram_peer import install_request_fix\n\ninstall_request_fix()\n"
TOKEN = "777001:KILLTEST-token"
SECRET = "killtest-webhook-secret-0123456789"  # one for all processes, as a load balancer needs
COMMUNITY = "killhall"
GROUP = -1001234567890
PROCESSES = 3
MEMBERS = 2_000
USER_BASE = 500_000_000
PUSH_MARK = "Kill-test push"
TELEGRAM_LIMIT = 30  # messages a second to different users (LIMITS.md)
# core/pushes/outbox.py: a worker's messages sent and not yet recorded never exceed its window
# (PushService.window, 32); a SIGKILL can repeat at most those.
REPEAT_WINDOW = 32
SENDERS = 24  # updates in flight at once, as Telegram keeps several connections open


def _update_count(config: pytest.Config) -> int:
    """5,000 updates; 20,000 when the slow tests are selected (``-m slow``)."""
    expression = config.getoption("markexpr", "") or ""
    return 20_000 if "slow" in expression and "not slow" not in expression else 5_000


# -- processes ------------------------------------------------------------------------------


@dataclass
class Studyhall:
    """One ``studyhall run`` process: its HTTP port and data directory survive a restart."""

    index: int
    port: int
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None
    out: Lines | None = None
    err: Lines | None = None
    logs: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(STUDYHALL), "run"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self.out, self.err = Lines(self.process.stdout), Lines(self.process.stderr)

    async def running(self, within: float = 90) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.out is not None and self.process is not None
            if self.out.has("studyhall: telegram adapter running"):
                return
            if self.process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"process {self.index} did not start:\n{self.describe()}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, nothing flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self._keep_output()

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; SIGKILL after 30 s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._keep_output()

    def _keep_output(self) -> None:
        if self.err is not None:
            self.logs.append(self.describe())

    def describe(self) -> str:
        out = self.out.tail() if self.out else ""
        err = self.err.tail() if self.err else ""
        return f"-- process {self.index} stdout:\n{out}\n-- stderr:\n{err}"


def _environment(db_url: str, data_dir: Path, port: int, api_base: str, webhook: str) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "sitecustomize.py").write_text(QUIRKS)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DISCORD_", "WECHAT_", "STUDYHALL_", "STRIPE_"))
    }
    env.update(
        STUDYHALL_DATABASE_URL=db_url,
        STUDYHALL_DATA_DIR=str(data_dir),
        STUDYHALL_HTTP_PORT=str(port),
        STUDYHALL_COMMUNITY=COMMUNITY,
        TELEGRAM_TOKEN=TOKEN,
        TELEGRAM_API_BASE=api_base,
        TELEGRAM_WEBHOOK_URL=webhook,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        PYTHONPATH=os.pathsep.join((str(data_dir), str(ROOT))),
    )
    return env


# -- the load balancer ----------------------------------------------------------------------


SESSION = web.AppKey("session", aiohttp.ClientSession)


@dataclass
class Proxy:
    """Round robin over the processes' webhook routes. A backend that cannot be reached, drops
    the connection or answers 5xx leaves the update unacknowledged: it goes to the next one,
    as Telegram delivers an unacknowledged update again."""

    backends: list[str]
    forwarded: Counter[str] = field(default_factory=Counter)
    failed_over: int = 0
    _turn: Iterator[int] = field(default_factory=lambda: itertools.count())

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""),
        }
        session = request.app[SESSION]
        for _ in range(len(self.backends) * 3):
            backend = self.backends[next(self._turn) % len(self.backends)]
            try:
                async with session.post(backend + request.path, data=body, headers=headers) as answer:
                    if answer.status < 500:
                        self.forwarded[backend] += 1
                        return web.Response(status=answer.status, body=await answer.read())
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.failed_over += 1
        return web.Response(status=502)


@contextlib.asynccontextmanager
async def running_proxy(proxy: Proxy, port: int) -> AsyncIterator[None]:
    app = web.Application()
    app.router.add_post("/{path:.*}", proxy.handle)
    timeout = aiohttp.ClientTimeout(total=60)
    app[SESSION] = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()
        await app[SESSION].close()


# -- traffic --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    update_id: int
    kind: str  # message, checkin, points
    user: int
    message_id: int
    body: dict[str, Any]


def _plan(count: int, rng: random.Random) -> list[Planned]:
    """``count`` updates with unique ids: group messages that earn points (each text unique and
    long enough), and one in 25 a command in the sender's private chat — /checkin from members
    who check in once each, /points from anyone."""
    now = int(time.time())
    checkers = iter(rng.sample(range(MEMBERS), MEMBERS))
    planned = []
    for n in range(count):
        update_id, message_id = 900_000_000 + n, 10_000 + n
        roll = n % 25
        if roll == 7:
            kind, user = "checkin", USER_BASE + next(checkers)
        elif roll == 19:
            kind, user = "points", USER_BASE + rng.randrange(MEMBERS)
        else:
            kind, user = "message", USER_BASE + rng.randrange(MEMBERS)
        sender = {"id": user, "is_bot": False, "first_name": f"Learner{user - USER_BASE}"}
        if kind == "message":
            chat = {"id": GROUP, "type": "supergroup", "title": "Kill test study group"}
            text = f"Notes on lesson {n % 40}: worked example number {n} and why it holds"
            message: dict[str, Any] = {"text": text}
        else:
            chat = {"id": user, "type": "private", "first_name": sender["first_name"]}
            text = f"/{kind}"
            message = {"text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}
        message.update(message_id=message_id, date=now, chat=chat)
        message["from"] = sender
        planned.append(
            Planned(update_id, kind, user, message_id, {"update_id": update_id, "message": message})
        )
    return planned


@dataclass
class Feed:
    planned: list[Planned]
    acknowledged: int = 0
    redelivered: int = 0  # answered with something other than 200: sent again


async def feed(url: str, state: Feed, deadline: float) -> None:
    """Send every update until it is acknowledged (200), ``SENDERS`` at a time."""
    queue: asyncio.Queue[Planned] = asyncio.Queue()
    for item in state.planned:
        queue.put_nowait(item)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    async def sender(session: aiohttp.ClientSession) -> None:
        while not queue.empty() and time.monotonic() < deadline:
            item = queue.get_nowait()
            while time.monotonic() < deadline:
                try:
                    async with session.post(url, json=item.body, headers=headers) as answer:
                        if answer.status == 200:
                            state.acknowledged += 1
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                state.redelivered += 1
                await asyncio.sleep(0.2)

    timeout = aiohttp.ClientTimeout(total=90)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(sender(session) for _ in range(SENDERS)))


# -- the database ---------------------------------------------------------------------------


def _asyncpg_args(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "user": parsed.username,
        "password": parsed.password,
        "host": parsed.host,
        "port": parsed.port or 5432,
        "database": parsed.database,
    }


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    name = f"studyhall_kill_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(**_asyncpg_args(PG_URL))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        db = Database(url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()
        yield url
    finally:
        admin = await asyncpg.connect(**_asyncpg_args(PG_URL))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def seed(url: str, data_dir: Path) -> int:
    """The community, its creator, ``MEMBERS`` learners on Telegram, earning rules under which
    every group message earns, and a confirmed push to everyone; returns the push's id."""
    app = await App.open(Config(database_url=url, data_dir=data_dir, community=COMMUNITY))
    try:
        community = await app.community()
        members = app.services.members
        creator = await members.ensure_member(community, UserRef("telegram", "1000", "Creator Cleo"))
        creator = await members.assign_role(community, creator, Role.CREATOR, via="test")
        for key, value in (
            ("message.cooldown_seconds", "0"),
            ("message.repeat_window", "0"),
            ("cap.message", "100000"),
            # No quiet hours (22:00-08:00 by default): the push goes out whatever the time of day.
            ("push.quiet_start", "0"),
            ("push.quiet_end", "0"),
        ):
            await app.services.settings.set(community.id, key, value, actor=creator)
        for start in range(0, MEMBERS, 250):
            await asyncio.gather(
                *(
                    members.ensure_member(
                        community, UserRef("telegram", str(USER_BASE + i), f"Learner{i}", language="en")
                    )
                    for i in range(start, min(start + 250, MEMBERS))
                )
            )
        pushes = app.services.pushes
        preview = await pushes.draft(community, creator, "all", f"{PUSH_MARK}: lesson 12 is live")
        await pushes.confirm(community, creator, preview.campaign.id)
        # The scheduler's job state: every job seen (nothing runs on a process's first tick but
        # what is due), and the pushes job last run two minutes ago, so the leader sends now.
        await app.job_runner.run_due()
        async with app.db.write() as conn:
            await conn.execute(
                update(job_runs)
                .where(job_runs.c.name == "pushes")
                .values(last_run_at=datetime.now(UTC) - timedelta(minutes=2), last_status="ok")
            )
        return preview.campaign.id
    finally:
        await app.close()


async def push_progress(conn: asyncpg.Connection, campaign_id: int) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM push_outbox WHERE campaign_id = $1 GROUP BY status", campaign_id
    )
    return {row["status"]: row["n"] for row in rows}


async def leader(processes: list[Studyhall]) -> Studyhall | None:
    """The process that holds the scheduler lock (it runs the push job), if one answers."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for studyhall in processes:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with session.get(f"http://127.0.0.1:{studyhall.port}/readyz") as answer:
                    if (await answer.json()).get("scheduler", {}).get("leader"):
                        return studyhall
    return None


def max_in_any_second(times_ms: list[int]) -> int:
    """The most events in any window of 1,000 ms (each window starting at an event)."""
    times = sorted(times_ms)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1000:
            first += 1
        most = max(most, last - first + 1)
    return most


# -- the test -------------------------------------------------------------------------------


async def test_three_processes_survive_a_sigkill_with_every_update_and_push_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if not available():
        pytest.fail("the Telegram emulator is missing: `make test` installs it (tests/peers/telegram)")
    count = _update_count(request.config)
    planned = _plan(count, random.Random(25))
    started = time.monotonic()
    async with fresh_database() as url:
        campaign_id = await seed(url, tmp_path / "seed")
        proxy_port = free_port()
        with running_emulator() as api_base:
            ports = [free_port() for _ in range(PROCESSES)]
            processes = [
                Studyhall(
                    i,
                    port,
                    _environment(
                        url, tmp_path / f"p{i}", port, api_base, f"http://127.0.0.1:{proxy_port}/telegram"
                    ),
                )
                for i, port in enumerate(ports)
            ]
            proxy = Proxy([f"http://127.0.0.1:{port}" for port in ports])
            state = Feed(planned)
            conn = await asyncpg.connect(**_asyncpg_args(url))
            try:
                async with running_proxy(proxy, proxy_port):
                    for studyhall in processes:
                        studyhall.start()
                    await asyncio.gather(*(studyhall.running() for studyhall in processes))
                    phases = {"seeded_and_started": round(time.monotonic() - started)}
                    deadline = time.monotonic() + (240 if count <= 5_000 else 600)
                    # The updates flow while the push goes out: they start with it.
                    while not (await push_progress(conn, campaign_id)).get("sent"):
                        assert time.monotonic() < deadline, "the push never started"
                        await asyncio.sleep(0.2)
                    feeding = asyncio.create_task(
                        feed(f"http://127.0.0.1:{proxy_port}/telegram", state, deadline)
                    )
                    # Mid-stream: a quarter of the updates in and the push under way.
                    while time.monotonic() < deadline and not feeding.done():
                        sent = (await push_progress(conn, campaign_id)).get("sent", 0)
                        if state.acknowledged >= count // 4 and sent >= 100:
                            break
                        await asyncio.sleep(0.2)
                    assert not feeding.done(), "all updates went in before the push was under way"
                    sending = await leader(processes)
                    victim = sending or processes[0]
                    victim.kill()
                    killed_ms = int(time.time() * 1000)
                    phases["killed"] = round(time.monotonic() - started)
                    killed_at = (state.acknowledged, (await push_progress(conn, campaign_id)).get("sent", 0))
                    await asyncio.sleep(1)
                    victim.start()
                    await victim.running()
                    await asyncio.wait_for(feeding, max(1.0, deadline - time.monotonic()))
                    assert state.acknowledged == count, f"{state.acknowledged} of {count} acknowledged"
                    phases["updates_in"] = round(time.monotonic() - started)
                    while time.monotonic() < deadline:
                        progress = await push_progress(conn, campaign_id)
                        if not progress.get("pending") and not progress.get("sending"):
                            break
                        await asyncio.sleep(1)
                    progress = await push_progress(conn, campaign_id)
                    phases["push_done"] = round(time.monotonic() - started)
                    for studyhall in processes:
                        studyhall.stop()
                    history = await _emulator_history(api_base)
                    figures, details = await _count(conn, history, campaign_id, killed_ms)
            finally:
                await conn.close()
                for studyhall in processes:
                    studyhall.kill()
    figures.update(
        updates=count,
        redelivered=state.redelivered,
        failed_over=proxy.failed_over,
        killed_after=killed_at,
        killed_the_sender=sending is not None,
        push_progress=progress,
        phases=phases,
        seconds=round(time.monotonic() - started),
    )
    print(f"kill test: {figures}")
    logs = "\n".join(log for studyhall in processes for log in studyhall.logs)
    _check(figures, details, planned, logs)


async def _emulator_history(api_base: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{api_base}/getUpdatesHistory", json={"token": TOKEN}) as answer,
    ):
        return (await answer.json())["result"]


async def _count(
    conn: asyncpg.Connection, history: list[dict[str, Any]], campaign_id: int, killed_ms: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The figures to print, and the details the checks need (keys, sources, recipients)."""
    message_keys = await conn.fetch("SELECT idempotency_key, kind FROM ledger_transfers")
    kinds = Counter(row["kind"] for row in message_keys)
    activity = await conn.fetchval("SELECT count(*) FROM activity")
    sources = [row["source"] for row in await conn.fetch("SELECT source FROM activity")]
    balance = effective_sql()  # with system accounts' stripes
    balances = await conn.fetchrow(
        f"SELECT sum({balance}) AS total, min(balance) FILTER (WHERE member_id IS NOT NULL) AS lowest"
        " FROM ledger_accounts a"
    )
    drift = await conn.fetchval(
        f"SELECT count(*) FROM ledger_accounts a WHERE {balance} <> "
        " coalesce((SELECT sum(amount) FROM ledger_transfers WHERE credit_account_id = a.id), 0)"
        " - coalesce((SELECT sum(amount) FROM ledger_transfers WHERE debit_account_id = a.id), 0)"
    )
    outbox = Counter(
        row["status"]
        for row in await conn.fetch("SELECT status FROM push_outbox WHERE campaign_id = $1", campaign_id)
    )
    pushed = [
        item
        for item in history
        if PUSH_MARK in str(item.get("message", {}).get("text", "")) and "chat_id" in item.get("message", {})
    ]
    per_recipient = Counter(int(item["message"]["chat_id"]) for item in pushed)
    times = [int(item["time"]) for item in pushed]
    figures = {
        "transfers_by_kind": dict(kinds),
        "activity_rows": activity,
        "ledger_total": balances["total"],
        "lowest_member_balance": balances["lowest"],
        "accounts_off_their_transfers": drift,
        "outbox": dict(outbox),
        "push_messages": len(pushed),
        "push_recipients": len(per_recipient),
        "push_repeats": sum(n - 1 for n in per_recipient.values()),
        "max_push_sends_in_a_second": max_in_any_second(times),
        "max_sends_in_a_second": max_in_any_second(
            [int(item["time"]) for item in history if "chat_id" in item.get("message", {})]
        ),
        # Push messages the emulator received in each second from the first; "K" marks the kill.
        "push_per_second": _timeline(times, killed_ms),
    }
    details = {
        "message_keys": [row["idempotency_key"] for row in message_keys if row["kind"] == "message"],
        "activity_sources": sources,
        "recipients": per_recipient,
    }
    return figures, details


def _timeline(times_ms: list[int], killed_ms: int) -> str:
    if not times_ms:
        return ""
    first = min(times_ms)
    per_second = Counter((t - first) // 1000 for t in times_ms)
    marks = [str(per_second[second]) for second in range(max(per_second) + 1)]
    kill = (killed_ms - first) // 1000
    if 0 <= kill < len(marks):
        marks[kill] = "K" + marks[kill]
    return " ".join(marks)


def _check(figures: dict[str, Any], details: dict[str, Any], planned: list[Planned], logs: str) -> None:
    messages = [p for p in planned if p.kind == "message"]
    checkins = [p for p in planned if p.kind == "checkin"]
    keys, recipients, sources = details["message_keys"], details["recipients"], details["activity_sources"]
    # Every group message earned once: one posting per message, keyed by that message.
    assert len(keys) == len(set(keys)) == len(messages), (figures, logs)
    assert {int(key.rsplit(":", 1)[1]) for key in keys} == {p.message_id for p in messages}, logs
    assert figures["transfers_by_kind"].get("checkin", 0) == len(checkins), (figures, logs)
    # Every update left exactly one activity row, keyed by its message.
    assert figures["activity_rows"] == len(planned), (figures, logs)
    expected = {f"telegram:{GROUP if p.kind == 'message' else p.user}:{p.message_id}" for p in planned}
    assert set(sources) == expected, logs
    # The ledger: balanced, nobody below zero, each balance the sum of its transfers.
    assert figures["ledger_total"] == 0 and figures["lowest_member_balance"] >= 0, figures
    assert figures["accounts_off_their_transfers"] == 0, figures
    # The push: every member reached, once but for the crash window of the killed worker.
    assert figures["outbox"] == {"sent": MEMBERS}, (figures, logs)
    assert set(recipients) == {USER_BASE + i for i in range(MEMBERS)}, figures
    assert figures["push_repeats"] <= REPEAT_WINDOW, figures
    # Telegram's limit, in any second, as the emulator received them (5% for clock jitter).
    assert figures["max_push_sends_in_a_second"] <= TELEGRAM_LIMIT * 1.05, figures
