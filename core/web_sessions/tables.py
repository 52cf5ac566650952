"""Login tokens and web sessions. Only SHA-256 hashes of tokens and session ids are stored:
a copy of the database signs nobody in."""

from sqlalchemy import Column, ForeignKey, Index, String, Table

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

# A one-time link (/dashboard, /web): single use, short-lived, bound to one member of one community.
web_login_tokens = Table(
    "web_login_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("scope", String(16), nullable=False, server_default="dashboard"),  # or "learner"
    Index("ix_web_login_tokens_member", "member_id"),
)

# A signed-in browser, referenced by an HttpOnly cookie holding the id whose hash is here.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("id_hash", String(64), nullable=False, unique=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("user_agent", String(300), nullable=False, server_default=""),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("scope", String(16), nullable=False, server_default="dashboard"),  # or "learner"
    Index("ix_web_sessions_member", "member_id", "revoked_at"),
)

# A submitted dashboard form's idempotency key: a double submit (two clicks, a resent POST)
# acts once; the second request is sent where the first one went.
web_form_keys = Table(
    "web_form_keys",
    metadata,
    Column("member_id", BigId, ForeignKey("members.id"), primary_key=True),
    Column("form_key", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("location", String(500), nullable=True),  # None while the first request runs
    Index("ix_web_form_keys_created", "created_at"),
)
