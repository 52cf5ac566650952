"""The async database: engine set-up per backend and transaction helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from threading import Thread
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.storage.checkpoint import WRITER_AUTOCHECKPOINT_PAGES, Checkpointer
from core.storage.unavailable import DatabaseUnavailable, connection_problem

T = TypeVar("T")
R = TypeVar("R")

SQLITE_BUSY_TIMEOUT_MS = 10_000
_WRITE = "studyhall_write"
_AFTER_COMMIT = "studyhall_after_commit"


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the batch transaction of ``conn`` has committed (never if it
    rolls back). For caches of what a batch wrote: a cached row that never committed would
    be believed by the next batch."""
    conn.info[_AFTER_COMMIT].append(callback)


class Database:
    """Owns the engine. ``write()`` and ``read()`` yield a connection inside one transaction.

    On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so two writers queue on the
    busy timeout instead of failing with a snapshot error halfway through.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self.engine: AsyncEngine = _create_engine(url, echo=echo, sqlite=self.is_sqlite)
        self._batch_engine: Engine | None = None
        self._batch_conn: Connection | None = None
        self._batch_thread: ThreadPoolExecutor | None = None
        self._checkpointer: Checkpointer | None = None
        self._read_engine: Engine | None = None
        self._read_thread: ThreadPoolExecutor | None = None
        self._batch_conns: list[AsyncConnection] = []  # PostgreSQL: idle batch connections
        # PostgreSQL: reads go through a pool of their own in autocommit (see read()).
        self._reads: AsyncEngine = (
            self.engine if self.is_sqlite else _create_engine(url, echo=echo, sqlite=False, reads=True)
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def pool_status(self) -> dict[str, float]:
        """The connection pools now (for /metrics), summed over the engines (on PostgreSQL
        the readers' pool too): in_use, idle, size and overflow where the pools keep them (a
        SQLite StaticPool keeps none)."""
        status: dict[str, float] = {}
        readings = {"in_use": "checkedout", "idle": "checkedin", "size": "size", "overflow": "overflow"}
        for engine in self.engines:
            pool = engine.sync_engine.pool
            for state, reading in readings.items():
                read = getattr(pool, reading, None)
                if callable(read):
                    value = float(read())
                    if state == "overflow":  # QueuePool counts up from -pool_size: connections beyond it
                        value = max(0.0, value)
                    status[state] = status.get(state, 0.0) + value
        return status

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                await conn.execution_options(**{_WRITE: True})
            async with conn.begin():
                yield conn

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """The async engines that send this database statements: the main one and, on
        PostgreSQL, the readers' (for listeners that count or watch statements)."""
        return (self.engine,) if self._reads is self.engine else (self.engine, self._reads)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading. On PostgreSQL its statements run in autocommit: under READ
        COMMITTED each statement of a transaction sees its own snapshot anyway, and a
        transaction costs three round trips more per read (BEGIN, ROLLBACK, and the checkout's
        ping, which SQLAlchemy's asyncpg dialect wraps in a transaction of its own)."""
        async with self._reads.connect() as conn, conn.begin():
            yield conn

    async def run_read(self, read: Callable[[Connection], R]) -> R:
        """Run ``read(connection)``, blocking SQLAlchemy code, inside one read transaction.

        For interactive reads of several statements (a /points summary): through the async
        engine each statement costs several hops to aiosqlite's thread and back, each waiting
        for a turn of a busy event loop. On a SQLite file the whole function runs in one
        reader thread on a plain pysqlite connection instead (one hop); elsewhere through
        ``run_sync``.
        """
        if self.is_sqlite and self._file_path() is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._reader_thread(), self._run_read_sqlite, read)
        async with self.read() as conn:
            return await conn.run_sync(read)

    def _run_read_sqlite(self, read: Callable[[Connection], R]) -> R:
        # Runs in the reader thread only; its engine's pool keeps the connection open.
        if self._read_engine is None:
            self._read_engine = create_engine(self._sync_url(), pool_size=1, max_overflow=0)
            _configure_sqlite(self._read_engine)
        with self._read_engine.connect() as conn, conn.begin():
            return read(conn)

    def _reader_thread(self) -> ThreadPoolExecutor:
        if self._read_thread is None:
            self._read_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studyhall-reader")
        return self._read_thread

    def _sync_url(self) -> Any:
        return make_url(self.url.replace("+aiosqlite", "", 1))

    def _file_path(self) -> str | None:
        database = make_url(self.url).database
        return database if database and database != ":memory:" else None

    async def run_batch(self, apply: Callable[[Connection, Sequence[T]], R], items: Sequence[T]) -> R:
        """Run ``apply(connection, items)`` inside one write transaction, synchronously.

        Batch writers do many statements per transaction; each ``await`` of the async stack
        costs more than the SQL (LIMITS.md). On SQLite the whole batch therefore runs in one
        dedicated writer thread on a plain pysqlite connection; on PostgreSQL it runs through
        ``run_sync`` on the async engine.  ``apply`` is ordinary blocking SQLAlchemy code.
        """
        if self.is_sqlite:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._writer_thread(), self._run_batch_sqlite, apply, items)
        # Batch connections are kept between batches rather than taken from the pool: a
        # checkout pings the server first (pool_pre_ping), one more round trip per batch.
        # One that broke is closed, and the batch's items are retried on a fresh one.
        conn = self._batch_conns.pop() if self._batch_conns else await self.engine.connect()
        callbacks: list[Callable[[], None]] = []
        try:
            async with conn.begin():
                result = await conn.run_sync(_apply_collecting, apply, items, callbacks)
        except BaseException:
            await self._keep_or_close(conn)
            raise
        self._batch_conns.append(conn)
        _run_all(callbacks)
        return result

    async def _keep_or_close(self, conn: AsyncConnection) -> None:
        if conn.invalidated or conn.closed or conn.in_transaction():
            await conn.close()
        else:
            self._batch_conns.append(conn)

    @property
    def batches_in_thread(self) -> bool:
        """Whether batches run synchronously in this database's writer thread (SQLite), so a
        batch writer can hand that thread a whole run of batches (``run_in_writer``)."""
        return self.is_sqlite

    async def run_in_writer(self, work: Callable[[], R]) -> R:
        """Run ``work()`` in the SQLite writer thread, where it may call ``run_batch_here``."""
        return await asyncio.get_running_loop().run_in_executor(self._writer_thread(), work)

    def run_batch_here(self, apply: Callable[[Connection, Sequence[T]], R], items: Sequence[T]) -> R:
        """``run_batch`` from inside the writer thread (in ``run_in_writer``), without a hop."""
        return self._run_batch_sqlite(apply, items)

    def _run_batch_sqlite(self, apply: Callable[[Connection, Sequence[T]], R], items: Sequence[T]) -> R:
        # Runs in the writer thread only, which keeps one connection open between batches.
        if self._batch_conn is None:
            self._open_batch_connection()
        conn = self._batch_conn
        assert conn is not None
        callbacks: list[Callable[[], None]] = []
        try:
            with conn.begin():
                result = _apply_collecting(conn, apply, items, callbacks)
        except BaseException:
            if conn.invalidated or conn.closed:
                self._batch_conn = None
            raise
        if self._checkpointer is not None:
            self._checkpointer.nudge()
        _run_all(callbacks)
        return result

    def _open_batch_connection(self) -> None:
        url = self._sync_url()
        self._batch_engine = create_engine(url, pool_size=1, max_overflow=0)
        _configure_sqlite(self._batch_engine)
        self._batch_conn = self._batch_engine.connect().execution_options(**{_WRITE: True})
        if url.database and url.database != ":memory:":
            # Checkpoints move to their own thread; the writer keeps a far-off safety net.
            raw = self._batch_conn.connection.driver_connection
            raw.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
            if self._checkpointer is None:
                self._checkpointer = Checkpointer(url.database, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)

    def _close_batch_connection(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._batch_conn is not None:
            self._batch_conn.close()
            self._batch_conn = None
        if self._batch_engine is not None:
            self._batch_engine.dispose()
            self._batch_engine = None

    def _close_read_engine(self) -> None:
        if self._read_engine is not None:
            self._read_engine.dispose()
            self._read_engine = None

    def _writer_thread(self) -> ThreadPoolExecutor:
        if self._batch_thread is None:
            self._batch_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studyhall-writer")
        return self._batch_thread

    async def dispose(self) -> None:
        if self._read_thread is not None:
            reader, self._read_thread = self._read_thread, None
            await asyncio.get_running_loop().run_in_executor(reader, self._close_read_engine)
            reader.shutdown(wait=True)
        if self._batch_thread is not None:
            thread, self._batch_thread = self._batch_thread, None
            await asyncio.get_running_loop().run_in_executor(thread, self._close_batch_connection)
            thread.shutdown(wait=True)
        while self._batch_conns:
            await self._batch_conns.pop().close()
        await self.engine.dispose()
        if self._reads is not self.engine:
            await self._reads.dispose()


def _apply_collecting(
    conn: Connection,
    apply: Callable[[Connection, Sequence[T]], R],
    items: Sequence[T],
    callbacks: list[Callable[[], None]],
) -> R:
    conn.info[_AFTER_COMMIT] = callbacks
    try:
        return apply(conn, items)
    finally:
        del conn.info[_AFTER_COMMIT]


def _run_all(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()


# Readers on PostgreSQL plan each execution. After five executions of a prepared statement
# PostgreSQL may keep one generic plan instead, made from the statistics of that moment; on a
# table that grows from empty (a new database, autovacuum off or behind) that plan can stay a
# sequential scan for good, a 1 ms read becoming 100 ms. Planning costs far less. Not on the
# writers' connections: there it would also re-plan every foreign-key check of every inserted
# row (measured: 35 ms instead of 14 for a ledger batch of 1,000 transfers); the hot writes are
# written to probe indexes whatever the plan (see core/ledger/pg_store.py).
_PG_READ_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


def _create_engine(url: str, *, echo: bool, sqlite: bool, reads: bool = False) -> AsyncEngine:
    """The engine for ``url``; ``reads``: PostgreSQL's readers' pool, in autocommit (a
    checkout's ping is then one round trip)."""
    kwargs: dict[str, Any] = {"echo": echo}
    if sqlite:
        kwargs["connect_args"] = {"async_creator_fn": _open_aiosqlite}
    else:
        kwargs.update(pool_pre_ping=True)
        if reads:
            kwargs.update(pool_size=5, max_overflow=5, isolation_level="AUTOCOMMIT")
            kwargs["connect_args"] = {"server_settings": _PG_READ_SETTINGS}
        else:
            kwargs.update(pool_size=10, max_overflow=10)
    engine = create_async_engine(url, **kwargs)
    if sqlite:
        _configure_sqlite(engine)
    else:
        _explain_connect_failures(engine.sync_engine)
    return engine


async def _open_aiosqlite(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    connection = aiosqlite.connect(*args, **kwargs)
    thread = connection if isinstance(connection, Thread) else connection._thread  # before 0.22: a Thread
    thread.daemon = True  # as SQLAlchemy's own creator does
    try:
        return await connection
    except BaseException:
        # A failed open queues the stop of aiosqlite's thread without waiting for it; wait
        # here, or the thread may report to an event loop closed meanwhile (a traceback on
        # stderr after the one-line error).
        await asyncio.to_thread(thread.join, 5)
        raise


def _explain_connect_failures(sync_engine: Engine) -> None:
    """A connection that cannot be opened (refused, no such database, an unwritable SQLite
    file) raises DatabaseUnavailable with one line saying why, instead of the driver's chain
    of two or three exceptions; other failures pass unchanged."""

    @event.listens_for(sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as error:
            _explain(sync_engine, error)
            raise


def _explain(sync_engine: Engine, error: Exception) -> None:
    """Raise DatabaseUnavailable from ``error`` when it means the database cannot be opened."""
    reason = connection_problem(sync_engine.url.render_as_string(hide_password=False), error)
    if reason is not None:
        raise DatabaseUnavailable(reason) from error


def _configure_sqlite(engine: AsyncEngine | Engine) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    _explain_connect_failures(sync_engine)

    # pysqlite's own transaction handling defers BEGIN and ignores our mode; take it over.
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # the first write: a read-only file fails here
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        except Exception as error:
            cursor.close()
            dbapi_conn.close()  # else aiosqlite's thread outlives the event loop
            _explain(sync_engine, error)
            raise
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        # On the DB-API cursor: exec_driver_sql's statement machinery costs more than the
        # BEGIN itself, and every batch and read begins one.
        cursor = conn.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        finally:
            cursor.close()


def sqlite_time(at: datetime) -> str:
    """The text form SQLAlchemy's SQLite DateTime stores (UTCDateTime: naive UTC), for the few
    hot paths that write with the raw driver."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    # isoformat is several times faster than strftime; cutting "+00:00" than replace(tzinfo=None).
    return at.isoformat(" ", "microseconds")[:-6]


def from_sqlite_time(text: str) -> datetime:
    """The reverse of ``sqlite_time``: a stored UTCDateTime text (naive UTC) → aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)
