"""Referral codes, who referred whom, commission rates, commissions and their money ledger."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

# Each member's code, made on first use (random, so codes cannot be guessed in turn).
referral_codes = Table(
    "referral_codes",
    metadata,
    Column("member_id", BigId, ForeignKey("members.id"), primary_key=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("code", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("community_id", "code", name="uq_referral_codes_code"),
)

# One referrer per member: the first valid code they started with.
referrals = Table(
    "referrals",
    metadata,
    Column("referee_member_id", BigId, ForeignKey("members.id"), primary_key=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("referrer_member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("attributed_at", UTCDateTime, nullable=False),
    Column("joined_at", UTCDateTime, nullable=True),  # the referee first took part
    Column("join_points", Integer, nullable=False, server_default="0"),  # what the referrer got for it
    Column("first_order_id", BigId, ForeignKey("orders.id"), nullable=True),
    Column("purchase_points", Integer, nullable=False, server_default="0"),
    CheckConstraint("referee_member_id <> referrer_member_id", name="not_self"),
    Index("ix_referrals_referrer", "referrer_member_id"),
)

# Commission rates in basis points (1250 = 12.5%): per product, or for every product ("all", 0).
commission_rates = Table(
    "commission_rates",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id"), primary_key=True),
    Column("product_kind", String(10), primary_key=True),  # course | bundle | plan | all
    Column("product_id", BigId, primary_key=True),
    Column("level1_bp", Integer, nullable=False),
    Column("level2_bp", Integer, nullable=False, server_default="0"),
    CheckConstraint("level1_bp BETWEEN 0 AND 10000 AND level2_bp BETWEEN 0 AND 10000", name="bp_range"),
    CheckConstraint("level1_bp + level2_bp <= 10000", name="bp_total"),
)

# What one order owes one earner (level 1: the buyer's referrer; level 2: theirs). Its state
# moves by conditional UPDATEs, each with its transfer in the same transaction.
commissions = Table(
    "commissions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("level", Integer, nullable=False),
    Column("earner_member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("buyer_member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reversed_minor", BigInteger, nullable=False, server_default="0"),  # taken back by refunds
    Column("status", String(10), nullable=False),  # pending | available
    Column("available_at", UTCDateTime, nullable=False),  # the end of the hold
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("level IN (1, 2)", name="level_known"),
    CheckConstraint("amount_minor > 0 AND reversed_minor BETWEEN 0 AND amount_minor", name="amounts"),
    CheckConstraint("status IN ('pending', 'available')", name="status_known"),
    UniqueConstraint("order_id", "level", name="uq_commissions_order_level"),
    Index("ix_commissions_status_available_at", "status", "available_at"),
    Index("ix_commissions_earner", "earner_member_id"),
)

# The commission money ledger, double entry: every movement is one immutable row from a debit
# account to a credit account with a unique key. Accounts: "expense" (the community's cost),
# "pending:ID", "available:ID" and "paid:ID" per earning member. Balances are sums of rows.
commission_transfers = Table(
    "commission_transfers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("debit_account", String(40), nullable=False),
    Column("credit_account", String(40), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(20), nullable=False),  # accrual | release | cancel | clawback | payout
    Column("commission_id", BigId, ForeignKey("commissions.id"), nullable=True),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),  # the earner
    Column("reference", String(200), nullable=False, server_default=""),  # a payout's bank reference
    Column("actor_member_id", BigId, ForeignKey("members.id"), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("debit_account <> credit_account", name="two_accounts"),
    UniqueConstraint("community_id", "idempotency_key", name="uq_commission_transfers_key"),
    Index("ix_commission_transfers_member", "member_id", "currency"),
)
