"""core/storage/batching.py: GroupCommit gathers concurrent submissions into one transaction each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from asyncpg.exceptions import DeadlockDetectedError, SerializationError
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from core.storage import batching
from core.storage.batching import CONFLICT_ATTEMPTS, CONFLICT_PAUSE, GroupCommit, WriterClosed, urgent_writes
from core.storage.database import Database
from core.storage.state_tables import app_state
from tests.conftest import PG_URL


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


class Recorder:
    """A batch function that stores each item as an app_state row and answers ``key!``."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, conn: Any, items: Sequence[str]) -> list[str]:
        self.batches.append(list(items))
        conn.execute(insert(app_state), [{"key": item, "value": f"v:{item}"} for item in items])
        return [f"{item}!" for item in items]


async def stored(db: Database) -> list[str]:
    async with db.read() as conn:
        return sorted((await conn.execute(select(app_state.c.key))).scalars())


async def test_each_caller_gets_its_own_result(db: Database) -> None:
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test")
    items = [f"item-{i:02d}" for i in range(30)]

    results = await asyncio.gather(*(commits.submit(item) for item in items))
    await commits.close()

    assert results == [f"{item}!" for item in items]
    assert await stored(db) == items


async def test_concurrent_submissions_share_a_transaction(db: Database) -> None:
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test")
    await commits.submit("warm-up")

    await asyncio.gather(*(commits.submit(f"k{i}") for i in range(50)))
    await commits.close()

    assert commits.items == 51
    assert commits.batches < commits.items
    assert recorder.batches[1:] == [[f"k{i}" for i in range(50)]]  # in submission order
    assert commits.batches == len(recorder.batches) == 2


async def test_sequential_submissions_are_one_transaction_each(db: Database) -> None:
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test")

    for i in range(3):
        assert await commits.submit(f"k{i}") == f"k{i}!"
    await commits.close()

    assert recorder.batches == [["k0"], ["k1"], ["k2"]]
    assert (commits.batches, commits.items) == (3, 3)


async def test_max_batch_bounds_each_transaction(db: Database) -> None:
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test", max_batch=4)

    results = await asyncio.gather(*(commits.submit(f"k{i:02d}") for i in range(10)))
    await commits.close()

    assert results == [f"k{i:02d}!" for i in range(10)]
    assert [len(batch) for batch in recorder.batches] == [4, 4, 2]


async def test_urgent_writes_go_in_the_next_batch_ahead_of_the_queue(db: Database) -> None:
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test", max_batch=4)
    await commits.submit("warm-up")

    # Queued in one turn of the loop, before the writer can take any of it: a backlog of group
    # writes, then one a person waits on. (Queued a turn later, the writer thread may already
    # be draining the backlog, and where the urgent one lands depends on the machine's load.)
    backlog = [commits.enqueue(f"g{i}") for i in range(10)]
    token = urgent_writes.set(True)
    try:
        urgent = commits.enqueue("urgent")
    finally:
        urgent_writes.reset(token)
    assert await urgent == "urgent!"
    assert await asyncio.gather(*backlog) == [f"g{i}!" for i in range(10)]
    await commits.close()

    # The urgent one taken first, on its own; then the backlog in order. (On PostgreSQL the
    # backlog's first batch may start beside it, on another connection: see the next test.)
    batches = recorder.batches[1:]
    assert ["urgent"] in batches
    assert [item for batch in batches if batch != ["urgent"] for item in batch] == [
        f"g{i}" for i in range(10)
    ]


@pytest.mark.skipif(not PG_URL, reason="on SQLite batches run one by one in the writer thread")
async def test_an_ordinary_batch_does_not_wait_for_a_running_urgent_one(db: Database) -> None:
    def apply(conn: Any, items: Sequence[str]) -> list[str]:
        if "slow" in items:
            conn.execute(text("SELECT pg_sleep(2)"))
        return [f"{item}!" for item in items]

    commits: GroupCommit[str, str] = GroupCommit(db, apply, name="test")
    token = urgent_writes.set(True)
    try:
        urgent = commits.enqueue("slow")  # a command's write, its batch held up on the server
    finally:
        urgent_writes.reset(token)
    await asyncio.sleep(0.2)
    assert await asyncio.wait_for(commits.submit("group message"), 1.5) == "group message!"
    assert not urgent.done()
    assert await urgent == "slow!"
    await commits.close()


async def test_linger_lets_a_late_submission_join_the_batch(db: Database) -> None:
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test", linger=0.3)

    first = commits.enqueue("early")
    await asyncio.sleep(0.02)
    second = commits.enqueue("late")
    assert await asyncio.gather(first, second) == ["early!", "late!"]
    await commits.close()

    assert recorder.batches == [["early", "late"]]


