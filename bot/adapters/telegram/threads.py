"""Where an answer in a group goes: into the forum topic the command came from, as a reply to
that command, so in a busy group everyone sees whose ``/points`` it was.

Telegram sends a message in a topic with ``is_topic_message`` and its ``message_thread_id``;
without the thread id an answer lands in "General" (or fails when General is closed). A reply
uses ``reply_parameters`` with ``allow_sending_without_reply``, so a command deleted meanwhile
still gets its answer. A closed or deleted topic refuses the send: the caller then answers the
member privately (TopicGone), never in a loop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from telegram import Message, ReplyParameters, Update
from telegram.error import BadRequest

from bot.adapters.telegram.inbound import PLATFORM
from bot.app import Outgoing
from core.events import Event
from core.replies import Link, Reply, Text

# Telegram's descriptions of a send into a topic that cannot take it.
TOPIC_GONE = ("topic_closed", "topic_deleted", "message thread not found", "topic_id_invalid")


class TopicGone(Exception):
    """The topic an answer was for is closed or deleted."""


@dataclass(frozen=True)
class Thread:
    topic_id: int | None  # the forum topic (message_thread_id), if the command was in one
    reply_to: int | None  # the command's message id, for the first message of the answer

    def later(self) -> Thread:
        """The answer's further messages: the same topic, not replies."""
        return Thread(self.topic_id, None)

    def send_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.topic_id is not None:
            options["message_thread_id"] = self.topic_id
        if self.reply_to is not None:
            options["reply_parameters"] = ReplyParameters(self.reply_to, allow_sending_without_reply=True)
        return options


def thread_of(event: Event | None, chat_id: str) -> Thread | None:
    """The thread of ``event`` when the answer goes back to its (group) chat, else None."""
    raw = event.raw if event is not None else None
    reply_to: int | None = None
    message: Message | None = None
    if isinstance(raw, Message):
        message, reply_to = raw, raw.message_id
    elif isinstance(raw, Update) and raw.callback_query is not None:  # a button: its message's topic
        found = raw.callback_query.message
        message = found if isinstance(found, Message) else None
    if message is None or str(message.chat.id) != chat_id or message.chat.type == "private":
        return None
    topic = message.message_thread_id if message.is_topic_message else None
    return Thread(topic, reply_to)


def placed_note(outgoing: Outgoing, account: str) -> tuple[str, Reply, Thread] | None:
    """A note to a member about a topic (a Q&A answer): the chat, the note naming the member
    (a mention notifies them) and the topic, replying to the message it is about; None when
    its place is not a Telegram topic."""
    where = outgoing.thread
    if where is None or where.chat.platform != PLATFORM or not where.thread.lstrip("-").isdigit():
        return None
    reply_to = (where.reply_to or "").rpartition(":")[2]
    name = outgoing.member.display_name if outgoing.member is not None else account
    mention = (Link(name, f"tg://user?id={account}"), Text(" "))
    note = replace(outgoing.reply, segments=mention + outgoing.reply.segments)
    thread = Thread(int(where.thread), int(reply_to) if reply_to.isdigit() else None)
    return where.chat.external_id, note, thread


def is_topic_gone(error: BadRequest) -> bool:
    text = error.message.lower()
    return any(marker in text for marker in TOPIC_GONE)
