"""The Discord side of the tests: dpytest (a fake gateway and HTTP client for discord.py)
driving the real adapter, recorded interaction payloads, and a recording stand-in for the
webhook endpoints interactions answer through (dpytest simulates no interactions).

dpytest's ``Guild.create_role`` and reactions are broken with discord.py 2.7 and not used;
roles come from ``backend.make_role`` and positions are set on the role objects. dpytest keeps
no components on the messages it makes: ``Peer.components`` reads them from what the bot sent
over (fake) HTTP. It has no replies either: ``Peer.reply`` sends a message with a reference.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
from discord.ext.test import backend, factories
from discord.webhook import async_ as webhooks

from bot.adapters.discord.adapter import DiscordAdapter
from bot.app import App

PAYLOADS = Path(__file__).parent / "peers" / "discord"
APPLICATION_ID = "1300000000000000001"
STRING, INTEGER = 3, 4  # application command option types
_INTERACTION_IDS = count(1312222222222222301)


@dataclass
class Sent:
    """One answer to an interaction: its kind (``defer``, ``message``, ``followup``, ``delete``),
    whether only the user sees it, and what it said."""

    kind: str
    ephemeral: bool
    payload: dict[str, Any] = field(default_factory=dict)
    message: dict[str, Any] = field(default_factory=dict)  # a followup: the message Discord made

    @property
    def text(self) -> str:
        embeds = self.payload.get("embeds") or []
        parts = [self.payload.get("content") or ""]
        parts += [f"{e.get('title', '')}\n{e.get('description', '')}" for e in embeds]
        return "\n".join(p for p in parts if p)


class RecordingWebhooks(webhooks.AsyncWebhookAdapter):
    """discord.py's webhook adapter with the HTTP call replaced by a record (and the answers
    Discord gives)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self._ids = count(1314000000000000001)

    async def create_interaction_response(self, interaction_id: int, token: str, **kwargs: Any) -> Any:
        payload = kwargs["params"].payload or {}
        data = payload.get("data") or {}
        kind = "message" if payload.get("type") == 4 else "defer"
        self.sent.append(Sent(kind, bool((data.get("flags") or 0) & 64), data))
        return {"interaction": {"id": str(interaction_id), "type": 2}}

    async def execute_webhook(self, webhook_id: int, token: str, **kwargs: Any) -> Any:
        payload = kwargs.get("payload") or {}
        if kwargs.get("multipart"):
            payload = json.loads(kwargs["multipart"][0]["value"])
        message = {
            "id": str(next(self._ids)),
            "channel_id": str(self.channel_id),
            "content": payload.get("content", ""),
            "embeds": payload.get("embeds", []),
            "attachments": [],
            "author": {
                "id": APPLICATION_ID,
                "username": "studyhall",
                "discriminator": "0000",
                "avatar": None,
            },
            "timestamp": "2026-01-05T09:00:00.000000+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "type": 0,
            "flags": payload.get("flags", 0),
            "webhook_id": APPLICATION_ID,
            "application_id": APPLICATION_ID,
            "interaction_metadata": self.interaction,  # what Discord tells of the command
        }
        self.sent.append(Sent("followup", bool((payload.get("flags") or 0) & 64), payload, message))
        return message

    async def delete_original_interaction_response(self, *args: Any, **kwargs: Any) -> None:
        self.sent.append(Sent("delete", False))

    channel_id: int = 0
    interaction: dict[str, Any] | None = None


@dataclass(frozen=True)
class Component:
    """A button as Discord received it: its label and custom_id (a press) or url (a link)."""

    label: str
    custom_id: str = ""
    url: str = ""
    style: int = 0


def components_of(payload: dict[str, Any]) -> list[Component]:
    """The buttons in a message payload's action rows, in order."""
    return [
        Component(c.get("label", ""), c.get("custom_id", ""), c.get("url", ""), c.get("style", 0))
        for row in payload.get("components") or []
        for c in row.get("components") or []
    ]


