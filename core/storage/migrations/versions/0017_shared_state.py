"""state shared between processes: button data behind short tokens (callback_tokens) and
the push pace every process sending on one bot draws from (pace_buckets)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 20:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('callback_tokens',
    sa.Column('token', sa.String(length=40), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_callback_tokens'))
    )
    with op.batch_alter_table('callback_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_callback_tokens_created_at', ['created_at'], unique=False)

    op.create_table('pace_buckets',
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('bot', sa.String(length=64), nullable=False),
    sa.Column('next_at', sa.Double(), server_default='0', nullable=False),
    sa.Column('paused_until', sa.Double(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('platform', 'bot', name=op.f('pk_pace_buckets'))
    )


def downgrade() -> None:
    op.drop_table('pace_buckets')

    with op.batch_alter_table('callback_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_tokens_created_at')

    op.drop_table('callback_tokens')
