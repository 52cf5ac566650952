"""The neutral outbound reply: ordered segments that each adapter renders its own way."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.i18n import Msg

Content = Msg | str  # Msg is translated at the edge; str is user content, shown as is


class Style(StrEnum):
    PLAIN = "plain"
    BOLD = "bold"
    CODE = "code"


@dataclass(frozen=True)
class Text:
    content: Content
    style: Style = Style.PLAIN


@dataclass(frozen=True)
class Link:
    label: Content
    url: str


@dataclass(frozen=True)
class Button:
    """A button: ``data`` comes back as a button event; ``url`` opens a link instead, and with
    ``web_app`` inside the chat app where it can (a Telegram Mini App, in private chats only),
    as a link elsewhere."""

    label: Content
    data: str = ""
    url: str = ""
    web_app: bool = False


@dataclass(frozen=True)
class Buttons:
    rows: tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Image:
    png: bytes
    caption: Content = ""


@dataclass(frozen=True)
class File:
    name: str
    data: bytes
    caption: Content = ""


@dataclass(frozen=True)
class Invoice:
    """A request to pay inside the chat (Telegram Stars ``sendInvoice``); ``payload`` comes
    back with the payment (``order:ID``). Platforms without in-chat payment show it as text."""

    title: str
    description: str
    payload: str
    currency: str
    amount: int  # minor units (Stars: whole stars)
    every_days: int | None = None  # a subscription: charged again every that many days


Segment = Text | Link | Buttons | Image | File | Invoice
NEWLINE = Text("\n")


@dataclass(frozen=True)
class Notice:
    """What a transactional private message is, besides its text: ``kind`` (one of
    core/delivery/templates.NOTICES) and its values by field name (a Money, a date's ISO text,
    a title), for platforms that deliver such notices through templates of their own when the
    text cannot go (WeChat's template messages outside its 48-hour window)."""

    kind: str
    fields: tuple[tuple[str, object], ...]

    def value(self, name: str) -> object:
        return next((value for field_name, value in self.fields if field_name == name), "")


@dataclass(frozen=True)
class Place:
    """A thread of a group chat where a note to a member goes instead of their private chat
    (the forum topic a question was asked in), replying to ``reply_to`` there. A platform
    that cannot post there, or a thread closed meanwhile, reaches the member privately."""

    chat_id: int  # the chats row
    thread: str
    reply_to: str | None = None  # the platform's message id (as in Event.message_id)


@dataclass(frozen=True)
class Reply:
    """What the bot says. ``to_member`` None means the chat the event came from;
    otherwise a private message to that member (on whichever platform reaches them, or on
    ``via`` when they have an account there: an answer goes where its question was asked),
    or into ``place`` when the note is about a thread."""

    segments: tuple[Segment, ...]
    to_member: int | None = None
    notice: Notice | None = None
    via: str | None = None
    place: Place | None = None

    @classmethod
    def text(
        cls,
        *lines: Content,
        to_member: int | None = None,
        notice: Notice | None = None,
        place: Place | None = None,
    ) -> Reply:
        """A reply of plain lines."""
        segments: list[Segment] = []
        for index, line in enumerate(lines):
            if index:
                segments.append(NEWLINE)
            segments.append(Text(line))
        return cls(tuple(segments), to_member, notice, place=place)


@dataclass
class ReplyBuilder:
    """Builds a reply segment by segment: ``ReplyBuilder().bold(m).text(m).line()...``."""

    segments: list[Segment] = field(default_factory=list)
    to_member: int | None = None

    def text(self, content: Content) -> ReplyBuilder:
        self.segments.append(Text(content))
        return self

    def bold(self, content: Content) -> ReplyBuilder:
        self.segments.append(Text(content, Style.BOLD))
        return self

    def code(self, content: Content) -> ReplyBuilder:
        self.segments.append(Text(content, Style.CODE))
        return self

    def link(self, label: Content, url: str) -> ReplyBuilder:
        self.segments.append(Link(label, url))
        return self

    def line(self) -> ReplyBuilder:
        self.segments.append(NEWLINE)
        return self

    def buttons(self, *rows: tuple[Button, ...]) -> ReplyBuilder:
        self.segments.append(Buttons(tuple(rows)))
        return self

    def build(self) -> Reply:
        segments = list(self.segments)
        while segments and segments[-1] == NEWLINE:
            segments.pop()
        return Reply(tuple(segments), self.to_member)
