"""qa: questions, answers, votes, search documents, drafts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 06:45:12.876834
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('qa_drafts',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.String(length=100), nullable=True),
    sa.Column('text', sa.String(length=2000), nullable=False),
    sa.Column('bounty', sa.Integer(), nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_qa_drafts_chat_id_chats')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_qa_drafts_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_qa_drafts'))
    )
    op.create_table('questions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('asker_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.String(length=100), nullable=True),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('text', sa.String(length=2000), nullable=False),
    sa.Column('bounty', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('accepted_answer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('hidden', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('closed_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('escalated_at', core.storage.types.UTCDateTime(), nullable=True),
    sa.Column('bonus_paid', sa.Boolean(), server_default='0', nullable=False),
    sa.CheckConstraint("status IN ('open', 'answered', 'expired')", name=op.f('ck_questions_status_known')),
    sa.CheckConstraint('bounty >= 0', name=op.f('ck_questions_bounty_not_negative')),
    sa.ForeignKeyConstraint(['asker_member_id'], ['members.id'], name=op.f('fk_questions_asker_member_id_members')),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_questions_chat_id_chats')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_questions_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions')),
    sa.UniqueConstraint('community_id', 'key', name='uq_questions_key')
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index('ix_questions_community_status', ['community_id', 'status'], unique=False)
        batch_op.create_index('ix_questions_message', ['chat_id', 'message_id'], unique=False)

    op.create_table('answers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('question_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('answerer_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('text', sa.String(length=2000), nullable=False),
    sa.Column('votes', sa.Integer(), server_default='0', nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['answerer_member_id'], ['members.id'], name=op.f('fk_answers_answerer_member_id_members')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_answers_community_id_communities')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_answers_question_id_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers')),
    sa.UniqueConstraint('community_id', 'key', name='uq_answers_key')
    )
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.create_index('ix_answers_question', ['question_id'], unique=False)

    op.create_table('answer_votes',
    sa.Column('answer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', core.storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answers.id'], name=op.f('fk_answer_votes_answer_id_answers')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_answer_votes_member_id_members')),
    sa.PrimaryKeyConstraint('answer_id', 'member_id', name='pk_answer_votes')
    )
    op.create_table('qa_documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('question_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('answer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answers.id'], name=op.f('fk_qa_documents_answer_id_answers')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_qa_documents_community_id_communities')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_qa_documents_question_id_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_documents'))
    )
    with op.batch_alter_table('qa_documents', schema=None) as batch_op:
        batch_op.create_index('ix_qa_documents_question', ['question_id'], unique=False)

    # Full text over qa_documents.terms (ASCII tokens: core/qa/terms.py).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE qa_documents_fts USING fts5("
            "terms, content='qa_documents', content_rowid='id', tokenize='ascii')"
        )
        op.execute(
            "CREATE TRIGGER qa_documents_ai AFTER INSERT ON qa_documents BEGIN "
            "INSERT INTO qa_documents_fts(rowid, terms) VALUES (new.id, new.terms); END"
        )
        op.execute(
            "CREATE TRIGGER qa_documents_ad AFTER DELETE ON qa_documents BEGIN "
            "INSERT INTO qa_documents_fts(qa_documents_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END"
        )
        op.execute(
            "CREATE TRIGGER qa_documents_au AFTER UPDATE OF terms ON qa_documents BEGIN "
            "INSERT INTO qa_documents_fts(qa_documents_fts, rowid, terms) VALUES ('delete', old.id, old.terms); "
            "INSERT INTO qa_documents_fts(rowid, terms) VALUES (new.id, new.terms); END"
        )
    else:
        op.execute(
            "CREATE INDEX ix_qa_documents_terms ON qa_documents USING gin (to_tsvector('simple', terms))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("qa_documents_ai", "qa_documents_ad", "qa_documents_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS qa_documents_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_qa_documents_terms")
    with op.batch_alter_table('qa_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_qa_documents_question')

    op.drop_table('qa_documents')
    op.drop_table('answer_votes')
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index('ix_answers_question')

    op.drop_table('answers')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index('ix_questions_message')
        batch_op.drop_index('ix_questions_community_status')

    op.drop_table('questions')
    op.drop_table('qa_drafts')
