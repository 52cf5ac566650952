"""Messages as keys with parameters; translation happens at the edge.

The core returns :class:`Msg` values (an English msgid plus parameters).  An adapter renders
them with the recipient's locale via :func:`render`.  ``msg``/``nmsg`` are also the markers
Babel extracts (see babel.cfg and ``make i18n``).  Nothing is translated at import time.
"""

from __future__ import annotations

import gettext
import io
import logging
import string
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUPPORTED_LOCALES: tuple[str, ...] = ("en", "zh_CN")
DEFAULT_LOCALE = "en"
DOMAIN = "messages"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@dataclass(frozen=True)
class Msg:
    """A translatable message: msgid (English), optional plural form, and parameters."""

    text: str
    params: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None
    n: int | None = None


def msg(text: str, /, **params: Any) -> Msg:
    """Mark ``text`` for translation; ``{name}`` placeholders are filled from ``params``."""
    return Msg(text, params)


def nmsg(singular: str, plural: str, n: int, /, **params: Any) -> Msg:
    """A message with a plural form chosen by ``n`` (also available as ``{n}``)."""
    return Msg(singular, {"n": n, **params}, plural, n)


def normalize_locale(value: str) -> str | None:
    """Map what people type (``zh``, ``zh-cn``, ``EN_us``) to a supported locale, or None."""
    cleaned = value.strip().replace("-", "_").lower()
    if not cleaned:
        return None
    language = cleaned.split("_", 1)[0]
    if language == "zh":
        return "zh_CN"
    if language == "en":
        return "en"
    return None


def _locale_dir() -> Path:
    import locales

    return Path(locales.__file__).parent


class Catalogs:
    """Loads gettext catalogs once per locale.

    A compiled ``.mo`` is used when it is newer than its ``.po``; otherwise the ``.po`` is
    compiled in memory with Babel, so a fresh clone works without a compile step.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._dir = directory or _locale_dir()
        self._cache: dict[str, gettext.NullTranslations] = {}
        self._lock = threading.Lock()

    def get(self, locale: str) -> gettext.NullTranslations:
        with self._lock:
            found = self._cache.get(locale)
            if found is None:
                found = self._cache[locale] = self._load(locale)
            return found

    def _load(self, locale: str) -> gettext.NullTranslations:
        base = self._dir / locale / "LC_MESSAGES"
        po, mo = base / f"{DOMAIN}.po", base / f"{DOMAIN}.mo"
        if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
            with mo.open("rb") as fh:
                return gettext.GNUTranslations(fh)
        if po.exists():
            return gettext.GNUTranslations(io.BytesIO(compile_po(po)))
        return gettext.NullTranslations()


def compile_po(po_path: Path) -> bytes:
    """Compile a .po file to .mo bytes with Babel (fuzzy entries are left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path.open("rb") as fh:
        catalog = read_po(fh)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


_default_catalogs: Catalogs | None = None


def default_catalogs() -> Catalogs:
    global _default_catalogs
    if _default_catalogs is None:
        _default_catalogs = Catalogs()
    return _default_catalogs


def _plain_fields(template: str) -> bool:
    """True when every ``{field}`` is a bare name: a translation may not reach into attributes."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError:
        return False
    return all(name.isidentifier() for name in fields)


def _param(item: Any, locale: str, catalogs: Catalogs | None) -> Any:
    """A message parameter as the reader sees it: nested messages translated, and values
    that know how to show themselves per locale (money) shown so."""
    if isinstance(item, Msg):
        return render(item, locale, catalogs)
    localized = getattr(item, "localized", None)
    return localized(locale) if callable(localized) else item


def render(value: Msg | str, locale: str | None = None, catalogs: Catalogs | None = None) -> str:
    """Translate and format ``value``. Plain strings (user content) pass through untouched."""
    if isinstance(value, str):
        return value
    locale = locale or current_locale.get()
    translations = (catalogs or default_catalogs()).get(locale)
    if value.plural is not None and value.n is not None:
        template = translations.ngettext(value.text, value.plural, value.n)
    else:
        template = translations.gettext(value.text)
    params = {key: _param(item, locale, catalogs) for key, item in value.params.items()}
    if template is not value.text and not _plain_fields(template):
        template = value.plural if value.plural and value.n != 1 else value.text
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        # A broken translation must not break the reply: fall back to the English source.
        log.warning("translation of %r for %s does not format; using the source", value.text, locale)
        source = value.plural if value.plural and value.n != 1 else value.text
        return source.format(**params)
