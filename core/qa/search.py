"""Full-text search over questions and answers, on SQLite's FTS5 or PostgreSQL's text search.

Both index the same ASCII tokens (core/qa/terms.py), so Chinese finds Chinese on both. A
search looks for any of the query's tokens and ranks documents by relevance (FTS5's bm25,
PostgreSQL's ts_rank); a question ranks by its best document, its own or an answer's.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.qa.terms import query_tokens

MAX_QUERY_TOKENS = 64

# FTS5 ranks (``rank`` is bm25, lower is better) only in a query on its own table: the
# LIMIT keeps SQLite from flattening that subquery into the join.
_SQLITE = text(
    "SELECT d.question_id, MIN(m.score) AS score"
    " FROM (SELECT rowid AS id, rank AS score FROM qa_documents_fts"
    "       WHERE qa_documents_fts MATCH :match ORDER BY rank LIMIT 1000) m"
    " JOIN qa_documents d ON d.id = m.id JOIN questions q ON q.id = d.question_id"
    " WHERE d.community_id = :community AND NOT d.hidden AND NOT q.hidden"
    " GROUP BY d.question_id ORDER BY score, d.question_id DESC LIMIT :limit"
)
_POSTGRES = text(
    "SELECT d.question_id,"
    " MAX(ts_rank(to_tsvector('simple', d.terms), to_tsquery('simple', :match))) AS score"
    " FROM qa_documents d JOIN questions q ON q.id = d.question_id"
    " WHERE to_tsvector('simple', d.terms) @@ to_tsquery('simple', :match)"
    " AND d.community_id = :community AND NOT d.hidden AND NOT q.hidden"
    " GROUP BY d.question_id ORDER BY score DESC, d.question_id DESC LIMIT :limit"
)


async def search_questions(conn: AsyncConnection, community_id: int, query: str, limit: int = 5) -> list[int]:
    """The ids of the visible questions that best match ``query``, best first."""
    tokens = query_tokens(query)[:MAX_QUERY_TOKENS]
    if not tokens:
        return []
    if conn.dialect.name == "sqlite":
        statement, match = _SQLITE, " OR ".join(tokens)
    else:
        statement, match = _POSTGRES, " | ".join(tokens)
    rows = await conn.execute(statement, {"match": match, "community": community_id, "limit": limit})
    return [row.question_id for row in rows]
