"""orders: points paying part of the price (how many, what they are worth, where they are)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 15:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offset_points', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('offset_minor', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('offset_state', sa.String(length=10), server_default='', nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_orders_offset_not_negative'), 'offset_points >= 0 AND offset_minor >= 0'
        )
        batch_op.create_index('ix_orders_offset_state', ['offset_state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_offset_state')
        batch_op.drop_constraint(op.f('ck_orders_offset_not_negative'), type_='check')
        batch_op.drop_column('offset_state')
        batch_op.drop_column('offset_minor')
        batch_op.drop_column('offset_points')
