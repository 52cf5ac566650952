"""Multi-row statements for the SQLite hot paths (the batch writers).

``executemany`` makes pysqlite release and re-take the GIL for every row; while the event loop
thread is busy, each re-take waits (a convoy), so a 1,000-row executemany can cost
milliseconds per row. One statement with many rows takes the GIL once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_VARIABLES = 30_000  # below SQLite's 32,766 bound on host parameters


def insert_rows(raw: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` into ``table`` with as few statements as the parameter limit allows."""
    width = len(columns)
    per_statement = max(1, MAX_VARIABLES // width)
    row_marks = "(" + ",".join("?" * width) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {','.join([row_marks] * len(chunk))}"
        raw.execute(sql, [value for row in chunk for value in row])


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
