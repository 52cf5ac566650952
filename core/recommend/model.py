"""The recommendation model, as pure functions on numpy and scipy arrays.

Item-item collaborative filtering on implicit feedback: a member × course matrix of
interaction strengths (a purchase, an enrollment, how much of the course they finished,
review stars), each course's column L2-normalised, cosine similarity between courses kept
to each course's strongest ``NEIGHBOURS``. A member's score for a course is the
similarity-weighted sum over what they have. Members the collaborative part knows nothing
about fall back to content (TF-IDF over course titles and descriptions against their Q&A
questions, character n-grams so Chinese needs no segmentation, as core/qa/suggest.py), then
to popularity. Excluded courses (owned, hidden, refunded) are never returned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

NEIGHBOURS = 30  # similar courses kept per course: enough for ranking, small to store
MIN_SUPPORT = 2  # members a course needs before its similarities are trusted
CONTENT_THRESHOLD = 0.08  # cosine below this is not a match worth a reason
CHUNK = 4096  # members scored at once (bounds the dense score block's memory)

# Interaction strengths (implicit feedback): owning is the signal, finishing and liking add.
PURCHASE = 1.0
GRANT = 0.7  # an enrollment without an order: free, points, a gift
PROGRESS = 1.0  # times the share of the course's lessons completed
STARS = 0.25  # per star above (or below) three


def strength(purchased: bool, progress: float, stars: int | None) -> float:
    """How strongly one member's history says they liked one course (always positive)."""
    value = (PURCHASE if purchased else GRANT) + PROGRESS * min(max(progress, 0.0), 1.0)
    if stars is not None:
        value += STARS * (stars - 3)
    return max(value, 0.1)


def similarity(matrix: sp.csr_matrix, neighbours: int = NEIGHBOURS) -> sp.csr_matrix:
    """Course × course cosine similarity of the columns of ``matrix`` (members × courses),
    diagonal zero, each row cut to its ``neighbours`` largest entries; courses with fewer
    than MIN_SUPPORT members get no similarities."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    support = np.asarray((matrix > 0).sum(axis=0)).ravel()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    scale = np.where((norms > 0) & (support >= MIN_SUPPORT), 1.0 / np.maximum(norms, 1e-12), 0.0)
    normalised = matrix @ sp.diags(scale.astype(np.float32))
    sims = (normalised.T @ normalised).tocsr()
    sims.setdiag(0)
    sims.eliminate_zeros()
    return top_per_row(sims, neighbours)


def top_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """``matrix`` with only each row's ``keep`` largest entries."""
    matrix = matrix.tocsr()
    rows, cols, vals = [], [], []
    for i in range(matrix.shape[0]):
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        if start == end:
            continue
        data, idx = matrix.data[start:end], matrix.indices[start:end]
        if end - start > keep:
            best = np.argpartition(-data, keep - 1)[:keep]
            data, idx = data[best], idx[best]
        rows.append(np.full(len(idx), i))
        cols.append(idx)
        vals.append(data)
    if not rows:
        return sp.csr_matrix(matrix.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=matrix.shape,
        dtype=np.float32,
    )


def popularity(matrix: sp.csr_matrix) -> np.ndarray:
    """Members per course."""
    return np.asarray((matrix > 0).sum(axis=0)).ravel().astype(np.int64)


def content_similarity(course_texts: Sequence[str], member_texts: Sequence[str]) -> np.ndarray:
    """Members × courses cosine of TF-IDF character n-grams (0 to 1); a member with no text
    scores 0 everywhere."""
    out = np.zeros((len(member_texts), len(course_texts)), dtype=np.float32)
    wanted = [i for i, text in enumerate(member_texts) if text.strip()]
    if not wanted or not course_texts:
        return out
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, lowercase=True)
    courses = vectorizer.fit_transform(course_texts)
    people = vectorizer.transform([member_texts[i] for i in wanted])
    out[wanted] = linear_kernel(people, courses)
    return out


@dataclass(frozen=True)
class Pick:
    """One recommended course (a column index) and why: ``cf`` (because of the course at
    ``because``), ``content`` (their questions), or ``popular``."""

    course: int
    source: str
    score: float
    because: int | None = None


def recommend(
    history: sp.csr_matrix,
    sims: sp.csr_matrix,
    excluded: np.ndarray,
    popular: np.ndarray,
    content: np.ndarray | None = None,
    n: int = 3,
    *,
    reasons: bool = True,
) -> list[list[Pick]]:
    """Each member's (row of ``history``) top ``n`` picks: collaborative scores first, then
    content (``content``: members × courses, from content_similarity), then popularity.
    ``excluded`` (members × courses, bool; or one row for everyone) is never picked.
    ``reasons=False`` skips finding each pick's ``because`` (an evaluation needs none)."""
    history = sp.csr_matrix(history, dtype=np.float32)
    found: list[list[Pick]] = []
    order_popular = np.argsort(-popular, kind="stable")
    for start in range(0, history.shape[0], CHUNK):
        block = history[start : start + CHUNK]
        blocked = excluded[start : start + CHUNK] if excluded.shape[0] > 1 else excluded
        scores = np.where(blocked, 0.0, np.asarray((block @ sims).todense()))
        best = np.argsort(-scores, axis=1, kind="stable")[:, :n]
        for row in range(block.shape[0]):
            member = start + row
            mask = blocked[row] if blocked.shape[0] > 1 else blocked[0]
            picks = [
                Pick(int(c), "cf", float(scores[row, c]), _because(block, sims, row, c) if reasons else None)
                for c in best[row]
                if scores[row, c] > 0
            ]
            taken = {p.course for p in picks}
            if len(picks) < n and content is not None:
                liked = np.where(mask, 0.0, content[member])
                for c in np.argsort(-liked, kind="stable")[: n * 2]:
                    if len(picks) >= n or liked[c] < CONTENT_THRESHOLD:
                        break
                    if c not in taken:
                        picks.append(Pick(int(c), "content", float(liked[c])))
                        taken.add(int(c))
            for c in order_popular:
                if len(picks) >= n or popular[c] <= 0:
                    break
                if not mask[c] and c not in taken:
                    picks.append(Pick(int(c), "popular", float(popular[c])))
                    taken.add(int(c))
            found.append(picks)
    return found


