"""Every message in the code has a zh_CN translation with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"msg": None, "nmsg": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def source_messages() -> dict[str, str]:
    """msgid → where it is used, for every msg()/nmsg() call in bot/, core/, jobs/ and web/."""
    found: dict[str, str] = {}
    for package in ("bot", "core", "jobs", "web"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            key = message if isinstance(message, str) else message[0]
            found.setdefault(key, f"{package}/{filename}:{lineno}")
    return found


def catalog(locale: str):  # type: ignore[no-untyped-def]
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def test_source_has_messages() -> None:
    messages = source_messages()
    assert "Commands you can use here:" in messages
    assert len(messages) > 20


def test_every_message_has_a_zh_cn_translation() -> None:
    zh = catalog("zh_CN")
    missing = []
    for key, where in sorted(source_messages().items()):
        entry = zh.get(key)
        strings = [] if entry is None else entry.string
        strings = list(strings) if isinstance(strings, tuple | list) else [strings]
        # A plural entry is translated only when every form is (its msgstr is a tuple).
        translated = bool(strings) and all(strings) and "fuzzy" not in entry.flags
        if not translated:
            missing.append(f"{where}: {key!r}")
    assert not missing, (
        "messages without a zh_CN translation (run `make i18n`, then translate):\n" + "\n".join(missing)
    )


def test_translations_keep_the_placeholders() -> None:
    zh = catalog("zh_CN")
    for entry in zh:
        if not entry.id or not entry.string:
            continue
        source = entry.id if isinstance(entry.id, str) else entry.id[0]
        strings = entry.string if isinstance(entry.string, tuple | list) else [entry.string]
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(source)), source
