"""core/i18n.py: messages as keys with parameters, gettext catalogs, rendering at the edge."""

from __future__ import annotations

import gettext
import io
import logging
import os
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from core.i18n import (
    DEFAULT_LOCALE,
    SUPPORTED_LOCALES,
    Catalogs,
    Msg,
    compile_po,
    current_locale,
    msg,
    nmsg,
    normalize_locale,
    render,
)

HEADER = r"""
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\n"
"Language: zh_CN\n"
"Plural-Forms: nplurals=1; plural=0;\n"
"""

ZH_PO = (
    HEADER
    + r"""
msgid "Hello, {name}!"
msgstr "你好，{name}！"

msgid "learner"
msgstr "学员"

msgid "{who} is now a {role}."
msgstr "{who} 现在是{role}。"

msgid "{n} point"
msgid_plural "{n} points"
msgstr[0] "{n} 积分"

msgid "Broken {name}"
msgstr "坏了 {nom}"

msgid "Unbalanced {name}"
msgstr "不平衡 {name"

msgid "{n} broken point"
msgid_plural "{n} broken points"
msgstr[0] "{count} 坏积分"

msgid "Attr {name}"
msgstr "属性 {name.first}"

msgid "Index {n}"
msgstr "索引 {n[0]}"

#, fuzzy
msgid "Draft"
msgstr "草稿"
"""
)


def _write_po(root: Path, locale: str, text: str) -> Path:
    folder = root / locale / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    po = folder / "messages.po"
    po.write_text(text, encoding="utf-8")
    return po


def _write_mo(root: Path, locale: str, translations: dict[str, str]) -> Path:
    catalog = Catalog(locale=locale)
    for msgid, msgstr in translations.items():
        catalog.add(msgid, msgstr)
    folder = root / locale / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    mo = folder / "messages.mo"
    with mo.open("wb") as fh:
        write_mo(fh, catalog)
    return mo


def _set_mtime(path: Path, seconds: float) -> None:
    os.utime(path, (seconds, seconds))


@pytest.fixture
def catalogs(tmp_path: Path) -> Catalogs:
    _write_po(tmp_path, "zh_CN", ZH_PO)
    return Catalogs(tmp_path)


# -- msg and nmsg ---------------------------------------------------------------------------


def test_msg_keeps_text_and_params_untranslated() -> None:
    value = msg("Hello, {name}!", name="Ana")
    assert value == Msg("Hello, {name}!", {"name": "Ana"})
    assert value.plural is None
    assert value.n is None


def test_nmsg_records_the_plural_and_exposes_n() -> None:
    value = nmsg("{n} point", "{n} points", 5, reason="quiz")
    assert value == Msg("{n} point", {"n": 5, "reason": "quiz"}, "{n} points", 5)


def test_msg_allows_a_param_named_text() -> None:
    # text is positional-only, so a placeholder may be called {text}.
    assert msg("Said: {text}", text="hi").params == {"text": "hi"}


# -- normalize_locale -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("en-US", "en"),
        ("EN_us", "en"),
        ("zh", "zh_CN"),
        ("zh-cn", "zh_CN"),
        ("zh_CN", "zh_CN"),
        ("zh-Hans-CN", "zh_CN"),
        ("  zh  ", "zh_CN"),
        ("fr", None),
        ("de_DE", None),
        ("english", None),
        ("", None),
        ("   ", None),
        ("_", None),
    ],
)
def test_normalize_locale(value: str, expected: str | None) -> None:
    assert normalize_locale(value) == expected


def test_every_normalized_locale_is_supported() -> None:
    for value in ("en", "zh", "en_GB", "zh_TW"):
        assert normalize_locale(value) in SUPPORTED_LOCALES
    assert DEFAULT_LOCALE in SUPPORTED_LOCALES


# -- render ---------------------------------------------------------------------------------


