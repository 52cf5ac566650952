"""core/catalog/markdown.py: creators' Markdown rendered and sanitised in one place."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from core.catalog.markdown import ATTRIBUTES, TAGS, URL_SCHEMES, render_markdown


class Tags(HTMLParser):
    """Every tag and attribute of an HTML fragment, as a browser's tokenizer sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


# A URL's scheme as a browser reads it: leading spaces and control characters dropped, tabs and
# newlines anywhere ignored, then a letter and letters, digits, "+", "-" or "." before ":".
# Anything else (":", "1:", "/a:b") is a relative URL.
_SCHEME = re.compile(r"[\x00-\x20]*([a-zA-Z][a-zA-Z0-9+.\-]*):")


def scheme_of(url: str) -> str | None:
    found = _SCHEME.match(re.sub(r"[\t\n\r]", "", url))
    return found.group(1).lower() if found else None


def unsafe_parts(html: str) -> list[str]:
    """What must never reach a page: a tag outside TAGS, an attribute outside ATTRIBUTES (an
    on…= handler included), a link whose scheme is not allowed."""
    bad = []
    for tag, attrs in Tags(html).found:
        if tag not in TAGS:
            bad.append(tag)
        for name, value in attrs:
            if name.startswith("on") or name not in ATTRIBUTES.get(tag, set()) | {"rel"}:
                bad.append(f"{tag}[{name}]")
            scheme = scheme_of(value or "")
            if name == "href" and scheme is not None and scheme not in URL_SCHEMES:
                bad.append(value or "")
    return bad


def test_markdown_becomes_headings_lists_emphasis_and_links() -> None:
    html = render_markdown("# Reading CSV\n\n- open\n- *read*\n\n1. one\n\n[docs](https://pandas.pydata.org)")
    assert "<h1>Reading CSV</h1>" in html
    assert "<ul>\n<li>open</li>\n<li><em>read</em></li>\n</ul>" in html and "<ol>" in html
    assert '<a href="https://pandas.pydata.org" rel="noopener noreferrer nofollow">docs</a>' in html
    assert "<code>x = 1</code>" in render_markdown("`x = 1`")


def test_scripts_event_handlers_and_javascript_links_are_removed() -> None:
    typed = (
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        '[click](javascript:alert(1)) [two](JaVaScRiPt:alert(2)) <a href="javascript:alert(3)">x</a>\n\n'
        "<div onclick=alert(4)>hi</div> <iframe src=https://evil.example></iframe>"
    )
    html = render_markdown(typed)
    assert "<script" not in html and "<img" not in html and "<iframe" not in html and "<div" not in html
    assert '<a href="javascript' not in html.lower()  # as text it stays: escaped, inert
    assert unsafe_parts(html) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as the text typed, not run


def test_an_autolink_with_a_javascript_scheme_is_not_a_link() -> None:
    html = render_markdown("<javascript:alert(1)> and <https://ok.example>")
    assert unsafe_parts(html) == [] and 'href="https://ok.example"' in html


MARKDOWNISH = st.lists(
    st.sampled_from(
        [
            "<script>", "</script>", "<img src=x onerror=alert(1)>", "onerror=", "<a href=\"",
            "javascript:", "java\tscript:", "[x](", ")", "<", ">", "\"", "'", "`", "*", "# ", "\n",
            "- ", "<svg onload=alert(1)>", "<style>", "&#106;avascript:", "](", "<b ", " on", "=",
            "data:text/html,", "<!--", "-->", "<![CDATA[", "|", "---",
        ]
    )
    | st.text(max_size=8),
    max_size=40,
).map("".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(MARKDOWNISH)
def test_no_input_gets_a_script_an_event_handler_or_a_bad_link_through(text: str) -> None:
    html = render_markdown(text)
    assert unsafe_parts(html) == []
    assert "<script" not in html.lower() and "<svg" not in html.lower() and "<style" not in html.lower()
