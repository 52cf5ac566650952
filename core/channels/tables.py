"""Tagged entry channels, every tagged arrival, and each member's first and last touch."""

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

# A creator's tagged entry point; the tag is lower case so it matches /spend's channel names.
channels = Table(
    "channels",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("tag", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_by", BigId, ForeignKey("members.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("community_id", "tag", name="uq_channels_tag"),
)

# Every tagged arrival: last-touch credit for an order goes to the newest touch before it.
channel_touches = Table(
    "channel_touches",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("channel_id", BigId, ForeignKey("channels.id"), nullable=False),
    Column("via", String(20), nullable=False),  # telegram | discord | wechat | console | web
    Column("touched_at", UTCDateTime, nullable=False),
    Index("ix_channel_touches_member_touched", "member_id", "touched_at"),
    Index("ix_channel_touches_channel", "channel_id"),
)

# One row per touched member: the first touch never changes; the last follows each new entry.
channel_attribution = Table(
    "channel_attribution",
    metadata,
    Column("member_id", BigId, ForeignKey("members.id"), primary_key=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("first_channel_id", BigId, ForeignKey("channels.id"), nullable=False),
    Column("first_at", UTCDateTime, nullable=False),
    Column("last_channel_id", BigId, ForeignKey("channels.id"), nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    Index("ix_channel_attribution_community", "community_id"),
)
