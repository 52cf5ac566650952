"""Ledger invariants under random sequences of postings (hypothesis).

Every example runs the same operations twice, in two fresh communities: once one posting at a
time, once as concurrent groups (``asyncio.gather``) that the group-commit writer takes as
batches.  Both runs must agree, operation by operation, with a plain Python model that applies
the operations in submission order, and the books must balance afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import App
from bot.config import Config
from core.clock import ManualClock
from core.events import UserRef
from core.ledger.models import (
    AccountRef,
    Kind,
    MemberAccount,
    Outcome,
    Posting,
    PostingResult,
    SystemAccount,
    SystemCode,
    Transfer,
)
from core.ledger.service import Balance
from core.ledger.tables import ledger_transfers
from core.members.models import Member
from tests.conftest import PG_URL, START
from tests.ledger_fixtures import stale_reads

MEMBERS = 4
ISSUANCE, REDEMPTION = "issuance", "redemption"
Account = int | str  # a member's index, or a system account's code

_communities = itertools.count()

# -- operations ------------------------------------------------------------------------------

member = st.integers(0, MEMBERS - 1)
amount = st.integers(1, 30)
operation = st.one_of(
    st.tuples(st.just("award"), member, amount),
    st.tuples(st.just("spend"), member, amount, st.booleans()),
    st.tuples(st.just("transfer"), member, st.integers(1, MEMBERS - 1), amount),
    st.tuples(st.just("reverse"), st.integers(0, 10_000)),
    st.tuples(st.just("replay"), st.integers(0, 10_000), amount),
)
# Groups of operations submitted together; the sequential run submits them one by one.
groups = st.lists(st.lists(operation, min_size=1, max_size=5), min_size=1, max_size=6)


@dataclass(frozen=True)
class Spec:
    """One posting as submitted, with accounts still in model terms."""

    kind: str
    debit: Account
    credit: Account
    amount: int
    key: str
    partial: bool = False
    reverses: int | None = None  # index of the model transfer it reverses
    is_replay: bool = False


@dataclass(frozen=True)
class Expected:
    outcome: Outcome
    amount: int = 0
    transfer: int | None = None  # model transfer index (POSTED: the new one; REPLAYED: the first)
    available: int | None = None


@dataclass
class ModelTransfer:
    debit: Account
    credit: Account
    amount: int
    kind: str


@dataclass
class Model:
    """The ledger's rules, applied in submission order with plain integers."""

    balances: dict[Account, int] = field(default_factory=lambda: defaultdict(int))
    earned: dict[Account, int] = field(default_factory=lambda: defaultdict(int))
    transfers: list[ModelTransfer] = field(default_factory=list)
    by_key: dict[str, int] = field(default_factory=dict)

    def apply(self, spec: Spec) -> Expected:
        if spec.key in self.by_key:
            index = self.by_key[spec.key]
            return Expected(Outcome.REPLAYED, self.transfers[index].amount, index)
        amount = spec.amount
        if isinstance(spec.debit, int) and self.balances[spec.debit] < amount:
            available = self.balances[spec.debit]
            if not spec.partial or available <= 0:
                return Expected(Outcome.INSUFFICIENT, available=available)
            amount = available
        self.balances[spec.debit] -= amount
        self.balances[spec.credit] += amount
        if spec.debit == ISSUANCE and spec.kind == Kind.AWARD:
            self.earned[spec.credit] += amount
        if spec.reverses is not None and self.transfers[spec.reverses].kind == Kind.AWARD:
            self.earned[spec.debit] = max(0, self.earned[spec.debit] - amount)
        self.transfers.append(ModelTransfer(spec.debit, spec.credit, amount, spec.kind))
        self.by_key[spec.key] = len(self.transfers) - 1
        return Expected(Outcome.POSTED, amount, len(self.transfers) - 1)


