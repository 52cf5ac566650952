"""referrals: codes, attribution, commissions and their ledger

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 06:32:24.035794
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('commission_rates',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('product_kind', sa.String(length=10), nullable=False),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('level1_bp', sa.Integer(), nullable=False),
    sa.Column('level2_bp', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint('level1_bp + level2_bp <= 10000', name=op.f('ck_commission_rates_bp_total')),
    sa.CheckConstraint('level1_bp BETWEEN 0 AND 10000 AND level2_bp BETWEEN 0 AND 10000', name=op.f('ck_commission_rates_bp_range')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_commission_rates_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', 'product_kind', 'product_id', name=op.f('pk_commission_rates'))
    )
    op.create_table('referral_codes',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_referral_codes_community_id_communities')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_referral_codes_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_referral_codes')),
    sa.UniqueConstraint('community_id', 'code', name='uq_referral_codes_code')
    )
    op.create_table('commissions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('earner_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('buyer_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reversed_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('available_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'available')", name=op.f('ck_commissions_status_known')),
    sa.CheckConstraint('amount_minor > 0 AND reversed_minor BETWEEN 0 AND amount_minor', name=op.f('ck_commissions_amounts')),
    sa.CheckConstraint('level IN (1, 2)', name=op.f('ck_commissions_level_known')),
    sa.ForeignKeyConstraint(['buyer_member_id'], ['members.id'], name=op.f('fk_commissions_buyer_member_id_members')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_commissions_community_id_communities')),
    sa.ForeignKeyConstraint(['earner_member_id'], ['members.id'], name=op.f('fk_commissions_earner_member_id_members')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_commissions_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commissions')),
    sa.UniqueConstraint('order_id', 'level', name='uq_commissions_order_level')
    )
    with op.batch_alter_table('commissions', schema=None) as batch_op:
        batch_op.create_index('ix_commissions_earner', ['earner_member_id'], unique=False)
        batch_op.create_index('ix_commissions_status_available_at', ['status', 'available_at'], unique=False)

    op.create_table('referrals',
    sa.Column('referee_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('referrer_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('attributed_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('joined_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('join_points', sa.Integer(), server_default='0', nullable=False),
    sa.Column('first_order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('purchase_points', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint('referee_member_id <> referrer_member_id', name=op.f('ck_referrals_not_self')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_referrals_community_id_communities')),
    sa.ForeignKeyConstraint(['first_order_id'], ['orders.id'], name=op.f('fk_referrals_first_order_id_orders')),
    sa.ForeignKeyConstraint(['referee_member_id'], ['members.id'], name=op.f('fk_referrals_referee_member_id_members')),
    sa.ForeignKeyConstraint(['referrer_member_id'], ['members.id'], name=op.f('fk_referrals_referrer_member_id_members')),
    sa.PrimaryKeyConstraint('referee_member_id', name=op.f('pk_referrals'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index('ix_referrals_referrer', ['referrer_member_id'], unique=False)

    op.create_table('commission_transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('debit_account', sa.String(length=40), nullable=False),
    sa.Column('credit_account', sa.String(length=40), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('commission_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=200), server_default='', nullable=False),
    sa.Column('actor_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_commission_transfers_amount_positive')),
    sa.CheckConstraint('debit_account <> credit_account', name=op.f('ck_commission_transfers_two_accounts')),
    sa.ForeignKeyConstraint(['actor_member_id'], ['members.id'], name=op.f('fk_commission_transfers_actor_member_id_members')),
    sa.ForeignKeyConstraint(['commission_id'], ['commissions.id'], name=op.f('fk_commission_transfers_commission_id_commissions')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_commission_transfers_community_id_communities')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_commission_transfers_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_transfers')),
    sa.UniqueConstraint('community_id', 'idempotency_key', name='uq_commission_transfers_key')
    )
    with op.batch_alter_table('commission_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_commission_transfers_member', ['member_id', 'currency'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('commission_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_commission_transfers_member')

    op.drop_table('commission_transfers')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_referrer')

    op.drop_table('referrals')
    with op.batch_alter_table('commissions', schema=None) as batch_op:
        batch_op.drop_index('ix_commissions_status_available_at')
        batch_op.drop_index('ix_commissions_earner')

    op.drop_table('commissions')
    op.drop_table('referral_codes')
    op.drop_table('commission_rates')
