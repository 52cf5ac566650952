"""login links and web sessions carry their scope: the dashboard (staff) or a learner's own pages

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 06:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('web_login_tokens', 'web_sessions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('scope', sa.String(length=16), nullable=False, server_default='dashboard')
            )


def downgrade() -> None:
    for table in ('web_sessions', 'web_login_tokens'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('scope')
