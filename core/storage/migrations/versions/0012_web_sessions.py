"""web sessions: one-time login tokens and server-side sessions (hashes only)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('web_login_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('used_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_web_login_tokens_community_id_communities')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_web_login_tokens_member_id_members')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_web_login_tokens'))
    )
    with op.batch_alter_table('web_login_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_web_login_tokens_member', ['member_id'], unique=False)

    op.create_table('web_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('user_agent', sa.String(length=300), server_default='', nullable=False),
    sa.Column('revoked_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_web_sessions_community_id_communities')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_web_sessions_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    sa.UniqueConstraint('id_hash', name=op.f('uq_web_sessions_id_hash'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_web_sessions_member', ['member_id', 'revoked_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_web_sessions_member')

    op.drop_table('web_sessions')
    with op.batch_alter_table('web_login_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_web_login_tokens_member')

    op.drop_table('web_login_tokens')
