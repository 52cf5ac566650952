"""web form keys: a dashboard form's idempotency key, so a double submit acts once

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('web_form_keys',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('form_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('location', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_web_form_keys_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', 'form_key', name=op.f('pk_web_form_keys'))
    )
    with op.batch_alter_table('web_form_keys', schema=None) as batch_op:
        batch_op.create_index('ix_web_form_keys_created', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_form_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_web_form_keys_created')

    op.drop_table('web_form_keys')
