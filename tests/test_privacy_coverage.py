"""core/privacy/coverage.py: every column that points at a member is covered, and every
strategy named there is one the code knows."""

from __future__ import annotations

from core.privacy.coverage import MEMBER_COLUMNS
from core.storage.schema import load_all_tables


def member_columns() -> set[tuple[str, str]]:
    found = set()
    for table in load_all_tables().sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "members" for fk in column.foreign_keys):
                found.add((table.name, column.name))
    return found


def test_every_column_that_points_at_a_member_is_covered() -> None:
    missing = sorted(member_columns() - set(MEMBER_COLUMNS))
    assert not missing, f"say in core/privacy/coverage.py how export, forget and merge treat: {missing}"


def test_the_coverage_names_only_real_columns_and_known_strategies() -> None:
    tables = load_all_tables().tables
    for (table, column), handling in MEMBER_COLUMNS.items():
        assert column in tables[table].c, (table, column)
        assert handling.forget in ("keep", "delete") or handling.forget.startswith("blank:")
        if handling.forget.startswith("blank:"):
            assert handling.forget.split(":", 1)[1] in tables[table].c
        strategy, _, keys = handling.merge.partition(":")
        assert strategy in ("repoint", "drop", "keep", "custom"), handling
        for key in filter(None, keys.split(",")):
            assert key in tables[table].c, (table, key)
