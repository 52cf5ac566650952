"""Helpers for the ledger's tests: balances read stale, as by a batch that read them before
another writer committed."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from unittest.mock import patch

from core.ledger.pg_store import PostgresLedgerStore
from core.ledger.store import LockedAccount


@contextmanager
def stale_reads(offset: Callable[[LockedAccount], int]) -> Iterator[None]:
    """Balances (and lifetime earned) that PostgreSQL batches read without locks come back off
    by ``offset(account)``, never below zero: what a batch would see had it read them before
    another writer moved them. Locked reads stay exact."""
    read = PostgresLedgerStore.read_accounts

    def stale(
        self: PostgresLedgerStore, account_ids: Iterable[int], system: Collection[int] = frozenset()
    ) -> dict[int, LockedAccount]:
        accounts = read(self, account_ids, system)
        for account in accounts.values():
            if account.member_id is not None:
                account.balance = max(0, account.balance + offset(account))
                account.earned = max(0, account.earned + offset(account))
        return accounts

    with patch.object(PostgresLedgerStore, "read_accounts", stale):
        yield
