"""The Discord adapter: a discord.py Client feeding the App.

Inbound: guild and DM messages (``!points`` and ``/points`` typed as text), slash commands and
button presses (interactions), members joining and leaving the server, and paid roles given
or taken (joining or leaving that role's paid channel). Each becomes an Event for
``App.handle``; the replies go back as messages, or as followups to the interaction, ephemeral
in a guild channel when the command is ``personal`` (a balance, orders).

Outbound to members (DMs) also serves the App's other senders' work: payments and job notes
reach Discord members through ``deliver``. A member whose DMs are closed is told where they
are (privately when they just used a slash command, else in the channel).

Sending relies on discord.py's per-route rate-limit buckets for replies; pushes that answer no
event (job notes) are paced on top of that.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp
import discord
from aiolimiter import AsyncLimiter

from bot.adapters.discord.access import DiscordChatAccess, paid_role
from bot.adapters.discord.commands import invocation_text, slash_commands
from bot.adapters.discord.inbound import (
    PLATFORM,
    chat_ref,
    event_from_interaction,
    event_from_message,
    guild_ref,
    membership_event,
)
from bot.adapters.discord.invite import INTENTS
from bot.adapters.discord.outbound import OutboundMessage, callback_data, render_messages
from bot.app import App, Outgoing
from bot.config import Secret, discord_shards
from bot.startup import Rejected, Unavailable
from core.commands.parser import parse_command
from core.commands.router import BUTTON_COMMAND_PREFIX
from core.events import Attachment, ChatKind, Event, EventKind
from core.i18n import msg, normalize_locale, render
from core.pushes.delivery import PACES, RateLimited, Unreachable
from core.replies import Reply

log = logging.getLogger(__name__)

MAX_DOWNLOAD = 10 * 2**20  # a lesson's file, as on the other platforms
PUSHES_PER_SECOND = 5  # DMs that answer no event (job notes, payments), well under 50 requests/s


class _Forwarding:
    """The gateway events a client hands to the adapter."""

    adapter: DiscordAdapter

    async def on_ready(self) -> None:
        await self.adapter.on_ready()

    # discord.py reconnects by itself; /readyz shows the gap meanwhile.
    async def on_disconnect(self) -> None:
        self.adapter.app.adapters.failed("discord", "disconnected from the gateway; reconnecting")

    async def on_resumed(self) -> None:
        self.adapter.app.adapters.connected("discord")

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.adapter.on_interaction(interaction)

    async def on_member_join(self, member: discord.Member) -> None:
        await self.adapter.on_member_join(member)

    async def on_member_remove(self, member: discord.Member) -> None:
        await self.adapter.on_member_remove(member)

    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        await self.adapter.on_member_update(before, after)


class StudyhallClient(_Forwarding, discord.Client):
    """discord.py's Client with its gateway events handed to the adapter."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(intents=INTENTS, allowed_mentions=discord.AllowedMentions.none(), **options)
        self.adapter = adapter


class ShardedStudyhallClient(_Forwarding, discord.AutoShardedClient):
    """The same, running this process's shards (DISCORD_SHARD_COUNT, DISCORD_SHARD_IDS)."""

    def __init__(self, adapter: DiscordAdapter, shard_count: int, shard_ids: tuple[int, ...] | None) -> None:
        super().__init__(
            intents=INTENTS,
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=shard_count,
            shard_ids=list(shard_ids) if shard_ids is not None else None,
        )
        self.adapter = adapter
        # discord.py 2.7 makes this queue in connect() but close() uses it: without one, closing
        # a client that never connected (Discord away at start) raises. connect() replaces it.
        self._AutoShardedClient__queue: asyncio.PriorityQueue[Any] = asyncio.PriorityQueue()


def make_client(
    adapter: DiscordAdapter, shard_count: int | None, shard_ids: tuple[int, ...] | None
) -> discord.Client:
    """A plain client without sharding (one process), else a sharded one for this process's shards."""
    if shard_count is None:
        return StudyhallClient(adapter)
    return ShardedStudyhallClient(adapter, shard_count, shard_ids)


