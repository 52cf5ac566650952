"""Tables for communities, members, identities and chats."""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
)

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

communities = Table(
    "communities",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("default_locale", String(10), nullable=False),
    Column("timezone", String(64), nullable=False),
    # Set once the owner member exists; the owner can never be demoted.
    Column("owner_member_id", BigId, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("display_name", String(200), nullable=False),
    # display_name.casefold(), computed in Python: SQLite's lower() only folds ASCII.
    Column("name_key", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("locale", String(10), nullable=True),  # None: follow platform hint / community
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("role IN ('learner', 'moderator', 'creator')", name="role_known"),
    Index("ix_members_community_name", "community_id", "name_key"),
)

identities = Table(
    "identities",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False, index=True),
    Column("platform", String(20), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("language_hint", String(10), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("community_id", "platform", "external_id", name="uq_identities_account"),
)

chats = Table(
    "chats",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("title", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("bot_present", Boolean, nullable=False, default=True),
    CheckConstraint("kind IN ('private', 'group', 'channel')", name="kind_known"),
    UniqueConstraint("community_id", "platform", "external_id", name="uq_chats_ref"),
)
