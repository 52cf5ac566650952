"""Replies → what an Official Account can send: text, images and referral QR codes.

WeChat has no markup and no inline buttons. Text is plain (bold and code lose their style);
buttons become numbered options under the text (``[1] 帮助``) that the follower answers with
the bare number; a link button shows its address. Images go as images; a file cannot be sent
to a follower, so its name and caption are said instead. A referral link (``qr:ref_CODE``,
from ``/ref``) becomes a QR code image that follows the Official Account with that scene.
Text longer than WeChat takes in one message is split on line boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.adapters.render import render_plain
from bot.handlers.referrals import QR_PREFIX
from bot.handlers.wechat import CONSENT_PREFIX
from core.delivery.service import Option
from core.i18n import msg, render
from core.replies import Image, Link, Reply

MAX_TEXT_BYTES = 2000  # WeChat takes 2,048 bytes of text in a reply or customer-service message


@dataclass(frozen=True)
class WxText:
    text: str


@dataclass(frozen=True)
class WxImage:
    png: bytes


@dataclass(frozen=True)
class WxQr:
    scene: str  # ref_CODE


WxMessage = WxText | WxImage | WxQr


@dataclass(frozen=True)
class Rendered:
    messages: tuple[WxMessage, ...]
    options: tuple[Option, ...]  # what a bare number picks, when the reply had buttons


def consent_links(reply: Reply) -> bool:
    """Whether ``reply`` offers subscribe-message consents (``consent:SCENE`` links, /notifyme)."""
    return any(isinstance(s, Link) and s.url.startswith(CONSENT_PREFIX) for s in reply.segments)


def render_reply(reply: Reply, locale: str, consent_urls: Mapping[int, str] | None = None) -> Rendered:
    """``consent_urls``: the follower's own ``subscribemsg`` link for each scene, which
    ``consent:SCENE`` links become (a scene without one is left out)."""
    reply = _with_consent_urls(reply, consent_urls or {})
    qr = [s for s in reply.segments if isinstance(s, Link) and s.url.startswith(QR_PREFIX)]
    images = [s for s in reply.segments if isinstance(s, Image)]
    # Images go as images of their own: only a caption stays in the text.
    segments = [s for s in reply.segments if s not in qr and not isinstance(s, Image)]
    plain = render_plain(replace(reply, segments=tuple(segments)), locale)
    captions = [render(image.caption, locale) for image in images if image.caption]
    lines = [text for text in (plain.text, *captions) if text]
    options: list[Option] = []
    numbered = _numbers_as_labels([label for label, _ in plain.buttons])
    if numbered:  # a scale (0 to 10): the number typed is the label, on one line
        options = [
            Option(b.data, b.url, number) for number, (_, b) in zip(numbered, plain.buttons, strict=True)
        ]
        lines.append(" · ".join(str(number) for number in numbered))
    for number, (label, button) in enumerate(plain.buttons if not numbered else [], start=1):
        options.append(Option(button.data, button.url))
        lines.append(f"[{number}] {label}: {button.url}" if button.url else f"[{number}] {label}")
    if options:
        lines.append(render(msg("Reply with a number to choose."), locale))
    messages: list[WxMessage] = [WxText(chunk) for chunk in split_text("\n".join(lines))]
    messages.extend(WxImage(image.png) for image in images)
    messages.extend(WxQr(link.url[len(QR_PREFIX) :]) for link in qr if isinstance(link, Link))
    return Rendered(tuple(messages), tuple(options))


def _numbers_as_labels(labels: list[str]) -> list[int]:
    """The buttons' labels as numbers when each is a distinct whole number (a scale); else []."""
    if len(labels) < 2 or not all(
        label.isascii() and label.isdigit() and len(label) <= 3 for label in labels
    ):
        return []
    numbers = [int(label) for label in labels]
    return numbers if len(set(numbers)) == len(numbers) else []


def _with_consent_urls(reply: Reply, urls: Mapping[int, str]) -> Reply:
    if not consent_links(reply):
        return reply
    segments = []
    for segment in reply.segments:
        if isinstance(segment, Link) and segment.url.startswith(CONSENT_PREFIX):
            scene = segment.url[len(CONSENT_PREFIX) :]
            url = urls.get(int(scene)) if scene.isdigit() else None
            if url is None:
                continue
            segment = Link(segment.label, url)
        segments.append(segment)
    return replace(reply, segments=tuple(segments))


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, cut at line ends where possible."""
    text = text.strip("\n")
    if not text:
        return []
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(line.encode()) > limit:  # one very long line: cut it by characters
            cut = limit
            while len(line[:cut].encode()) > limit:
                cut -= 1
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        pieces.append(current)
    return pieces
