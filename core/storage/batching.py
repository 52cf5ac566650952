"""Group commit: many concurrent callers, one writer task, one transaction per batch.

The async stack costs per ``await``, not per row (see LIMITS.md), so writes on hot paths are
gathered while the previous batch commits and applied together.  Each caller still awaits
its own result, which is known only after the batch's commit: nothing is acknowledged early.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

from core.storage.database import Database

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# Applies a batch inside one open write transaction (blocking SQLAlchemy code, see
# Database.run_batch); returns one result per item, in order.
BatchFunction = Callable[[Connection, Sequence[T]], Sequence[R]]
Outcome = tuple[bool, Any]  # (True, result) or (False, the exception)

# How long one run of batches may hold the SQLite writer thread before other work queued on
# that thread (a single write through Database.run_batch) gets its turn.
DRAIN_SECONDS = 0.05


# A batch that loses a deadlock or a serialization conflict (PostgreSQL rolled it back whole)
# is run again whole, after a random pause that doubles each time, up to this many attempts in
# all; only then do its items fall back to one transaction each like any failed batch.
CONFLICT_ATTEMPTS = 8
CONFLICT_PAUSE = 0.01  # seconds: the first pause is up to this long
CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure

# Set while handling an event someone waits on for an answer (a command, a private message):
# the writes queued meanwhile go in the next batch ahead of the queue, so an answer waits
# for at most the batch being committed and its own small one, not for a busy group's backlog.
urgent_writes: ContextVar[bool] = ContextVar("urgent_writes", default=False)


class WriterClosed(RuntimeError):
    """Submitted to a writer that has been closed."""


class GroupCommit(Generic[T, R]):
    """Batches items submitted concurrently into one transaction each.

    A batch that loses a deadlock or serialization conflict is run again whole (a few times,
    see CONFLICT_ATTEMPTS). If a whole batch fails otherwise, every item is retried alone in
    its own transaction, so one bad item fails only its own caller.
    """

    def __init__(
        self,
        db: Database,
        apply: BatchFunction[T, R] | None = None,
        *,
        name: str,
        max_batch: int = 1000,
        linger: float = 0.0,
    ) -> None:
        self._db = db
        # Running commits, each with whether it is an urgent batch. On PostgreSQL an urgent
        # batch starts beside a running one, on a connection of its own: a batch there is a
        # handful of round trips, each waiting for a turn of the busy event loop, and an answer
        # should not wait for all of them. (In the SQLite writer thread batches run one by one.)
        self._running: dict[asyncio.Task[None], bool] = {}
        # One batch function for all items, or (apply=None) one per item type via register():
        # then different writers share one transaction per batch, and one commit per event.
        self._handlers: dict[type, BatchFunction[Any, Any]] = {}
        self._apply: BatchFunction[T, R] = apply or self._dispatch
        self._name = name
        self._max_batch = max_batch
        self._linger = linger
        # Plain lists and one wake-up future: an asyncio.Queue costs several calls per item.
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._urgent: list[tuple[T, asyncio.Future[R]]] = []  # queued under urgent_writes
        self._wake: asyncio.Future[None] | None = None  # set while the writer task waits
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0  # observability: how many transactions, for benchmarks and tests
        self.items = 0

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait until its batch has committed; returns its result."""
        return await self.enqueue(item)

    def enqueue(self, item: T) -> asyncio.Future[R]:
        """Queue ``item`` now; the future resolves once its batch has committed.

        Lets a caller overlap the write with other work and await it later.
        """
        if self._closed:
            raise WriterClosed(f"{self._name} writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        (self._urgent if urgent_writes.get() else self._pending).append((item, future))
        if self._wake is not None:
            if not self._wake.done():
                self._wake.set_result(None)
        elif self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name=f"{self._name}-writer")
        return future

    async def close(self) -> None:
        """Finish everything queued, then stop."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._stopping = True
            if self._wake is not None and not self._wake.done():
                self._wake.set_result(None)
            await self._task

    async def _run(self) -> None:
        while True:
            if not self._pending and not self._urgent:
                if self._stopping:
                    if self._running:
                        await asyncio.wait(self._running)
                    return
                self._wake = asyncio.get_running_loop().create_future()
                try:
                    await self._wake
                finally:
                    self._wake = None
                continue
            if self._linger:
                await asyncio.sleep(self._linger)
            if self._db.batches_in_thread:
                await self._db.run_in_writer(functools.partial(self._drain, asyncio.get_running_loop()))
                continue
            urgent = self._next_kind()
            if urgent is None:
                await self._wait_for_a_slot()
                continue
            task = asyncio.get_running_loop().create_task(self._commit(self._take(urgent)))
            self._running[task] = urgent
            task.add_done_callback(self._finished)

    def _next_kind(self) -> bool | None:
        """Which batch may start now: urgent (True) when urgent items wait and no urgent batch
        runs, else ordinary (False) when items wait and no ordinary batch runs; None: neither.

        An ordinary batch does not wait for an urgent one: answers to commands commit many times
        a second in a busy community (each a batch of a few round trips), and a group's
        messages would otherwise wait for each of them too (the ingest benchmark on PostgreSQL:
        4,909 events/s against 4,671, one run each)."""
        busy = set(self._running.values())
        if self._urgent and True not in busy:
            return True
        if self._pending and False not in busy:
            return False
        return None

    async def _wait_for_a_slot(self) -> None:
        """Until a running batch commits or a new item arrives (it may be urgent)."""
        self._wake = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait({self._wake, *self._running}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._wake = None

    def _finished(self, task: asyncio.Task[None]) -> None:
        del self._running[task]

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """In the SQLite writer thread: commit batch after batch while items are pending,
        handing each batch's results to the event loop as it commits.

        A hop back to the event loop between batches leaves the writer thread idle until
        the loop gets round to starting the next one (measured: about 1 ms per 20 ms batch
        in the ledger benchmark). Only this thread takes from the queues while it drains;
        the loop only appends, so taking a slice and deleting it is safe."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while self._pending or self._urgent:
            batch = self._take(urgent=bool(self._urgent))  # urgent items first
            outcomes = self._commit_here(batch)
            loop.call_soon_threadsafe(_settle, batch, outcomes)
            if time.monotonic() > deadline:
                return

    def _take(self, urgent: bool) -> list[tuple[T, asyncio.Future[R]]]:
        """The next batch from the urgent queue or the other: urgent items on their own (a
        small batch commits soon)."""
        queue = self._urgent if urgent else self._pending
        batch = queue[: self._max_batch]
        del queue[: len(batch)]
        return batch

    def _commit_here(self, batch: list[tuple[T, asyncio.Future[R]]]) -> list[Outcome]:
        """``_commit`` for the writer thread: one outcome per entry."""
        items = [item for item, _ in batch]
        attempt = 1
        while True:
            try:
                results = self._db.run_batch_here(self._apply_checked, items)
            except Exception as error:
                pause = self._pause_after(error, attempt, len(batch))
                if pause is not None:
                    time.sleep(pause)
                    attempt += 1
                    continue
                if self._retry_alone(batch):
                    return [outcome for entry in batch for outcome in self._commit_here([entry])]
                return [(False, error)]
            return self._committed(batch, results)

    def _pause_after(self, error: Exception, attempt: int, size: int) -> float | None:
        """How long to wait before running a failed batch again whole; None: do not (the
        error is not a lost conflict, or the batch has had all its attempts)."""
        if attempt >= CONFLICT_ATTEMPTS or not lost_a_conflict(error):
            return None
        log.warning(
            "%s batch of %d lost a lock conflict (%s); running it again, attempt %d of %d",
            self._name,
            size,
            _first_line(error),
            attempt + 1,
            CONFLICT_ATTEMPTS,
        )
        return random.uniform(0, CONFLICT_PAUSE * 2 ** (attempt - 1))

    def _retry_alone(self, batch: Sequence[tuple[T, asyncio.Future[R]]]) -> bool:
        """After a failed batch: log it; whether to retry its items one by one (a single
        item's failure is its caller's)."""
        if len(batch) == 1:
            log.exception("%s write failed", self._name)
            return False
        log.warning("%s batch of %d failed; retrying one by one", self._name, len(batch), exc_info=True)
        return True

    def _committed(self, batch: Sequence[tuple[T, asyncio.Future[R]]], results: Sequence[R]) -> list[Outcome]:
        self.batches += 1
        self.items += len(batch)
        return [(True, result) for result in results]

    def register(self, item_type: type, apply: BatchFunction[Any, Any]) -> None:
        """Route items of ``item_type`` to ``apply`` (for a writer built without one)."""
        self._handlers[item_type] = apply

    def _dispatch(self, conn: Connection, items: Sequence[Any]) -> list[Any]:
        groups: dict[type, list[int]] = {}
        for index, item in enumerate(items):
            groups.setdefault(type(item), []).append(index)
        results: list[Any] = [None] * len(items)
        for item_type, indexes in groups.items():
            handler = self._handlers.get(item_type)
            if handler is None:
                raise TypeError(f"{self._name} writer has no handler for {item_type.__name__}")
            for index, result in zip(indexes, handler(conn, [items[i] for i in indexes]), strict=True):
                results[index] = result
        return results

    def _apply_checked(self, conn: Connection, items: Sequence[T]) -> Sequence[R]:
        """The batch function, held to one result per item (else the transaction rolls back)."""
        results = self._apply(conn, items)
        if len(results) != len(items):
            raise RuntimeError(f"{self._name}: {len(results)} results for {len(items)} items")
        return results

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        attempt = 1
        while True:
            try:
                results = await self._db.run_batch(self._apply_checked, items)
            except Exception as error:
                pause = self._pause_after(error, attempt, len(batch))
                if pause is not None:
                    await asyncio.sleep(pause)
                    attempt += 1
                    continue
                if self._retry_alone(batch):
                    for entry in batch:
                        await self._commit([entry])
                else:
                    _settle(batch, [(False, error)])
                return
            _settle(batch, self._committed(batch, results))
            return


def lost_a_conflict(error: BaseException) -> bool:
    """Whether ``error`` is PostgreSQL's deadlock or serialization failure: the transaction
    was rolled back whole, and the same work may simply be run again. (SQLAlchemy wraps the
    driver's error in ``orig``; asyncpg and psycopg both name its code ``sqlstate``.)"""
    seen: BaseException | None = error
    for _ in range(5):  # the wrapper, the driver's error, and what either was raised from
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in CONFLICT_SQLSTATES:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error)
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def _settle(batch: Sequence[tuple[Any, asyncio.Future[Any]]], outcomes: Sequence[Outcome]) -> None:
    """In the event loop: resolve each entry's future with its outcome."""
    for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