def test_plain_strings_pass_through_untouched(catalogs: Catalogs) -> None:
    assert render("{not} a {template", "zh_CN", catalogs) == "{not} a {template"
    assert render("learner", "zh_CN", catalogs) == "learner"  # user content is never translated


def test_render_in_english_formats_the_source(catalogs: Catalogs) -> None:
    assert render(msg("Hello, {name}!", name="Ana"), "en", catalogs) == "Hello, Ana!"


def test_render_translates(catalogs: Catalogs) -> None:
    assert render(msg("Hello, {name}!", name="Ana"), "zh_CN", catalogs) == "你好，Ana！"


def test_params_are_not_translated_or_reformatted(catalogs: Catalogs) -> None:
    # A member called "{name}" or "learner" is shown as typed.
    assert render(msg("Hello, {name}!", name="{name}"), "zh_CN", catalogs) == "你好，{name}！"
    assert render(msg("Hello, {name}!", name="learner"), "zh_CN", catalogs) == "你好，learner！"


def test_untranslated_message_uses_the_english_source(catalogs: Catalogs) -> None:
    assert render(msg("No translation {x}", x=1), "zh_CN", catalogs) == "No translation 1"


def test_unknown_locale_uses_the_english_source(catalogs: Catalogs) -> None:
    assert render(msg("Hello, {name}!", name="Ana"), "fr", catalogs) == "Hello, Ana!"


def test_nested_messages_are_rendered_in_the_same_locale(catalogs: Catalogs) -> None:
    value = msg("{who} is now a {role}.", who="Ana", role=msg("learner"))
    assert render(value, "zh_CN", catalogs) == "Ana 现在是学员。"
    assert render(value, "en", catalogs) == "Ana is now a learner."


def test_deeply_nested_messages(catalogs: Catalogs) -> None:
    inner = msg("Hello, {name}!", name=msg("learner"))
    outer = msg("{who} is now a {role}.", who=inner, role=msg("learner"))
    assert render(outer, "zh_CN", catalogs) == "你好，学员！ 现在是学员。"


@pytest.mark.parametrize(("n", "expected"), [(1, "1 point"), (0, "0 points"), (2, "2 points")])
def test_plural_in_english(catalogs: Catalogs, n: int, expected: str) -> None:
    assert render(nmsg("{n} point", "{n} points", n), "en", catalogs) == expected


@pytest.mark.parametrize("n", [1, 7])
def test_plural_in_chinese_has_one_form(catalogs: Catalogs, n: int) -> None:
    assert render(nmsg("{n} point", "{n} points", n), "zh_CN", catalogs) == f"{n} 积分"


def test_render_uses_the_current_locale_when_none_is_given(catalogs: Catalogs) -> None:
    value = msg("Hello, {name}!", name="Ana")
    assert render(value, catalogs=catalogs) == "Hello, Ana!"
    token = current_locale.set("zh_CN")
    try:
        assert render(value, catalogs=catalogs) == "你好，Ana！"
        assert render(value, "en", catalogs) == "Hello, Ana!"  # an explicit locale wins
    finally:
        current_locale.reset(token)


def test_translation_with_an_unknown_placeholder_falls_back_to_english(
    catalogs: Catalogs, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="core.i18n"):
        assert render(msg("Broken {name}", name="Ana"), "zh_CN", catalogs) == "Broken Ana"
    assert "Broken {name}" in caplog.text
    assert "zh_CN" in caplog.text


def test_translation_that_does_not_parse_falls_back_to_english(catalogs: Catalogs) -> None:
    assert render(msg("Unbalanced {name}", name="Ana"), "zh_CN", catalogs) == "Unbalanced Ana"


