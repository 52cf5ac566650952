"""The audit log table."""

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_member_id", BigId, ForeignKey("members.id"), nullable=True),  # None: system
    Column("action", String(50), nullable=False),
    Column("subject_member_id", BigId, ForeignKey("members.id"), nullable=True),
    Column("detail", Text, nullable=False),  # JSON object
    Index("ix_audit_log_community_at", "community_id", "at"),
    Index("ix_audit_log_subject_at", "subject_member_id", "at"),  # one member's entries (an order's timeline)
)
