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
    # A member merged into another by /link: every lookup goes to that one instead. (No
    # foreign key: adding one would make SQLite rebuild the table every other one points at.)
    Column("merged_into", BigId, nullable=True),
    Column("forgotten_at", UTCDateTime, nullable=True),  # /forget: personal data erased
    CheckConstraint("role IN ('learner', 'moderator', 'creator')", name="role_known"),
    Index("ix_members_community_name", "community_id", "name_key"),
    # The dashboard's member list: a community's members by id, newest first (keyset pages).
    Index("ix_members_community_id", "community_id", "id"),
    Index("ix_members_community_role", "community_id", "role", "id"),  # the list by role
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
    # Finding a member by an account id on any platform (the dashboard's search).
    Index("ix_identities_community_external", "community_id", "external_id"),
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

# One-time codes that join an account on another platform to a member (/link).
link_codes = Table(
    "link_codes",
    metadata,
    Column("code", String(12), primary_key=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index("ix_link_codes_member", "member_id", "created_at"),
)