def _because(block: sp.csr_matrix, sims: sp.csr_matrix, row: int, course: int) -> int:
    """The owned course contributing most to ``course``'s score (the reason given)."""
    owned = block.indices[block.indptr[row] : block.indptr[row + 1]]
    weights = block.data[block.indptr[row] : block.indptr[row + 1]]
    contribution = weights * np.asarray(sims[owned, course].todense()).ravel()
    return int(owned[int(np.argmax(contribution))])


def most_popular(popular: np.ndarray, excluded: np.ndarray, n: int = 3) -> list[list[int]]:
    """The popularity baseline: each member's ``n`` most popular courses not excluded."""
    order = np.argsort(-popular, kind="stable")
    return [[int(c) for c in order if not row[c]][:n] for row in excluded]


def strongest_pairs(sims: sp.csr_matrix, limit: int = 5) -> list[tuple[int, int, float]]:
    """The most similar course pairs (each pair once), strongest first."""
    upper = sp.triu(sims.maximum(sims.T), k=1).tocoo()
    order = np.argsort(-upper.data, kind="stable")[:limit]
    return [(int(upper.row[i]), int(upper.col[i]), round(float(upper.data[i]), 3)) for i in order]


# -- topics for reasons ---------------------------------------------------------------------

_TOKENS = re.compile(r"[a-z][a-z0-9+#.\-]{2,}|[\u3400-\u9fff]{2,}")
_STOP = frozenset(
    "the and for with how what why when where which who can does this that from into about your you"
    " are was were have has not use using get make should would could there their".split()
)


def shared_topic(question: str, course_text: str) -> str | None:
    """The longest word (or Chinese run of 2 to 4 characters) a question shares with a
    course's text: the topic named in "matches your questions about …"."""
    text = course_text.lower()
    best: str | None = None
    for token in _TOKENS.findall(question.lower()[:500]):
        token = token.strip(".-")
        if _is_cjk(token):
            candidates = [token[i : i + k] for k in (4, 3, 2) for i in range(len(token) - k + 1)]
        else:
            candidates = [token] if token not in _STOP else []
        for candidate in candidates:
            if candidate in text and (best is None or len(candidate) > len(best)):
                best = candidate
    return best


def _is_cjk(token: str) -> bool:
    return "\u3400" <= token[0] <= "\u9fff"


# -- offline evaluation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    ndcg: float


def leave_last_out(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, order: np.ndarray, shape: tuple[int, int]
) -> tuple[sp.csr_matrix, dict[int, int]]:
    """Split interactions (``order``: when each happened) into a training matrix and each
    member's last purchase held out — for members with at least two."""
    last: dict[int, tuple[float, int]] = {}
    counts = np.bincount(rows, minlength=shape[0])
    for i in np.argsort(order, kind="stable"):
        if counts[rows[i]] >= 2:
            last[int(rows[i])] = (float(order[i]), int(i))
    held = np.zeros(len(rows), dtype=bool)
    held[[i for _, i in last.values()]] = True
    train = sp.csr_matrix((values[~held], (rows[~held], cols[~held])), shape=shape, dtype=np.float32)
    return train, {m: int(cols[i]) for m, (_, i) in last.items()}


def evaluate(ranked: dict[int, list[int]], held: dict[int, int], k: int = 3) -> Scores:
    """precision@k, recall@k and NDCG@k with one held-out course per member."""
    if not held:
        return Scores(0.0, 0.0, 0.0)
    hits = ndcg = 0.0
    for member, course in held.items():
        top = ranked.get(member, [])[:k]
        if course in top:
            hits += 1
            ndcg += 1.0 / np.log2(top.index(course) + 2)
    return Scores(round(hits / (k * len(held)), 4), round(hits / len(held), 4), round(ndcg / len(held), 4))


def offline_evaluation(train: sp.csr_matrix, held: dict[int, int], k: int = 3) -> tuple[Scores, Scores]:
    """The model's and the popularity baseline's scores for predicting ``held`` from ``train``."""
    members = np.array(sorted(held), dtype=np.int64)
    history = train[members]
    excluded = history.toarray() > 0
    sims = similarity(train)
    popular = popularity(train)
    picks = recommend(history, sims, excluded, popular, n=k, reasons=False)
    model = {int(m): [p.course for p in row] for m, row in zip(members, picks, strict=True)}
    baseline = dict(zip(members.tolist(), most_popular(popular, excluded, k), strict=True))
    return evaluate(model, held, k), evaluate(baseline, held, k)
