"""Rendering a Reply to plain text, for platforms without markup (console, WeChat)."""

from __future__ import annotations

from dataclasses import dataclass

from core.catalog.money import Money, format_money
from core.i18n import render
from core.replies import Button, Buttons, File, Image, Invoice, Link, Reply, Text


@dataclass(frozen=True)
class PlainReply:
    text: str
    buttons: tuple[tuple[str, Button], ...]  # (rendered label, button), in reading order
    attachments: tuple[Image | File, ...]


def render_plain(reply: Reply, locale: str) -> PlainReply:
    parts: list[str] = []
    buttons: list[tuple[str, Button]] = []
    attachments: list[Image | File] = []
    for segment in reply.segments:
        if isinstance(segment, Text):
            parts.append(render(segment.content, locale))
        elif isinstance(segment, Link):
            parts.append(f"{render(segment.label, locale)} ({segment.url})")
        elif isinstance(segment, Buttons):
            for row in segment.rows:
                buttons.extend((render(button.label, locale), button) for button in row)
        elif isinstance(segment, Image):
            attachments.append(segment)
            parts.append(f"[image: {render(segment.caption, locale) or 'chart'}]")
        elif isinstance(segment, File):
            attachments.append(segment)
            caption = render(segment.caption, locale)
            parts.append(f"[file {segment.name}: {caption}]" if caption else f"[file {segment.name}]")
        elif isinstance(segment, Invoice):
            price = format_money(Money(segment.currency, segment.amount), locale)
            parts.append(f"[invoice: {segment.title}, {price}]")
    return PlainReply("".join(parts), tuple(buttons), tuple(attachments))
