"""core/delivery/templates.py: WeChat's 2023 template rules (20 characters a value, 200 in all,
no first/remark), cutting between characters as a reader sees them, the mapping's checks, and
the service: creators only, audited, one mapping per notice."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app import App
from core.audit import log as audit
from core.catalog.money import Money
from core.delivery.templates import (
    MAX_TOTAL,
    MAX_VALUE,
    NOTICES,
    NoticeTemplate,
    clip,
    parse_keywords,
    template_data,
)
from core.errors import InvalidInput, NotAllowed
from core.i18n import render
from core.members.models import Role
from core.replies import Notice
from tests.conftest import console_member

FAMILY = "👨\u200d👩\u200d👧"  # one emoji of five code points
FLAG = "🇨🇳"  # two regional indicators
ACCENTED = "e\u0301"  # e and a combining acute


def test_short_values_are_kept_whole() -> None:
    assert clip("Python 101", 20) == "Python 101"
    assert clip("一" * 20, 20) == "一" * 20


def test_long_values_end_with_an_ellipsis_within_the_limit() -> None:
    assert clip("一" * 25, 20) == "一" * 19 + "…"
    assert clip("abc", 0) == ""


@pytest.mark.parametrize("joined", [FAMILY, FLAG, ACCENTED, "👍🏽", "❤️"])
def test_a_cut_never_splits_what_a_reader_sees_as_one_character(joined: str) -> None:
    for prefix_length in range(15, 21):
        text = "a" * prefix_length + joined + "b" * 10
        cut = clip(text, 20)
        assert len(cut) <= 20 and cut.endswith("…")
        kept = cut[:-1]
        assert text.startswith(kept)
        assert joined in kept or len(kept) <= prefix_length  # all of it, or none of it


@given(st.text(max_size=60), st.integers(min_value=1, max_value=30))
def test_clip_keeps_a_prefix_within_the_limit(text: str, limit: int) -> None:
    cut = clip(text, limit)
    assert len(cut) <= limit
    if cut != text:
        assert cut.endswith("…") and text.startswith(cut[:-1])
        rest = text[len(cut) - 1 :]
        # what was cut away never starts with a mark that belongs to the character before it
        assert not rest or unicodedata.category(rest[0]) not in ("Mn", "Mc", "Me")


def test_template_data_follows_the_mapping_and_the_limits() -> None:
    template = NoticeTemplate(
        "payment_received", "T", (("thing1", "title"), ("amount2", "amount"), ("x3", "date"))
    )
    fields = (("title", "数据分析入门：从零开始掌握Python与pandas"), ("amount", Money("CNY", 9900)))
    data = template_data(template, Notice("payment_received", fields), "zh_CN")
    assert data["thing1"] == "数据分析入门：从零开始掌握Python…"
    assert data["amount2"] == "¥99.00" and data["x3"] == ""  # a field the notice lacks is empty
    many = NoticeTemplate("t", "T", tuple((f"k{n}", "title") for n in range(12)))
    values = template_data(many, Notice("t", (("title", "x" * 40),)), "en").values()
    assert all(len(v) <= MAX_VALUE for v in values) and sum(map(len, values)) <= MAX_TOTAL


def test_line_breaks_become_spaces() -> None:
    template = NoticeTemplate("t", "T", (("thing1", "title"),))
    assert template_data(template, Notice("t", (("title", "a\nb  c"),)), "en") == {"thing1": "a b c"}


@pytest.mark.parametrize(
    ("pairs", "refusal"),
    [
        (["first=title"], "no longer shows first"),
        (["Remark=title"], "no longer shows Remark"),
        (["thing1=price"], "not price"),
        (["thing1"], "is not KEYWORD=FIELD"),
        (["1thing=title"], "is not KEYWORD=FIELD"),
        (["a=title", "a=date"], "mapped twice"),
        ([], "Map 1 to 5 keywords"),
        ([f"k{n}=title" for n in range(6)], "Map 1 to 5 keywords"),
    ],
)
def test_bad_mappings_are_refused(pairs: list[str], refusal: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_keywords("refund_done", pairs)
    assert refusal in render(refused.value.message, "en")


def test_every_notice_offers_a_title() -> None:
    assert all("title" in fields for fields in NOTICES.values())


async def test_creators_set_and_clear_templates_audited(app: App) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    sam = await console_member(app, "Sam", Role.MODERATOR)
    templates = app.services.templates
    with pytest.raises(NotAllowed):
        await templates.set(community, sam, "refund_done", "T1", ["thing1=title"])
    await templates.set(community, mei, "refund_done", "T1", ["thing1=title"])
    await templates.set(community, mei, "refund_done", "T2", ["thing1=title", "amount2=amount"])  # replaces
    await templates.set(community, mei, "subscribe", "S1", [])
    with pytest.raises(InvalidInput):
        await templates.set(community, mei, "subscribe", "S1", ["thing1=title"])
    found = await templates.all(community.id)
    assert found["refund_done"] == NoticeTemplate(
        "refund_done", "T2", (("thing1", "title"), ("amount2", "amount"))
    )
    assert found["subscribe"].keywords == ()
    with pytest.raises(NotAllowed):
        await templates.clear(community, sam, "refund_done")
    assert await templates.clear(community, mei, "refund_done") is True
    assert await templates.clear(community, mei, "refund_done") is False
    assert await templates.get(community.id, "refund_done") is None
    async with app.db.read() as conn:
        entries = [e for e in await audit.recent(conn, community.id) if e.action == "wechat.template"]
    assert [e.detail for e in reversed(entries)] == [
        {"notice": "refund_done", "template": "T1"},
        {"notice": "refund_done", "template": "T2"},
        {"notice": "subscribe", "template": "S1"},
        {"notice": "refund_done", "template": None},
    ]
