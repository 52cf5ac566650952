"""core/qa/terms.py: search terms for English and Chinese, and their index tokens."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.qa.terms import indexed, query_tokens, terms, token


def test_words_are_lowercased_stemmed_and_stopwords_dropped() -> None:
    assert terms("How do I merge two DataFrames in pandas?") == ["merge", "two", "datafram", "panda"]
    assert terms("merging") == ["merg"]  # "-ing" goes; a word of four letters or fewer keeps its end
    assert terms("uses") == ["uses"]
    assert terms("Is it") == []


def test_chinese_runs_become_overlapping_pairs() -> None:
    assert terms("列表推导式") == ["列表", "表推", "推导", "导式"]
    assert terms("装饰器") == ["装饰", "饰器"]
    assert terms("用") == ["用"]
    assert terms("Python装饰器") == ["python", "装饰", "饰器"]


def test_full_width_forms_read_as_ordinary_ones() -> None:
    assert terms("ＰＡＮＤＡＳ") == terms("pandas")


def test_tokens_are_ascii_and_stable() -> None:
    assert token("装饰") == token("装饰") and token("装饰").isascii() and token("装饰").isalnum()
    assert indexed("装饰器") == f"{token('装饰')} {token('饰器')}"
    assert query_tokens("装饰 装饰") == [token("装饰")]


@given(st.text(max_size=300))
def test_any_text_gives_searchable_ascii_tokens(text: str) -> None:
    for item in indexed(text).split():
        assert item.isascii() and item.isalnum()
