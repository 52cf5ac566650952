"""Scratch PostgreSQL databases for the benchmarks (``STUDYHALL_BENCH_PG``), and counting what a
run sends to the server.

A run creates one base database, migrates and seeds it, then copies it (``CREATE DATABASE …
TEMPLATE``) for each contender so each starts from the identical state; ``Scratch.drop_all``
removes them all. Names carry a random suffix, so runs of several helpers cannot collide.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from core.storage.database import Database
from core.storage.migrate import upgrade

ENV = "STUDYHALL_BENCH_PG"


def bench_url() -> str | None:
    """The PostgreSQL URL the PostgreSQL benchmarks run on, or None (they are skipped)."""
    return os.environ.get(ENV, "").strip() or None


def asyncpg_args(url: str) -> dict[str, Any]:
    """asyncpg.connect keywords for a SQLAlchemy ``postgresql+asyncpg`` URL."""
    parsed = make_url(url)
    return {
        "user": parsed.username,
        "password": parsed.password,
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "database": parsed.database,
    }


@dataclass
class Scratch:
    """The scratch databases of one run, made next to the database of ``admin_url``."""

    admin_url: str
    prefix: str = field(default_factory=lambda: f"studyhall_bench_{uuid.uuid4().hex[:8]}")
    names: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(**asyncpg_args(self.admin_url))
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def create(self, suffix: str, template: str | None = None) -> str:
        """A new database (a copy of ``template`` if given, which must have no connections);
        its URL."""
        name = f"{self.prefix}_{suffix}"
        source = f' TEMPLATE "{template}"' if template else ""
        await self._admin(f'CREATE DATABASE "{name}"{source}')
        self.names.append(name)
        return self.url(name)

    async def migrated(self, suffix: str) -> str:
        url = await self.create(suffix)
        db = Database(url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()
        return url

    def name_of(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    async def drop_all(self) -> None:
        names, self.names = self.names, []
        await self._admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in reversed(names)))


@dataclass
class Statements:
    """What a product run sent: statements (an executemany counts once, as one round trip
    with its rows) and the rows of executemany calls, counted through SQLAlchemy's events."""

    statements: int = 0
    executemany_rows: int = 0
    batches: int = 0  # transactions committed
    checkouts: int = 0  # connections taken from the pool: one ping each (pool_pre_ping)
    seconds_in_sql: float = 0.0
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # kind: [statements, seconds]


@contextmanager
def counting(db: Database, counts: Statements) -> Iterator[Statements]:
    """Count into ``counts`` the statements ``db`` executes while in the block, on each of its
    engines (BEGIN and COMMIT are not statements to SQLAlchemy: the asyncpg dialect sends each
    as one round trip of its own)."""
    started: dict[int, float] = {}
    kinds: dict[int, str] = {}

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        counts.statements += 1
        if many:
            counts.executemany_rows += len(parameters)
        words = statement.split(None, 2)
        kind = " ".join(words[:1]).upper()
        if kind == "SELECT" and _locks_rows(statement):
            kind = "SELECT FOR UPDATE"
        counts.by_kind.setdefault(kind, [0, 0.0])[0] += 1
        started[id(cursor)] = time.perf_counter()
        kinds[id(cursor)] = kind

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seconds = time.perf_counter() - started.pop(id(cursor), time.perf_counter())
        counts.seconds_in_sql += seconds
        counts.by_kind[kinds.pop(id(cursor))][1] += seconds

    def commit(conn: Any) -> None:
        counts.batches += 1

    def checkout(*_args: Any) -> None:
        counts.checkouts += 1

    with _listening(
        db,
        {"before_cursor_execute": before, "after_cursor_execute": after, "commit": commit},
        {"checkout": checkout},
    ):
        yield counts


@contextmanager
def _listening(
    db: Database, on_engine: dict[str, Callable[..., None]], on_pool: dict[str, Callable[..., None]]
) -> Iterator[None]:
    """The listeners attached to every engine of ``db`` (and their pools) while in the block."""
    targets = [
        (target, name, listener)
        for engine in db.engines
        for target, listeners in ((engine.sync_engine, on_engine), (engine.sync_engine.pool, on_pool))
        for name, listener in listeners.items()
    ]
    for target, name, listener in targets:
        event.listen(target, name, listener)
    try:
        yield
    finally:
        for target, name, listener in targets:
            event.remove(target, name, listener)


@dataclass
class Locks:
    """The row locks of a run's batches: rows each ``SELECT … FOR [NO KEY] UPDATE`` (or the
    ledger's checked balance update) locked, whether the ids it asked for were in ascending
    order, how long that statement took (waiting for the rows, and for the update its own work)
    and how long they were held after it (to the end of the transaction)."""

    rows: list[int] = field(default_factory=list)
    waited: list[float] = field(default_factory=list)
    held: list[float] = field(default_factory=list)
    unsorted: int = 0

    def summary(self) -> dict[str, object]:
        def pct(values: list[float], share: float) -> float:
            ordered = sorted(values)
            return (
                round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000, 2) if ordered else 0.0
            )

        return {
            "locking_batches": len(self.rows),
            "rows_locked_per_batch": round(sum(self.rows) / len(self.rows), 1) if self.rows else 0,
            "rows_locked_max": max(self.rows, default=0),
            "locks_in_id_order": self.unsorted == 0,
            "lock_wait_ms_p50": pct(self.waited, 0.5),
            "lock_wait_ms_p99": pct(self.waited, 0.99),
            "lock_held_ms_p50": pct(self.held, 0.5),
            "lock_held_ms_p99": pct(self.held, 0.99),
        }


@contextmanager
def watching_locks(db: Database, locks: Locks) -> Iterator[Locks]:
    """Record into ``locks`` every row-locking select that ``db`` runs (see Locks)."""
    started: dict[int, float] = {}
    locked_at: dict[int, float] = {}
    requested: dict[int, int] = {}

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if _locks_rows(statement):
            started[id(cursor)] = time.perf_counter()
            ids = next((p for p in _values(parameters) if isinstance(p, list)), [])
            if ids != sorted(ids):
                locks.unsorted += 1
            requested[id(cursor)] = len(ids)  # every id asked for is an existing account

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        began = started.pop(id(cursor), None)
        if began is not None:
            now = time.perf_counter()
            locks.waited.append(now - began)
            locks.rows.append(requested.pop(id(cursor), 0))
            locked_at.setdefault(id(conn), now)

    def ended(conn: Any) -> None:
        at = locked_at.pop(id(conn), None)
        if at is not None:
            locks.held.append(time.perf_counter() - at)

    listeners = {"before_cursor_execute": before, "after_cursor_execute": after}
    with _listening(db, {**listeners, "commit": ended, "rollback": ended}, {}):
        yield locks


def _values(parameters: Any) -> list[Any]:
    if isinstance(parameters, dict):
        return list(parameters.values())
    return list(parameters or ())


def _locks_rows(statement: str) -> bool:
    """Whether ``statement`` takes row locks for an update: the ledger's account lock, alone or
    in its checked balance update (core/ledger/pg_store.py), which locks and moves the rows."""
    return "FOR UPDATE" in statement or "FOR NO KEY UPDATE" in statement
