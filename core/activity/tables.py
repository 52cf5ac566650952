"""The activity table: who did what kind of thing where and when (no message text)."""

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

activity = Table(
    "activity",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("chat_id", BigId, ForeignKey("chats.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("text_length", Integer, nullable=False),
    # What the row records, as the platform names it ("telegram:<chat>:<message>"): an update
    # delivered twice (its process died before answering) is counted once. None: no such id.
    Column("source", String(200), nullable=True),
    Index("ix_activity_community_at", "community_id", "at"),
    Index("ix_activity_member_at", "member_id", "at"),
    Index("uq_activity_source", "community_id", "source", unique=True),
)
