"""Recommendations, evaluated offline: leave each buyer's last purchase out, predict their top
3 from the rest, and score precision@3, recall@3 and NDCG@3 for the model and for the
popularity baseline in the same run — on a synthetic community with planted taste groups, and
on the demo seed. Then the fit's time and peak memory for 50,000 members × 500 courses, and
the time to pick every one of them their top course (what a push to ``recommended`` needs).

The reference measured in the same run is the popularity baseline (target: the model's
recall@3 at least 1.5× its recall on the planted data).
"""

from __future__ import annotations

import asyncio
import os
import time
import tracemalloc
from datetime import timedelta

import numpy as np
import scipy.sparse as sp

from bench.common import START, emit, migrated_file, url_of
from core.recommend.model import (
    Scores,
    leave_last_out,
    offline_evaluation,
    popularity,
    recommend,
    similarity,
)

MEMBERS = int(os.environ.get("BENCH_MEMBERS", 50_000))
COURSES = int(os.environ.get("BENCH_COURSES", 500))
EVAL_MEMBERS = min(MEMBERS, 5_000)  # the planted evaluation's community
GROUPS = 10


def planted(
    members: int, courses: int, groups: int = GROUPS, seed: int = 7, loyalty: float = 0.85
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Purchases in a community with planted taste groups: each course belongs to one group,
    each member to one; a member buys 2 to 8 courses, each from their own group with
    probability ``loyalty`` (the group's courses Zipf-popular), else any course (also Zipf).
    Returns (member, course, strength, time) arrays, one entry per purchase."""
    rng = np.random.default_rng(seed)
    course_group = np.arange(courses) % groups
    by_group = [np.flatnonzero(course_group == g) for g in range(groups)]
    overall = 1.0 / np.arange(1, courses + 1) ** 0.8
    overall = rng.permutation(overall / overall.sum())
    rows, cols = [], []
    for member in range(members):
        group = member % groups
        inside = by_group[group]
        weights = 1.0 / np.arange(1, len(inside) + 1) ** 0.6
        weights /= weights.sum()
        chosen: set[int] = set()
        for _ in range(int(rng.integers(2, 9))):
            if rng.random() < loyalty:
                chosen.add(int(rng.choice(inside, p=weights)))
            else:
                chosen.add(int(rng.choice(courses, p=overall)))
        rows.extend([member] * len(chosen))
        cols.extend(sorted(chosen))
    rows_a, cols_a = np.array(rows), np.array(cols)
    order = rng.random(len(rows_a))  # purchase times: random order within each member
    strength = 1.0 + rng.random(len(rows_a))  # progress and stars vary
    return rows_a, cols_a, strength.astype(np.float32), order


def planted_evaluation(members: int, courses: int) -> tuple[Scores, Scores, int]:
    rows, cols, values, order = planted(members, courses)
    train, held = leave_last_out(rows, cols, values, order, (members, courses))
    model, popular = offline_evaluation(train, held)
    return model, popular, len(held)


async def demo_evaluation() -> tuple[Scores, Scores, int]:
    """The same on the demo seed (its purchases and enrollments, as the service loads them)."""
    import tempfile
    from pathlib import Path

    from bot.app import App
    from bot.config import Config
    from bot.demo import DEMO_COMMUNITY, seed_demo
    from core.clock import ManualClock
    from core.recommend.service import load_interactions

    folder = Path(tempfile.mkdtemp(prefix="studyhall-bench-"))
    clock = ManualClock(START + timedelta(days=30))
    await migrated_file(folder / "demo.db")
    config = Config(database_url=url_of(folder / "demo.db"), data_dir=folder)
    app = await App.open(config, clock=clock)
    try:
        await seed_demo(app)
        community = await app.community(DEMO_COMMUNITY)
        async with app.db.read() as conn:
            loaded = await load_interactions(conn, community.id)
    finally:
        await app.close()
    shape = (len(loaded.member_ids), len(loaded.course_ids))
    train, held = leave_last_out(loaded.rows, loaded.cols, loaded.values, loaded.order, shape)
    model, popular = offline_evaluation(train, held)
    return model, popular, len(held)


def fit_cost(members: int, courses: int) -> tuple[float, float, int, float]:
    """Seconds and peak MB (tracemalloc) to fit the similarities on members × courses, and
    seconds to score every member's top course (a push to ``recommended``)."""
    rows, cols, values, _ = planted(members, courses, seed=11)
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(members, courses))
    tracemalloc.start()
    started = time.perf_counter()
    sims = similarity(matrix)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sims.shape == (courses, courses)
    started = time.perf_counter()
    picks = recommend(matrix, sims, matrix.toarray() > 0, popularity(matrix), n=1, reasons=False)
    scoring = time.perf_counter() - started
    assert len(picks) == members
    return seconds, peak / 2**20, int(matrix.nnz), scoring


def _scores(s: Scores) -> dict[str, float]:
    return {"precision_at_3": s.precision, "recall_at_3": s.recall, "ndcg_at_3": s.ndcg}


async def main() -> None:
    model, popular, evaluated = planted_evaluation(EVAL_MEMBERS, COURSES)
    demo_model, demo_popular, demo_evaluated = await demo_evaluation()
    seconds, peak_mb, interactions, scoring = fit_cost(MEMBERS, COURSES)
    emit(
        {
            "bench": "recommend",
            "planted": {
                "members": EVAL_MEMBERS,
                "courses": COURSES,
                "buyers_evaluated": evaluated,
                "model": _scores(model),
                "popularity": _scores(popular),
            },
            "recall_ratio": round(model.recall / popular.recall, 2) if popular.recall else None,
            "demo": {
                "buyers_evaluated": demo_evaluated,
                "model": _scores(demo_model),
                "popularity": _scores(demo_popular),
            },
            "fit": {
                "members": MEMBERS,
                "courses": COURSES,
                "interactions": interactions,
                "seconds": round(seconds, 3),
                "peak_mb": round(peak_mb, 1),
                "score_all_seconds": round(scoring, 2),
            },
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
