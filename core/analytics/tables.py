"""What the analytics job keeps: each member's score and segments, each run's summary, the
names creators give clusters, and recorded marketing spend."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

member_scores = Table(
    "member_scores",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("engagement_tenths", Integer, nullable=False),  # the score × 10 (0-1000)
    Column("cluster", Integer, nullable=False),  # K-means cluster number, 0 if none
    Column("segments", String(100), nullable=False),  # the rule segments, comma-separated
    Column("computed_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("community_id", "member_id", name="pk_member_scores"),
)

analytics_runs = Table(
    "analytics_runs",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id"), primary_key=True),
    Column("computed_at", UTCDateTime, nullable=False),
    Column("summary", Text, nullable=False),  # JSON: counts, cohorts, revenue, clusters, forecasts
)

segment_names = Table(
    "segment_names",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("cluster", Integer, nullable=False),
    Column("name", String(40), nullable=False),
    PrimaryKeyConstraint("community_id", "cluster", name="pk_segment_names"),
    UniqueConstraint("community_id", "name", name="uq_segment_names_name"),
)

marketing_spend = Table(
    "marketing_spend",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("actor_member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("spent_at", UTCDateTime, nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
)