class DiscordAdapter:
    pace = PACES[PLATFORM]  # for pushes (core/pushes): 25 DMs/s, under the 50 requests/s

    def __init__(self, app: App, settings: Mapping[str, str | Secret]) -> None:
        self.app = app
        token = settings["token"]
        self._token = token.reveal() if isinstance(token, Secret) else token
        # Pushes from every process on this bot share one pace (a hash: never the token itself).
        self.pace_key = hashlib.sha256(self._token.encode()).hexdigest()[:16]
        self.guild_ids = tuple(int(g) for g in str(settings.get("guilds") or "").split(",") if g.strip())
        self.global_commands = str(settings.get("global_commands") or "").lower() in ("1", "true", "yes")
        self.shard_count, self.shard_ids = discord_shards(settings)
        # DMs arrive on shard 0 only: Discord's gateway sends events without a guild_id (DMs, and
        # DM interactions) to shard 0 alone, and discord.py dispatches what each shard receives
        # (it routes nothing itself). So the process holding shard 0 answers DMs, and it alone
        # publishes the slash commands, which are one set for the whole bot.
        self.holds_shard_zero = self.shard_ids is None or 0 in self.shard_ids
        self.client = make_client(self, self.shard_count, self.shard_ids)
        self.callbacks = callback_data(app.services.callback_tokens)
        self._pushes = AsyncLimiter(PUSHES_PER_SECOND, 1)
        self._synced = False
        self._runner: asyncio.Task[None] | None = None
        # What the core asks of Discord: paid roles, and delivering replies that answer no
        # Discord event (payments, reminders).
        app.services.paid_chats.ports[PLATFORM] = DiscordChatAccess(self.client)
        app.register_sender(self.deliver)
        app.services.pushes.channels[PLATFORM] = self  # pushes: see push()

    @property
    def community(self) -> str:
        return self.app.config.community

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in and keep the gateway connection in the background (discord.py reconnects
        it by itself). Raises Unavailable while Discord cannot be reached (safe to call
        again) and Rejected when it refuses the token."""
        try:
            await self.client.login(self._token)
        except discord.LoginFailure:  # 401
            raise Rejected(
                "discord: Discord rejected the token (401 Unauthorized); check DISCORD_TOKEN"
            ) from None
        except (discord.DiscordServerError, OSError, aiohttp.ClientError, TimeoutError) as error:
            await self._forget_session()
            raise Unavailable(_failure(error)) from None
        except discord.HTTPException as error:  # another 4xx: Forbidden, a wrong address
            raise Rejected(f"discord: Discord refused to log in ({error.status} {error.text})") from None
        self._runner = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")

    async def _forget_session(self) -> None:
        """Close the HTTP session a failed login opened; the next login opens a new one
        (closing it closes its connector, so that goes too)."""
        await self.client.http.close()
        self.client.http.connector = discord.utils.MISSING

    async def stop(self) -> None:
        await self.client.close()
        if self._runner is not None:
            try:
                await self._runner
            except Exception:
                log.info("discord: the gateway task ended with an error", exc_info=True)

    async def on_ready(self) -> None:
        shards = f" (shards {self.shard_ids or 'all'} of {self.shard_count})" if self.shard_count else ""
        log.info(
            "discord: connected as %s to %d servers%s", self.client.user, len(self.client.guilds), shards
        )
        self.app.adapters.connected("discord")
        if not self._synced and self.holds_shard_zero:
            self._synced = True
            await self.sync_commands()

    async def sync_commands(self) -> None:
        """Publish the slash commands to the configured guilds (at once) and, when asked,
        globally (Discord takes up to an hour to show those). Best effort: a failure is
        logged with what to do, and the prefix form still works."""
        application_id = self.client.application_id
        if application_id is None:
            log.warning("discord: no application id yet; slash commands not synced")
            return
        payload = slash_commands(self.app.router)
        targets: list[int | None] = [*self.guild_ids, *([None] if self.global_commands else [])]
        for guild_id in targets:
            try:
                if guild_id is None:
                    await self.client.http.bulk_upsert_global_commands(application_id, payload)
                else:
                    await self.client.http.bulk_upsert_guild_commands(application_id, guild_id, payload)
            except discord.HTTPException as error:
                log.warning(
                    "discord: syncing slash commands to %s failed (%s); invite the bot with the"
                    " applications.commands scope (studyhall discord invite-url)",
                    guild_id or "all servers",
                    error,
                )
        if targets:
            log.info("discord: %d slash commands synced to %d targets", len(payload), len(targets))

    # -- inbound ----------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        event = event_from_message(message, self.community)
        if event is None:
            return
        if event.kind is EventKind.COMMAND and message.attachments:
            event = await _with_attachment(message.attachments[0], event)
        for outgoing in await self.app.handle(event):
            await self.deliver(outgoing, event)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        data: dict[str, Any] = dict(interaction.data or {})  # type: ignore[arg-type]
        in_guild = interaction.guild_id is not None
        now = self.app.clock.now()
        if interaction.type is discord.InteractionType.application_command:
            text = invocation_text(self.app.router, data)
            private = in_guild and self._personal(text)
            await _quietly(interaction.response.defer(ephemeral=private, thinking=True))
            event = event_from_interaction(interaction, self.community, now, text=text)
        elif interaction.type is discord.InteractionType.component:
            button = await self.callbacks.unpack(str(data.get("custom_id", "")))
            locale = normalize_locale(str(interaction.locale)) or "en"
            if button is None:
                notice = msg("This button has expired. Please send the command again.")
                await _quietly(interaction.response.send_message(render(notice, locale), ephemeral=True))
                return
            private = in_guild and self._personal(button.removeprefix(BUTTON_COMMAND_PREFIX))
            await _quietly(interaction.response.defer(ephemeral=private, thinking=private))
            event = event_from_interaction(interaction, self.community, now, data=button)
        else:
            return  # autocomplete, modals: none of ours
        answered = False
        for outgoing in await self.app.handle(event):
            answered = (
                await self.deliver(outgoing, event, interaction=interaction, private=private) or answered
            )
        if not answered and interaction.type is discord.InteractionType.application_command:
            # Nothing to say (an unknown command in a group): take the "thinking…" away.
            await _quietly(interaction.delete_original_response())

    def _personal(self, text: str) -> bool:
        parsed = parse_command(text)
        spec = self.app.router.find(parsed.name) if parsed is not None else None
        return spec is not None and spec.personal

    async def on_member_join(self, member: discord.Member) -> None:
        await self._membership(member, guild_ref(member.guild), EventKind.MEMBER_JOINED)

    async def on_member_remove(self, member: discord.Member) -> None:
        await self._membership(member, guild_ref(member.guild), EventKind.MEMBER_LEFT)
        for channel in _paid_channels(member.guild, set(member.roles)):
            await self._membership(member, chat_ref(channel), EventKind.MEMBER_LEFT)

    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        """A paid role given is joining its paid channels; taken away, leaving them."""
        had, has = set(before.roles), set(after.roles)
        for channel in _paid_channels(after.guild, has - had):
            await self._membership(after, chat_ref(channel), EventKind.MEMBER_JOINED)
        for channel in _paid_channels(after.guild, had - has):
            await self._membership(after, chat_ref(channel), EventKind.MEMBER_LEFT)

    async def _membership(self, member: discord.Member, chat: Any, kind: EventKind) -> None:
        if member.bot:
            return
        now = self.app.clock.now()
        key = f"{chat.external_id}:{member.id}:{kind}:{now.timestamp()}"
        event = membership_event(member, chat, kind, self.community, now, key)
        for outgoing in await self.app.handle(event):
            await self.deliver(outgoing, event)

    # -- outbound ---------------------------------------------------------------------------

    async def deliver(
        self,
        outgoing: Outgoing,
        event: Event | None = None,
        *,
        interaction: discord.Interaction | None = None,
        private: bool = False,
    ) -> bool:
        """Send one reply. Into a chat: as a followup when it answers an interaction there,
        else a message; an answer to an event in a thread (or forum post) goes into that
        thread, or to the asker privately when the thread cannot take it. To a member: a DM to
        their Discord account; when their DMs are closed they are told privately (after a
        slash command) or where the event came from. Returns whether it was sent."""
        reply, locale = outgoing.reply, outgoing.locale
        if outgoing.chat is not None:
            if outgoing.chat.platform != PLATFORM:
                return False
            here = event is not None and outgoing.chat == event.chat
            thread = event.thread if event is not None and here else None
            if interaction is not None and here:
                sent = await self._followup(interaction, reply, locale, ephemeral=private)
            else:
                channel = await self._messageable(thread or outgoing.chat.external_id)
                sent = channel is not None and await self._send(channel, reply, locale)
            if sent or thread is None or event is None:
                return sent
            # The thread was locked or deleted meanwhile: the asker gets the answer privately,
            # once (a failed DM ends it here).
            log.info("discord: thread %s cannot take the answer; sending it privately", thread)
            return await self._send_dm(event.sender.external_id, reply, locale)
        account = next((i for i in outgoing.identities if i.platform == PLATFORM), None)
        if account is None:
            return False
        if await self._in_thread(outgoing, account.external_id):
            return True
        if event is None:
            async with self._pushes:
                sent = await self._send_dm(account.external_id, reply, locale)
        else:
            sent = await self._send_dm(account.external_id, reply, locale)
        if sent or event is None or event.chat.kind is ChatKind.PRIVATE or outgoing.member is None:
            return sent
        if interaction is not None and str(interaction.user.id) == account.external_id:
            # They just used a command here: show them the reply where only they see it.
            return await self._followup(interaction, reply, locale, ephemeral=True)
        notice = msg(
            "{name}, I could not send you a direct message. Allow direct messages from server members"
            " (Privacy Settings) and try again.",
            name=outgoing.member.display_name,
        )
        channel = await self._messageable(event.thread or event.chat.external_id)
        if channel is not None:
            await self._send(channel, Reply.text(notice), locale)
        return False

    async def push(self, account: str, reply: Reply, locale: str, key: str) -> str:
        """The push channel (core/pushes): a DM to ``account``; returns the last message's id.
        discord.py waits out 429s by itself; one it gives up on → RateLimited; DMs closed or
        no such user → Unreachable. (Discord takes no idempotency key for messages.)"""
        if not account.isdigit():
            raise Unreachable("no_account")
        last: discord.Message | None = None
        try:
            user = self.client.get_user(int(account)) or await self.client.fetch_user(int(account))
            for message in await self._render(reply, locale):
                last = await user.send(**message.send_kwargs())  # type: ignore[arg-type]
        except discord.RateLimited as error:
            raise RateLimited(error.retry_after) from error
        except discord.Forbidden as error:
            raise Unreachable("dms_closed") from error
        except discord.NotFound as error:
            raise Unreachable("no_account") from error
        return str(last.id) if last is not None else ""

    async def _send_dm(self, account: str, reply: Reply, locale: str) -> bool:
        if not account.isdigit():
            return False
        user = self.client.get_user(int(account))
        try:
            if user is None:
                user = await self.client.fetch_user(int(account))
            return await self._send(user, reply, locale)
        except discord.HTTPException as error:
            log.info("discord: cannot reach user %s: %s", account, error)
            return False

    async def _messageable(self, channel_id: str) -> discord.abc.Messageable | None:
        if not channel_id.isdigit():
            return None
        channel = self.client.get_channel(int(channel_id))
        if channel is None:
            try:
                channel = await self.client.fetch_channel(int(channel_id))
            except discord.HTTPException as error:
                log.info("discord: cannot reach channel %s: %s", channel_id, error)
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def _in_thread(self, outgoing: Outgoing, account: str) -> bool:
        """A note about a thread (a Q&A answer to a question asked in it) posted there, naming
        the member it is for; False (privately instead) when it is no Discord thread or gone."""
        where = outgoing.thread
        if where is None or where.chat.platform != PLATFORM or not account.isdigit():
            return False
        channel = await self._messageable(where.thread)
        return channel is not None and await self._send(
            channel, outgoing.reply, outgoing.locale, mention=account
        )

    async def _send(
        self, target: discord.abc.Messageable, reply: Reply, locale: str, *, mention: str | None = None
    ) -> bool:
        """Send ``reply`` to ``target``; ``mention``: the account its first message names and
        notifies (every other mention stays silent)."""
        messages = await self._render(reply, locale)
        try:
            for index, message in enumerate(messages):
                kwargs = message.send_kwargs()
                if mention is not None and index == 0:
                    kwargs["content"] = f"<@{mention}> {kwargs.get('content', '')}".rstrip()
                    kwargs["allowed_mentions"] = discord.AllowedMentions(users=[discord.Object(int(mention))])
                await target.send(**kwargs)  # type: ignore[arg-type]
        except discord.HTTPException as error:
            # DMs closed, no right to write there, or a thread locked or deleted: the caller
            # decides what to tell.
            log.info("discord: cannot send to %s: %s", getattr(target, "id", "?"), error)
            return False
        return True

    async def _render(self, reply: Reply, locale: str) -> list[OutboundMessage]:
        """The reply's messages, with their buttons' long data stored for every process."""
        messages = render_messages(reply, locale, self.callbacks)
        await self.callbacks.save()
        return messages

    async def _followup(
        self, interaction: discord.Interaction, reply: Reply, locale: str, *, ephemeral: bool
    ) -> bool:
        messages = await self._render(reply, locale)
        try:
            for message in messages:
                await interaction.followup.send(ephemeral=ephemeral, **message.send_kwargs())  # type: ignore[arg-type]
        except discord.HTTPException as error:
            log.info("discord: interaction %s followup failed: %s", interaction.id, error)
            return False
        return True


def _paid_channels(guild: discord.Guild, roles: set[discord.Role]) -> list[discord.abc.GuildChannel]:
    if not roles:
        return []
    channels = [*guild.text_channels, *guild.forums]  # a forum is bound through one of its posts
    return [channel for channel in channels if paid_role(channel) in roles]


async def _with_attachment(attachment: discord.Attachment, event: Event) -> Event:
    """A file sent with a command (a lesson's slides), attached to the event; one too large or
    that cannot be downloaded leaves the command without it."""
    if attachment.size > MAX_DOWNLOAD:
        return event
    try:
        data = await attachment.read()
    except (discord.HTTPException, OSError) as error:
        log.warning("discord: could not download %s: %s", attachment.filename, error)
        return event
    return replace(event, attachments=(Attachment(attachment.filename, data),))


def _failure(error: BaseException) -> str:
    """How reaching Discord failed, in a few words (no URL, no token)."""
    if isinstance(error, discord.HTTPException):
        return f"HTTP {error.status}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def _quietly(call: Any) -> None:
    """Await a best-effort call (acknowledging an interaction) whose failure changes nothing."""
    try:
        await call
    except discord.HTTPException as error:
        log.info("discord: %s", error)
