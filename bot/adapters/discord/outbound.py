"""Replies → Discord messages: Markdown text (user content escaped), an embed for a reply that
opens with a bold heading, buttons as components, images and files as attachments, and text
split at Discord's 2,000 characters on line boundaries.

Rendering is pure (no network): the adapter sends what ``render_messages`` returns.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import discord

from bot.adapters.callbacks import CallbackData, TokenStore
from core.catalog.money import Money, format_money
from core.i18n import render
from core.replies import NEWLINE, Button, Buttons, Content, File, Image, Invoice, Link, Reply, Style, Text

MAX_MESSAGE = 2000
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_ROWS = 5
MAX_BUTTONS_PER_ROW = 5
MAX_LABEL = 80
MAX_CUSTOM_ID = 100
EMBED_COLOUR = 0x2B6CB0


def callback_data(store: TokenStore | None = None) -> CallbackData:
    return CallbackData(store, max_bytes=MAX_CUSTOM_ID)


@dataclass(frozen=True)
class ButtonSpec:
    label: str
    custom_id: str = ""
    url: str = ""


@dataclass(frozen=True)
class OutboundMessage:
    """One message to send: text or an embed, button rows, attachments (name, bytes)."""

    content: str = ""
    embed_title: str = ""
    embed_description: str = ""
    rows: tuple[tuple[ButtonSpec, ...], ...] = ()
    files: tuple[tuple[str, bytes], ...] = field(default=())

    @property
    def has_embed(self) -> bool:
        return bool(self.embed_title)

    def send_kwargs(self) -> dict[str, object]:
        """The keyword arguments of ``Messageable.send`` (or a followup) for this message."""
        kwargs: dict[str, object] = {"allowed_mentions": discord.AllowedMentions.none()}
        if self.content:
            kwargs["content"] = self.content
        if self.has_embed:
            kwargs["embed"] = discord.Embed(
                title=self.embed_title, description=self.embed_description or None, colour=EMBED_COLOUR
            )
        else:
            # No link previews (as on Telegram): Discord's crawler would open a one-time link
            # (/dashboard's) before the member does, and use it up.
            kwargs["suppress_embeds"] = True
        if self.rows:
            kwargs["view"] = build_view(self.rows)
        if self.files:
            kwargs["files"] = [discord.File(io.BytesIO(data), filename=name) for name, data in self.files]
        return kwargs


class StatelessView(discord.ui.View):
    """Buttons without callbacks: discord.py keeps no state for the view (nothing to lose on a
    restart); a press arrives as an interaction whose custom_id is the button's data."""

    def is_dispatchable(self) -> bool:
        return False


def build_view(rows: tuple[tuple[ButtonSpec, ...], ...]) -> discord.ui.View:
    """Components for the rows, in order."""
    view = StatelessView(timeout=None)
    for index, row in enumerate(rows):
        for spec in row:
            if spec.url:
                view.add_item(discord.ui.Button(label=spec.label, url=spec.url, row=index))
            else:
                view.add_item(
                    discord.ui.Button(
                        label=spec.label,
                        custom_id=spec.custom_id,
                        style=discord.ButtonStyle.secondary,
                        row=index,
                    )
                )
    return view


def render_messages(reply: Reply, locale: str, callbacks: CallbackData) -> list[OutboundMessage]:
    """The messages for ``reply`` in order; the buttons ride on the last text message."""
    segments = list(reply.segments)
    title = ""
    if len(segments) >= 2 and _is_heading(segments[0]) and segments[1] == NEWLINE:
        title = render(segments[0].content, locale).strip()  # type: ignore[union-attr]
        segments = segments[2:]
    lines: list[str] = [""]
    rows: list[tuple[ButtonSpec, ...]] = []
    media: list[OutboundMessage] = []
    for segment in segments:
        if isinstance(segment, Text):
            _add_text(lines, render(segment.content, locale), segment.style)
        elif isinstance(segment, Link):
            label = escape(render(segment.label, locale))
            lines[-1] += f"[{label}](<{segment.url.replace('>', '%3E')}>)" if segment.url else label
        elif isinstance(segment, Buttons):
            for row in segment.rows:  # Discord allows 5 buttons a row: a longer row wraps
                for start in range(0, len(row), MAX_BUTTONS_PER_ROW):
                    rows.append(_row(row[start : start + MAX_BUTTONS_PER_ROW], locale, callbacks))
        elif isinstance(segment, Image):
            media.append(
                OutboundMessage(_plain_caption(segment.caption, locale), files=(("chart.png", segment.png),))
            )
        elif isinstance(segment, File):
            media.append(
                OutboundMessage(
                    _plain_caption(segment.caption, locale), files=((segment.name, segment.data),)
                )
            )
        elif isinstance(segment, Invoice):
            price = format_money(Money(segment.currency, segment.amount), locale)
            lines[-1] += escape(f"{segment.title}: {price}")
    messages: list[OutboundMessage] = []
    body = "\n".join(lines).strip("\n")
    if title and len(title) <= MAX_EMBED_TITLE and len(body) <= MAX_EMBED_DESCRIPTION:
        messages.append(OutboundMessage(embed_title=title, embed_description=body))
    else:
        if title:
            lines.insert(0, f"**{escape(title)}**")
        messages += [OutboundMessage(text) for text in split_text(lines)]
    button_messages = [rows[i : i + MAX_ROWS] for i in range(0, len(rows), MAX_ROWS)]
    for index, chunk in enumerate(button_messages):
        if index == 0 and messages:
            last = messages[-1]
            messages[-1] = OutboundMessage(
                last.content, last.embed_title, last.embed_description, tuple(chunk)
            )
        else:
            messages.append(OutboundMessage("⬇️", rows=tuple(chunk)))
    return messages + media


def escape(text: str) -> str:
    """User and catalog text shown as written: Markdown characters escaped."""
    return discord.utils.escape_markdown(text)


def split_text(lines: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join rendered lines into messages of at most ``limit`` characters, breaking between
    lines; a line longer than that is cut into pieces of its own."""
    messages: list[str] = []
    current = ""
    for line in lines:
        pieces = [line[i : i + limit] for i in range(0, len(line), limit)] or [""]
        for piece in pieces:
            candidate = f"{current}\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
                continue
            if current.strip():
                messages.append(current)
            current = piece
    if current.strip():
        messages.append(current)
    return messages


def _is_heading(segment: object) -> bool:
    return isinstance(segment, Text) and segment.style is Style.BOLD


def _add_text(lines: list[str], text: str, style: Style) -> None:
    for index, part in enumerate(text.split("\n")):
        if index:
            lines.append("")
        if part:
            lines[-1] += _styled(part, style)


def _styled(text: str, style: Style) -> str:
    if style is Style.BOLD:
        return f"**{escape(text)}**"
    if style is Style.CODE:
        # Inside code nothing is escaped; a backtick in it needs the double fence.
        return f"`` {text} ``" if "`" in text else f"`{text}`"
    return escape(text)


def _plain_caption(caption: Content, locale: str) -> str:
    return escape(render(caption, locale))[:MAX_MESSAGE]


def _row(row: tuple[Button, ...], locale: str, callbacks: CallbackData) -> tuple[ButtonSpec, ...]:
    specs = []
    for button in row:
        label = render(button.label, locale)[:MAX_LABEL] or "·"
        if button.url:
            specs.append(ButtonSpec(label, url=button.url))
        else:
            specs.append(ButtonSpec(label, custom_id=callbacks.pack(button.data)))
    return tuple(specs)
