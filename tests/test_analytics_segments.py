"""core/analytics/segments.py: the rules, and K-means recovering a planted structure."""

from __future__ import annotations

import numpy as np

from core.analytics.segments import Features, kmeans_segments, rule_segments


def planted(seed: int = 5) -> tuple[Features, np.ndarray]:
    """Three kinds of members: fans (active daily, spend), browsers (sometimes, no spend) and
    sleepers (gone a long while)."""
    rng = np.random.default_rng(seed)
    sizes = (60, 80, 50)
    truth = np.repeat([0, 1, 2], sizes)
    n = len(truth)
    recency = np.concatenate([rng.uniform(0, 2, 60), rng.uniform(5, 12, 80), rng.uniform(60, 120, 50)])
    frequency = np.concatenate([rng.uniform(18, 28, 60), rng.uniform(3, 8, 80), rng.uniform(0, 1, 50)])
    monetary = np.concatenate([rng.uniform(5000, 20000, 60), np.zeros(80), rng.uniform(0, 500, 50)])
    engagement = np.concatenate([rng.uniform(75, 95, 60), rng.uniform(30, 50, 80), rng.uniform(0, 10, 50)])
    features = Features(
        np.arange(1, n + 1),
        rng.uniform(0, 200, n),
        recency,
        frequency,
        (monetary > 0).astype(float),
        monetary,
        engagement,
        np.zeros(n, dtype=bool),
    )
    return features, truth


def test_kmeans_recovers_the_planted_segments() -> None:
    features, truth = planted()
    found = kmeans_segments(features)
    assert found.k == 3
    # Each planted group lands in one cluster of its own.
    for group in range(3):
        labels = set(found.labels[truth == group].tolist())
        assert len(labels) == 1
    assert len(set(found.labels.tolist())) == 3
    # Numbered by engagement: the fans are cluster 1, the sleepers the last; described so.
    assert found.labels[truth == 0][0] == 1 and found.labels[truth == 2][0] == 3
    fans, sleepers = found.clusters[0], found.clusters[2]
    assert fans.size == 60 and {"recently active", "frequent", "high spend", "highly engaged"} <= set(
        fans.traits
    )
    assert "long inactive" in sleepers.traits
    assert found.silhouette > 0.5


def test_clustering_is_deterministic() -> None:
    features, _ = planted()
    assert kmeans_segments(features).labels.tolist() == kmeans_segments(features).labels.tolist()


def test_too_few_members_are_not_clustered() -> None:
    features, _ = planted()
    few = Features(*(getattr(features, name)[:5] for name in Features.__dataclass_fields__))
    assert kmeans_segments(few).k == 0


def test_rule_segments() -> None:
    features = Features(
        np.array([1, 2, 3, 4]),
        days_since_join=np.array([3.0, 100, 100, 100]),
        days_since_last=np.array([1.0, 20, 45, np.nan]),
        active_days_30=np.array([5.0, 1, 0, 0]),
        orders=np.array([0.0, 2, 0, 0]),
        monetary=np.array([0.0, 5000, 0, 0]),
        engagement=np.array([50.0, 60, 5, 0]),
        top_tier=np.array([False, False, False, True]),
    )
    rules = {name: np.flatnonzero(mask).tolist() for name, mask in rule_segments(features).items()}
    assert rules == {
        "new": [0],
        "active": [0],
        "at-risk": [1],
        "churned": [2, 3],
        "paying": [1],
        "vip": [1, 3],
    }
