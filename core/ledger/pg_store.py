"""The ledger writer's hot statements on PostgreSQL, set-based: one statement each per batch.

Measured (bench/ledger_pg.py, 1,000-posting batches): through ``executemany`` the transfer
insert and the balance updates were one server execution per row, about 80% of a batch's
time in SQL; the account lock took one ``SELECT … FOR UPDATE`` per 500 ids and the key lookup
one more statement. Here the batch locks its accounts with one statement (rows locked in id
order, the order every writer uses, so two batches touching the same accounts queue instead
of deadlocking), inserts its transfers from arrays skipping taken keys (the writer then needs
no lookup first, see ``LedgerWriter._apply``), and moves every balance with one UPDATE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import text

from core.ledger.models import Transfer
from core.ledger.store import TRANSFER_COLUMNS, LedgerStore, LockedAccount
from core.ledger.tables import ledger_transfers
from core.storage.pg_bulk import insert_unnest

# ORDER BY below FOR UPDATE: PostgreSQL locks rows as they leave the sort, so in id order.
_LOCK = text(
    "SELECT id, member_id, balance, earned FROM ledger_accounts"
    " WHERE id = ANY(CAST(:ids AS BIGINT[])) ORDER BY id FOR UPDATE"
)
_ADD = text(
    "UPDATE ledger_accounts AS a SET balance = a.balance + t.delta, earned = a.earned + t.earned_delta"
    " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:deltas AS BIGINT[]), CAST(:earned AS BIGINT[]))"
    " AS t(id, delta, earned_delta) WHERE a.id = t.id"
)
_UNDO = text("DELETE FROM ledger_transfers WHERE id = ANY(CAST(:ids AS BIGINT[]))")
_KEY = ("community_id", "idempotency_key")


class PostgresLedgerStore(LedgerStore):
    skips_taken_keys = True

    def lock_accounts(self, account_ids: Iterable[int]) -> dict[int, LockedAccount]:
        rows = self.conn.execute(_LOCK, {"ids": sorted(account_ids)})
        return {row[0]: LockedAccount(*row) for row in rows}

    def add_to_balances(self, changes: Sequence[tuple[int, int, int]]) -> None:
        # Sorted like the locks: the rows are all locked already, the order only keeps it tidy.
        ordered = sorted(changes)
        self.conn.execute(
            _ADD,
            {
                "ids": [c[0] for c in ordered],
                "deltas": [c[1] for c in ordered],
                "earned": [c[2] for c in ordered],
            },
        )

    def insert_transfers(self, transfers: Sequence[Transfer]) -> None:
        # A key taken meanwhile still fails the batch, as the writer expects after a lookup.
        insert_unnest(self.conn, ledger_transfers, TRANSFER_COLUMNS, transfers)

    def insert_transfers_unless_taken(self, transfers: Sequence[Transfer]) -> bool:
        # One statement that skips rows whose key is taken (waiting, as a unique index does,
        # for a transaction inserting the same key to finish); if it skipped any, the rows it
        # did insert are deleted again by their ids (allocated to this batch).
        inserted = insert_unnest(self.conn, ledger_transfers, TRANSFER_COLUMNS, transfers, conflict=_KEY)
        if inserted == len(transfers):
            return True
        self.conn.execute(_UNDO, {"ids": [t.id for t in transfers]})
        return False
