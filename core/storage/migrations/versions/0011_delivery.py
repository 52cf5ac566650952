"""delivery: send windows, skipped messages, inbound dedup, numbered options

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 07:01:26.229228
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delivery_windows',
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('message_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('message_sent', sa.Integer(), server_default='0', nullable=False),
    sa.Column('interaction_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('interaction_sent', sa.Integer(), server_default='0', nullable=False),
    sa.Column('paid_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('platform', 'external_id', name=op.f('pk_delivery_windows'))
    )
    op.create_table('inbound_seen',
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('seen_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'key', name=op.f('pk_inbound_seen'))
    )
    with op.batch_alter_table('inbound_seen', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_seen_seen_at', ['seen_at'], unique=False)

    op.create_table('pending_options',
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('options', sa.Text(), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'external_id', name=op.f('pk_pending_options'))
    )
    op.create_table('delivery_skipped',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('preview', sa.String(length=200), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_delivery_skipped_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_skipped'))
    )
    with op.batch_alter_table('delivery_skipped', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_skipped_platform_created', ['platform', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delivery_skipped', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_skipped_platform_created')

    op.drop_table('delivery_skipped')
    op.drop_table('pending_options')
    with op.batch_alter_table('inbound_seen', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_seen_seen_at')

    op.drop_table('inbound_seen')
    op.drop_table('delivery_windows')