@dataclass
class Peer:
    adapter: DiscordAdapter
    guild: discord.Guild
    lounge: discord.TextChannel
    vip: discord.TextChannel
    ana: discord.Member
    mei: discord.Member
    webhooks: RecordingWebhooks
    payloads: list[dict[str, Any]] = field(default_factory=list)  # each message the bot sent

    @property
    def bot(self) -> discord.Member:
        me = self.guild.me
        assert me is not None
        return me

    async def say(
        self, text: str, channel: Any = None, member: discord.Member | None = None
    ) -> discord.Message:
        return await dpytest.message(text, channel or self.lounge, member or self.ana)

    async def dm(self, text: str, member: discord.Member | None = None) -> None:
        user = member or self.ana
        channel = await user.create_dm()
        await dpytest.message(text, channel, user)

    async def reply(
        self, text: str, to: discord.Message | dict[str, Any], member: discord.Member | None = None
    ) -> discord.Message:
        """A Discord reply (type 19 with a message reference) to ``to`` in #lounge, as the
        gateway sends it: ``to`` is a message, or a followup's payload (``Sent.message``)."""
        author = member or self.ana
        referenced = to if isinstance(to, dict) else factories.dict_from_message(to)
        data = factories.make_message_dict(self.lounge, author, content=text, type=19)
        data["message_reference"] = {
            "type": 0,
            "message_id": str(referenced["id"]),
            "channel_id": str(self.lounge.id),
            "guild_id": str(self.guild.id),
        }
        data["referenced_message"] = referenced
        backend.get_state().parse_message_create(data)
        await dpytest.run_all_events()
        message = backend.get_state()._get_message(data["id"])
        assert message is not None
        return message

    def components(self) -> list[Component]:
        """The buttons on the last message the bot sent (dpytest's copy keeps none)."""
        return components_of(self.payloads[-1]) if self.payloads else []

    def sent(self) -> list[discord.Message]:
        """What the bot sent (messages and DMs) since the last call, oldest first."""
        found = []
        while not dpytest.sent_queue.empty():
            found.append(dpytest.sent_queue.get_nowait())
        return found

    def texts(self) -> list[str]:
        return [text_of(message) for message in self.sent()]

    async def interact(
        self,
        name: str,
        *,
        member: discord.Member | None = None,
        options: dict[str, str | int] | None = None,
        **values: str,
    ) -> list[Sent]:
        """Deliver a recorded INTERACTION_CREATE through discord.py's own parser; returns how
        the adapter answered it. ``options``: a slash command's option values (strings and
        integers, typed as Discord types them)."""
        user = member or self.ana
        fill = {
            "application_id": APPLICATION_ID,
            "guild_id": str(self.guild.id),
            "channel_id": str(self.lounge.id),
            "user_id": str(user.id),
            "user_name": user.name,
            "bot_id": str(self.bot.id),
            "locale": "en-US",
            "command": "points",
            **values,
        }
        text = (PAYLOADS / f"{name}.json").read_text()
        text = re.sub(r"\{(\w+)\}", lambda m: json.dumps(fill[m.group(1)])[1:-1], text)
        payload = json.loads(text)
        payload["id"] = str(next(_INTERACTION_IDS))  # each interaction is a new one
        if options is not None:
            payload["data"]["options"] = [
                {"name": key, "type": INTEGER if isinstance(value, int) else STRING, "value": value}
                for key, value in options.items()
            ]
        self.webhooks.sent.clear()
        self.webhooks.channel_id = int(fill["channel_id"])  # followups land where it was used
        self.webhooks.interaction = {
            "id": payload["id"],
            "type": payload["type"],
            "user": payload["member"]["user"],
            "authorizing_integration_owners": payload["authorizing_integration_owners"],
        }
        self.adapter.client._connection.parse_interaction_create(payload)
        await dpytest.run_all_events()
        return list(self.webhooks.sent)


def text_of(message: discord.Message) -> str:
    parts = [message.content or ""]
    parts += [f"{e.title or ''}\n{e.description or ''}" for e in message.embeds]
    return "\n".join(p for p in parts if p)


def make_role(guild: discord.Guild, name: str, position: int, **permissions: bool) -> discord.Role:
    role = backend.make_role(name, guild, permissions=discord.Permissions(**permissions).value)
    role.position = position  # dpytest puts every new role at position 1
    return role


async def give_role(member: discord.Member, role: discord.Role) -> None:
    await dpytest.add_role(member, role)
    await dpytest.run_all_events()


