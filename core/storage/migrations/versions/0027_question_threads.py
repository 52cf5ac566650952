"""questions and held-back drafts: the thread (forum topic) they were asked in

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 18:05:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0027'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thread', sa.String(length=40), nullable=True))
    with op.batch_alter_table('qa_drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thread', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('qa_drafts', schema=None) as batch_op:
        batch_op.drop_column('thread')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_column('thread')
