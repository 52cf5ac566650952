"""The ledger's single writer: postings gathered into batches, each batch one transaction.

Inside the transaction missing accounts are created in one global order (``account_order``)
and the touched account rows are locked (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR
UPDATE`` in id order on PostgreSQL), so the balances read there are the ones the batch
changes; every posting is then decided in order, and balances move by relative
``UPDATE … SET balance = balance + :delta``. On PostgreSQL a batch of plain postings reads its
balances without locks instead, and its write moves them only if they still allow what was
decided (core/ledger/pg_store.py); if not, the batch is decided again under locks. The CHECK
on member balances and the unique idempotency key stay the last word: if either fires, the
batch is retried posting by posting.
A batch that loses a deadlock all the same (to a transaction locking in another order) is run
again whole (core/storage/batching.py); that is safe because nothing the writer keeps comes
from a batch before it commits (account ids, balances and usage sums are remembered after).

On SQLite a batch does not look its keys up first: the insert skips rows whose key is taken
and says how many went in. If one was skipped (a replay), that insert is deleted and the batch
decided again knowing the replays; the next few batches then look up first. Postings refused
without a lookup are checked for a replay before anything is written.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from core.ledger.models import (
    EARNING_KINDS,
    AccountRef,
    Cap,
    CapScope,
    MemberAccount,
    Outcome,
    Posting,
    PostingResult,
    SystemAccount,
    SystemCode,
    Transfer,
)
from core.ledger.pg_store import PostgresLedgerStore
from core.ledger.store import (
    AccountKey,
    BalancesMoved,
    LedgerStore,
    LockedAccount,
    Moved,
    SqliteLedgerStore,
    split_keys,
)
from core.ledger.tiers import DEFAULT_TIERS, Tier, apply_multiplier, effective_tier
from core.metrics import Metrics
from core.storage.batching import GroupCommit
from core.storage.database import Database, after_commit

TIER_CACHE_SECONDS = 10.0
PRELOAD_LIMIT = 1_000_000  # accounts of a community whose ids are loaded in one query
_CHUNK = 500  # ids per IN (...) list
_NOT_EARNED = (None, None)


CapShape = tuple[CapScope, tuple[str, ...], Any]  # (scope, kinds, since)
# After a batch found an idempotency key already taken, this many batches look keys up first.
LOOKUP_BATCHES_AFTER_REPLAY = 16


@dataclass
class _Batch:
    """Working state of one batch while its postings are decided in order."""

    accounts: dict[int, LockedAccount] = field(default_factory=dict)
    replays: dict[tuple[int, str], Transfer] = field(default_factory=dict)
    originals: dict[int, Transfer] = field(default_factory=dict)
    reversed_ids: set[int] = field(default_factory=set)
    shapes: set[CapShape] = field(default_factory=set)
    usage: dict[tuple[CapShape, int], int] = field(default_factory=dict)  # (shape, subject account)
    earned: dict[int, tuple[int, int]] = field(default_factory=dict)  # posting index: before, after
    loaded: set[tuple[CapShape, int]] = field(default_factory=set)  # usage pairs known before the batch
    moved: list[Moved] = field(default_factory=list)  # what accepted postings moved, for usage caches
    track_moves: bool = False  # whether anything (batch caps, a usage cache) needs ``moved``
    unlocked: bool = False  # balances read without locks: track what the write must check


@dataclass(slots=True)
class _Accounts:
    """Account ids of a batch: by key, those created by it, and each posting's pair."""

    ids: Mapping[AccountKey, int]
    created: dict[AccountKey, int]
    debits: list[int]
    credits: list[int]
    touched: set[int]
    system: set[int]  # the system accounts among them
    guarded: bool  # some posting has a guard (it may write, so it must run only once)
    # Only plain postings (no cap, guard, reversal or tier, no account created here): their
    # decisions rest on balances alone, so they may be made on balances read without locks.
    plain: bool = False


_SORTED_KINDS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _shape(cap: Cap) -> CapShape:
    kinds = _SORTED_KINDS.get(cap.kinds)
    if kinds is None:  # a handful of distinct kind sets exist, asked for on every capped posting
        kinds = _SORTED_KINDS[cap.kinds] = tuple(sorted(str(kind) for kind in cap.kinds))
    return (cap.scope, kinds, cap.since)


