"""bot/adapters/discord/access.py: paid access as roles on dpytest's server — which role is a
channel's paid role, every way the bot cannot manage it (each a precise fix for the creator),
and the role operations the core's reconciliation calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import discord
import pytest
from discord.ext.test import backend, factories

from bot.adapters.discord.access import DiscordChatAccess, paid_role, paid_roles, role_problems
from bot.app import App
from core.access.ports import AdmitsDirectly, ChatAccess, PlatformRefused
from core.i18n import render
from tests.discord_peer import (
    Peer,
    give_role,
    make_private,
    make_role,
    make_thread,
    running_peer,
    set_overwrite,
)


@pytest.fixture
async def peer(app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Peer]:
    monkeypatch.chdir(tmp_path)
    async with running_peer(app) as running:
        yield running


def problems(peer: Peer) -> list[str]:
    return [render(problem, "en") for problem in role_problems(peer.vip)]


async def test_it_is_a_chat_access_port_that_admits_directly(peer: Peer) -> None:
    access: ChatAccess = DiscordChatAccess(peer.adapter.client)
    assert access.platform == "discord"
    assert isinstance(access, AdmitsDirectly)


async def test_the_paid_role_is_the_one_role_allowed_to_see_a_private_channel(peer: Peer) -> None:
    paid = make_role(peer.guild, "Paid", 5)
    make_private(peer.vip, paid, bot=peer.bot)
    assert paid_role(peer.vip) == paid  # the bot's own role (Manage Roles) is staff: not counted
    mods = make_role(peer.guild, "Mods", 6, manage_messages=True)
    set_overwrite(peer.vip, mods, view_channel=True)
    assert paid_role(peer.vip) == paid
    assert problems(peer) == []


async def test_a_channel_everyone_sees_has_no_paid_role(peer: Peer) -> None:
    assert paid_roles(peer.vip) == []
    found = problems(peer)
    assert any("#vip is visible to everyone" in p and "deny View Channel for @everyone" in p for p in found)
    assert any("#vip has no paid role" in p for p in found)


async def test_two_candidate_roles_are_ambiguous_and_named(peer: Peer) -> None:
    make_private(peer.vip, make_role(peer.guild, "Gold", 5), bot=peer.bot)
    set_overwrite(peer.vip, make_role(peer.guild, "Silver", 4), view_channel=True)
    assert paid_role(peer.vip) is None
    (problem,) = problems(peer)
    assert "#vip lets several roles see it (Silver, Gold)" in problem


async def test_a_paid_role_above_the_bots_highest_role_is_reported_precisely(peer: Peer) -> None:
    paid = make_role(peer.guild, "PaidRole", 11)  # the bot's role is at 10
    make_private(peer.vip, paid, bot=peer.bot)
    assert problems(peer) == [
        "Move the studyhall role above PaidRole in Server Settings → Roles: a bot can only give roles"
        " below its own highest role."
    ]
    paid.position = 9
    assert problems(peer) == []


async def test_without_manage_roles_the_creator_is_told_where_to_grant_it(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with running_peer(app, manage_roles=False) as peer:
        make_private(peer.vip, make_role(peer.guild, "Paid", 5), bot=peer.bot)
        assert problems(peer) == [
            "Give the studyhall role the Manage Roles permission (Server Settings → Roles → studyhall)."
        ]
        access = DiscordChatAccess(peer.adapter.client)
        with pytest.raises(PlatformRefused) as refused:
            await access.admit(str(peer.vip.id), str(peer.ana.id))
        assert "Manage Roles" in render(refused.value.message, "en")
        assert [render(m, "zh_CN") for m in await access.missing_rights(str(peer.vip.id))] == [
            "请给 studyhall 身份组开启“管理身份组”权限（服务器设置 → 身份组 → studyhall）。"
        ]


async def test_admit_remove_and_membership_are_the_role(peer: Peer) -> None:
    paid = make_role(peer.guild, "Paid", 5)
    make_private(peer.vip, paid, bot=peer.bot)
    access = DiscordChatAccess(peer.adapter.client)
    chat, ana = str(peer.vip.id), str(peer.ana.id)
    assert not await access.is_member(chat, ana)
    await access.admit(chat, ana)
    assert paid in peer.ana.roles and await access.is_member(chat, ana)
    await access.admit(chat, ana)  # again: nothing changes
    await access.remove(chat, ana)
    assert paid not in peer.ana.roles and not await access.is_member(chat, ana)
    await access.remove(chat, ana)  # nothing to take: fine
    await access.approve_join(chat, ana)
    assert paid in peer.ana.roles
    await access.decline_join(chat, ana)
    assert paid not in peer.ana.roles


async def test_someone_not_in_the_server_cannot_be_admitted(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    paid = make_role(peer.guild, "Paid", 5)
    make_private(peer.vip, paid, bot=peer.bot)
    access = DiscordChatAccess(peer.adapter.client)
    with pytest.raises(PlatformRefused) as refused:
        await access.admit(str(peer.vip.id), "no-such-account")
    assert "no longer in the server" in render(refused.value.message, "en")
    await access.remove(str(peer.vip.id), "no-such-account")  # nothing to take


async def test_a_channel_the_bot_cannot_see_is_a_problem_not_a_crash(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hidden(channel_id: int) -> Any:
        raise discord.Forbidden(FakeResponse(403, "Forbidden"), {"code": 50001, "message": "Missing Access"})

    monkeypatch.setattr(peer.adapter.client.http, "get_channel", hidden)
    access = DiscordChatAccess(peer.adapter.client)
    with pytest.raises(PlatformRefused) as refused:
        await access.missing_rights("424242424242424242")
    assert "cannot see this channel" in render(refused.value.message, "en")
    assert "/dashboard" in render(refused.value.message, "en")  # /unbind cannot be sent there


async def _bound_vip(peer: Peer, app: App, *, role_position: int, plan: str) -> discord.Role:
    """#vip private to Paid (at ``role_position``) and bound by Mei (a creator) to the plan
    monthly (``/plan add monthly …`` with ``plan`` as its options and title)."""
    from bot.adapters.discord.inbound import user_ref
    from core.members.models import Role

    community = await app.community()
    members = app.services.members
    mei = await members.ensure_member(community, user_ref(peer.mei))
    await members.assign_role(community, mei, Role.CREATOR, via="test")
    paid = make_role(peer.guild, "Paid", role_position)
    make_private(peer.vip, paid, bot=peer.bot)
    await peer.dm(f"!plan add monthly 9.99 USD month {plan}", member=peer.mei)
    await peer.say("!bind plan monthly", channel=peer.vip, member=peer.mei)
    return paid


async def _bound_vip_with_a_subscriber(peer: Peer, app: App) -> discord.Role:
    """#vip private to Paid and bound to plan monthly by Mei (a creator); Ana on its trial."""
    paid = await _bound_vip(peer, app, role_position=5, plan="trial=7 Monthly membership")
    await peer.dm("!subscribe monthly")
    peer.sent()
    return paid


