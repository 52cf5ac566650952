"""Catalog tables: courses, their lessons, who owns which course, and lesson progress."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

courses = Table(
    "courses",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("code", String(30), nullable=False),  # what learners type: /buy py101
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("points_price", BigInteger, nullable=True),  # also redeemable in the mall for points
    Column("completion_points", Integer, nullable=False, server_default="0"),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("price_minor > 0", name="price_positive"),
    CheckConstraint("points_price IS NULL OR points_price > 0", name="points_price_positive"),
    UniqueConstraint("community_id", "code", name="uq_courses_code"),
)

lessons = Table(
    "lessons",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("course_id", BigId, ForeignKey("courses.id"), nullable=False),
    Column("position", Integer, nullable=False),  # 1, 2, 3… in course order
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),  # text, links; shown by /learn
    Column("unlock_days", Integer, nullable=False, server_default="0"),  # drip: days after purchase
    CheckConstraint("unlock_days >= 0", name="unlock_days_not_negative"),
    UniqueConstraint("course_id", "position", name="uq_lessons_position"),
)

# A file that comes with a lesson (slides, a notebook), kept in the database like the rest.
lesson_files = Table(
    "lesson_files",
    metadata,
    Column("lesson_id", BigId, ForeignKey("lessons.id"), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
)

# Every version of a lesson's content: each one published (by whom, when) and, with
# content.review on, drafts waiting for the owner (a draft of a new lesson has no lesson yet).
# Learners read only ``lessons``: a draft never reaches them.
lesson_versions = Table(
    "lesson_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("course_id", BigId, ForeignKey("courses.id"), nullable=False),
    Column("lesson_id", BigId, ForeignKey("lessons.id"), nullable=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("unlock_days", Integer, nullable=False),
    Column("file_name", String(200), nullable=True),  # the file it had (its bytes are not kept per version)
    Column("author_member_id", BigId, ForeignKey("members.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", String(12), nullable=False),  # published | draft | rejected
    Column("reviewed_by", BigId, ForeignKey("members.id"), nullable=True),
    Column("reviewed_at", UTCDateTime, nullable=True),
    Column("note", String(200), nullable=False, server_default=""),
    Index("ix_lesson_versions_lesson", "lesson_id", "id"),
    Index("ix_lesson_versions_review", "course_id", "status"),
)

enrollments = Table(
    "enrollments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("course_id", BigId, ForeignKey("courses.id"), nullable=False),
    Column("order_id", BigId, nullable=True),  # the order that granted it
    Column("granted_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),  # a full refund revokes
    UniqueConstraint("member_id", "course_id", name="uq_enrollments_member"),
)

lesson_progress = Table(
    "lesson_progress",
    metadata,
    Column("member_id", BigId, ForeignKey("members.id"), primary_key=True),
    Column("lesson_id", BigId, ForeignKey("lessons.id"), primary_key=True),
    Column("completed_at", UTCDateTime, nullable=False),
)

coupons = Table(
    "coupons",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("code", String(40), nullable=False),  # stored upper-case; typed in any case
    Column("kind", String(10), nullable=False),  # percent | fixed
    Column("value", BigInteger, nullable=False),  # percent 1–100, or minor units off
    Column("currency", String(3), nullable=True),  # fixed coupons and minimum spends
    Column("min_spend_minor", BigInteger, nullable=False, server_default="0"),
    Column("max_uses", Integer, nullable=True),  # None: unlimited
    Column("per_member", Integer, nullable=False, server_default="1"),
    Column("used", Integer, nullable=False, server_default="0"),  # orders holding or having used it
    Column("starts_at", UTCDateTime, nullable=True),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("products", Text, nullable=False, server_default=""),  # product codes, comma-separated; "" = all
    Column("disabled", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('percent', 'fixed')", name="kind_known"),
    CheckConstraint("value > 0 AND (kind <> 'percent' OR value <= 100)", name="value_in_range"),
    CheckConstraint("max_uses IS NULL OR used <= max_uses", name="within_max_uses"),
    CheckConstraint("used >= 0", name="used_not_negative"),
    UniqueConstraint("community_id", "code", name="uq_coupons_code"),
)

mall_items = Table(
    "mall_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("code", String(30), nullable=False),
    Column("title", String(200), nullable=False),
    Column("kind", String(10), nullable=False),  # course | coupon | reward
    Column("points", BigInteger, nullable=False),
    Column("stock", Integer, nullable=True),  # None: unlimited
    Column("per_member", Integer, nullable=True),  # None: no limit
    Column("course_id", BigId, ForeignKey("courses.id"), nullable=True),  # kind course
    Column("coupon_id", BigId, ForeignKey("coupons.id"), nullable=True),  # kind coupon: the terms to copy
    Column("note", Text, nullable=False, server_default=""),  # how a reward is fulfilled
    Column("redeemed", Integer, nullable=False, server_default="0"),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('course', 'coupon', 'reward')", name="kind_known"),
    CheckConstraint("points > 0", name="points_positive"),
    CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
    UniqueConstraint("community_id", "code", name="uq_mall_items_code"),
)

redemptions = Table(
    "redemptions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("item_id", BigId, ForeignKey("mall_items.id"), nullable=True),  # a mall item, or
    Column(
        "course_id", BigId, ForeignKey("courses.id"), nullable=True
    ),  # a course bought at its points price
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("key", String(200), nullable=False),  # the ledger posting's idempotency key
    Column("detail", String(200), nullable=False, server_default=""),  # e.g. the coupon code issued
    Column("at", UTCDateTime, nullable=False),
    CheckConstraint("(item_id IS NULL) <> (course_id IS NULL)", name="item_or_course"),
    UniqueConstraint("community_id", "key", name="uq_redemptions_key"),
    Index("ix_redemptions_item_member", "item_id", "member_id"),
)

bundles = Table(
    "bundles",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("code", String(30), nullable=False),  # shares the course codes' namespace (/buy CODE)
    Column("title", String(200), nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("price_minor > 0", name="price_positive"),
    UniqueConstraint("community_id", "code", name="uq_bundles_code"),
)

bundle_courses = Table(
    "bundle_courses",
    metadata,
    Column("bundle_id", BigId, ForeignKey("bundles.id"), primary_key=True),
    Column("course_id", BigId, ForeignKey("courses.id"), primary_key=True),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("course_id", BigId, ForeignKey("courses.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("stars", Integer, nullable=False),
    Column("text", Text, nullable=False, server_default=""),
    Column("hidden", Boolean, nullable=False, server_default="0"),  # by a moderator
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),
    UniqueConstraint("course_id", "member_id", name="uq_reviews_member"),  # one per member, editable
)
