"""Push campaigns, their outbox (one row per recipient), mutes and automation texts."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

push_campaigns = Table(
    "push_campaigns",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    # push (a creator's), or an automation: welcome0, welcome1, welcome3, winback
    Column("kind", String(20), nullable=False),
    Column("segment", String(60), nullable=False),
    Column("text_a", Text, nullable=True),  # None: the automation's default text, translated
    Column("text_b", Text, nullable=True),  # set: an A/B test
    Column("status", String(20), nullable=False),
    Column("send_at", UTCDateTime, nullable=False),
    Column("seed", Integer, nullable=False),  # the A/B split's random seed
    Column("created_by", BigId, ForeignKey("members.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    CheckConstraint("status IN ('draft', 'scheduled', 'sending', 'done', 'cancelled')", name="status_known"),
    Index("ix_push_campaigns_status_send_at", "status", "send_at"),
)

push_outbox = Table(
    "push_outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("campaign_id", BigId, ForeignKey("push_campaigns.id"), nullable=False),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("variant", String(1), nullable=False),  # a or b
    Column("platform", String(20), nullable=True),  # None: no reachable account
    Column("account", String(100), nullable=True),
    Column("locale", String(10), nullable=False),  # the recipient's language when confirmed
    Column("status", String(10), nullable=False),  # pending, sending, sent, skipped, failed
    Column("reason", String(40), nullable=True),  # why skipped or failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claim_token", String(32), nullable=True),  # the worker holding the lease
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("not_before", UTCDateTime, nullable=True),  # retry later (after a failure)
    Column("sent_at", UTCDateTime, nullable=True),
    Column("message_id", String(100), nullable=True),  # the platform's id for the sent message
    Column("subject", BigId, nullable=True),  # `recommended`: the course this row recommended
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('pending', 'sending', 'sent', 'skipped', 'failed')", name="status_known"),
    CheckConstraint("variant IN ('a', 'b')", name="variant_known"),
    UniqueConstraint("campaign_id", "member_id", name="uq_push_outbox_recipient"),
    Index("ix_push_outbox_status_campaign", "status", "campaign_id"),
    Index("ix_push_outbox_member_sent", "member_id", "sent_at"),
)

push_mutes = Table(
    "push_mutes",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("muted_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("community_id", "member_id", name="pk_push_mutes"),
)

push_automation_texts = Table(
    "push_automation_texts",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # welcome0, welcome1, welcome3, winback
    Column("text", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("community_id", "kind", name="pk_push_automation_texts"),
)

# The pace of one bot on one platform, shared by every process sending on it (PostgreSQL; on
# SQLite one process paces in memory): the time, in the database server's clock (seconds since
# the epoch), when the next message may go, and when a 429 pause ends. A process reserves the
# next slots by moving ``next_at`` on in one UPDATE (core/pushes/shared_pacing.py).
pace_buckets = Table(
    "pace_buckets",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("bot", String(64), primary_key=True),  # a hash of the bot's token, never the token
    Column("next_at", Double, nullable=False, server_default="0"),
    Column("paused_until", Double, nullable=False, server_default="0"),
)
