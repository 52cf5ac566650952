"""Ledger tables: accounts with balances guarded by CHECK, immutable transfers, tiers.

Balances are a cache of the transfers, kept in the same transaction as each transfer; the
database refuses a member balance below zero and a repeated idempotency key.
"""

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    func,
    select,
    text,
)

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=True),  # a member's points
    Column("code", String(40), nullable=True),  # a system account: issuance, expiry, escrow…
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("earned", BigInteger, nullable=False, server_default="0"),  # lifetime participation, for tiers
    CheckConstraint("member_id IS NULL OR balance >= 0", name="member_not_negative"),
    CheckConstraint("(member_id IS NULL) <> (code IS NULL)", name="member_or_system"),
    UniqueConstraint("community_id", "member_id", name="uq_ledger_accounts_member"),
    UniqueConstraint("community_id", "code", name="uq_ledger_accounts_code"),
)

# Balance changes of system accounts, in a few stripes each (written on PostgreSQL, see
# core/ledger/pg_store.py): a system account (issuance above all) is in nearly every batch, and
# one row locked and updated by each would make every writer wait for every other, in this
# process and all others. A system account's balance is its row's plus its stripes'
# (``effective_balance``); member accounts have no stripes.
ledger_balance_stripes = Table(
    "ledger_balance_stripes",
    metadata,
    Column("account_id", BigId, ForeignKey("ledger_accounts.id"), primary_key=True),
    Column("stripe", SmallInteger, primary_key=True, autoincrement=False),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("earned", BigInteger, nullable=False, server_default="0"),
)


def effective_balance(account: Any = None) -> ColumnElement[int]:
    """An account's balance in SQL: its row's plus its stripes' (``account``: the table or an
    alias of ledger_accounts)."""
    account = ledger_accounts if account is None else account
    striped = (
        select(func.coalesce(func.sum(ledger_balance_stripes.c.balance), 0))
        .where(ledger_balance_stripes.c.account_id == account.c.id)
        .scalar_subquery()
    )
    return (account.c.balance + striped).label("balance")


def effective_sql(column: str = "balance", alias: str = "a") -> str:
    """``effective_balance`` (or earned) as SQL text, for raw queries over ledger_accounts
    under ``alias``."""
    return (
        f"({alias}.{column} + COALESCE((SELECT SUM(s.{column}) FROM ledger_balance_stripes s"
        f" WHERE s.account_id = {alias}.id), 0))"
    )


ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("debit_account_id", BigId, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit_account_id", BigId, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("memo", String(300), nullable=False),
    Column("actor_member_id", BigId, ForeignKey("members.id"), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("reverses_id", BigId, ForeignKey("ledger_transfers.id"), nullable=True),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
    UniqueConstraint("community_id", "idempotency_key", name="uq_ledger_transfers_key"),
    Index("ix_ledger_transfers_credit_at", "credit_account_id", "at"),
    Index("ix_ledger_transfers_debit_at", "debit_account_id", "at"),
    Index("ix_ledger_transfers_community_kind_at", "community_id", "kind", "at"),
    # Partial indexes: most transfers have neither, and every index costs each posting a page.
    Index(
        "uq_ledger_transfers_reverses",
        "reverses_id",
        unique=True,
        sqlite_where=text("reverses_id IS NOT NULL"),
        postgresql_where=text("reverses_id IS NOT NULL"),
    ),
    Index(
        "ix_ledger_transfers_actor_at",
        "actor_member_id",
        "at",
        sqlite_where=text("actor_member_id IS NOT NULL"),
        postgresql_where=text("actor_member_id IS NOT NULL"),
    ),
)

ledger_tiers = Table(
    "ledger_tiers",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id"), primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("threshold", BigInteger, nullable=False),  # lifetime earned points to reach it
    Column("multiplier_pct", Integer, nullable=False),  # 150 = participation points x1.5
    CheckConstraint("threshold >= 0", name="threshold_not_negative"),
    CheckConstraint("multiplier_pct BETWEEN 0 AND 1000", name="multiplier_range"),
)
