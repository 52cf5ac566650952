"""Discord's side of paid access (core/access/ports.ChatAccess and AdmitsDirectly): roles.

A paid chat on Discord is the channel where a creator ran ``/bind``. Its *paid role* is the one
role the channel's permission overwrites allow to view it, the usual Discord way of making a
channel private to a role: @everyone denied View Channel, the paid role allowed. Staff roles
(with moderation permissions) that may also see it do not count. Admitting a member gives
them that role; removing takes it away (they stay in the server and can come back after
paying); being in the chat means having the role.

A bot can only give roles below its own highest role (Discord's role hierarchy), and needs
Manage Roles: every way this can go wrong is a precise message for the creator.

A bound channel deleted (or recreated: a new channel has a new id), its server gone, or its paid
role deleted is a problem line in ``/access check`` (PlatformRefused with what to do), never an
exception; a channel Discord says is gone is remembered for ``FETCHED_SECONDS`` so a
reconciliation does not ask again for each member.

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

import aiohttp
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
# Discord's JSON error codes for what no longer exists.
UNKNOWN_CHANNEL, UNKNOWN_GUILD, UNKNOWN_MEMBER, UNKNOWN_ROLE = 10003, 10004, 10007, 10011


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
    if not roles and deleted_role(channel):
        problems.append(role_gone(channel))
    elif not roles:
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


def deleted_role(channel: discord.abc.GuildChannel) -> bool:
    """Whether an overwrite lets a role that no longer exists view the channel: its paid role
    was deleted (discord.py keeps the overwrite, naming it by id only, until Discord updates
    the channel)."""
    return any(
        isinstance(target, discord.Object) and target.type is discord.Role and overwrite.view_channel
        for target, overwrite in channel.overwrites.items()
    )


def role_gone(channel: discord.abc.GuildChannel) -> Msg:
    return msg(
        "The paid role of {channel} no longer exists: in Edit Channel → Permissions allow View"
        " Channel for the role members get when they pay.",
        channel=f"#{channel.name}",
    )


class DiscordChatAccess:
    platform = PLATFORM

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self._fetched: dict[int, tuple[float, discord.abc.GuildChannel]] = {}
        self._gone: dict[int, float] = {}  # channels Discord said no longer exist, and when

    async def admit(self, chat_id: str, account: str) -> None:
        channel, role = await self._paid_channel(chat_id)
        member = await self._member(channel.guild, account)
        if member is None:
            raise PlatformRefused(_MEMBER_GONE)
        if role not in member.roles:
            async with _refusals(channel):
                await member.add_roles(role, reason=REASON)

    async def remove(self, chat_id: str, account: str) -> None:
        channel, role = await self._paid_channel(chat_id)
        member = await self._member(channel.guild, account)
        if member is not None and role in member.roles:
            async with _refusals(channel):
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
        async with _refusals(channel):
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
        if isinstance(channel, discord.Thread):
            raise PlatformRefused(_THREAD)
        return await self._fetched_channel(int(chat_id))

    async def _fetched_channel(self, channel_id: int) -> discord.abc.GuildChannel:
        """A channel of a server another process's shard holds (or none can see), over REST:
        with its server's roles and the bot's member there, so the role checks work alike."""
        now = time.monotonic()
        if now - self._gone.get(channel_id, -FETCHED_SECONDS) < FETCHED_SECONDS:
            raise PlatformRefused(_GONE)
        kept = self._fetched.get(channel_id)
        if kept is not None and now - kept[0] < FETCHED_SECONDS:
            return kept[1]
        name = ""
        try:
            channel = await self.client.fetch_channel(channel_id)
            name = getattr(channel, "name", "")
            if isinstance(channel, discord.Thread):
                raise PlatformRefused(_THREAD)  # bound as a chat of its own before threads were
            if not isinstance(channel, discord.abc.GuildChannel) or self.client.user is None:
                raise PlatformRefused(_UNSEEN)
            guild = await self.client.fetch_guild(channel.guild.id)
            me = await guild.fetch_member(self.client.user.id)
        except discord.NotFound as error:
            if error.code == UNKNOWN_MEMBER:  # the bot's own member: it left or was removed
                raise PlatformRefused(
                    msg(
                        "The bot is not in the server of {channel} any more; invite it again.",
                        channel=f"#{name}",
                    )
                ) from None
            self._gone[channel_id] = now  # the channel, or its whole server, was deleted
            raise PlatformRefused(_GONE) from None
        except discord.Forbidden:
            raise PlatformRefused(_UNSEEN) from None
        except discord.HTTPException as error:
            raise PlatformRefused(_refused(error)) from error
        except (OSError, aiohttp.ClientError, TimeoutError) as error:
            log.info("discord: channel %s could not be fetched: %s", channel_id, error)
            raise PlatformRefused(_UNREACHABLE) from error
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
            raise PlatformRefused(_refused(error)) from error


# The problem lines of /access check follow the chat's title: "#vip: This channel no longer …".
# A channel that is gone cannot take /unbind: the dashboard removes its binding.
_GONE = msg(
    "This channel no longer exists on Discord (deleted, or its server is gone). If it was"
    " recreated, send /bind inside the new channel; remove this binding in /dashboard (Paid chats)."
)
_UNSEEN = msg(
    "The bot cannot see this channel: give it View Channel there (or invite it back to the"
    " server), or remove this binding in /dashboard (Paid chats)."
)
_THREAD = msg(
    "This is a thread, not a channel: send /bind in its channel, and remove this binding in"
    " /dashboard (Paid chats)."
)
_UNREACHABLE = msg("Discord could not be reached just now; /access check again in a few minutes.")
_MEMBER_GONE = msg("That member is no longer in the server; they get access when they come back.")


def _refused(error: discord.HTTPException) -> Msg:
    return msg("Discord refused the request: {reason}", reason=str(error)[:200])


@asynccontextmanager
async def _refusals(channel: discord.abc.GuildChannel) -> AsyncIterator[None]:
    """Discord's refusals as PlatformRefused with a message a creator can act on."""
    chat_id = channel.id
    try:
        yield
    except discord.NotFound as error:  # gone since it was looked up
        log.info("discord: channel %s refused: %s", chat_id, error)
        if error.code == UNKNOWN_ROLE:
            raise PlatformRefused(role_gone(channel)) from error
        if error.code == UNKNOWN_MEMBER:
            raise PlatformRefused(_MEMBER_GONE) from error
        if error.code in (UNKNOWN_CHANNEL, UNKNOWN_GUILD):
            raise PlatformRefused(_GONE) from error
        raise PlatformRefused(_refused(error)) from error
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
        raise PlatformRefused(_refused(error)) from error