async def test_a_failing_batch_is_retried_item_by_item(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(insert(app_state).values(key="taken", value="x"))
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test")

    results = await asyncio.gather(
        *(commits.submit(item) for item in ("a", "taken", "b")), return_exceptions=True
    )

    assert results[0] == "a!" and results[2] == "b!"
    assert isinstance(results[1], IntegrityError)  # only its own caller sees the failure
    assert recorder.batches == [["a", "taken", "b"], ["a"], ["taken"], ["b"]]
    assert await stored(db) == ["a", "b", "taken"]  # the failed batch left nothing half-written
    assert (commits.batches, commits.items) == (2, 2)
    assert await commits.submit("c") == "c!"  # and the writer carries on
    await commits.close()


class LosesConflicts(Recorder):
    """A Recorder whose first ``times`` batches do all their work and then lose a deadlock
    (or a serialization conflict), as PostgreSQL reports it: through the driver's error."""

    def __init__(self, times: int, error: type[Exception] = DeadlockDetectedError) -> None:
        super().__init__()
        self.times = times
        self.error = error

    def __call__(self, conn: Any, items: Sequence[str]) -> list[str]:
        results = super().__call__(conn, items)
        if len(self.batches) <= self.times:
            raise self.error("deadlock detected")
        return results


@pytest.mark.parametrize("error", [DeadlockDetectedError, SerializationError])
async def test_a_batch_that_loses_a_conflict_is_run_again_whole_and_no_caller_sees_it(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error: type[Exception]
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(batching.random, "uniform", lambda low, high: pauses.append(high) or 0.0)
    recorder = LosesConflicts(times=3, error=error)
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test")

    results = await asyncio.gather(*(commits.submit(item) for item in ("a", "b", "c")))
    await commits.close()

    assert results == ["a!", "b!", "c!"]
    assert recorder.batches == [["a", "b", "c"]] * 4  # whole each time, never item by item
    assert await stored(db) == ["a", "b", "c"]  # once: the lost attempts left nothing
    assert (commits.batches, commits.items) == (1, 3)
    assert pauses == [CONFLICT_PAUSE, CONFLICT_PAUSE * 2, CONFLICT_PAUSE * 4]  # backing off, jittered
    assert "running it again, attempt 2 of" in caplog.text


async def test_a_batch_that_keeps_losing_conflicts_gives_up_after_a_bounded_number_of_attempts(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batching, "CONFLICT_PAUSE", 0.0)
    recorder = LosesConflicts(times=10_000)
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test")

    results = await asyncio.gather(*(commits.submit(item) for item in ("a", "b")), return_exceptions=True)
    await commits.close()

    assert all(isinstance(result, DeadlockDetectedError) for result in results)
    # The batch's attempts, then each item alone with as many.
    assert recorder.batches == [["a", "b"]] * CONFLICT_ATTEMPTS + ([["a"]] * CONFLICT_ATTEMPTS) + (
        [["b"]] * CONFLICT_ATTEMPTS
    )
    assert await stored(db) == []


async def test_a_failing_single_item_fails_only_its_caller(db: Database) -> None:
    def apply(_conn: Any, items: Sequence[int]) -> list[int]:
        if items == [13]:
            raise ValueError("unlucky")
        return [item * 2 for item in items]

    commits: GroupCommit[int, int] = GroupCommit(db, apply, name="test")

    with pytest.raises(ValueError, match="unlucky"):
        await commits.submit(13)
    assert await commits.submit(21) == 42
    await commits.close()


async def test_close_flushes_everything_queued(db: Database) -> None:
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test", max_batch=3)
    futures = [commits.enqueue(f"k{i}") for i in range(7)]

    await commits.close()

    assert all(future.done() for future in futures)
    assert [future.result() for future in futures] == [f"k{i}!" for i in range(7)]
    assert await stored(db) == [f"k{i}" for i in range(7)]


async def test_nothing_can_be_submitted_after_close(db: Database) -> None:
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test")
    await commits.submit("before")
    await commits.close()

    with pytest.raises(WriterClosed):
        await commits.submit("after")
    with pytest.raises(WriterClosed):
        commits.enqueue("after")
    await commits.close()  # closing twice is harmless
    assert await stored(db) == ["before"]


async def test_closing_an_unused_writer_is_harmless(db: Database) -> None:
    commits: GroupCommit[str, str] = GroupCommit(db, Recorder(), name="test")
    await commits.close()
    with pytest.raises(WriterClosed):
        commits.enqueue("x")


async def test_a_caller_that_gives_up_does_not_break_the_batch(db: Database) -> None:
    recorder = Recorder()
    commits: GroupCommit[str, str] = GroupCommit(db, recorder, name="test", linger=0.1)
    impatient = asyncio.ensure_future(commits.submit("impatient"))
    patient = asyncio.ensure_future(commits.submit("patient"))
    await asyncio.sleep(0.02)

    impatient.cancel()

    assert await patient == "patient!"
    assert impatient.cancelled()
    # Once queued, the item is written even though nobody waits for it any more.
    assert await stored(db) == ["impatient", "patient"]
    assert await commits.submit("next") == "next!"
    await commits.close()


async def test_two_writers_on_separate_connections_both_commit_everything(db: Database, db_url: str) -> None:
    others = (Database(db_url), Database(db_url))
    writers = [GroupCommit(other, Recorder(), name=f"w{n}") for n, other in enumerate(others)]
    try:
        async with asyncio.timeout(20):  # a "database is locked" error or a deadlock would surface
            results = await asyncio.gather(
                *(writer.submit(f"w{n}-{i:02d}") for i in range(25) for n, writer in enumerate(writers))
            )
        for writer in writers:
            await writer.close()
    finally:
        for other in others:
            await other.dispose()

    assert sorted(results) == sorted(f"w{n}-{i:02d}!" for i in range(25) for n in range(2))
    assert len(await stored(db)) == 50
    assert all(writer.batches < writer.items == 25 for writer in writers)


async def test_a_batch_function_breaking_its_contract_fails_its_callers_instead_of_hanging(
    db: Database,
) -> None:
    recorder = Recorder()

    def one_short(conn: Any, items: Sequence[str]) -> list[str]:
        return recorder(conn, items)[:-1]

    commits: GroupCommit[str, str] = GroupCommit(db, one_short, name="test")
    both = asyncio.gather(commits.submit("a"), commits.submit("b"), return_exceptions=True)
    done, _ = await asyncio.wait([both], timeout=2)
    if not done:
        both.cancel()
        # No traceback: pytest's source formatting can crash CPython 3.11.7 (AST recursion depth).
        pytest.fail("the callers were still waiting after 2 s", pytrace=False)

    assert all(isinstance(result, Exception) for result in both.result())
    assert await stored(db) == []  # a batch with the wrong number of results is not committed
    await commits.close()