@pytest.mark.parametrize(("n", "expected"), [(1, "1 broken point"), (4, "4 broken points")])
def test_broken_plural_translation_falls_back_to_the_right_english_form(
    catalogs: Catalogs, n: int, expected: str
) -> None:
    value = nmsg("{n} broken point", "{n} broken points", n)
    assert render(value, "zh_CN", catalogs) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(msg("Attr {name}", name="Ana"), "Attr Ana"), (msg("Index {n}", n=5), "Index 5")],
    ids=["attribute", "index"],
)
def test_translation_with_attribute_or_index_syntax_falls_back_to_english(
    catalogs: Catalogs, value: Msg, expected: str
) -> None:
    assert render(value, "zh_CN", catalogs) == expected


# -- Catalogs -------------------------------------------------------------------------------


def test_po_is_compiled_in_memory_without_writing_a_mo(tmp_path: Path) -> None:
    po = _write_po(tmp_path, "zh_CN", ZH_PO)
    translations = Catalogs(tmp_path).get("zh_CN")
    assert isinstance(translations, gettext.GNUTranslations)
    assert translations.gettext("learner") == "学员"
    assert not po.with_suffix(".mo").exists()


def test_fuzzy_entries_are_left_out(catalogs: Catalogs) -> None:
    assert catalogs.get("zh_CN").gettext("Draft") == "Draft"


def test_missing_locale_gives_null_translations(tmp_path: Path) -> None:
    translations = Catalogs(tmp_path).get("zh_CN")
    assert type(translations) is gettext.NullTranslations
    assert translations.gettext("learner") == "learner"


def test_newer_mo_is_preferred_over_the_po(tmp_path: Path) -> None:
    po = _write_po(tmp_path, "zh_CN", ZH_PO)
    mo = _write_mo(tmp_path, "zh_CN", {"learner": "学习者（来自 mo）"})
    _set_mtime(po, 1_700_000_000)
    _set_mtime(mo, 1_700_000_100)
    assert Catalogs(tmp_path).get("zh_CN").gettext("learner") == "学习者（来自 mo）"


def test_mo_with_the_same_mtime_is_used(tmp_path: Path) -> None:
    po = _write_po(tmp_path, "zh_CN", ZH_PO)
    mo = _write_mo(tmp_path, "zh_CN", {"learner": "来自 mo"})
    _set_mtime(po, 1_700_000_000)
    _set_mtime(mo, 1_700_000_000)
    assert Catalogs(tmp_path).get("zh_CN").gettext("learner") == "来自 mo"


def test_stale_mo_is_ignored_in_favour_of_the_edited_po(tmp_path: Path) -> None:
    po = _write_po(tmp_path, "zh_CN", ZH_PO)
    mo = _write_mo(tmp_path, "zh_CN", {"learner": "旧的 mo"})
    _set_mtime(mo, 1_700_000_000)
    _set_mtime(po, 1_700_000_100)
    assert Catalogs(tmp_path).get("zh_CN").gettext("learner") == "学员"


def test_mo_alone_is_used(tmp_path: Path) -> None:
    _write_mo(tmp_path, "zh_CN", {"learner": "只有 mo"})
    assert Catalogs(tmp_path).get("zh_CN").gettext("learner") == "只有 mo"


def test_catalog_is_loaded_once_per_locale(tmp_path: Path) -> None:
    po = _write_po(tmp_path, "zh_CN", ZH_PO)
    catalogs = Catalogs(tmp_path)
    first = catalogs.get("zh_CN")
    po.write_text(HEADER + '\nmsgid "learner"\nmsgstr "改了"\n', encoding="utf-8")
    assert catalogs.get("zh_CN") is first
    assert catalogs.get("zh_CN").gettext("learner") == "学员"
    assert Catalogs(tmp_path).get("zh_CN").gettext("learner") == "改了"  # a new instance re-reads


def test_compile_po_gives_mo_bytes_gettext_can_read(tmp_path: Path) -> None:
    data = compile_po(_write_po(tmp_path, "zh_CN", ZH_PO))
    translations = gettext.GNUTranslations(io.BytesIO(data))
    assert translations.gettext("Hello, {name}!") == "你好，{name}！"
    assert translations.ngettext("{n} point", "{n} points", 3) == "{n} 积分"
