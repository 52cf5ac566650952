"""activity rows carry their source (the platform's id of the message or update), unique per
community, so an update delivered again (after a process died mid-update) counts once

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-06 20:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=200), nullable=True))
        batch_op.create_index('uq_activity_source', ['community_id', 'source'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('uq_activity_source')
        batch_op.drop_column('source')
