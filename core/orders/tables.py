"""Orders: what a member is buying, at the price fixed when the order was made."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
)

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

orders = Table(
    "orders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("product_kind", String(20), nullable=False),  # course (bundles and plans later)
    Column("product_id", BigId, nullable=False),
    Column("title", String(200), nullable=False),  # as it was when ordered
    Column("list_minor", BigInteger, nullable=False),  # the price before any coupon
    Column("amount_minor", BigInteger, nullable=False),  # what the member pays
    Column("coupon_id", BigId, ForeignKey("coupons.id"), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),  # pending, paid, fulfilled, cancelled, expired
    Column("provider", String(20), nullable=False),  # sandbox, stripe, stars, points
    Column("provider_ref", String(200), nullable=True),  # the provider's payment id
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime, nullable=True),
    Column("fulfilled_at", UTCDateTime, nullable=True),
    Column("refunded_minor", BigInteger, nullable=False, server_default="0"),  # refunded so far
    Column("purchase_points", BigInteger, nullable=False, server_default="0"),  # points the purchase earned
    # Points paying part of the price (core/orders/offsets.py): how many, what they are worth
    # (amount_minor is the price less the coupon and this), and where they are: wanted, held,
    # spent or released ('' without points).
    Column("offset_points", BigInteger, nullable=False, server_default="0"),
    Column("offset_minor", BigInteger, nullable=False, server_default="0"),
    Column("offset_state", String(10), nullable=False, server_default=""),
    CheckConstraint("amount_minor >= 0 AND amount_minor <= list_minor", name="amount_within_list"),
    CheckConstraint("refunded_minor BETWEEN 0 AND amount_minor", name="refund_within_amount"),
    CheckConstraint("offset_points >= 0 AND offset_minor >= 0", name="offset_not_negative"),
    CheckConstraint(
        "status IN ('pending', 'paid', 'fulfilled', 'cancelled', 'expired', 'refunded')", name="status_known"
    ),
    Index("ix_orders_member_status", "member_id", "status"),
    Index("ix_orders_status_expires", "status", "expires_at"),
    Index("ix_orders_provider_ref", "provider", "provider_ref"),
    Index("ix_orders_offset_state", "offset_state"),  # the orders job's look for unsettled points
    # The dashboard's order list, newest first (keyset on created_at, id), whole or by state
    # or product: each filter walks its own index instead of a year of orders.
    Index("ix_orders_community_created", "community_id", "created_at", "id"),
    Index("ix_orders_community_status_created", "community_id", "status", "created_at", "id"),
    Index(
        "ix_orders_community_product_created",
        "community_id",
        "product_kind",
        "product_id",
        "created_at",
        "id",
    ),
)

# Provider events already handled (webhook deliveries), so a redelivery is skipped early.
payment_events = Table(
    "payment_events",
    metadata,
    Column("provider", String(20), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("order_id", BigId, nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("provider", "event_id", name="pk_payment_events"),
)
