"""Fixtures: a clean migrated database per test (SQLite, or PostgreSQL when STUDYHALL_TEST_PG
is set), an App on a manual clock, a console driver, and a guard against the internet."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.adapters.console.session import ConsoleSession
from bot.app import App
from bot.config import Config
from core.catalog.money import Money
from core.clock import ManualClock
from core.events import UserRef
from core.members.models import Member, Role
from core.storage.database import Database
from core.storage.migrate import upgrade
from core.storage.schema import load_all_tables
from tests.shop_fixtures import Shop

# Browser tests: Chromium, `page`, `serve`, screenshots on failure (see tests/browser.py).
pytest_plugins = (
    "tests.browser",
    "tests.web_fixtures",
    "tests.course_page_fixtures",
    "tests.learner_fixtures",
    "pytester",
)

PG_URL = os.environ.get("STUDYHALL_TEST_PG", "").strip()
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
# Every job, as :clock lists them.
ALL_JOBS = (
    "points_expiry, orders, subscriptions, paid_chats, referrals, qa, analytics, pushes,"
    " payments_reconcile, cleanup"
)


# -- no internet ----------------------------------------------------------------------------


def _is_local(address: object) -> bool:
    if isinstance(address, str | bytes):  # unix socket path
        return True
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return False


@pytest.fixture(autouse=True, scope="session")
def _no_internet() -> Iterator[None]:
    original = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if not _is_local(address):
            raise RuntimeError(f"tests must not reach the internet (tried {address!r})")
        return original(self, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]
    yield
    socket.socket.connect = original  # type: ignore[method-assign]


# -- databases ------------------------------------------------------------------------------


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _admin_execute(statement: str) -> None:
    import asyncpg

    url = make_url(PG_URL)
    conn = await asyncpg.connect(
        user=url.username, password=url.password, host=url.host, port=url.port or 5432, database=url.database
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the session: a SQLite file to copy, or a PostgreSQL database."""
    if PG_URL:
        name = f"studyhall_test_{uuid.uuid4().hex[:10]}"
        _run(_admin_execute(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        _run(_migrate(url))
        yield url
        _run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        _run(_migrate(f"sqlite+aiosqlite:///{path}"))
        yield str(path)


@pytest.fixture
def empty_db_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (for migration tests)."""
    if PG_URL:
        name = f"studyhall_empty_{uuid.uuid4().hex[:10]}"
        _run(_admin_execute(f'CREATE DATABASE "{name}"'))
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        _run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def db_url(_template: str, tmp_path: Path) -> Iterator[str]:
    """A clean, migrated database for one test."""
    if PG_URL:
        yield _template
        _run(_truncate_all(_template))
    else:
        path = tmp_path / "studyhall.db"
        shutil.copyfile(_template, path)
        yield f"sqlite+aiosqlite:///{path}"


async def _truncate_all(url: str) -> None:
    db = Database(url)
    try:
        names = ", ".join(f'"{t.name}"' for t in load_all_tables().sorted_tables)
        async with db.write() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


async def sessions_waiting_on_a_lock(db: Database, sessions: int) -> None:
    """Return once ``sessions`` sessions of this PostgreSQL database wait on a lock."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(10):
        while True:
            async with db.read() as conn:
                if (await conn.execute(waiting)).scalar_one() >= sessions:
                    return
            await asyncio.sleep(0.01)


# -- the app --------------------------------------------------------------------------------


@pytest.fixture
async def two_processes(db_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two processes' worth of connections to one database: a Database each."""
    first, second = Database(db_url), Database(db_url)
    yield first, second
    await first.dispose()
    await second.dispose()


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Config:
    return Config(database_url=db_url, data_dir=tmp_path / "data", community="testhall")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def app(config: Config, clock: ManualClock) -> AsyncIterator[App]:
    application = await App.open(config, clock=clock)
    yield application
    await application.close()


class ConsoleDriver:
    """Drives the app through the console protocol and collects what it prints."""

    def __init__(self, session: ConsoleSession, output: list[str]) -> None:
        self.session = session
        self._output = output

    async def __call__(self, *lines: str) -> list[str]:
        """Send lines; return everything printed for them."""
        start = len(self._output)
        for line in lines:
            await self.session.handle_line(line)
        return self._output[start:]

    async def text(self, *lines: str) -> str:
        return "\n".join(await self(*lines))

    def printed(self) -> list[str]:
        """Everything printed so far, also what no typed line caused (a payment's notes)."""
        return list(self._output)


@pytest.fixture
async def console(app: App, clock: ManualClock) -> ConsoleDriver:
    output: list[str] = []
    session = await ConsoleSession.open(
        app, clock, community=app.config.community, locale="en", write=output.append
    )
    return ConsoleDriver(session, output)


async def snapshot(db: Database, *, exclude: tuple[str, ...] = ("activity",)) -> dict[str, list[tuple]]:
    """Every row of every table (but ``exclude``), sorted: for "nothing changed" assertions."""
    tables: dict[str, list[tuple]] = {}
    async with db.read() as conn:
        for table in load_all_tables().sorted_tables:
            if table.name in exclude:
                continue
            rows = (await conn.execute(table.select())).all()
            tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return tables


async def console_member(app: App, name: str, role: Role | None = None) -> Member:
    """The console member called ``name`` (handle: its lower case), given ``role`` if any."""
    community = await app.community()
    members = app.services.members
    member = await members.ensure_member(community, UserRef("console", name.lower(), name))
    return await members.assign_role(community, member, role, via="t") if role else member


# -- the shop ---------------------------------------------------------------------------------


@pytest.fixture
async def shop(app: App) -> Shop:
    """Mei (creator), Ana and Ben, and the course py101."""
    return await open_shop(app)


async def open_shop(app: App) -> Shop:
    """The ``shop`` fixture's world, in ``app``."""
    community = await app.community()
    members = app.services.members
    mei, ana, ben = [
        await members.ensure_member(community, UserRef("console", name.lower(), name))
        for name in ("Mei", "Ana", "Ben")
    ]
    mei = await members.assign_role(community, mei, Role.CREATOR, via="test")
    catalog = app.services.catalog
    course = await catalog.add_course(community, mei, "py101", Money("USD", 1999), "Python for data analysis")
    await catalog.add_lesson(community, mei, "py101", "Setup", "Install Python and pandas.")
    await catalog.add_lesson(community, mei, "py101", "Loops", "for x in range(3): print(x)", unlock_days=2)
    return Shop(community, mei, ana, ben, course)
