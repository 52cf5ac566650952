"""bot/adapters/discord/invite.py: the intents, the permission integer and the invite URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import discord

from bot.adapters.discord.invite import (
    INTENTS,
    PERMISSIONS,
    PRIVILEGED_INTENTS,
    application_id_from_token,
    invite_url,
)


def test_the_permissions_are_exactly_what_the_bot_uses() -> None:
    expected = (
        (1 << 10)  # View Channels
        | (1 << 11)  # Send Messages
        | (1 << 38)  # Send Messages in Threads
        | (1 << 14)  # Embed Links
        | (1 << 15)  # Attach Files
        | (1 << 16)  # Read Message History
        | (1 << 28)  # Manage Roles
    )
    assert PERMISSIONS.value == expected == 275146460160
    assert not PERMISSIONS.administrator and not PERMISSIONS.kick_members and not PERMISSIONS.ban_members


def test_the_invite_url_asks_for_the_bot_and_its_commands() -> None:
    url = urlsplit(invite_url("123456789012345678"))
    assert (url.scheme, url.netloc, url.path) == ("https", "discord.com", "/oauth2/authorize")
    query = parse_qs(url.query)
    assert query == {
        "client_id": ["123456789012345678"],
        "scope": ["bot applications.commands"],
        "permissions": ["275146460160"],
    }


def test_the_intents_and_which_are_privileged() -> None:
    assert INTENTS.guilds and INTENTS.guild_messages and INTENTS.dm_messages
    assert INTENTS.members and INTENTS.message_content  # both privileged
    assert not INTENTS.presences and not INTENTS.guild_reactions
    privileged = discord.Intents.none()
    privileged.members = privileged.message_content = True
    assert (INTENTS.value & ~privileged.value) | privileged.value == INTENTS.value
    assert PRIVILEGED_INTENTS == ("Server Members Intent", "Message Content Intent")


def test_the_application_id_comes_from_the_token() -> None:
    # A token's first part is base64 of the bot's id: "MTIzNDU2Nzg5MDEyMzQ1Njc4" is "123456789012345678".
    assert (
        application_id_from_token("MTIzNDU2Nzg5MDEyMzQ1Njc4.GxYz12.abcdefghijklmnop") == "123456789012345678"
    )
    assert application_id_from_token("not a token") is None
    assert application_id_from_token("aGVsbG8.x.y") is None  # "hello": not an id
