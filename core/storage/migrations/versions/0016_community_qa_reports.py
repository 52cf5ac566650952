"""qa reports: members report a question or an answer; moderators resolve them. access
problems keep their message, so the dashboard shows it in the reader's language

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 06:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('qa_reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('question_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('answer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reporter_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['answer_id'], ['answers.id'], name=op.f('fk_qa_reports_answer_id_answers')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_qa_reports_community_id_communities')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_qa_reports_question_id_questions')),
    sa.ForeignKeyConstraint(['reporter_member_id'], ['members.id'], name=op.f('fk_qa_reports_reporter_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_reports'))
    )
    with op.batch_alter_table('qa_reports', schema=None) as batch_op:
        batch_op.create_index('ix_qa_reports_community_open', ['community_id', 'resolved_at'], unique=False)
        batch_op.create_index('ix_qa_reports_question', ['question_id', 'resolved_at'], unique=False)

    with op.batch_alter_table('access_problems', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('access_problems', schema=None) as batch_op:
        batch_op.drop_column('message')

    with op.batch_alter_table('qa_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_qa_reports_question')
        batch_op.drop_index('ix_qa_reports_community_open')

    op.drop_table('qa_reports')
