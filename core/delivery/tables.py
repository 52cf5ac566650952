"""Per-recipient send windows, messages that could not be sent, inbound deliveries already
taken, the numbered options a recipient may answer with a bare number, button data behind
short tokens, and the platform access tokens every process shares."""

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

# What a platform lets the bot send to one account, from that account's last contacts. The
# counters move by conditional UPDATEs, so processes sharing the database agree.
delivery_windows = Table(
    "delivery_windows",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("external_id", String(100), primary_key=True),
    Column("message_at", UTCDateTime, nullable=True),  # the account's last message
    Column("message_sent", Integer, nullable=False, server_default="0"),  # pushes since then
    Column("interaction_at", UTCDateTime, nullable=True),  # last menu click, follow or scan
    Column("interaction_sent", Integer, nullable=False, server_default="0"),
    Column("paid_at", UTCDateTime, nullable=True),  # last payment
)

# A message the bot could not send, and why (never silently lost).
delivery_skipped = Table(
    "delivery_skipped",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("platform", String(20), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=True),
    Column("reason", String(40), nullable=False),
    Column("preview", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_delivery_skipped_platform_created", "platform", "created_at"),
)

# Inbound deliveries already taken (a message id, or a request nonce with its body's digest):
# a retry or a replay finds its row and is not handled again, whichever process it reaches.
inbound_seen = Table(
    "inbound_seen",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Index("ix_inbound_seen_seen_at", "seen_at"),
)

# The buttons of the last reply an account got, where buttons are numbered options (JSON).
pending_options = Table(
    "pending_options",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("external_id", String(100), primary_key=True),
    Column("options", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Long button data behind the short token a button carries (Telegram allows 64 bytes of
# callback_data, Discord 100 characters of custom_id). The token is a hash of the data, so its
# data never changes: any process may store it again (which only moves created_at on) or read it.
callback_tokens = Table(
    "callback_tokens",
    metadata,
    Column("token", String(40), primary_key=True),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_callback_tokens_created_at", "created_at"),
)

# A WeChat Official Account's access token, one row per AppID (core/delivery/access_tokens.py):
# fetching a new one invalidates the old one for every process, so they all read it here.
wechat_access_tokens = Table(
    "wechat_access_tokens",
    metadata,
    Column("app_id", String(64), primary_key=True),
    Column("token", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A community's template for each transactional notice (core/delivery/templates.py): WeChat's
# template id and which notice field fills each of its keywords (JSON ``[[keyword, field]]``).
# The notice ``subscribe`` holds the one-time subscribe message's template id, without keywords.
notice_templates = Table(
    "notice_templates",
    metadata,
    Column("community_id", BigId, ForeignKey("communities.id"), primary_key=True),
    Column("notice", String(30), primary_key=True),
    Column("template_id", String(64), nullable=False),
    Column("keywords", Text, nullable=False),
    Column("updated_by", BigId, ForeignKey("members.id"), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One message an account agreed to receive outside the send window (WeChat's one-time subscribe
# message): one row per consent, spent by the one send it allows (``used_at``).
delivery_consents = Table(
    "delivery_consents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("platform", String(20), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("scene", Integer, nullable=False),
    Column("template_id", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index("ix_delivery_consents_account", "platform", "external_id", "scene", "used_at"),
)

# A message sent outside the send window by what the platform allows there (a template
# message, a subscribe consent), with why the window would not take it: with delivery_skipped,
# the record of every message that did not go as a plain message.
delivery_fallbacks = Table(
    "delivery_fallbacks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("platform", String(20), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=True),
    Column("via", String(20), nullable=False),  # template | subscribe
    Column("reason", String(40), nullable=False),  # why the window refused (core/delivery/service.SkipReason)
    Column("preview", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_delivery_fallbacks_platform_created", "platform", "created_at"),
)
