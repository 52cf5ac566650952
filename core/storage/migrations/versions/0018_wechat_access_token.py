"""wechat access tokens: one row per AppID, shared by every process (fetching a new token
invalidates the old one for all of them)

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-06 20:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('wechat_access_tokens',
    sa.Column('app_id', sa.String(length=64), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('expires_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_wechat_access_tokens'))
    )


def downgrade() -> None:
    op.drop_table('wechat_access_tokens')
