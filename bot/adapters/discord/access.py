"""Discord's side of paid access (core/access/ports.ChatAccess and AdmitsDirectly): roles.

A paid chat on Discord is the channel where a creator ran ``/bind``. Its *paid role* is the one
role the channel's permission overwrites allow to view it, the usual Discord way of making a
channel private to a role: @everyone denied View Channel, the paid role allowed. Staff roles
(with moderation permissions) that may also see it do not count. Admitting a member gives
them that role; removing takes it away (they stay in the server and can come back after
paying); being in the chat means having the role.

A bot can only give roles below its own highest role (Discord's role hierarchy), and needs
Manage Roles: every way this can go wrong is a precise message for the creator.

Sharded over several processes, a process caches only its own shards' servers, and the
reconciliation job runs in one process (the scheduler leader) for all of them: a channel not
in this process's cache is fetched over REST with its server and the bot's member there
(kept for ``FETCHED_SECONDS``), and members are fetched over REST as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import discord

from bot.adapters.discord.inbound import PLATFORM
from core.access.ports import PlatformRefused
from core.i18n import Msg, msg

log = logging.getLogger(__name__)

# Roles with any of these are staff roles, never a channel's paid role.
STAFF_PERMISSIONS = discord.Permissions(
    administrator=True,
    manage_guild=True,
    manage_roles=True,
    manage_channels=True,
    manage_messages=True,
    kick_members=True,
    ban_members=True,
)
REASON = "studyhall: paid access"
FETCHED_SECONDS = 60.0  # how long a channel fetched over REST (another shard's server) is reused


def paid_roles(channel: discord.abc.GuildChannel) -> list[discord.Role]:
    """The roles the channel's overwrites allow to view it, leaving out @everyone, roles that
    integrations manage and the bot's own roles, and staff roles."""
    me = channel.guild.me
    mine = set(me.roles) if me is not None else set()
    found = []
    for target, overwrite in channel.overwrites.items():
        if not isinstance(target, discord.Role) or target.is_default() or target.managed or target in mine:
            continue
        if overwrite.view_channel is not True:
            continue
        if target.permissions.value & STAFF_PERMISSIONS.value:
            continue
        found.append(target)
    return sorted(found, key=lambda role: role.position)


def paid_role(channel: discord.abc.GuildChannel) -> discord.Role | None:
    """The channel's one paid role, or None (no role, or several)."""
    roles = paid_roles(channel)
    return roles[0] if len(roles) == 1 else None


def open_to_everyone(channel: discord.abc.GuildChannel) -> bool:
    return channel.permissions_for(channel.guild.default_role).view_channel


def role_problems(channel: discord.abc.GuildChannel) -> list[Msg]:
    """Everything that keeps the bot from managing the channel's paid role, each as a fix for
    the creator; empty when it can."""
    me = channel.guild.me
    where = f"#{channel.name}"
    problems: list[Msg] = []
    if me is None:
        return [msg("The bot is not in the server of {channel} any more; invite it again.", channel=where)]
    if not me.guild_permissions.manage_roles:
        problems.append(
            msg(
                "Give the {bot} role the Manage Roles permission (Server Settings → Roles → {bot}).",
                bot=me.top_role.name,
            )
        )
    if open_to_everyone(channel):
        problems.append(
            msg(
                "{channel} is visible to everyone: in Edit Channel → Permissions deny View Channel"
                " for @everyone and allow it for the paid role.",
                channel=where,
            )
        )
    roles = paid_roles(channel)
    if not roles:
        problems.append(
            msg(
                "{channel} has no paid role: in Edit Channel → Permissions allow View Channel for"
                " exactly one role (the one members get when they pay).",
                channel=where,
            )
        )
    elif len(roles) > 1:
        problems.append(
            msg(
                "{channel} lets several roles see it ({roles}); allow View Channel for exactly one"
                " paid role (staff roles with moderation permissions do not count).",
                channel=where,
                roles=", ".join(role.name for role in roles),
            )
        )
    else:
        role = roles[0]
        if role >= me.top_role:
            problems.append(
                msg(
                    "Move the {bot} role above {role} in Server Settings → Roles: a bot can only"
                    " give roles below its own highest role.",
                    bot=me.top_role.name,
                    role=role.name,
                )
            )
    return problems


