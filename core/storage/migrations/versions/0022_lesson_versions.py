"""lesson versions: each published version of a lesson and the drafts waiting for review

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 11:22:30.070193
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lesson_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('course_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lesson_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('unlock_days', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('author_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reviewed_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reviewed_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('note', sa.String(length=200), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['author_member_id'], ['members.id'], name=op.f('fk_lesson_versions_author_member_id_members')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_lesson_versions_course_id_courses')),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_lesson_versions_lesson_id_lessons')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['members.id'], name=op.f('fk_lesson_versions_reviewed_by_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lesson_versions'))
    )
    with op.batch_alter_table('lesson_versions', schema=None) as batch_op:
        batch_op.create_index('ix_lesson_versions_lesson', ['lesson_id', 'id'], unique=False)
        batch_op.create_index('ix_lesson_versions_review', ['course_id', 'status'], unique=False)

    # Each lesson as it is now becomes its first version, so an edit after this keeps it.
    lessons = sa.table(
        'lessons',
        sa.column('id', sa.BigInteger()),
        sa.column('course_id', sa.BigInteger()),
        sa.column('title', sa.String()),
        sa.column('body', sa.Text()),
        sa.column('unlock_days', sa.Integer()),
    )
    files = sa.table('lesson_files', sa.column('lesson_id', sa.BigInteger()), sa.column('name', sa.String()))
    versions = sa.table(
        'lesson_versions',
        *(
            sa.column(name)
            for name in (
                'course_id', 'lesson_id', 'title', 'body', 'unlock_days', 'file_name', 'created_at', 'status', 'note'
            )
        ),
    )
    now = datetime.now(UTC)
    op.execute(
        versions.insert().from_select(
            ['course_id', 'lesson_id', 'title', 'body', 'unlock_days', 'file_name', 'created_at', 'status', 'note'],
            sa.select(
                lessons.c.course_id,
                lessons.c.id,
                lessons.c.title,
                lessons.c.body,
                lessons.c.unlock_days,
                files.c.name,
                sa.literal(now, core.storage.types.UTCDateTime()),
                sa.literal('published'),
                sa.literal('as it was when versions began to be kept'),
            ).select_from(lessons.outerjoin(files, files.c.lesson_id == lessons.c.id)),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('lesson_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_lesson_versions_review')
        batch_op.drop_index('ix_lesson_versions_lesson')

    op.drop_table('lesson_versions')
