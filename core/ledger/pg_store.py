"""The ledger writer's hot statements on PostgreSQL, set-based: a batch is two statements.

Measured (bench/ledger_pg.py, batches of about 500 postings): through ``executemany`` the
transfer insert and the balance updates were one server execution per row, about 80% of a
batch's time in SQL; the account lock took one ``SELECT … FOR UPDATE`` per 500 ids, the key
lookup and the id allocation one statement each. Here a batch locks its accounts with one
statement (rows locked in id order, the order every writer uses, so two batches touching the
same accounts queue instead of deadlocking), then writes everything with one more: the
transfers from unnest() arrays, skipping taken keys (so the writer needs no lookup first, see
``LedgerWriter._apply``), their ids returned, and every balance moved by one UPDATE that runs
only if no key was taken. Locks are held for that one statement and the commit.

A batch of plain postings (no cap, guard, reversal or tier) locks nothing until it writes. It
reads its balances without locks and is decided on them; its transfers go in, then one
statement (``_MOVE_CHECKED``) locks the rows in id order, checks that each still has what the
batch's lowest point on it needs (and exactly the values read, where a decision used them: a
refusal, a partial amount, lifetime earned), and moves them only if all do. Otherwise the
insert is undone and the writer decides the batch again under locks (BalancesMoved). Locks are
then held for 2.5 to 5 ms of a batch's 60 to 90 ms instead of about 50: several processes posting
among the same members overlap their batches instead of queueing (bench/processes.py).

System accounts are not locked, and their rows not updated: nearly every batch moves one
(issuance, for every earning), so each batch would wait for the one before it, in every
process. Their changes go to one of a few stripes (``ledger_balance_stripes``) chosen by the
connection's server process id, in the same statement; a system account's balance is its row's
plus its stripes'. No rule reads a system account's balance (only members' may not go below
zero), so nothing needs it locked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import TextClause

from core.ledger.models import Transfer
from core.ledger.store import TRANSFER_COLUMNS, BalancesMoved, LedgerStore, LockedAccount
from core.ledger.tables import ledger_transfers
from core.storage.pg_bulk import column_arrays, unnest_insert

# ORDER BY below the lock: PostgreSQL locks rows as they leave the sort, so in id order. FOR NO
# KEY UPDATE is the lock the balance UPDATE takes anyway: it keeps other writers off these rows,
# but not another transaction's foreign-key check on them (a transfer inserted elsewhere that
# names one of these accounts), which FOR UPDATE would hold up until this batch commits.
_LOCK = text(
    "SELECT id, member_id, balance, earned FROM ledger_accounts"
    " WHERE id = ANY(CAST(:ids AS BIGINT[])) ORDER BY id FOR NO KEY UPDATE"
)
_READ = text(
    "SELECT id, member_id, balance, earned FROM ledger_accounts WHERE id = ANY(CAST(:ids AS BIGINT[]))"
)
_UNDO = text("DELETE FROM ledger_transfers WHERE id = ANY(CAST(:ids AS BIGINT[]))")
# What each cap subject has used: one index probe per subject (credit_account_id, or
# actor_member_id, then at), planned at each execution. A generic plan, which PostgreSQL may keep
# after five executions, is made from the statistics of that moment; on a table that grows from
# empty (a new database, autovacuum off or behind) it could stay a sequential scan as the table
# grew: in the ingest benchmark the rate fell from about 5,000 events/s to 800. The mode holds
# from there to the batch's commit, so the batch's foreign-key checks are planned each time too:
# that cost less than a round trip to set it back (measured). Batches without caps (transfers,
# purchases) keep cached plans: for their checks, planning would cost more than the checks (35 ms
# instead of 14 for 1,000 transfers).
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
_USAGE = {
    column: text(
        "SELECT s.subject, (SELECT coalesce(sum(t.amount), 0) FROM ledger_transfers AS t"
        f" WHERE t.{column} = s.subject AND t.at >= :since AND t.kind = ANY(CAST(:kinds AS VARCHAR[])))"
        " FROM unnest(CAST(:subjects AS BIGINT[])) AS s(subject)"
    ).bindparams(bindparam("since", type_=ledger_transfers.c.at.type))
    for column in ("credit_account_id", "actor_member_id")
}
_STRIPES = 16  # per system account: writers on different connections rarely share one
_COLUMNS = TRANSFER_COLUMNS[1:]  # the id comes from the table's sequence
_KEY = ("community_id", "idempotency_key")


def _stripes(condition: str) -> str:
    """The statement moving system accounts' balances: into this connection's stripes."""
    return (
        "INSERT INTO ledger_balance_stripes AS s (account_id, stripe, balance, earned)"
        f" SELECT t.id, pg_backend_pid() % {_STRIPES}, t.delta, t.earned_delta"
        " FROM unnest(CAST(:system_ids AS BIGINT[]), CAST(:system_deltas AS BIGINT[]),"
        " CAST(:system_earned AS BIGINT[])) AS t(id, delta, earned_delta)"
        f" WHERE {condition}"
        " ON CONFLICT (account_id, stripe)"
        " DO UPDATE SET balance = s.balance + excluded.balance, earned = s.earned + excluded.earned"
    )


@lru_cache(maxsize=2)
def _insert(skip_taken: bool) -> TextClause:
    return unnest_insert(
        ledger_transfers,
        _COLUMNS,
        conflict=_KEY if skip_taken else None,
        returning="id, community_id, idempotency_key",
    )


@lru_cache(maxsize=2)
def _write(skip_taken: bool) -> TextClause:
    """Insert the transfers and, only if all went in, move the balances (members' rows, system
    accounts' stripes): one statement."""
    return text(
        f"WITH inserted AS ({_insert(skip_taken).text}),"
        " moved AS (UPDATE ledger_accounts AS a"
        " SET balance = a.balance + t.delta, earned = a.earned + t.earned_delta"
        " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:deltas AS BIGINT[]), CAST(:earned AS BIGINT[]))"
        " AS t(id, delta, earned_delta)"
        " WHERE a.id = t.id AND (SELECT count(*) FROM inserted) = :expected),"
        f" striped AS ({_stripes('(SELECT count(*) FROM inserted) = :expected')})"
        " SELECT id, community_id, idempotency_key FROM inserted"
    )


# Balances read without locks, moved only if all still allow what the batch decided. The rows
# are locked here, in id order as by _LOCK, and held only from here to the commit; after
# waiting for a row, PostgreSQL checks the condition again on its latest version, and a row
# that fails it is left out. Unless every row qualified, nothing moves: the batch is then
# decided again under locks.
_MOVE_CHECKED = text(
    "WITH t AS (SELECT * FROM unnest(CAST(:ids AS BIGINT[]), CAST(:deltas AS BIGINT[]),"
    " CAST(:earned AS BIGINT[]), CAST(:needs AS BIGINT[]), CAST(:balances AS BIGINT[]),"
    " CAST(:earned_before AS BIGINT[])) AS t(id, delta, earned_delta, need, balance, earned)),"
    " locked AS (SELECT a.id FROM ledger_accounts AS a JOIN t ON a.id = t.id"
    " WHERE a.balance >= t.need AND (t.balance IS NULL OR (a.balance = t.balance AND a.earned = t.earned))"
    " ORDER BY a.id FOR NO KEY UPDATE OF a),"
    " qualified AS (SELECT count(*) = :expected AS ok FROM locked),"
    " moved AS (UPDATE ledger_accounts AS a"
    " SET balance = a.balance + t.delta, earned = a.earned + t.earned_delta"
    " FROM t WHERE a.id = t.id AND (SELECT ok FROM qualified)),"
    f" striped AS ({_stripes('(SELECT ok FROM qualified)')})"
    " SELECT ok FROM qualified"
)


class PostgresLedgerStore(LedgerStore):
    skips_taken_keys = True
    writes_in_one_statement = True
    checks_balances_on_write = True

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._system: frozenset[int] = frozenset()
        self._plans_each_time = False  # this batch's transaction has set plan_cache_mode

    def lock_accounts(
        self, account_ids: Iterable[int], system: Collection[int] = frozenset()
    ) -> dict[int, LockedAccount]:
        return self._accounts(_LOCK, account_ids, system)

    def read_accounts(
        self, account_ids: Iterable[int], system: Collection[int] = frozenset()
    ) -> dict[int, LockedAccount]:
        return self._accounts(_READ, account_ids, system)

    def _accounts(
        self, statement: TextClause, account_ids: Iterable[int], system: Collection[int]
    ) -> dict[int, LockedAccount]:
        self._system = frozenset(system)
        members = sorted(set(account_ids) - self._system)
        found = {row[0]: LockedAccount(*row) for row in self.conn.execute(statement, {"ids": members})}
        # Not read, not locked: a system account's balance decides nothing (see the docstring).
        found.update((account_id, LockedAccount(account_id, None, 0, 0)) for account_id in self._system)
        return found

    def usage(
        self, *, by_actor: bool, subjects: Sequence[int], kinds: Sequence[str], since: datetime
    ) -> list[tuple[int, int]]:
        statement = _USAGE["actor_member_id" if by_actor else "credit_account_id"]
        params = {"subjects": sorted(subjects), "kinds": list(kinds), "since": since}
        if not self._plans_each_time:  # once a batch, whatever its number of cap shapes
            self.conn.execute(_CUSTOM_PLANS)  # from here to the batch's commit
            self._plans_each_time = True
        return [(subject, int(used)) for subject, used in self.conn.execute(statement, params) if used]

    def write_batch(
        self, transfers: Sequence[Transfer], changes: Sequence[tuple[int, int, int]], *, skip_taken: bool
    ) -> list[Transfer] | None:
        if not transfers:
            if changes:
                self.add_to_balances(changes)
            return []
        # Id order: the member rows are locked already; stripes are taken in this order.
        ordered = sorted(changes)
        members = [c for c in ordered if c[0] not in self._system]
        params = column_arrays(ledger_transfers, _COLUMNS, [t[1:] for t in transfers])
        params.update(self._system_changes(ordered), expected=len(transfers))
        params.update(ids=[c[0] for c in members], deltas=[c[1] for c in members])
        params["earned"] = [c[2] for c in members]
        ids = _returned_ids(self.conn.execute(_write(skip_taken), params))
        if len(ids) < len(transfers):
            # A key was taken (the insert skipped it, waiting first for any transaction
            # inserting it): nothing moved; the rows that did go in are deleted again.
            self.conn.execute(_UNDO, {"ids": list(ids.values())})
            return None
        return [t._replace(id=ids[(t.community_id, t.key)]) for t in transfers]

    def write_checked(
        self, transfers: Sequence[Transfer], accounts: Collection[LockedAccount], *, skip_taken: bool
    ) -> list[Transfer] | None:
        # Two statements, so the row locks (taken by the second) are not held through the
        # insert and its foreign-key checks.
        system = self._system
        members = sorted(
            (a for a in accounts if a.id not in system and (a.delta or a.earned_delta or a.low or a.exact)),
            key=lambda a: a.id,
        )
        ids: dict[tuple[int, str], int] = {}
        if transfers:
            params = column_arrays(ledger_transfers, _COLUMNS, [t[1:] for t in transfers])
            ids = _returned_ids(self.conn.execute(_insert(skip_taken), params))
        if len(ids) == len(transfers):
            moved_system = sorted((a.id, a.delta, a.earned_delta) for a in accounts if a.id in system)
            params = {
                "ids": [a.id for a in members],
                "deltas": [a.delta for a in members],
                "earned": [a.earned_delta for a in members],
                "needs": [-a.low for a in members],
                "balances": [a.balance if a.exact else None for a in members],
                "earned_before": [a.earned if a.exact else None for a in members],
                "expected": len(members),
                **self._system_changes(moved_system),
            }
            if self.conn.execute(_MOVE_CHECKED, params).scalar_one():
                return [t._replace(id=ids[(t.community_id, t.key)]) for t in transfers]
        if ids:  # a key was taken (see write_batch), or a balance moved: undo the insert
            self.conn.execute(_UNDO, {"ids": list(ids.values())})
        if len(ids) < len(transfers):
            return None
        raise BalancesMoved

    def _system_changes(self, changes: Sequence[tuple[int, int, int]]) -> dict[str, list[int]]:
        """The system accounts' part of ``changes`` (sorted by id), as the stripes' parameters."""
        system = [c for c in changes if c[0] in self._system and (c[1] or c[2])]
        return {
            "system_ids": [c[0] for c in system],
            "system_deltas": [c[1] for c in system],
            "system_earned": [c[2] for c in system],
        }


def _returned_ids(rows: Iterable[Any]) -> dict[tuple[int, str], int]:
    """The ids an insert returned, by (community, key). A key is unique with its community, and
    a batch never holds one twice (the writer dedupes): fewer than the transfers means a key
    was taken (the insert skipped it)."""
    return {(community_id, key): new_id for new_id, community_id, key in rows}
