"""One-step statements for the SQLite hot paths (the batch writers).

pysqlite releases and re-takes the GIL for every row it steps (``executemany``, and every
row a query returns); while the event loop thread is busy, each re-take waits for it (a
convoy), so a 1,000-row executemany or result can cost milliseconds per row. One statement
with many rows in, or one JSON value out, takes the GIL back once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

MAX_VARIABLES = 30_000  # below SQLite's 32,766 bound on host parameters


def insert_rows(
    raw: Any,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_conflicts: bool = False,
) -> int:
    """INSERT ``rows`` into ``table`` with as few statements as the parameter limit allows;
    returns how many rows went in (fewer with ``skip_conflicts``: ON CONFLICT DO NOTHING)."""
    return insert_values(
        raw, table, columns, [value for row in rows for value in row], skip_conflicts=skip_conflicts
    )


def insert_values(
    raw: Any, table: str, columns: Sequence[str], values: Sequence[Any], *, skip_conflicts: bool = False
) -> int:
    """``insert_rows`` with the rows' values already laid end to end, row after row."""
    width = len(columns)
    per_statement = max(1, MAX_VARIABLES // width) * width
    row_marks = "(" + ",".join("?" * width) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    tail = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    inserted = 0
    for start in range(0, len(values), per_statement):
        chunk = values[start : start + per_statement]
        sql = head + ",".join([row_marks] * (len(chunk) // width)) + tail
        inserted += raw.execute(sql, chunk).rowcount
    return inserted


def add_to_columns(raw: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """For each row ``(id, delta1, delta2, …)``: ``column_i = column_i + delta_i`` where id matches,
    in one UPDATE … FROM (VALUES …) per chunk."""
    width = len(columns) + 1
    per_statement = max(1, MAX_VARIABLES // width)
    row_marks = "(" + ",".join("?" * width) + ")"
    sets = ", ".join(f"{column} = {table}.{column} + v.column{i + 2}" for i, column in enumerate(columns))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = (
            f"UPDATE {table} SET {sets} FROM (VALUES {','.join([row_marks] * len(chunk))}) AS v"
            f" WHERE {table}.id = v.column1"
        )
        raw.execute(sql, [value for row in chunk for value in row])


def as_json(values: Sequence[Any]) -> str:
    """A list as one JSON parameter, for ``IN (SELECT value FROM json_each(?))``."""
    return json.dumps(list(values))


def select_all(raw: Any, sql: str, columns: Sequence[str], params: Sequence[Any] = ()) -> list[list[Any]]:
    """The rows of query ``sql`` (whose result has ``columns``), fetched in one step as one
    JSON array. Integers, text and NULL come back as they are stored."""
    packed = f"SELECT json_group_array(json_array({', '.join(columns)})) FROM ({sql})"
    (value,) = raw.execute(packed, params).fetchone()
    return json.loads(value)
