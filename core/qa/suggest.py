"""Suggesting answered questions like a new one, before it is posted.

TF-IDF over character n-grams within word boundaries (2 to 4 characters), compared by
cosine similarity: it needs no word segmentation, so it works for Chinese as well as for
English, and it forgives inflections ("merging" ~ "merge") and small typos.
"""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel


def similar(candidates: Sequence[tuple[int, str]], text: str, threshold: float, limit: int = 3) -> list[int]:
    """The ids of the ``candidates`` (id, text) at least ``threshold`` similar to ``text``
    (cosine of TF-IDF vectors, 0 to 1), most similar first."""
    if not candidates or not text.strip():
        return []
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, lowercase=True)
    matrix = vectorizer.fit_transform([body for _, body in candidates] + [text])
    scores = linear_kernel(matrix[-1], matrix[:-1]).ravel()  # rows are L2-normalised: cosine
    ranked = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    return [candidates[i][0] for i in ranked[:limit] if scores[i] >= threshold]
