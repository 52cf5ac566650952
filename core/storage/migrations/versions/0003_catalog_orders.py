"""catalog and orders: courses, bundles, lessons, enrollments, progress, reviews, coupons, mall, orders, payment events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 13:53:40.085049
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('payment_events',
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=100), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('received_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('provider', 'event_id', name='pk_payment_events')
    )
    op.create_table('bundles',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('price_minor > 0', name=op.f('ck_bundles_price_positive')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_bundles_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundles')),
    sa.UniqueConstraint('community_id', 'code', name='uq_bundles_code')
    )
    op.create_table('coupons',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('min_spend_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('max_uses', sa.Integer(), nullable=True),
    sa.Column('per_member', sa.Integer(), server_default='1', nullable=False),
    sa.Column('used', sa.Integer(), server_default='0', nullable=False),
    sa.Column('starts_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('ends_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('products', sa.Text(), server_default='', nullable=False),
    sa.Column('disabled', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('percent', 'fixed')", name=op.f('ck_coupons_kind_known')),
    sa.CheckConstraint("value > 0 AND (kind <> 'percent' OR value <= 100)", name=op.f('ck_coupons_value_in_range')),
    sa.CheckConstraint('max_uses IS NULL OR used <= max_uses', name=op.f('ck_coupons_within_max_uses')),
    sa.CheckConstraint('used >= 0', name=op.f('ck_coupons_used_not_negative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_coupons_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('community_id', 'code', name='uq_coupons_code')
    )
    op.create_table('courses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('points_price', sa.BigInteger(), nullable=True),
    sa.Column('completion_points', sa.Integer(), server_default='0', nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('points_price IS NULL OR points_price > 0', name=op.f('ck_courses_points_price_positive')),
    sa.CheckConstraint('price_minor > 0', name=op.f('ck_courses_price_positive')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_courses_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_courses')),
    sa.UniqueConstraint('community_id', 'code', name='uq_courses_code')
    )
    op.create_table('bundle_courses',
    sa.Column('bundle_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('course_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_bundle_courses_bundle_id_bundles')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_bundle_courses_course_id_courses')),
    sa.PrimaryKeyConstraint('bundle_id', 'course_id', name=op.f('pk_bundle_courses'))
    )
    op.create_table('enrollments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('course_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('granted_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_enrollments_community_id_communities')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_enrollments_course_id_courses')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_enrollments_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
    sa.UniqueConstraint('member_id', 'course_id', name='uq_enrollments_member')
    )
    op.create_table('lessons',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('course_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('unlock_days', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint('unlock_days >= 0', name=op.f('ck_lessons_unlock_days_not_negative')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_lessons_course_id_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lessons')),
    sa.UniqueConstraint('course_id', 'position', name='uq_lessons_position')
    )
    op.create_table('mall_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('per_member', sa.Integer(), nullable=True),
    sa.Column('course_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('coupon_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('redeemed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('course', 'coupon', 'reward')", name=op.f('ck_mall_items_kind_known')),
    sa.CheckConstraint('points > 0', name=op.f('ck_mall_items_points_positive')),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name=op.f('ck_mall_items_stock_not_negative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_mall_items_community_id_communities')),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_mall_items_coupon_id_coupons')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_mall_items_course_id_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mall_items')),
    sa.UniqueConstraint('community_id', 'code', name='uq_mall_items_code')
    )
    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('product_kind', sa.String(length=20), nullable=False),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('list_minor', sa.BigInteger(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('coupon_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('provider_ref', sa.String(length=200), nullable=True),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('paid_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('fulfilled_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('refunded_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('purchase_points', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint("status IN ('pending', 'paid', 'fulfilled', 'cancelled', 'expired', 'refunded')", name=op.f('ck_orders_status_known')),
    sa.CheckConstraint('amount_minor >= 0 AND amount_minor <= list_minor', name=op.f('ck_orders_amount_within_list')),
    sa.CheckConstraint('refunded_minor BETWEEN 0 AND amount_minor', name=op.f('ck_orders_refund_within_amount')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_orders_community_id_communities')),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_orders_coupon_id_coupons')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_orders_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_member_status', ['member_id', 'status'], unique=False)
        batch_op.create_index('ix_orders_provider_ref', ['provider', 'provider_ref'], unique=False)
        batch_op.create_index('ix_orders_status_expires', ['status', 'expires_at'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('course_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stars', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), server_default='', nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('stars BETWEEN 1 AND 5', name=op.f('ck_reviews_stars_range')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_reviews_community_id_communities')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_reviews_course_id_courses')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_reviews_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('course_id', 'member_id', name='uq_reviews_member')
    )
    op.create_table('lesson_files',
    sa.Column('lesson_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_lesson_files_lesson_id_lessons')),
    sa.PrimaryKeyConstraint('lesson_id', name=op.f('pk_lesson_files'))
    )
    op.create_table('lesson_progress',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lesson_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('completed_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_lesson_progress_lesson_id_lessons')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_lesson_progress_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', 'lesson_id', name=op.f('pk_lesson_progress'))
    )
    op.create_table('redemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('course_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.String(length=200), server_default='', nullable=False),
    sa.Column('at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('(item_id IS NULL) <> (course_id IS NULL)', name=op.f('ck_redemptions_item_or_course')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_redemptions_community_id_communities')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_redemptions_course_id_courses')),
    sa.ForeignKeyConstraint(['item_id'], ['mall_items.id'], name=op.f('fk_redemptions_item_id_mall_items')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_redemptions_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
    sa.UniqueConstraint('community_id', 'key', name='uq_redemptions_key')
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_item_member', ['item_id', 'member_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_item_member')

    op.drop_table('redemptions')
    op.drop_table('lesson_progress')
    op.drop_table('lesson_files')
    op.drop_table('reviews')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_status_expires')
        batch_op.drop_index('ix_orders_provider_ref')
        batch_op.drop_index('ix_orders_member_status')

    op.drop_table('orders')
    op.drop_table('mall_items')
    op.drop_table('lessons')
    op.drop_table('enrollments')
    op.drop_table('bundle_courses')
    op.drop_table('courses')
    op.drop_table('coupons')
    op.drop_table('bundles')
    op.drop_table('payment_events')
