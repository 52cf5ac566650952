"""push_outbox: the course a `recommended` push recommended to each recipient (its attribution)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 18:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0028'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('push_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('push_outbox', schema=None) as batch_op:
        batch_op.drop_column('subject')
