"""analytics: member scores, runs, segment names, marketing spend

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 06:59:34.464160
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('analytics_runs',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('computed_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_analytics_runs_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', name=op.f('pk_analytics_runs'))
    )
    op.create_table('segment_names',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cluster', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_segment_names_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', 'cluster', name='pk_segment_names'),
    sa.UniqueConstraint('community_id', 'name', name='uq_segment_names_name')
    )
    op.create_table('marketing_spend',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('actor_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('spent_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_marketing_spend_amount_positive')),
    sa.ForeignKeyConstraint(['actor_member_id'], ['members.id'], name=op.f('fk_marketing_spend_actor_member_id_members')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_marketing_spend_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketing_spend'))
    )
    op.create_table('member_scores',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('engagement_tenths', sa.Integer(), nullable=False),
    sa.Column('cluster', sa.Integer(), nullable=False),
    sa.Column('segments', sa.String(length=100), nullable=False),
    sa.Column('computed_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_member_scores_community_id_communities')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_scores_member_id_members')),
    sa.PrimaryKeyConstraint('community_id', 'member_id', name='pk_member_scores')
    )


def downgrade() -> None:
    op.drop_table('member_scores')
    op.drop_table('marketing_spend')
    op.drop_table('segment_names')
    op.drop_table('analytics_runs')