def plan(raw_groups: list[list[tuple]]) -> tuple[list[list[tuple[Spec, Expected]]], Model]:
    """Resolve the random operations into postings and what the model expects of each.

    A reversal picks a transfer posted in an earlier group (its id must be known when the group
    is submitted); a replay repeats an earlier operation's key, possibly with another amount.
    """
    model = Model()
    planned: list[list[tuple[Spec, Expected]]] = []
    originals: list[Spec] = []  # awards, spends and transfers so far, for replays
    serial = itertools.count()
    for raw in raw_groups:
        reversible = list(range(len(model.transfers)))
        group: list[tuple[Spec, Expected]] = []
        for op in raw:
            spec: Spec | None
            key = f"op:{next(serial)}"
            match op:
                case ("award", who, points):
                    spec = Spec(Kind.AWARD, ISSUANCE, who, points, key)
                case ("spend", who, points, partial):
                    spec = Spec(Kind.SPEND, who, REDEMPTION, points, key, partial=partial)
                case ("transfer", who, offset, points):
                    spec = Spec(Kind.TRANSFER, who, (who + offset) % MEMBERS, points, key)
                case ("reverse", pick):
                    spec = None
                    if reversible:
                        target = reversible[pick % len(reversible)]
                        original = model.transfers[target]
                        spec = Spec(
                            Kind.REVERSAL,
                            original.credit,
                            original.debit,
                            original.amount,
                            f"reverse:{target}",
                            reverses=target,
                        )
                case ("replay", pick, points):
                    spec = None
                    if originals:
                        base = originals[pick % len(originals)]
                        spec = Spec(
                            base.kind, base.debit, base.credit, points, base.key, base.partial, None, True
                        )
                case _:
                    raise AssertionError(op)
            if spec is None:
                continue
            if spec.kind != Kind.REVERSAL and not spec.is_replay:
                originals.append(spec)
            group.append((spec, model.apply(spec)))
        planned.append(group)
    return planned, model


# -- running against the real ledger -------------------------------------------------------------


@dataclass
class Run:
    app: App
    community_id: int
    members: list[Member]
    transfers: dict[int, Transfer] = field(default_factory=dict)  # model index -> real transfer

    def ref(self, account: Account) -> AccountRef:
        if isinstance(account, int):
            return MemberAccount(self.members[account].id)
        return SystemAccount(SystemCode(account))

    def posting(self, spec: Spec) -> Posting:
        key, reverses_id = spec.key, None
        if spec.reverses is not None:
            reverses_id = self.transfers[spec.reverses].id
            key = f"reverse:{reverses_id}"  # what Ledger.reverse uses
        return Posting(
            community_id=self.community_id,
            debit=self.ref(spec.debit),
            credit=self.ref(spec.credit),
            amount=spec.amount,
            kind=spec.kind,
            key=key,
            at=START,
            partial=spec.partial,
            reverses_id=reverses_id,
        )

    def check(self, spec: Spec, expected: Expected, result: PostingResult) -> None:
        assert result.outcome is expected.outcome, (spec, expected, result)
        if expected.outcome is Outcome.POSTED:
            assert result.transfer is not None and result.amount == expected.amount, (spec, result)
            assert expected.transfer is not None
            self.transfers[expected.transfer] = result.transfer
        elif expected.outcome is Outcome.REPLAYED:
            assert expected.transfer is not None
            assert result.transfer == self.transfers[expected.transfer], (spec, result)
        else:
            assert result.transfer is None
            assert result.available == expected.available, (spec, result)

    async def transfer_count(self) -> int:
        query = select(func.count()).where(ledger_transfers.c.community_id == self.community_id)
        async with self.app.db.read() as conn:
            return (await conn.execute(query)).scalar_one()

    async def one_by_one(self, planned: list[list[tuple[Spec, Expected]]]) -> None:
        ledger = self.app.services.ledger
        for spec, expected in itertools.chain.from_iterable(planned):
            count = await self.transfer_count()
            if spec.reverses is not None:
                result = await ledger.reverse(
                    self.transfers[spec.reverses].id,
                    community_id=self.community_id,
                    actor_member_id=None,
                    reason="property",
                    at=START,
                )
            else:
                result = await ledger.post(self.posting(spec))
            self.check(spec, expected, result)
            if expected.outcome is not Outcome.POSTED:  # a replay or a refusal changed nothing
                assert await self.transfer_count() == count

    async def in_batches(self, planned: list[list[tuple[Spec, Expected]]]) -> None:
        ledger = self.app.services.ledger
        for group in planned:
            postings = [self.posting(spec) for spec, _ in group]
            results = await asyncio.gather(*(ledger.post(p) for p in postings))
            for (spec, expected), result in zip(group, results, strict=True):
                self.check(spec, expected, result)

    async def assert_matches(self, model: Model) -> None:
        ledger = self.app.services.ledger
        assert await ledger.totals(self.community_id) == (0, 0)
        assert await ledger.balances_match_transfers(self.community_id)
        for index, person in enumerate(self.members):
            balance = await ledger.balance(self.community_id, person.id)
            assert balance.balance >= 0
            assert balance == Balance(model.balances[index], model.earned[index]), index
        assert await self.transfer_count() == len(model.transfers)


