"""core/storage/sqlite_bulk.py: multi-row INSERT and UPDATE … FROM (VALUES …) on raw sqlite3."""

from __future__ import annotations

import sqlite3

import pytest

from core.storage import sqlite_bulk


@pytest.fixture
def raw() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b INTEGER NOT NULL, note TEXT)")
    return conn


@pytest.mark.parametrize("limit", [30_000, 7])  # 7 variables: two rows per statement
def test_insert_rows_splits_at_the_parameter_limit(
    raw: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(sqlite_bulk, "MAX_VARIABLES", limit)
    rows = [(i, i * 10, -i, f"row {i}") for i in range(1, 8)]
    sqlite_bulk.insert_rows(raw, "t", ("id", "a", "b", "note"), rows)
    assert raw.execute("SELECT id, a, b, note FROM t ORDER BY id").fetchall() == rows


def test_add_to_columns_adds_per_row_and_leaves_others(
    raw: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_bulk.insert_rows(raw, "t", ("id", "a", "b"), [(1, 10, 0), (2, 20, 5), (3, 30, 7)])
    monkeypatch.setattr(sqlite_bulk, "MAX_VARIABLES", 3)  # one row per statement
    sqlite_bulk.add_to_columns(raw, "t", ("a", "b"), [(1, 5, -1), (3, -30, 3)])
    assert raw.execute("SELECT id, a, b FROM t ORDER BY id").fetchall() == [
        (1, 15, -1),
        (2, 20, 5),
        (3, 0, 10),
    ]


def test_a_failing_row_fails_its_statement(raw: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        sqlite_bulk.insert_rows(raw, "t", ("id", "a", "b"), [(1, 1, 1), (1, 2, 2)])
    assert raw.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_select_all_returns_every_row_in_one_step_with_types_kept(raw: sqlite3.Connection) -> None:
    rows = [(1, 10, -3, '签到 "quoted"'), (2, 2**40, 0, None)]
    sqlite_bulk.insert_rows(raw, "t", ("id", "a", "b", "note"), rows)
    sql = "SELECT id, a, b, note FROM t WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"
    found = sqlite_bulk.select_all(raw, sql, ("id", "a", "b", "note"), (sqlite_bulk.as_json([1, 2, 99]),))
    assert [tuple(row) for row in found] == rows


def test_select_all_of_no_rows_is_an_empty_list(raw: sqlite3.Connection) -> None:
    assert sqlite_bulk.select_all(raw, "SELECT id FROM t", ("id",)) == []


@pytest.mark.parametrize("limit", [30_000, 7])
def test_insert_rows_skipping_conflicts_counts_what_went_in(
    raw: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    sqlite_bulk.insert_rows(raw, "t", ("id", "a", "b"), [(2, 0, 0)])
    monkeypatch.setattr(sqlite_bulk, "MAX_VARIABLES", limit)
    rows = [(1, 1, 1), (2, 2, 2), (3, 3, 3)]
    assert sqlite_bulk.insert_rows(raw, "t", ("id", "a", "b"), rows, skip_conflicts=True) == 2
    assert raw.execute("SELECT id, a FROM t ORDER BY id").fetchall() == [(1, 1), (2, 0), (3, 3)]
    assert sqlite_bulk.insert_values(raw, "t", ("id", "a", "b"), [4, 4, 4, 5, 5, 5]) == 2
