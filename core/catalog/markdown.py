"""Creators' Markdown (lesson texts) as HTML safe to put in a page: the one place it is rendered.

markdown-it-py renders CommonMark with raw HTML off (typed tags come out as text), and nh3
(ammonia) then keeps only the tags and attributes below and only http, https and mailto
links, so neither a ``<script>``, an ``onerror=`` attribute nor a ``javascript:`` link can
reach a page whatever the renderer lets through.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code",
        "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

_RENDERER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> str:
    """``text`` (Markdown) as sanitised HTML: only TAGS with ATTRIBUTES, links with URL_SCHEMES
    (and rel="noopener noreferrer nofollow")."""
    return nh3.clean(
        _RENDERER.render(text),
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