async def new_run(app: App) -> Run:
    community = await app.community(f"prop-{next(_communities)}")
    people = [
        await app.services.members.ensure_member(community, UserRef("console", f"m{i}", f"M{i}"))
        for i in range(MEMBERS)
    ]
    return Run(app, community.id, people)


@pytest.fixture
def sync_app(config: Config) -> Iterator[tuple[asyncio.Runner, App]]:
    with asyncio.Runner() as runner:
        app = runner.run(App.open(config, clock=ManualClock(START)))
        yield runner, app
        runner.run(app.close())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=groups)
def test_random_postings_keep_the_books_and_match_the_model(
    sync_app: tuple[asyncio.Runner, App], raw: list[list[tuple]]
) -> None:
    runner, app = sync_app
    planned, model = plan(raw)

    sequential = runner.run(new_run(app))
    runner.run(sequential.one_by_one(planned))
    runner.run(sequential.assert_matches(model))

    concurrent = runner.run(new_run(app))  # its members' first contacts use the writer too
    batches_before = app.services.ledger.writer.commits.batches
    runner.run(concurrent.in_batches(planned))
    runner.run(concurrent.assert_matches(model))
    # Each gathered group went through the writer as one batch.
    assert app.services.ledger.writer.commits.batches - batches_before == len([g for g in planned if g])


def test_the_model_itself_refuses_overdrafts_and_replays() -> None:
    """The model is what the property compares against, so it gets its own worked example."""
    planned, model = plan(
        [
            [("award", 0, 10), ("spend", 0, 15, False), ("spend", 0, 15, True)],
            [("replay", 0, 99), ("reverse", 0), ("reverse", 0), ("transfer", 1, 1, 5)],
        ]
    )
    outcomes = [
        (spec.key, expected.outcome, expected.amount) for group in planned for spec, expected in group
    ]
    assert outcomes == [
        ("op:0", Outcome.POSTED, 10),
        ("op:1", Outcome.INSUFFICIENT, 0),
        ("op:2", Outcome.POSTED, 10),
        ("op:0", Outcome.REPLAYED, 10),
        ("reverse:0", Outcome.INSUFFICIENT, 0),  # the award's points were spent
        ("reverse:0", Outcome.INSUFFICIENT, 0),
        ("op:6", Outcome.INSUFFICIENT, 0),
    ]
    assert dict(model.balances) == {ISSUANCE: -10, 0: 0, REDEMPTION: 10, 1: 0}
    assert model.earned[0] == 10


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite batches read under the write lock")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=groups, offsets=st.lists(st.integers(-40, 40), min_size=MEMBERS, max_size=MEMBERS))
def test_batches_deciding_on_stale_balances_still_match_the_model(
    sync_app: tuple[asyncio.Runner, App], raw: list[list[tuple]], offsets: list[int]
) -> None:
    """Whatever a batch read without locks (each member's balance and earned off by their
    offset, as if read before other writers committed), what it posts is what the model says."""
    runner, app = sync_app
    planned, model = plan(raw)
    run = runner.run(new_run(app))
    offset_of = {person.id: offset for person, offset in zip(run.members, offsets, strict=True)}
    with stale_reads(lambda account: offset_of.get(account.member_id or 0, 0)):
        runner.run(run.in_batches(planned))
    runner.run(run.assert_matches(model))
