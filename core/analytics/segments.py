"""Segments: named rules, and clusters found by K-means.

Rules (a member may be in several):
- ``new``: joined in the last 14 days;
- ``active``: active in the last 7 days;
- ``at-risk``: active before, but not in the last 14 days (and not yet churned);
- ``churned``: not active in the last 30 days (or never);
- ``paying``: at least one paid order;
- ``vip``: engagement in the top 10% and paying, or the highest tier.

Clusters: K-means (scikit-learn) on standardised recency, frequency, monetary value (RFM) and
engagement, with k from 2 to 6 chosen by the silhouette score. Choosing k fits each candidate
on a random sample of at most 3,000 members (silhouette is quadratic in the members it
scores); the chosen model then assigns every member to its nearest centroid, so a community
of 50,000 costs little more than one of 3,000. Clusters are numbered by their centroid's engagement, highest
first, so the numbers mostly stay put from one run to the next; each centroid is described in
plain words relative to the community's median member.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

RULES = ("new", "active", "at-risk", "churned", "paying", "vip")
K_RANGE = range(2, 7)
SAMPLE = 3_000  # members each candidate k is fitted on
SILHOUETTE_SAMPLE = 1_500  # of those, scored (silhouette is quadratic)
FEATURES = ("recency", "frequency", "monetary", "engagement")


@dataclass(frozen=True)
class Features:
    """Per member, aligned arrays (member i is ``member_ids[i]``)."""

    member_ids: NDArray  # int64
    days_since_join: NDArray
    days_since_last: NDArray  # NaN: never active
    active_days_30: NDArray
    orders: NDArray
    monetary: NDArray  # paid, in the community's main currency's minor units
    engagement: NDArray
    top_tier: NDArray  # bool

    def __len__(self) -> int:
        return len(self.member_ids)


def rule_segments(f: Features) -> dict[str, NDArray]:
    """Each rule's members, as a boolean mask over ``f``."""
    last = np.nan_to_num(f.days_since_last, nan=np.inf)
    engaged = f.engagement >= np.quantile(f.engagement, 0.9) if len(f) else np.zeros(0, bool)
    paying = f.orders > 0
    return {
        "new": f.days_since_join <= 14,
        "active": last <= 7,
        "at-risk": (last > 14) & (last <= 30),
        "churned": last > 30,
        "paying": paying,
        "vip": (engaged & paying & (f.engagement > 0)) | f.top_tier,
    }


@dataclass(frozen=True)
class Cluster:
    number: int  # 1 = the most engaged
    size: int
    centroid: dict[str, float]  # in the features' own units (days, orders, minor units, score)
    traits: list[str]  # plain words, e.g. "recently active", "high spend"


@dataclass(frozen=True)
class Clustering:
    labels: NDArray  # cluster number per member (0: too few members to cluster)
    clusters: list[Cluster]
    k: int
    silhouette: float


def _matrix(f: Features) -> NDArray:
    recency = np.nan_to_num(f.days_since_last, nan=365.0).clip(0, 365)
    return np.column_stack([recency, f.active_days_30, np.log1p(f.monetary), f.engagement]).astype(float)


def kmeans_segments(f: Features, *, seed: int = 7) -> Clustering:
    """K-means clusters with k chosen by silhouette; deterministic for a given ``seed``.

    Runs single-threaded: on small matrices OpenMP/BLAS threads cost more than they give, and
    many times more on a busy 2-core machine (measured 14x)."""
    with threadpool_limits(limits=1):
        return _kmeans_segments(f, seed)


def _kmeans_segments(f: Features, seed: int) -> Clustering:
    if len(f) < 10:
        return Clustering(np.zeros(len(f), dtype=np.int64), [], 0, 0.0)
    raw = _matrix(f)
    scaled = StandardScaler().fit_transform(raw)
    rng = np.random.default_rng(seed)
    sample = scaled[np.sort(rng.choice(len(f), size=min(len(f), SAMPLE), replace=False))]
    distinct = len(np.unique(sample, axis=0))
    best: tuple[float, int, KMeans] | None = None
    for k in K_RANGE:
        if k >= distinct:
            break
        model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(sample)
        score = float(
            silhouette_score(sample, model.labels_, sample_size=SILHOUETTE_SAMPLE, random_state=seed)
        )
        if best is None or score > best[0] + 1e-9:
            best = (score, k, model)
    if best is None:
        return Clustering(np.zeros(len(f), dtype=np.int64), [], 0, 0.0)
    score, k, chosen = best
    labels = chosen.predict(scaled)
    # Number the clusters by their mean engagement, highest first.
    means = [raw[labels == c, 3].mean() if (labels == c).any() else 0.0 for c in range(k)]
    order = sorted(range(k), key=lambda c: -means[c])
    renumber = {old: new + 1 for new, old in enumerate(order)}
    numbered = np.array([renumber[c] for c in range(k)], dtype=np.int64)[labels]
    medians = np.median(raw, axis=0)
    clusters = []
    for number in range(1, k + 1):
        rows = raw[numbered == number]
        centre = rows.mean(axis=0)
        clusters.append(
            Cluster(
                number,
                len(rows),
                {
                    "recency": round(float(centre[0]), 1),
                    "frequency": round(float(centre[1]), 1),
                    "monetary": round(float(np.expm1(centre[2])), 0),
                    "engagement": round(float(centre[3]), 1),
                },
                describe(centre, medians),
            )
        )
    return Clustering(numbered, clusters, k, round(score, 3))


def describe(centre: NDArray, medians: NDArray) -> list[str]:
    """Plain words for a centroid against the median member (keys the reports translate)."""
    recency, frequency, monetary, engagement = centre
    words = []
    words.append(
        "recently active" if recency <= max(medians[0], 3) else "long inactive" if recency > 30 else "lapsing"
    )
    if frequency >= max(medians[1] * 1.5, 4):
        words.append("frequent")
    elif frequency <= medians[1] * 0.5:
        words.append("rare")
    if monetary > medians[2] + 0.5:
        words.append("high spend")
    elif monetary <= 0.01:
        words.append("no purchases")
    if engagement >= medians[3] * 1.5 and engagement > 0:
        words.append("highly engaged")
    return words
