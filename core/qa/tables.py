"""Questions, answers, votes, the search documents and unsent drafts."""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.storage.metadata import metadata
from core.storage.types import BigId, UTCDateTime

questions = Table(
    "questions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("asker_member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("chat_id", BigId, ForeignKey("chats.id"), nullable=False),  # where it was asked
    Column("message_id", String(100), nullable=True),  # the /ask message: a reply to it answers
    Column("thread", String(40), nullable=True),  # its thread in the chat (a forum topic)
    Column("key", String(200), nullable=False),  # from the /ask event: asked twice, posted once
    Column("text", String(2000), nullable=False),
    Column("bounty", Integer, nullable=False, server_default="0"),  # points held in escrow
    Column("status", String(10), nullable=False),  # open | answered | expired
    Column("accepted_answer_id", BigId, nullable=True),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("escalated_at", UTCDateTime, nullable=True),  # moderators told it is unanswered
    Column("bonus_paid", Boolean, nullable=False, server_default="0"),  # the accept bonus posted
    CheckConstraint("bounty >= 0", name="bounty_not_negative"),
    CheckConstraint("status IN ('open', 'answered', 'expired')", name="status_known"),
    UniqueConstraint("community_id", "key", name="uq_questions_key"),
    Index("ix_questions_community_status", "community_id", "status"),
    Index("ix_questions_message", "chat_id", "message_id"),
    Index("ix_questions_asker", "asker_member_id"),  # a member's questions (dashboard)
)

answers = Table(
    "answers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("question_id", BigId, ForeignKey("questions.id"), nullable=False),
    Column("answerer_member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("text", String(2000), nullable=False),
    Column("votes", Integer, nullable=False, server_default="0"),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("community_id", "key", name="uq_answers_key"),
    Index("ix_answers_question", "question_id"),
    Index("ix_answers_answerer", "answerer_member_id"),  # a member's answers (dashboard)
)

answer_votes = Table(
    "answer_votes",
    metadata,
    Column("answer_id", BigId, ForeignKey("answers.id"), nullable=False),
    Column("member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("answer_id", "member_id", name="pk_answer_votes"),
)

# One search document per question and per answer (``terms``: core/qa/terms.indexed). On
# SQLite an FTS5 table mirrors it by triggers; on PostgreSQL a GIN index covers it (both made
# by migration 0007, outside these definitions: core.storage.schema.UNMODELLED_PREFIXES).
# A later SQLite migration that rebuilds qa_documents must create those triggers again.
qa_documents = Table(
    "qa_documents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("question_id", BigId, ForeignKey("questions.id"), nullable=False),
    Column("answer_id", BigId, ForeignKey("answers.id"), nullable=True),
    Column("terms", Text, nullable=False),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    Index("ix_qa_documents_question", "question_id"),
)

# A question held back while similar answered ones were suggested (/askanyway posts it).
qa_drafts = Table(
    "qa_drafts",
    metadata,
    Column("member_id", BigId, ForeignKey("members.id"), primary_key=True),
    Column("chat_id", BigId, ForeignKey("chats.id"), nullable=False),
    Column("message_id", String(100), nullable=True),
    Column("thread", String(40), nullable=True),
    Column("text", String(2000), nullable=False),
    Column("bounty", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# A member's report that a question or an answer breaks the rules (/report); moderators see
# the questions with open reports and resolve them by hiding the item or dismissing them.
qa_reports = Table(
    "qa_reports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("community_id", BigId, ForeignKey("communities.id"), nullable=False),
    Column("question_id", BigId, ForeignKey("questions.id"), nullable=False),
    Column("answer_id", BigId, ForeignKey("answers.id"), nullable=True),  # None: the question
    Column("reporter_member_id", BigId, ForeignKey("members.id"), nullable=False),
    Column("reason", String(300), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),  # hidden or dismissed
    Index("ix_qa_reports_question", "question_id", "resolved_at"),
    Index("ix_qa_reports_community_open", "community_id", "resolved_at"),
)
