"""bench/recommend.py at a tiny size: one JSON line with the model's and popularity's scores
on the planted data and the demo seed, and the fit's cost. No performance thresholds here."""

from __future__ import annotations

from tests.test_bench import json_line, run_bench


def test_the_recommend_benchmark_prints_one_line_with_both_scores() -> None:
    line = json_line(run_bench("bench.recommend", pg=False, BENCH_COURSES="60"))
    assert line["bench"] == "recommend"
    planted = line["planted"]
    assert planted["members"] == 200 and planted["buyers_evaluated"] > 150
    assert set(planted["model"]) == {"precision_at_3", "recall_at_3", "ndcg_at_3"}
    assert set(line["demo"]["popularity"]) == {"precision_at_3", "recall_at_3", "ndcg_at_3"}
    assert line["fit"]["members"] == 200 and line["fit"]["interactions"] > 400