class LedgerWriter:
    def __init__(
        self, db: Database, commits: GroupCommit[Any, Any] | None = None, metrics: Metrics | None = None
    ) -> None:
        """``commits``: a shared writer, so postings commit together with other writes."""
        self._db = db
        self._metrics = metrics
        self._ids: dict[AccountKey, int] = {}  # account ids never change
        self._preloaded: set[int] = set()
        self._tiers: dict[int, tuple[float, tuple[Tier, ...]]] = {}
        self._lookup_batches = 0  # batches left that look keys up before inserting
        self.balances_moved = 0  # batches decided without locks, then again with them
        self.commits = commits or GroupCommit(db, name="ledger")
        self.commits.register(Posting, self._apply)

    async def post(self, posting: Posting) -> PostingResult:
        return await self.commits.submit(posting)

    async def close(self) -> None:
        await self.commits.close()

    def forget_tiers(self, community_id: int) -> None:
        self._tiers.pop(community_id, None)

    # -- one batch ------------------------------------------------------------------------

    def _apply(self, conn: Connection, postings: Sequence[Posting]) -> list[PostingResult]:
        store = self._store(conn)
        accounts = self._accounts_of(store, postings)
        # Replayed keys are rare, and the unique index checks every key on insert anyway:
        # where the store can tell which rows a key conflict skipped, the batch inserts first
        # and, only if a key was taken, undoes that insert and decides again knowing the
        # replays. Guards are excluded: what they write would be written twice.
        optimistic = store.skips_taken_keys and not accounts.guarded and not self._lookup_batches
        self._lookup_batches = max(0, self._lookup_batches - 1)
        # Likewise balances: where the store can check them as it writes, plain postings are
        # decided on balances read without locks, so rows are locked only by the write, to the
        # commit, and not while the batch is decided and its transfers inserted. If another
        # writer moved them too far meanwhile, the batch is decided again under locks.
        unlocked = store.checks_balances_on_write and accounts.plain
        look_up_keys = not optimistic
        while True:
            try:
                results = self._decide_and_write(
                    store, postings, accounts, look_up_keys=look_up_keys, unlocked=unlocked
                )
            except BalancesMoved:
                self.balances_moved += 1
                unlocked = False
                continue
            if results is not None:
                break
            assert not look_up_keys
            self._lookup_batches = LOOKUP_BATCHES_AFTER_REPLAY
            look_up_keys = True
        if self._metrics is not None:
            # Counted once committed: a batch rolled back and run again is not counted twice.
            outcomes = [r.outcome.value for r in results]
            metrics = self._metrics
            after_commit(conn, lambda: metrics.observe_ledger_batch(outcomes))
        return results

    def _decide_and_write(
        self,
        store: LedgerStore,
        postings: Sequence[Posting],
        accounts: _Accounts,
        *,
        look_up_keys: bool,
        unlocked: bool = False,
    ) -> list[PostingResult] | None:
        """Decide the postings in order and write the accepted ones; None if, without
        ``look_up_keys``, an idempotency key turned out to be taken (nothing is then written).
        ``unlocked``: decide on balances read without locks; BalancesMoved (nothing written)
        if they no longer allow it at the write."""
        batch = _Batch(unlocked=unlocked)
        if unlocked:
            batch.accounts = store.read_accounts(accounts.touched, accounts.system)
        else:
            batch.accounts = store.lock_accounts(accounts.touched, accounts.system)
        if look_up_keys:
            batch.replays = self._existing(store, postings)
        self._load_reversals(store, postings, batch)
        self._load_usage(store, postings, accounts.ids, batch)
        batch.track_moves = bool(batch.shapes) or store.keeps_usage()
        tiers = self._tiers_for(store, {p.community_id for p in postings if p.tiered})

        results: list[PostingResult | None] = [None] * len(postings)
        accepted: list[tuple[int, Posting, int, int, int]] = []  # (index, posting, amount, debit, credit)
        first_with_key: dict[tuple[int, str], int] = {}
        repeats: list[tuple[int, int]] = []  # (index, index of the first posting with its key)
        replays, debits, credits, ids = batch.replays, accounts.debits, accounts.credits, accounts.ids
        for index, posting in enumerate(postings):
            key = (posting.community_id, posting.key)
            if key in first_with_key:
                repeats.append((index, first_with_key[key]))
                continue
            if replays and key in replays:
                results[index] = PostingResult(Outcome.REPLAYED, replays[key])
                continue
            debit, credit = debits[index], credits[index]
            if debit == credit:
                results[index] = PostingResult(Outcome.INVALID)
                continue
            refused, amount = self._decide(index, posting, debit, credit, ids, batch, tiers, store)
            if refused is not None:
                results[index] = refused
            else:
                first_with_key[key] = index
                accepted.append((index, posting, amount, debit, credit))

        if not look_up_keys and self._any_refused_was_posted(store, postings, results):
            return None
        transfers = self._transfers(store, accepted)
        if unlocked:
            written = store.write_checked(transfers, batch.accounts.values(), skip_taken=not look_up_keys)
            if written is None:
                return None
            transfers = written
        elif store.writes_in_one_statement:
            # Transfers and balance moves together; the ids come back from the insert.
            written = store.write_batch(transfers, self._balance_changes(batch), skip_taken=not look_up_keys)
            if written is None:
                return None
            transfers = written
        elif look_up_keys:
            store.insert_transfers(transfers)
        elif not store.insert_transfers_unless_taken(transfers):
            return None
        earned = batch.earned
        for (index, _p, _a, _d, _c), transfer in zip(accepted, transfers, strict=True):
            before, after = earned.get(index, _NOT_EARNED)
            results[index] = PostingResult(Outcome.POSTED, transfer, None, None, before, after)
        for index, first in repeats:
            first_result = results[first]
            assert first_result is not None and first_result.transfer is not None
            results[index] = PostingResult(Outcome.REPLAYED, first_result.transfer)
        if not store.writes_in_one_statement and not unlocked:
            self._update_balances(store, batch)
        self._remember_after_commit(store, batch, accounts.created)
        return results  # type: ignore[return-value]  # every index has its result now

    def _any_refused_was_posted(
        self, store: LedgerStore, postings: Sequence[Posting], results: Sequence[PostingResult | None]
    ) -> bool:
        """Whether a posting refused without looking its key up is a replay after all (a
        replayed spend may now find too few points, a replayed reversal its original reversed)."""
        refused = (
            (posting.community_id, posting.key)
            for posting, result in zip(postings, results, strict=True)
            if result is not None
        )
        return bool(store.transfers_with_any_key(refused))

    def _accounts_of(self, store: LedgerStore, postings: Sequence[Posting]) -> _Accounts:
        """The batch's account ids: by key, those created here, each posting's debit and credit,
        and all it touches (with acting members under a cap).

        Usually every account is known already: then the ids come from the cache in one pass."""
        cached = self._ids
        debits: list[int] = []
        credits: list[int] = []
        system: set[int] = set()
        guarded = False
        plain = True
        for posting in postings:
            community_id = posting.community_id
            ref = posting.debit
            debit = cached.get((community_id, ref.member_id if type(ref) is MemberAccount else ref.code))  # type: ignore[union-attr]
            if type(ref) is SystemAccount and debit is not None:
                system.add(debit)
            ref = posting.credit
            credit = cached.get((community_id, ref.member_id if type(ref) is MemberAccount else ref.code))  # type: ignore[union-attr]
            if type(ref) is SystemAccount and credit is not None:
                system.add(credit)
            if debit is None or credit is None or (posting.caps and _actor_capped(posting)):
                break  # a new account or an actor cap: the general path below
            if posting.guard is not None:
                guarded = True
            if plain and (posting.caps or posting.reverses_id is not None or posting.tiered):
                plain = False
            debits.append(debit)
            credits.append(credit)
        else:
            touched = {*debits, *credits}
            return _Accounts(cached, {}, debits, credits, touched, system, guarded, plain and not guarded)
        wanted = {(p.community_id, _key(ref)) for p in postings for ref in (p.debit, p.credit)}
        wanted |= {(p.community_id, p.actor_member_id or 0) for p in postings if _actor_capped(p)}
        ids, created = self._account_ids(store, wanted)
        debits = [ids[(p.community_id, _key(p.debit))] for p in postings]
        credits = [ids[(p.community_id, _key(p.credit))] for p in postings]
        system = {
            ids[(p.community_id, _key(ref))]
            for p in postings
            for ref in (p.debit, p.credit)
            if type(ref) is SystemAccount
        }
        guarded = any(p.guard is not None for p in postings)
        plain = not (created or guarded) and not any(
            p.caps or p.reverses_id is not None or p.tiered for p in postings
        )
        return _Accounts(ids, created, debits, credits, set(ids.values()), system, guarded, plain)

    def _remember_after_commit(
        self, store: LedgerStore, batch: _Batch, created: dict[AccountKey, int]
    ) -> None:
        """Once the batch has committed: its new account ids and balances are facts."""
        accounts = batch.accounts.values()
        sums = {pair: batch.usage[pair] for pair in batch.loaded}

        def remember() -> None:
            self._ids.update(created)
            store.remember_balances(accounts)
            store.remember_usage(sums, batch.moved)

        after_commit(store.conn, remember)

    def _decide(
        self,
        index: int,
        posting: Posting,
        debit: int,
        credit: int,
        ids: Mapping[AccountKey, int],
        batch: _Batch,
        tiers: dict[int, tuple[Tier, ...]],
        store: LedgerStore,
    ) -> tuple[PostingResult | None, int]:
        """Decide one posting against the batch state; when accepted, apply it to that state.

        Ordered so that a plain transfer (no reversal, tier, cap or guard) tests little."""
        reverses_id = posting.reverses_id
        if reverses_id is not None:
            original = batch.originals.get(reverses_id)
            if (
                original is None
                or original.community_id != posting.community_id
                or reverses_id in batch.reversed_ids
                or (original.debit_account_id, original.credit_account_id) != (credit, debit)
            ):
                return PostingResult(Outcome.INVALID), 0
        debited, credited = batch.accounts[debit], batch.accounts[credit]
        amount = posting.amount
        if posting.tiered and credited.member_id is not None:
            community_tiers = tiers.get(posting.community_id, DEFAULT_TIERS)
            earned = credited.earned + credited.earned_delta
            credited.exact = True
            amount = apply_multiplier(amount, effective_tier(community_tiers, earned, posting.tier_floor))
        actor = None
        if posting.caps:
            if posting.actor_member_id:
                actor = ids.get((posting.community_id, posting.actor_member_id))
            for cap_index, cap in enumerate(posting.caps):
                subject = credit if cap.scope is CapScope.CREDIT else actor
                left = cap.limit - batch.usage.get((_shape(cap), subject or 0), 0)
                if left <= 0 or (amount > left and not cap.clamp):
                    return PostingResult(Outcome.CAPPED, capped_by=cap_index), 0
                amount = min(amount, left)
        elif batch.track_moves and posting.actor_member_id:
            actor = ids.get((posting.community_id, posting.actor_member_id))
        if amount <= 0:
            return PostingResult(Outcome.CAPPED), 0
        if debited.member_id is not None:
            available = debited.balance + debited.delta
            if available < amount:
                debited.exact = True  # decided on the balance itself, not only on enough
                if not posting.partial or available <= 0:
                    return PostingResult(Outcome.INSUFFICIENT, available=available), 0
                amount = available
        if posting.guard is not None:
            reason = posting.guard(store.conn)
            if reason is not None:
                return PostingResult(Outcome.REFUSED, refused=reason), 0

        # Accepted: apply to the batch state so later postings in this batch see it.
        debited.delta -= amount
        credited.delta += amount
        if batch.unlocked and debited.delta < debited.low:
            debited.low = debited.delta
        if batch.track_moves:
            batch.moved.append((str(posting.kind), posting.at, credit, actor, amount))
        if reverses_id is not None:
            batch.reversed_ids.add(reverses_id)
        for shape in batch.shapes:
            scope, kinds, since = shape
            if str(posting.kind) in kinds and posting.at >= since:
                subject = credit if scope is CapScope.CREDIT else actor
                if subject is not None:
                    batch.usage[(shape, subject)] = batch.usage.get((shape, subject), 0) + amount
        if reverses_id is not None or type(posting.debit) is SystemAccount:
            earned = _earned_change(posting, amount, batch)
            if earned > 0:
                before = credited.earned + credited.earned_delta
                credited.earned_delta += earned
                credited.exact = True  # ``before`` is part of the result
                batch.earned[index] = (before, before + earned)
            elif earned < 0:
                debited.earned_delta = max(debited.earned_delta + earned, -debited.earned)
                debited.exact = True
        return None, amount

    # -- database work ------------------------------------------------------------------

    def _store(self, conn: Connection) -> LedgerStore:
        if self._db.is_sqlite:
            return SqliteLedgerStore(conn)
        return PostgresLedgerStore(conn) if conn.dialect.name == "postgresql" else LedgerStore(conn)

    def _account_ids(
        self, store: LedgerStore, keys: Iterable[AccountKey]
    ) -> tuple[dict[AccountKey, int], dict[AccountKey, int]]:
        """Account ids for ``keys``, creating missing accounts; and the ids created here.

        Committed ids are cached; ids created here only once their batch commits."""
        created: dict[AccountKey, int] = {}
        cached = self._ids
        found = {key: cached[key] for key in keys if key in cached}
        missing = [key for key in keys if key not in found]
        if missing:
            for community_id in {c for c, _ in missing} - self._preloaded:
                self._preload(store, community_id)
            found.update((key, cached[key]) for key in missing if key in cached)
            missing = [key for key in missing if key not in cached]
        if missing:
            found.update(self._lookup_accounts(store, missing))
            absent = [key for key in missing if key not in found]
            if absent:
                store.create_accounts(absent)
                # Not cached yet: this transaction may still roll back, and a cached id of an
                # account that never committed would credit whoever gets that id next.
                created = self._lookup_accounts(store, absent, remember=False)
                found.update(created)
        return found, created

    def _preload(self, store: LedgerStore, community_id: int) -> None:
        """Learn every account id of a community at once, unless it is very large."""
        self._preloaded.add(community_id)
        if store.count_accounts(community_id) > PRELOAD_LIMIT:
            return
        for account_id, member_id, code in store.community_accounts(community_id):
            self._ids[(community_id, member_id if member_id is not None else code)] = account_id  # type: ignore[index]

    def _lookup_accounts(
        self, store: LedgerStore, keys: Sequence[AccountKey], *, remember: bool = True
    ) -> dict[AccountKey, int]:
        """Ids of existing accounts among ``keys``; cached when ``remember`` (committed rows)."""
        found: dict[AccountKey, int] = {}
        for community_id, member_ids, codes in split_keys(keys):
            for account_id, member_id, code in store.find_accounts(community_id, member_ids, codes):
                found[(community_id, member_id if member_id is not None else code)] = account_id  # type: ignore[index]
        if remember:
            self._ids.update(found)
        return found

    def _existing(self, store: LedgerStore, postings: Sequence[Posting]) -> dict[tuple[int, str], Transfer]:
        found = store.transfers_with_any_key((p.community_id, p.key) for p in postings)
        return {(transfer.community_id, transfer.key): transfer for transfer in found}

    def _load_reversals(self, store: LedgerStore, postings: Sequence[Posting], batch: _Batch) -> None:
        wanted = [p.reverses_id for p in postings if p.reverses_id is not None]
        if wanted:
            batch.originals = {t.id: t for t in store.transfers_by_id(wanted)}
            batch.reversed_ids = store.reversed_among(wanted)

    def _load_usage(
        self,
        store: LedgerStore,
        postings: Sequence[Posting],
        ids: Mapping[AccountKey, int],
        batch: _Batch,
    ) -> None:
        """What each cap subject has used already: from the store's committed sums where it
        keeps them, else one grouped query per cap shape."""
        subjects: dict[CapShape, set[int]] = defaultdict(set)
        for posting in postings:
            for cap in posting.caps:
                shape = _shape(cap)
                key = _key(posting.credit) if cap.scope is CapScope.CREDIT else posting.actor_member_id or 0
                subjects[shape].add(ids[(posting.community_id, key)])
        batch.shapes = set(subjects)
        for shape, accounts in subjects.items():
            cached = store.cached_usage(shape)
            for account in accounts:
                batch.usage[(shape, account)] = cached.get(account, 0)
            batch.loaded.update((shape, account) for account in accounts)
            accounts = {account for account in accounts if account not in cached}
            if not accounts:
                continue
            scope, kinds, since = shape
            if scope is CapScope.CREDIT:
                to_account = {account: account for account in accounts}
            else:
                to_account = {batch.accounts[a].member_id: a for a in accounts if batch.accounts[a].member_id}
            by_actor = scope is CapScope.ACTOR
            wanted = [k for k in to_account if k is not None]
            for subject, used in store.usage(by_actor=by_actor, subjects=wanted, kinds=kinds, since=since):
                batch.usage[(shape, to_account[subject])] = used

    def _tiers_for(self, store: LedgerStore, community_ids: set[int]) -> dict[int, tuple[Tier, ...]]:
        now = time.monotonic()
        result: dict[int, tuple[Tier, ...]] = {}
        for community_id in community_ids:
            cached = self._tiers.get(community_id)
            if cached is None or now - cached[0] > TIER_CACHE_SECONDS:
                cached = self._tiers[community_id] = (now, store.tiers(community_id) or DEFAULT_TIERS)
            result[community_id] = cached[1]
        return result

    def _transfers(
        self, store: LedgerStore, accepted: Sequence[tuple[int, Posting, int, int, int]]
    ) -> list[Transfer]:
        """The transfers of the accepted postings (index, posting, amount, debit, credit)."""
        if not accepted:
            return []
        # Ids are allocated up front so the insert is one multi-row statement: SQLite cannot
        # promise RETURNING order for a multi-row insert. (A store that writes in one
        # statement takes them from its insert, matched by key: 0 until then.)
        new_ids = [0] * len(accepted) if store.writes_in_one_statement else store.allocate_ids(len(accepted))
        return [
            Transfer(
                new_id,
                p.community_id,
                debit,
                credit,
                amount,
                str(p.kind),
                p.memo[:300],
                p.actor_member_id,
                p.at,
                p.key,
                p.reverses_id,
            )
            for new_id, (_index, p, amount, debit, credit) in zip(new_ids, accepted, strict=True)
        ]

    def _update_balances(self, store: LedgerStore, batch: _Batch) -> None:
        changes = self._balance_changes(batch)
        if changes:
            store.add_to_balances(changes)

    @staticmethod
    def _balance_changes(batch: _Batch) -> list[tuple[int, int, int]]:
        """(account id, balance delta, earned delta) of each account the batch moves."""
        return [(a.id, a.delta, a.earned_delta) for a in batch.accounts.values() if a.delta or a.earned_delta]


def _key(ref: AccountRef) -> int | str:
    """An account's key within its community (``_accounts_of`` inlines this on its fast path;
    a SystemCode is a StrEnum, so as a key it equals its text)."""
    return ref.member_id if type(ref) is MemberAccount else ref.code  # type: ignore[union-attr]


def _actor_capped(posting: Posting) -> bool:
    return posting.actor_member_id is not None and any(c.scope is CapScope.ACTOR for c in posting.caps)


def _earned_change(posting: Posting, amount: int, batch: _Batch) -> int:
    """Lifetime earned rises with earning credits from issuance and falls with their reversal."""
    if isinstance(posting.debit, SystemAccount) and posting.debit.code is SystemCode.ISSUANCE:
        return amount if posting.kind in EARNING_KINDS else 0
    if posting.reverses_id is not None and posting.credit == SystemAccount(SystemCode.ISSUANCE):
        original = batch.originals.get(posting.reverses_id)
        if original is not None and original.kind in EARNING_KINDS:
            return -amount
    return 0
