"""Benchmarks at a tiny size: each prints one JSON line with its fields, and its correctness
fields hold. The PostgreSQL ones (bench/ledger_pg.py, bench/ingest_pg.py, bench/processes.py) run
when STUDYHALL_TEST_PG is set (skipped otherwise); the learner pages' (bench/web.py) always. No
performance thresholds here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import selected

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("STUDYHALL_TEST_PG", "").strip()
on_pg = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only (STUDYHALL_TEST_PG)")
TINY = {"BENCH_LEDGER_MEMBERS": "300", "BENCH_MEMBERS": "200", "BENCH_WORKERS": "16"}


def run_bench(*args: str, pg: bool = True, **more: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **TINY, **more}
    env.pop("STUDYHALL_BENCH_PG", None)
    if pg:
        env["STUDYHALL_BENCH_PG"] = PG_URL
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def json_line(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    return json.loads(lines[0])


def assert_ledger_sound(check: object, postings: int) -> None:
    assert check == {
        "bench_keys": postings,
        "keys_unique": True,
        "sum_zero": True,
        "negative_balances": 0,
        "balances_match_transfers": True,
        "each_once": True,
    }


def test_the_postgresql_benchmarks_skip_with_one_line_without_postgresql() -> None:
    for module in ("bench.ledger_pg", "bench.ingest_pg", "bench.processes"):
        done = run_bench(module, pg=False)
        assert done.returncode == 0, done.stderr
        (line,) = done.stdout.strip().splitlines()
        assert "skipped" in line and "STUDYHALL_BENCH_PG" in line


def test_make_bench_runs_processes_only_on_postgresql_unless_asked_for() -> None:
    assert "processes" not in selected([], on_pg=False)
    assert selected([], on_pg=True)[-1] == "processes"
    assert selected(["processes"], on_pg=False) == ["processes"]  # it then skips itself


@on_pg
def test_ledger_on_postgresql_prints_rates_beside_its_reference_and_both_ledgers_are_sound() -> None:
    line = json_line(run_bench("bench.ledger_pg", "2000"))
    assert line["bench"] == "ledger" and line["db"] == "postgresql"
    assert line["postings"] == line["posted"] == line["ref_posted"] == 2000
    for field in ("rate", "ref_rate", "ratio", "statements_per_batch", "round_trips_per_batch"):
        assert isinstance(line[field], int | float) and line[field] > 0, field
    assert_ledger_sound(line["check"], 2000)
    assert_ledger_sound(line["ref_check"], 2000)


@on_pg
def test_ingest_on_postgresql_prints_rates_and_points_latency() -> None:
    line = json_line(run_bench("bench.ingest_pg", BENCH_EVENTS="1500"))
    assert line["bench"] == "ingest" and line["db"] == "postgresql"
    assert line["events"] == 1500
    assert line["activity_rows"] == 1500 + line["probes"]  # one row per message and per /points
    assert line["postings"] > 0 and line["probes"] > 0
    for field in ("rate", "ref_rate", "ratio", "p50_ms", "p99_ms"):
        assert isinstance(line[field], int | float) and line[field] > 0, field
    assert line["p50_ms"] <= line["p99_ms"]


@on_pg
def test_processes_split_the_ledger_workload_and_every_count_stays_sound() -> None:
    line = json_line(run_bench("bench.processes", "1200"))
    assert line["bench"] == "processes" and line["db"] == "postgresql"
    for count in (1, 2, 4):
        run = line[f"run_{count}"]
        assert isinstance(line[f"rate_{count}"], int) and line[f"rate_{count}"] > 0
        assert run["posted"] == 1200
        assert run["locks_in_id_order"] is True
        assert run["rows_locked_per_batch"] > 0
        assert_ledger_sound(
            {
                k: run[k]
                for k in (
                    "bench_keys",
                    "keys_unique",
                    "sum_zero",
                    "negative_balances",
                    "balances_match_transfers",
                    "each_once",
                )
            },
            1200,
        )
    assert line["ratio_4_to_1"] == pytest.approx(line["rate_4"] / line["rate_1"], rel=0.01)


def test_the_web_benchmark_times_each_learner_page_beside_its_queries() -> None:
    line = json_line(run_bench("bench.web", pg=False, BENCH_COURSES="12", BENCH_REQUESTS="3"))

    assert line["bench"] == "web" and line["courses"] == 12
    pages = line["pages"]
    assert isinstance(pages, dict)
    assert set(pages) == {"course", "course_ref", "sitemap", "lesson", "checkout", "order"}
    for figures in pages.values():
        assert set(figures) == {"p50_ms", "p95_ms", "ref_p50_ms", "ref_p95_ms", "ratio"}
        assert 0 < figures["p50_ms"] <= figures["p95_ms"]
