"""The search terms of a text, the same for every database: words for alphabetic scripts
(lowercased, with common English endings stripped) and overlapping character pairs for
Chinese, Japanese and Korean, which have no spaces between words ("装饰器" → 装饰, 饰器).

The database indexes opaque ASCII tokens made from these terms, so SQLite's FTS5 and
PostgreSQL's ``simple`` text search see the same tokens whatever their locale settings.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_CJK = (
    "\u3040-\u30ff"  # kana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # han
    "\uac00-\ud7af"  # hangul
)
_TOKENS = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)
_IS_CJK = re.compile(rf"[{_CJK}]")
_ENDINGS = ("ing", "ed", "es", "s")
STOPWORDS = frozenset(
    "a an and are as at be by do does for from how i in is it my of on or the to what when why with you"
    " 的 了 吗 呢 怎么 如何 什么 是 在 我 你".split()
)
MAX_TERMS = 2_000  # a very long text indexes its start


def _stem(word: str) -> str:
    for ending in _ENDINGS:
        if len(word) > len(ending) + 3 and word.endswith(ending):
            return word[: -len(ending)]
    return word


def terms(text: str) -> list[str]:
    """The text's search terms, in order (repeats kept: they weigh in ranking)."""
    found: list[str] = []
    for run in _TOKENS.findall(unicodedata.normalize("NFKC", text).casefold()):
        if _IS_CJK.match(run):
            if len(run) == 1:
                found.append(run)
            else:
                found.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif run not in STOPWORDS:
            found.append(_stem(run))
        if len(found) >= MAX_TERMS:
            break
    return [term for term in found[:MAX_TERMS] if term not in STOPWORDS]


def token(term: str) -> str:
    """The ASCII token a term is indexed as."""
    return "t" + hashlib.blake2b(term.encode(), digest_size=6).hexdigest()


def indexed(text: str) -> str:
    """What the database indexes for ``text``: its terms' tokens, space-separated."""
    return " ".join(token(term) for term in terms(text))


def query_tokens(text: str) -> list[str]:
    """The distinct tokens to look for, for a search of ``text``."""
    return list(dict.fromkeys(token(term) for term in terms(text)))