def set_overwrite(
    channel: discord.TextChannel, target: discord.Role | discord.Member, **allowed: bool
) -> None:
    """A permission overwrite on the channel, as a CHANNEL_UPDATE from Discord would bring it.
    (dpytest's ``set_permission_overrides`` writes the overwrite type as "role"/"member"
    where discord.py 2.7 expects 0/1, so every overwrite would turn into a member's.)"""
    data = factories.dict_from_channel(channel)
    data["type"] = channel.type.value  # dpytest gives the enum, which discord.py reads as news
    kept = [
        {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
        for o in channel._overwrites
        if o.id != target.id
    ]
    allow, deny = discord.PermissionOverwrite(**allowed).pair()
    kind = 0 if isinstance(target, discord.Role) else 1
    kept.append({"id": str(target.id), "type": kind, "allow": str(allow.value), "deny": str(deny.value)})
    data["permission_overwrites"] = kept
    backend.get_state().parse_channel_update(data)


def make_thread(
    parent: discord.TextChannel | discord.ForumChannel,
    name: str,
    owner: discord.Member,
    *,
    private: bool = False,
) -> discord.Thread:
    """A thread of ``parent`` (a forum post when it is a forum), as THREAD_CREATE brings it
    (dpytest makes no threads)."""
    thread_id = factories.make_id()
    if isinstance(parent, discord.ForumChannel):
        kind = discord.ChannelType.public_thread  # a forum post is a public thread
    else:
        kind = discord.ChannelType.private_thread if private else discord.ChannelType.public_thread
    data = {
        "id": str(thread_id),
        "guild_id": str(parent.guild.id),
        "parent_id": str(parent.id),
        "owner_id": str(owner.id),
        "name": name,
        "type": kind.value,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-01-05T09:00:00.000000+00:00",
            "locked": False,
        },
        "newly_created": True,
    }
    backend.get_state().parse_thread_create(data)
    thread = parent.guild.get_thread(thread_id)
    assert thread is not None
    return thread


def delete_thread(thread: discord.Thread) -> None:
    """THREAD_DELETE for ``thread``: it leaves discord.py's cache (and dpytest never knew it)."""
    data = {
        "id": str(thread.id),
        "guild_id": str(thread.guild.id),
        "parent_id": str(thread.parent_id),
        "type": thread.type.value,
    }
    backend.get_state().parse_thread_delete(data)


def make_forum(guild: discord.Guild, name: str) -> discord.ForumChannel:
    """A forum channel, as CHANNEL_CREATE brings it (dpytest makes text and voice channels)."""
    channel_id = factories.make_id()
    data = {
        "id": str(channel_id),
        "guild_id": str(guild.id),
        "name": name,
        "type": discord.ChannelType.forum.value,
        "position": len(guild.channels),
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "rate_limit_per_user": 0,
        "available_tags": [],
        "flags": 0,
    }
    backend.get_state().parse_channel_create(data)
    forum = guild.get_channel(channel_id)
    assert isinstance(forum, discord.ForumChannel)
    return forum


def make_private(channel: discord.TextChannel, role: discord.Role, bot: discord.Member | None = None) -> None:
    """The usual paid channel: hidden from @everyone, visible to one role (and to the bot's
    role, so it can answer there)."""
    set_overwrite(channel, channel.guild.default_role, view_channel=False)
    set_overwrite(channel, role, view_channel=True)
    if bot is not None:
        set_overwrite(channel, bot.top_role, view_channel=True)


@asynccontextmanager
async def running_peer(app: App, *, manage_roles: bool = True) -> AsyncIterator[Peer]:
    """The adapter on a dpytest server: channels #lounge and #vip, members Ana and Mei, and
    the bot with a 'studyhall' role (Manage Roles unless told otherwise) at position 10."""
    adapter = DiscordAdapter(app, {"token": "unused-by-dpytest"})
    await adapter.client._async_setup_hook()  # what login does first: the client gets its loop
    dpytest.configure(
        adapter.client, guilds=["Python Club"], text_channels=["lounge", "vip"], members=["Ana", "Mei"]
    )
    config = dpytest.get_config()
    guild = config.guilds[0]
    lounge, vip = (c for c in config.channels if isinstance(c, discord.TextChannel))
    ana, mei = config.members
    recorder = RecordingWebhooks()
    token = webhooks.async_context.set(recorder)
    me = guild.me
    assert me is not None
    bot_role = make_role(guild, "studyhall", 10, manage_roles=manage_roles)
    await give_role(me, bot_role)
    peer = Peer(adapter, guild, lounge, vip, ana, mei, recorder)
    http = adapter.client.http
    send_message = http.send_message

    async def recording_send(channel_id: int, *, params: Any) -> Any:
        peer.payloads.append(dict(params.payload or {}))
        channel = sys._getframe(1).f_locals.get("channel")  # noqa: F841 (dpytest reads its caller's)
        return await send_message(channel_id, params=params)

    http.send_message = recording_send  # type: ignore[method-assign]
    try:
        yield peer
    finally:
        webhooks.async_context.reset(token)
        await dpytest.empty_queue()
