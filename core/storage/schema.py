"""The whole schema: every table module imported, so the one MetaData is complete.

Only what reads the schema whole imports this (migrations, privacy, tests); table modules
import ``core.storage.metadata`` alone, so nothing here can import back.
"""

from sqlalchemy import MetaData

import core.access.tables
import core.activity.tables
import core.analytics.tables
import core.audit.tables
import core.catalog.tables
import core.channels.tables
import core.delivery.tables
import core.feedback.tables
import core.ledger.tables
import core.members.tables
import core.orders.tables
import core.pushes.tables
import core.qa.tables
import core.referrals.tables
import core.settings.tables
import core.storage.state_tables
import core.web_sessions.tables  # noqa: F401
from core.storage.metadata import metadata


def load_all_tables() -> MetaData:
    """The MetaData with every table registered (migrations, privacy, tests)."""
    return metadata


# Made by migrations outside the table definitions (full-text search: core/qa/tables.py).
UNMODELLED_PREFIXES = ("qa_documents_fts", "ix_qa_documents_terms")


def is_modelled(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's ``include_object``: leave out what the table definitions do not describe."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)
