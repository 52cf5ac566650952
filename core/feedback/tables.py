"""Feedback tickets (one per /feedback) and NPS answers (one per member per survey)."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

feedback_tickets = Table(
    "feedback_tickets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("platform", String(20), nullable=False),  # where it was written: the answer goes there
    Column("key", String(200), nullable=False),  # from the event: sent twice, recorded once
    Column("text", String(2000), nullable=False),
    Column("status", String(10), nullable=False),  # open | answered | closed
    Column("created_at", UTCDateTime, nullable=False),
    Column("answer", String(2000), nullable=True),  # the latest answer
    Column("answered_by", BigId, ForeignKey("members.id"), nullable=True),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("closed_by", BigId, ForeignKey("members.id"), nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    CheckConstraint("status IN ('open', 'answered', 'closed')", name="status_known"),
    UniqueConstraint("community_id", "key", name="uq_feedback_tickets_key"),
    Index("ix_feedback_tickets_status", "community_id", "status", "id"),
    Index("ix_feedback_tickets_member", "member_id"),
)

nps_answers = Table(
    "nps_answers",
    metadata,
    Column("campaign_id", BigId, ForeignKey("push_campaigns.id"), nullable=False),  # the survey
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("score", Integer, nullable=False),
    Column("platform", String(20), nullable=False),
    Column("answered_at", UTCDateTime, nullable=False),
    CheckConstraint("score >= 0 AND score <= 10", name="score_0_to_10"),
    PrimaryKeyConstraint("campaign_id", "member_id", name="pk_nps_answers"),  # once per survey
    Index("ix_nps_answers_member", "member_id"),
)
