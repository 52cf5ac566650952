"""members directory: indexes for the dashboard's member list, account search and member page

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 06:50:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index('ix_members_community_id', ['community_id', 'id'], unique=False)
        batch_op.create_index('ix_members_community_role', ['community_id', 'role', 'id'], unique=False)
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.create_index('ix_identities_community_external', ['community_id', 'external_id'], unique=False)
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index('ix_questions_asker', ['asker_member_id'], unique=False)
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.create_index('ix_answers_answerer', ['answerer_member_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index('ix_answers_answerer')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index('ix_questions_asker')
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.drop_index('ix_identities_community_external')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_community_role')
        batch_op.drop_index('ix_members_community_id')
