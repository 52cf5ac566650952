"""INSERT … ON CONFLICT for both backends (both dialects support it; SQLAlchemy spells it per dialect)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def _insert(dialect: str, table: Table) -> Any:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def insert_or_update(
    dialect: str, table: Table, values: Mapping[str, Any], keys: Sequence[str], update: Sequence[str]
) -> Insert:
    """Insert ``values``; on a conflict over ``keys`` set the ``update`` columns instead."""
    statement = _insert(dialect, table).values(**values)
    return statement.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys], set_={c: statement.excluded[c] for c in update}
    )


def insert_or_ignore(dialect: str, table: Table, keys: Sequence[str] = ()) -> Any:
    """An INSERT that skips rows conflicting over ``keys`` (any unique constraint if none);
    pass the rows to execute."""
    target = [table.c[k] for k in keys] or None
    return _insert(dialect, table).on_conflict_do_nothing(index_elements=target)
