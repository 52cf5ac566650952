"""What a server owner sets up for the bot: the gateway intents it asks for (two of them
privileged, to switch on in the Developer Portal), the permissions to grant, and the invite
URL that asks for exactly those."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlencode

import discord

INTENTS = discord.Intents.none()
INTENTS.guilds = True  # channels, roles and their permission overwrites
INTENTS.guild_messages = True  # participation in channels
INTENTS.dm_messages = True  # private commands
INTENTS.members = True  # privileged: joins, leaves and role changes (paid roles)
INTENTS.message_content = True  # privileged: the text of messages (!prefix commands, points)

PRIVILEGED_INTENTS = ("Server Members Intent", "Message Content Intent")

# View Channels, Send Messages, Send Messages in Threads, Embed Links, Attach Files, Read
# Message History (to answer), Manage Roles (paid roles: give and take the channel's role).
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    manage_roles=True,
)
SCOPES = ("bot", "applications.commands")
AUTHORIZE = "https://discord.com/oauth2/authorize"


def application_id_from_token(token: str) -> str | None:
    """A bot token's first part is its user id in base64 (the application id for bots); None
    when the token does not look like one."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if decoded.isdigit() else None


def invite_url(application_id: str) -> str:
    query = urlencode(
        {"client_id": application_id, "scope": " ".join(SCOPES), "permissions": str(PERMISSIONS.value)}
    )
    return f"{AUTHORIZE}?{query}"
