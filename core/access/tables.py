"""Plans (recurring access) and members' subscriptions to them."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
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

plans = Table(
    "plans",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("code", String(30), nullable=False),
    Column("title", String(200), nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period", String(10), nullable=False),  # month | quarter | year
    Column("trial_days", Integer, nullable=False, server_default="0"),
    Column("grace_days", Integer, nullable=False, server_default="3"),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    # A tier its subscribers have whatever their points (its multiplier, its chats).
    Column("tier", String(40), nullable=True),
    CheckConstraint("price_minor > 0", name="price_positive"),
    CheckConstraint("period IN ('month', 'quarter', 'year')", name="period_known"),
    CheckConstraint("trial_days BETWEEN 0 AND 365 AND grace_days BETWEEN 0 AND 90", name="days_in_range"),
    UniqueConstraint("community_id", "code", name="uq_plans_code"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("plan_id", BigId, ForeignKey("plans.id"), nullable=False),
    Column("status", String(10), nullable=False),  # trial | active | grace | ended
    Column("period_end", UTCDateTime, nullable=False),  # access until (trial or paid period)
    Column("grace_until", UTCDateTime, nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False, server_default="0"),
    Column("trial_used", Boolean, nullable=False, server_default="0"),
    # Who bills it and their id for it (a Stripe subscription renews by itself; its invoices
    # arrive by webhook). None: renewed by /subscribe, one period at a time.
    Column("provider", String(20), nullable=True),
    Column("provider_ref", String(200), nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('trial', 'active', 'grace', 'ended')", name="status_known"),
    UniqueConstraint("member_id", "plan_id", name="uq_subscriptions_member"),  # one row, renewed in place
    Index("ix_subscriptions_status_period_end", "status", "period_end"),
    Index("ix_subscriptions_provider_ref", "provider", "provider_ref"),
)

# Reminders already sent, so a job that runs again (or twice) sends each once.
subscription_reminders = Table(
    "subscription_reminders",
    metadata,
    Column("subscription_id", BigId, ForeignKey("subscriptions.id"), nullable=False),
    Column("kind", String(30), nullable=False),  # e.g. trial_end:3, period_end:0
    Column("period_end", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("subscription_id", "kind", "period_end", name="pk_subscription_reminders"),
)

# A paid chat: being in it needs one of its bindings (a course owned, a plan subscribed, a tier).
chat_bindings = Table(
    "chat_bindings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("chat_id", BigId, ForeignKey("chats.id"), nullable=False),
    Column("kind", String(10), nullable=False),  # course | plan | tier
    Column("target", String(40), nullable=False),  # the course or plan code, or the tier name
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('course', 'plan', 'tier')", name="kind_known"),
    UniqueConstraint("chat_id", "kind", "target", name="uq_chat_bindings_target"),
)

# Who is in each paid chat as far as studyhall knows (join and leave events, its own actions).
chat_memberships = Table(
    "chat_memberships",
    metadata,
    Column("chat_id", BigId, ForeignKey("chats.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("in_chat", Boolean, nullable=False),
    Column("invited_at", UTCDateTime, nullable=True),  # the last invite sent, so invites do not repeat
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("chat_id", "member_id", name="pk_chat_memberships"),
)

# Problems reconciliation could not fix, and when the creator was last told (once a day at most).
access_problems = Table(
    "access_problems",
    metadata,
    Column("chat_id", BigId, ForeignKey("chats.id"), nullable=False),
    Column("problem", String(300), nullable=False),  # in English: one report per problem
    Column("reported_at", UTCDateTime, nullable=False),
    Column("message", Text, nullable=True),  # the message itself (JSON), shown in any language
    PrimaryKeyConstraint("chat_id", "problem", name="pk_access_problems"),
)
