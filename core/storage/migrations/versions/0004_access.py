"""access: plans, subscriptions, reminders, paid chats

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 14:13:33.642433
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('plans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('trial_days', sa.Integer(), server_default='0', nullable=False),
    sa.Column('grace_days', sa.Integer(), server_default='3', nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint("period IN ('month', 'quarter', 'year')", name=op.f('ck_plans_period_known')),
    sa.CheckConstraint('price_minor > 0', name=op.f('ck_plans_price_positive')),
    sa.CheckConstraint('trial_days BETWEEN 0 AND 365 AND grace_days BETWEEN 0 AND 90', name=op.f('ck_plans_days_in_range')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_plans_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('community_id', 'code', name='uq_plans_code')
    )
    op.create_table('access_problems',
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('problem', sa.String(length=300), nullable=False),
    sa.Column('reported_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_access_problems_chat_id_chats')),
    sa.PrimaryKeyConstraint('chat_id', 'problem', name='pk_access_problems')
    )
    op.create_table('chat_bindings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('target', sa.String(length=40), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('course', 'plan', 'tier')", name=op.f('ck_chat_bindings_kind_known')),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_chat_bindings_chat_id_chats')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_chat_bindings_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_bindings')),
    sa.UniqueConstraint('chat_id', 'kind', 'target', name='uq_chat_bindings_target')
    )
    op.create_table('chat_memberships',
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('in_chat', sa.Boolean(), nullable=False),
    sa.Column('invited_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('updated_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_chat_memberships_chat_id_chats')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_chat_memberships_member_id_members')),
    sa.PrimaryKeyConstraint('chat_id', 'member_id', name='pk_chat_memberships')
    )
    op.create_table('subscriptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('period_end', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('grace_until', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('trial_used', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=True),
    sa.Column('provider_ref', sa.String(length=200), nullable=True),
    sa.Column('started_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('trial', 'active', 'grace', 'ended')", name=op.f('ck_subscriptions_status_known')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_subscriptions_community_id_communities')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_subscriptions_member_id_members')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_subscriptions_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('member_id', 'plan_id', name='uq_subscriptions_member')
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_status_period_end', ['status', 'period_end'], unique=False)
        batch_op.create_index('ix_subscriptions_provider_ref', ['provider', 'provider_ref'], unique=False)

    op.create_table('subscription_reminders',
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('period_end', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('sent_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_reminders_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('subscription_id', 'kind', 'period_end', name='pk_subscription_reminders')
    )


def downgrade() -> None:
    op.drop_table('subscription_reminders')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_provider_ref')
        batch_op.drop_index('ix_subscriptions_status_period_end')

    op.drop_table('subscriptions')
    op.drop_table('chat_memberships')
    op.drop_table('chat_bindings')
    op.drop_table('access_problems')
    op.drop_table('plans')