class DiscordChatAccess:
    platform = PLATFORM

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self._fetched: dict[int, tuple[float, discord.abc.GuildChannel]] = {}

    async def admit(self, chat_id: str, account: str) -> None:
        channel, role = await self._paid_channel(chat_id)
        member = await self._member(channel.guild, account)
        if member is None:
            raise PlatformRefused(
                msg("That member is no longer in the server; they get access when they come back.")
            )
        if role not in member.roles:
            async with _refusals(chat_id):
                await member.add_roles(role, reason=REASON)

    async def remove(self, chat_id: str, account: str) -> None:
        channel, role = await self._paid_channel(chat_id)
        member = await self._member(channel.guild, account)
        if member is not None and role in member.roles:
            async with _refusals(chat_id):
                await member.remove_roles(role, reason=REASON)

    async def approve_join(self, chat_id: str, account: str) -> None:
        """Discord has no join requests for a channel: approving one is giving the role."""
        await self.admit(chat_id, account)

    async def decline_join(self, chat_id: str, account: str) -> None:
        """Declining makes sure the account does not have the role."""
        await self.remove(chat_id, account)

    async def single_use_invite(self, chat_id: str, *, for_account: str, expires_at: datetime) -> str:
        """An invite into the server for someone not in it (one use, until ``expires_at``); the
        role comes with reconciliation once they are in."""
        channel = await self._channel(chat_id)
        seconds = max(1, int((expires_at - discord.utils.utcnow()).total_seconds()))
        async with _refusals(chat_id):
            invite = await channel.create_invite(
                max_age=min(seconds, 7 * 86400), max_uses=1, unique=True, reason=REASON
            )
        return invite.url

    async def is_member(self, chat_id: str, account: str) -> bool:
        channel, role = await self._paid_channel(chat_id)
        member = await self._member(channel.guild, account)
        return member is not None and role in member.roles

    async def missing_rights(self, chat_id: str) -> list[Msg]:
        return role_problems(await self._channel(chat_id))

    # -- helpers ------------------------------------------------------------------------------

    async def _channel(self, chat_id: str) -> discord.abc.GuildChannel:
        if not chat_id.isdigit():
            raise PlatformRefused(_UNSEEN)
        channel = self.client.get_channel(int(chat_id))
        if isinstance(channel, discord.abc.GuildChannel):
            return channel
        return await self._fetched_channel(int(chat_id))

    async def _fetched_channel(self, channel_id: int) -> discord.abc.GuildChannel:
        """A channel of a server another process's shard holds (or none can see), over REST:
        with its server's roles and the bot's member there, so the role checks work alike."""
        now = time.monotonic()
        kept = self._fetched.get(channel_id)
        if kept is not None and now - kept[0] < FETCHED_SECONDS:
            return kept[1]
        try:
            channel = await self.client.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.GuildChannel) or self.client.user is None:
                raise PlatformRefused(_UNSEEN)
            guild = await self.client.fetch_guild(channel.guild.id)
            me = await guild.fetch_member(self.client.user.id)
        except (discord.NotFound, discord.Forbidden):
            raise PlatformRefused(_UNSEEN) from None
        except discord.HTTPException as error:
            raise PlatformRefused(
                msg("Discord refused the request: {reason}", reason=str(error)[:200])
            ) from error
        guild._add_member(me)  # a fetched server caches no members: guild.me is the bot's
        channel.guild = guild  # its overwrites then resolve to the server's roles
        self._fetched[channel_id] = (now, channel)
        return channel

    async def _paid_channel(self, chat_id: str) -> tuple[discord.abc.GuildChannel, discord.Role]:
        channel = await self._channel(chat_id)
        problems = role_problems(channel)
        role = paid_role(channel)
        if problems or role is None:
            raise PlatformRefused(problems[0])
        return channel, role

    async def _member(self, guild: discord.Guild, account: str) -> discord.Member | None:
        if not account.isdigit():
            return None
        member = guild.get_member(int(account))
        if member is not None:
            return member
        try:
            return await guild.fetch_member(int(account))
        except discord.NotFound:
            return None
        except discord.HTTPException as error:
            raise PlatformRefused(
                msg("Discord refused the request: {reason}", reason=str(error)[:200])
            ) from error


_UNSEEN = msg("The bot cannot see that channel any more: give it View Channel there, or /unbind it.")


@asynccontextmanager
async def _refusals(chat_id: str) -> AsyncIterator[None]:
    """Discord's refusals as PlatformRefused with a message a creator can act on."""
    try:
        yield
    except discord.Forbidden as error:
        log.info("discord: channel %s refused: %s", chat_id, error)
        raise PlatformRefused(
            msg(
                "Discord refused: the bot needs Manage Roles, and its highest role must be"
                " above the paid role."
            )
        ) from error
    except discord.HTTPException as error:
        log.info("discord: channel %s refused: %s", chat_id, error)
        raise PlatformRefused(
            msg("Discord refused the request: {reason}", reason=str(error)[:200])
        ) from error