async def test_a_deleted_channel_is_a_problem_line_and_fix_skips_it(
    peer: Peer, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#vip deleted after /bind: /access check names it with what to do, /access fix leaves it
    with that reason, and Discord is asked once, not once per member."""
    paid = await _bound_vip_with_a_subscriber(peer, app)
    gone_id = peer.vip.id
    await peer.vip.delete()
    http = peer.adapter.client.http
    get_channel = http.get_channel
    fetched: list[int] = []

    async def counted(channel_id: int) -> Any:
        fetched.append(channel_id)
        return await get_channel(channel_id)

    monkeypatch.setattr(http, "get_channel", counted)
    gone = (
        "#vip: This channel no longer exists on Discord (deleted, or its server is gone). If it was"
        " recreated, send /bind inside the new channel; remove this binding in /dashboard (Paid chats)."
    )
    await peer.dm("!access check", member=peer.mei)
    (answer,) = peer.texts()
    assert gone in answer
    assert "give access Ana" in answer  # the plan still says what the chat would need

    await peer.dm("!access fix", member=peer.mei)
    texts = peer.texts()
    assert any(gone in text for text in texts)
    assert not any("Done:" in text for text in texts)  # nothing done there
    assert any(
        text.startswith("Paid chat #vip: This channel no longer exists") for text in texts
    )  # creators told
    assert paid not in peer.ana.roles
    assert fetched == [gone_id]  # remembered as gone: not fetched again for the check, the fix, Ana

    community = await app.community()
    members = app.services.members
    mei = await members.find_by_identity(community.id, "discord", str(peer.mei.id))
    assert mei is not None
    checked = await app.services.paid_chats.check(community, mei)
    assert [(chat.external_id, render(problem, "en")) for chat, problem in checked.problems] == [
        (str(gone_id), gone.removeprefix("#vip: "))
    ]


async def test_a_recreated_channel_is_bound_anew_and_the_old_binding_stays_a_problem(
    peer: Peer, app: App
) -> None:
    await _bound_vip_with_a_subscriber(peer, app)
    await peer.vip.delete()
    paid2 = make_role(peer.guild, "Paid 2", 4)
    again = backend.make_text_channel("vip", peer.guild)
    make_private(again, paid2, bot=peer.bot)
    await peer.say("!bind plan monthly", channel=again, member=peer.mei)
    assert "#vip is now paid" in peer.texts()[-1]
    await peer.dm("!access fix", member=peer.mei)
    texts = peer.texts()
    assert paid2 in peer.ana.roles  # the new channel works
    assert any("#vip: This channel no longer exists on Discord" in text for text in texts)


async def test_a_deleted_paid_role_is_named(peer: Peer, monkeypatch: pytest.MonkeyPatch) -> None:
    paid = make_role(peer.guild, "Paid", 5)
    make_private(peer.vip, paid, bot=peer.bot)
    access = DiscordChatAccess(peer.adapter.client)

    async def unknown_role(*args: Any, **kwargs: Any) -> None:
        raise discord.NotFound(FakeResponse(404, "Not Found"), {"code": 10011, "message": "Unknown Role"})

    monkeypatch.setattr(peer.adapter.client.http, "add_role", unknown_role)  # deleted meanwhile
    with pytest.raises(PlatformRefused) as refused:
        await access.admit(str(peer.vip.id), str(peer.ana.id))
    role_gone = (
        "The paid role of #vip no longer exists: in Edit Channel → Permissions allow View Channel"
        " for the role members get when they pay."
    )
    assert render(refused.value.message, "en") == role_gone
    # GUILD_ROLE_DELETE: the channel's overwrite still names the role, by id only.
    backend.get_state().parse_guild_role_delete({"guild_id": str(peer.guild.id), "role_id": str(paid.id)})
    assert problems(peer) == [role_gone]
    assert [render(m, "en") for m in await access.missing_rights(str(peer.vip.id))] == [role_gone]


async def test_a_thread_bound_as_a_chat_of_its_own_is_a_problem(peer: Peer) -> None:
    """Before threads were their channel's chat, /bind in a thread bound the thread."""
    thread = make_thread(peer.lounge, "homework help", peer.ana)
    access = DiscordChatAccess(peer.adapter.client)
    with pytest.raises(PlatformRefused) as refused:
        await access.missing_rights(str(thread.id))
    assert "This is a thread, not a channel" in render(refused.value.message, "en")


async def test_discord_out_of_reach_is_a_problem_not_a_traceback(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(channel_id: int) -> Any:
        raise aiohttp.ClientConnectionError("connection reset")

    monkeypatch.setattr(peer.adapter.client.http, "get_channel", unreachable)
    access = DiscordChatAccess(peer.adapter.client)
    with pytest.raises(PlatformRefused) as refused:
        await access.missing_rights("424242424242424242")
    assert "Discord could not be reached just now" in render(refused.value.message, "en")


async def test_the_core_reports_the_hierarchy_problem_to_creators(peer: Peer, app: App) -> None:
    """/access check (and the scheduled check) show what the role setup lacks."""
    paid = await _bound_vip(peer, app, role_position=12, plan="Monthly membership")
    await give_role(peer.ana, paid)  # someone got it by hand; the bot cannot take it back
    peer.sent()
    await peer.dm("!access check", member=peer.mei)
    (answer,) = peer.texts()
    assert "Move the studyhall role above Paid in Server Settings → Roles" in answer


async def test_a_channel_on_another_processs_shard_is_managed_over_rest(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sharded, the scheduler leader caches only its own shards' servers; reconciliation still
    reaches the others' channels and members through REST (fetch_channel, fetch_guild,
    fetch_member)."""
    paid = make_role(peer.guild, "Paid", 5)
    make_private(peer.vip, paid, bot=peer.bot)
    client = peer.adapter.client
    monkeypatch.setattr(client, "get_channel", lambda channel_id: None)  # not in this cache
    fetched: list[str] = []
    http = client.http
    get_channel = http.get_channel

    async def fetch_channel(channel_id: int) -> Any:
        fetched.append("channel")
        data = dict(await get_channel(channel_id))
        # dpytest gives names where Discord gives numbers: the channel's type, overwrites' types.
        data["type"] = discord.ChannelType.text.value
        data["permission_overwrites"] = [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in peer.vip._overwrites
        ]
        return data

    async def fetch_guild(guild_id: int, with_counts: bool = True) -> Any:
        fetched.append("guild")
        # What GET /guilds/{id} answers (dpytest's dict_from_guild fails on discord.py 2.7).
        guild = peer.guild
        roles = [factories.dict_from_role(role) for role in guild.roles]
        return {"id": str(guild.id), "name": guild.name, "owner_id": str(guild.owner_id), "roles": roles}

    async def fetch_member(guild_id: int, member_id: int) -> Any:
        fetched.append("member")
        member = peer.guild.get_member(member_id)
        if member is None:
            raise discord.NotFound(FakeResponse(404, "Not Found"), "Unknown Member")
        return factories.dict_from_member(member)

    monkeypatch.setattr(http, "get_channel", fetch_channel)
    monkeypatch.setattr(http, "get_guild", fetch_guild)
    monkeypatch.setattr(http, "get_member", fetch_member)
    access = DiscordChatAccess(client)
    chat, ana = str(peer.vip.id), str(peer.ana.id)
    assert await access.missing_rights(chat) == []  # the bot's role and rights, seen over REST
    assert not await access.is_member(chat, ana)
    await access.admit(chat, ana)
    assert paid in peer.ana.roles and await access.is_member(chat, ana)
    await access.remove(chat, ana)
    assert paid not in peer.ana.roles
    # The channel and its server were fetched once and reused; members each time.
    assert fetched.count("channel") == 1 and fetched.count("guild") == 1
    assert fetched.count("member") >= 4
    with pytest.raises(PlatformRefused) as refused:
        await access.admit("1234567", ana)  # a channel Discord knows nothing of
    assert "no longer exists" in render(refused.value.message, "en")


class FakeResponse(NamedTuple):
    status: int
    reason: str
