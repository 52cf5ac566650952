"""Replies → Bot API messages: HTML text (user content escaped), inline keyboards, photos
and documents, with long text split at Telegram's 4,096-character limit on line boundaries.

Each line is rendered on its own with its tags closed, so a split between lines never cuts
a tag; a single line longer than the limit is cut in its plain text before escaping, into
messages of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from telegram.error import TelegramError

from bot.adapters.callbacks import CallbackData
from core.catalog.money import Money, format_money
from core.i18n import msg, render
from core.replies import Button, Buttons, File, Image, Invoice, Link, Reply, Style, Text

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64  # Bot API limit on callback_data


@dataclass(frozen=True)
class TextMessage:
    html: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class PhotoMessage:
    png: bytes
    caption_html: str = ""


@dataclass(frozen=True)
class DocumentMessage:
    name: str
    data: bytes
    caption_html: str = ""


@dataclass(frozen=True)
class InvoiceMessage:
    """``sendInvoice`` in Telegram Stars (no provider token; one price). With ``every_days``,
    a subscription: Telegram only bills those through an invoice link (``createInvoiceLink``
    with ``subscription_period``), sent as a message whose button opens it."""

    title: str
    description: str
    payload: str
    currency: str
    amount: int
    every_days: int | None = None
    button_html: str = ""  # the subscription message's text and button label
    button_label: str = ""


OutboundMessage = TextMessage | PhotoMessage | DocumentMessage | InvoiceMessage
MAX_INVOICE_TITLE = 32
MAX_INVOICE_DESCRIPTION = 255


@dataclass(frozen=True)
class _Piece:
    text: str
    style: Style = Style.PLAIN
    url: str = ""

    def html(self) -> str:
        body = escape(self.text, quote=False)
        if self.url:
            return f'<a href="{escape(self.url)}">{body}</a>'
        if self.style is Style.BOLD:
            return f"<b>{body}</b>"
        if self.style is Style.CODE:
            return f"<code>{body}</code>"
        return body


def render_messages(reply: Reply, locale: str, callbacks: CallbackData) -> list[OutboundMessage]:
    """The Bot API messages for ``reply``, in order; the keyboard rides on the last text."""
    lines: list[list[_Piece]] = [[]]
    rows: list[list[InlineKeyboardButton]] = []
    media: list[OutboundMessage] = []
    for segment in reply.segments:
        if isinstance(segment, Text):
            _add_text(lines, render(segment.content, locale), segment.style)
        elif isinstance(segment, Link):
            lines[-1].append(_Piece(render(segment.label, locale), url=segment.url))
        elif isinstance(segment, Buttons):
            rows.extend([_button(button, locale, callbacks) for button in row] for row in segment.rows)
        elif isinstance(segment, Image):
            media.append(PhotoMessage(segment.png, _caption(render(segment.caption, locale))))
        elif isinstance(segment, File):
            media.append(
                DocumentMessage(segment.name, segment.data, _caption(render(segment.caption, locale)))
            )
        elif isinstance(segment, Invoice):
            price = format_money(Money(segment.currency, segment.amount), locale)
            every = segment.every_days
            media.append(
                InvoiceMessage(
                    segment.title[:MAX_INVOICE_TITLE],
                    (segment.description or segment.title)[:MAX_INVOICE_DESCRIPTION],
                    segment.payload,
                    segment.currency,
                    segment.amount,
                    every,
                    escape(
                        render(
                            msg(
                                "{title}: {price} every {days} days",
                                title=segment.title,
                                price=price,
                                days=every,
                            ),
                            locale,
                        ),
                        quote=False,
                    )
                    if every
                    else "",
                    render(msg("Subscribe for {price}", price=price), locale) if every else "",
                )
            )
    texts: list[str] = []
    fitting: list[str] = []
    for line in lines:
        html = "".join(piece.html() for piece in line)
        if len(html) <= MAX_MESSAGE:
            fitting.append(html)
            continue
        texts += split_lines(fitting)
        fitting = []
        texts += _cut(line)
    texts += split_lines(fitting)
    keyboard = InlineKeyboardMarkup(rows) if rows else None
    messages: list[OutboundMessage] = [TextMessage(text) for text in texts]
    if keyboard is not None:
        if messages:
            last = messages[-1]
            assert isinstance(last, TextMessage)
            messages[-1] = TextMessage(last.html, keyboard)
        else:
            messages.append(TextMessage("⬇️", keyboard))  # Telegram sends no keyboard without text
    return messages + media


def split_lines(lines: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join ``lines`` into messages of at most ``limit`` characters, breaking between lines.
    Each line must already fit."""
    messages: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current.strip():
            messages.append(current)
        current = line
    if current.strip():
        messages.append(current)
    return messages


def _add_text(lines: list[list[_Piece]], text: str, style: Style) -> None:
    for index, part in enumerate(text.split("\n")):
        if index:
            lines.append([])
        if part:
            lines[-1].append(_Piece(part, style))


def _cut(line: list[_Piece], limit: int = MAX_MESSAGE) -> list[str]:
    """Messages for one line too long for a message: cut in its plain text (escaping at most
    sextuples a character; tags add a few dozen), adding no line breaks of its own."""
    messages: list[str] = []
    current = ""
    for piece in line:
        step = max(1, (limit - 64 - len(escape(piece.url))) // 6)
        for start in range(0, len(piece.text), step):
            html = _Piece(piece.text[start : start + step], piece.style, piece.url).html()
            if len(current) + len(html) > limit:
                messages.append(current)
                current = ""
            current += html
    if current.strip():
        messages.append(current)
    return messages


def _caption(text: str) -> str:
    """The escaped caption, cut (in its plain text) to Telegram's 1,024 characters."""
    html = escape(text, quote=False)
    while len(html) > MAX_CAPTION:
        text = text[: len(text) - max(1, (len(html) - MAX_CAPTION) // 6)]
        html = escape(text, quote=False)
    return html


def _button(button: Button, locale: str, callbacks: CallbackData) -> InlineKeyboardButton:
    label = render(button.label, locale)
    if button.url and button.web_app:
        return InlineKeyboardButton(label, web_app=WebAppInfo(button.url))
    if button.url:
        return InlineKeyboardButton(label, url=button.url)
    return InlineKeyboardButton(label, callback_data=callbacks.pack(button.data))


async def quietly(call: object) -> None:
    """Await a best-effort call (answering a button press) whose failure changes nothing."""
    try:
        await call  # type: ignore[misc]
    except TelegramError as error:
        log.info("telegram: %s", error)
