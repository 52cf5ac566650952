"""bot/adapters/discord/inbound.py: discord.py objects (made by dpytest's gateway) → Events;
and the package name ``bot.adapters.discord`` never shadows the discord.py SDK."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
from discord.ext.test import backend

import bot.adapters.discord.inbound as inbound
from bot.adapters.discord.inbound import (
    PLATFORM,
    command_text,
    event_from_interaction,
    event_from_message,
    guild_ref,
    mentions_in,
)
from bot.app import App
from core.events import ChatKind, EventKind
from tests.conftest import START
from tests.discord_peer import PAYLOADS, Peer, running_peer


@pytest.fixture
async def peer(app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Peer]:
    monkeypatch.chdir(tmp_path)
    async with running_peer(app) as running:
        yield running


def test_the_sdk_is_the_installed_discord_package() -> None:
    assert inbound.discord.__name__ == "discord"
    sdk = Path(inbound.discord.__file__).resolve()
    assert "bot" not in sdk.relative_to(sdk.parents[1]).parts  # …/site-packages/discord/__init__.py
    assert hasattr(inbound.discord, "Client") and hasattr(inbound.discord, "Intents")


def test_the_prefix_form_becomes_a_slash_command() -> None:
    assert command_text("!points") == "/points"
    assert command_text("!award <@1> 5 thanks") == "/award <@1> 5 thanks"
    assert command_text("! hi") == "! hi" and command_text("!!!") == "!!!"
    assert command_text("/points") == "/points"


def _message(peer: Peer, text: str, channel: object = None) -> discord.Message:
    return backend_message(text, peer.ana, channel or peer.lounge)


def backend_message(text: str, author: object, channel: object) -> discord.Message:
    """A message as dpytest's gateway delivers it."""
    return backend.make_message(text, author, channel)  # type: ignore[arg-type]


async def test_a_channel_message(peer: Peer) -> None:
    message = _message(peer, "hello everyone in the lounge")
    event = event_from_message(message, "club")
    assert event is not None
    assert (event.platform, event.community, event.kind) == (PLATFORM, "club", EventKind.MESSAGE)
    assert event.chat.kind is ChatKind.GROUP and event.chat.external_id == str(peer.lounge.id)
    assert event.chat.title == "#lounge"
    assert event.sender.external_id == str(peer.ana.id) and event.sender.display_name == peer.ana.display_name
    assert event.message_id == f"{peer.lounge.id}:{message.id}"
    assert event.text == "hello everyone in the lounge"


async def test_a_prefix_command_with_a_mention(peer: Peer) -> None:
    message = _message(peer, f"!award <@{peer.mei.id}> 5 great")
    event = event_from_message(message, "club")
    assert event is not None and event.kind is EventKind.COMMAND
    assert event.text == f"/award <@{peer.mei.id}> 5 great"
    mentioned = event.mentions[f"<@{peer.mei.id}>"]
    assert mentioned.platform == PLATFORM and mentioned.external_id == str(peer.mei.id)


async def test_a_dm_is_the_private_chat(peer: Peer) -> None:
    channel = await peer.ana.create_dm()
    event = event_from_message(backend_message("!points", peer.ana, channel), "club")
    assert event is not None and event.chat.kind is ChatKind.PRIVATE


async def test_bots_and_empty_messages_are_not_events(peer: Peer) -> None:
    assert event_from_message(backend_message("I am the bot", peer.bot, peer.lounge), "club") is None
    assert event_from_message(_message(peer, "   "), "club") is None


def test_mentions_only_for_accounts_discord_resolved() -> None:
    class Account:
        id, display_name, name, bot = 123456789012345678, "Ana", "ana", False

    found = mentions_in(
        "hi <@123456789012345678> and <@!123456789012345678> and <@999999999999999999>", [Account()]
    )  # type: ignore[list-item]
    assert set(found) == {"<@123456789012345678>", "<@!123456789012345678>"}


async def test_an_interaction_carries_the_members_locale(peer: Peer) -> None:
    text = (PAYLOADS / "slash_points.json").read_text()
    fill = {
        "application_id": "1",
        "guild_id": str(peer.guild.id),
        "channel_id": str(peer.lounge.id),
        "user_id": str(peer.ana.id),
        "user_name": "Ana",
        "locale": "zh-CN",
        "command": "points",
    }
    payload = json.loads(re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], text))
    interaction = discord.Interaction(data=payload, state=peer.adapter.client._connection)
    event = event_from_interaction(interaction, "club", START, text="/points")
    assert event.kind is EventKind.COMMAND and event.text == "/points"
    assert event.sender.language == "zh-CN"
    assert event.chat.external_id == str(peer.lounge.id) and event.chat.kind is ChatKind.GROUP
    assert event.message_id == f"interaction:{payload['id']}"
    pressed = event_from_interaction(interaction, "club", START, data="cmd:/help")
    assert pressed.kind is EventKind.BUTTON and pressed.data == "cmd:/help"


async def test_the_server_is_a_chat_of_its_own(peer: Peer) -> None:
    ref = guild_ref(peer.guild)
    assert ref.external_id == f"guild:{peer.guild.id}" and ref.kind is ChatKind.GROUP
    assert ref.title == "Python Club"
