"""Discord gateway objects → neutral Events: guild and DM messages, slash commands and button
presses (interactions), members joining and leaving, paid roles given and taken. Something in a
thread or forum post is its channel's (``Event.chat``), with the thread in ``Event.thread``.

The prefix form (``!points``) becomes ``/points`` so the core parses every platform alike; a
slash command becomes the text its options spell (see commands.py). ``<@id>`` mentions arrive
in ``Event.mentions``, so ``/award @Ana`` and ``/award <@123>`` name the same member.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime

import discord

from core.events import ChatKind, ChatRef, Event, EventKind, UserRef

log = logging.getLogger(__name__)

PLATFORM = "discord"
PREFIX = "!"
MAX_TEXT = 4000  # Discord's own limit (Nitro); anything longer did not come from Discord
_PREFIXED = re.compile(rf"^{re.escape(PREFIX)}(?=\w)")
MENTION = re.compile(r"<@!?(\d{15,21})>")


def user_ref(user: discord.abc.User, locale: discord.Locale | str | None = None) -> UserRef:
    return UserRef(
        PLATFORM,
        str(user.id),
        user.display_name or user.name,
        is_bot=user.bot,
        language=str(locale) if locale else None,
    )


def chat_ref(channel: object) -> ChatRef:
    """A guild channel is a group chat; a DM is the private chat. A thread (or a forum post,
    a thread of a forum channel) is its parent channel: paid access, bindings and activity
    belong to the channel, and ``thread_of`` says where in it an answer goes."""
    if isinstance(channel, discord.DMChannel):
        recipient = channel.recipient
        title = recipient.display_name if recipient else ""
        return ChatRef(PLATFORM, str(channel.id), ChatKind.PRIVATE, title)
    if isinstance(channel, discord.Thread):
        parent = channel.parent  # "" keeps the chat's known title when it is not cached
        return ChatRef(PLATFORM, str(channel.parent_id), ChatKind.GROUP, f"#{parent.name}" if parent else "")
    name = getattr(channel, "name", None) or str(getattr(channel, "id", ""))
    return ChatRef(PLATFORM, str(getattr(channel, "id", "")), ChatKind.GROUP, f"#{name}")


def thread_of(channel: object) -> str | None:
    """The thread (or forum post) id when ``channel`` is one: Event.thread."""
    return str(channel.id) if isinstance(channel, discord.Thread) else None


def guild_ref(guild: discord.Guild) -> ChatRef:
    """The server itself, where joining and leaving the server is recorded."""
    return ChatRef(PLATFORM, f"guild:{guild.id}", ChatKind.GROUP, guild.name)


def command_text(text: str) -> str:
    """``!points 3`` → ``/points 3``; anything else as it is."""
    return _PREFIXED.sub("/", text, count=1)


def mentions_in(text: str, users: Sequence[discord.abc.User]) -> dict[str, UserRef]:
    """Each ``<@id>``/``<@!id>`` token in ``text`` whose account Discord resolved."""
    known = {str(user.id): user for user in users}
    found: dict[str, UserRef] = {}
    for match in MENTION.finditer(text):
        user = known.get(match.group(1))
        if user is not None:
            found[match.group(0)] = user_ref(user)
    return found


def event_from_message(message: discord.Message, community: str) -> Event | None:
    """The Event for a message, or None for what the core has no use for (bots, empty content,
    system messages)."""
    try:
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return None
        text = message.content or ""
        if message.author.bot or not text.strip() or len(text) > MAX_TEXT:
            return None
        text = command_text(text)
        return Event(
            PLATFORM,
            community,
            chat_ref(message.channel),
            user_ref(message.author),
            EventKind.COMMAND if text.startswith("/") else EventKind.MESSAGE,
            message.created_at,
            text=text,
            message_id=f"{message.channel.id}:{message.id}",
            reply_to=replied_to(message),
            thread=thread_of(message.channel),
            mentions=mentions_in(text, message.mentions),
            raw=message,
        )
    except Exception:  # a malformed message must never stop the others
        log.warning("skipped a malformed Discord message %s", getattr(message, "id", "?"), exc_info=True)
        return None


def replied_to(message: discord.Message) -> str | None:
    """The Event.message_id of what ``message`` replies to. A reply to the bot's answer to a
    slash command replies to that command (``interaction:ID``, the id its event had): a slash
    /ask has no message of the member's own, the bot's answer is the question members see."""
    reference = message.reference
    if reference is None or reference.message_id is None:
        return None
    resolved = reference.resolved
    if isinstance(resolved, discord.Message) and resolved.interaction_metadata is not None:
        return f"interaction:{resolved.interaction_metadata.id}"
    return f"{message.channel.id}:{reference.message_id}"


def event_from_interaction(
    interaction: discord.Interaction, community: str, now: datetime, *, text: str = "", data: str = ""
) -> Event:
    """A slash command (``text``: the command as typed) or a button press (``data``)."""
    kind = EventKind.BUTTON if data else EventKind.COMMAND
    user = interaction.user
    if interaction.channel is not None:
        chat = chat_ref(interaction.channel)
    else:  # a DM the gateway did not describe: the private chat with this user
        chat = ChatRef(PLATFORM, str(interaction.channel_id or user.id), ChatKind.PRIVATE, user.display_name)
    return Event(
        PLATFORM,
        community,
        chat,
        user_ref(user, interaction.locale),
        kind,
        now,
        text=text,
        data=data,
        message_id=f"interaction:{interaction.id}",
        thread=thread_of(interaction.channel),
        mentions=mentions_in(text, _resolved_users(interaction)),
        raw=interaction,
    )


def _resolved_users(interaction: discord.Interaction) -> list[discord.abc.User]:
    """The accounts a slash command's user options point at (Discord sends them resolved)."""
    data = interaction.data or {}
    resolved = data.get("resolved", {}) if isinstance(data, dict) else {}
    users = []
    for raw in (resolved.get("users") or {}).values():
        users.append(discord.User(state=interaction._state, data=raw))
    return users


def membership_event(
    member: discord.Member, chat: ChatRef, kind: EventKind, community: str, now: datetime, key: str
) -> Event:
    """``member`` joined or left ``chat`` (the server, or a paid channel through its role)."""
    return Event(
        PLATFORM,
        community,
        chat,
        user_ref(member),
        kind,
        now,
        message_id=f"member:{key}",
        raw=member,
    )
