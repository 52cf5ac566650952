"""Discord threads and forum posts (issue 29): a command in a thread of a channel, or in a post
of a forum channel, is answered in that thread; the chat is the parent channel (its paid access,
its bindings, its activity); a thread locked or deleted before the answer leaves sends the
answer to the asker privately, once. The real adapter on dpytest's gateway, threads made by
discord.py's own THREAD_CREATE parser."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import discord
import pytest
from sqlalchemy import select

from bot.adapters.discord.inbound import event_from_message
from bot.app import App, Outgoing
from core.activity.tables import activity
from core.members.tables import chats
from core.replies import Reply
from tests.discord_peer import Peer, delete_thread, make_forum, make_thread, running_peer, text_of


class FakeResponse(NamedTuple):
    status: int
    reason: str


@pytest.fixture
async def peer(app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Peer]:
    monkeypatch.chdir(tmp_path)
    async with running_peer(app) as running:
        running.sent()
        yield running


def refused(status: int, code: int, text: str) -> discord.HTTPException:
    kind = {403: discord.Forbidden, 404: discord.NotFound}[status]
    return kind(FakeResponse(status, text), {"code": code, "message": text})


async def test_a_command_in_a_thread_is_answered_in_the_thread(peer: Peer) -> None:
    thread = make_thread(peer.lounge, "homework help", peer.ana)
    await peer.say("!points", channel=thread)
    (answer,) = peer.sent()
    assert answer.channel == thread
    assert "Points: 0" in (answer.embeds[0].title or "")


async def test_a_command_in_a_private_thread_is_answered_there(peer: Peer) -> None:
    thread = make_thread(peer.lounge, "just us", peer.ana, private=True)
    await peer.say("!help", channel=thread)
    (answer,) = peer.sent()
    assert answer.channel == thread


async def test_a_forum_posts_command_is_answered_in_the_post(peer: Peer) -> None:
    forum = make_forum(peer.guild, "questions")
    post = make_thread(forum, "How do I start?", peer.ana)
    await peer.say("!points", channel=post)
    (answer,) = peer.sent()
    assert answer.channel == post
    assert "Points: 0" in (answer.embeds[0].title or "")


async def test_a_thread_is_its_parent_channels_chat_and_its_activity_counts_there(
    peer: Peer, app: App
) -> None:
    forum = make_forum(peer.guild, "questions")
    post = make_thread(forum, "How do I start?", peer.ana)
    thread = make_thread(peer.lounge, "homework help", peer.ana)
    message = await peer.say("this is a long enough message to earn", channel=thread)
    event = event_from_message(message, app.config.community)
    assert event is not None
    assert (event.chat.external_id, event.chat.title, event.thread) == (
        str(peer.lounge.id),
        "#lounge",
        str(thread.id),
    )
    community = await app.community()
    member = await app.services.members.find_by_identity(community.id, "discord", str(peer.ana.id))
    assert member is not None
    assert (await app.services.ledger.balance(community.id, member.id)).balance == 1  # earned there
    in_post = await peer.say("a question in the forum post", channel=post)
    event = event_from_message(in_post, app.config.community)
    assert event is not None
    assert (event.chat.external_id, event.chat.title, event.thread) == (
        str(forum.id),
        "#questions",
        str(post.id),
    )
    assert peer.texts() == []
    # No chat rows for the thread or the post: their activity is their channels'.
    async with app.db.read() as conn:
        rows = {r.id: (r.external_id, r.title) for r in await conn.execute(select(chats))}
        where = [rows[r.chat_id] for r in await conn.execute(select(activity).order_by(activity.c.id))]
    assert where == [(str(peer.lounge.id), "#lounge"), (str(forum.id), "#questions")]
    assert {str(thread.id), str(post.id)}.isdisjoint(external_id for external_id, _ in rows.values())


async def test_a_slash_command_in_a_thread_is_answered_by_followup_there(peer: Peer) -> None:
    thread = make_thread(peer.lounge, "homework help", peer.ana)
    sent = await peer.interact("slash_points", command="help", channel_id=str(thread.id))
    assert [s.kind for s in sent] == ["defer", "followup"]
    assert sent[1].message["channel_id"] == str(thread.id)
    assert "/points" in sent[1].text
    assert peer.sent() == []  # nothing in #lounge itself


async def test_a_thread_deleted_before_the_answer_sends_it_privately_once(peer: Peer, app: App) -> None:
    thread = make_thread(peer.lounge, "homework help", peer.ana)
    message = await peer.say("a message from Ana in the thread", channel=thread)
    peer.sent()
    event = event_from_message(message, app.config.community)
    assert event is not None
    delete_thread(thread)
    answer = Outgoing(Reply.text("Points: 0"), "en", chat=event.chat)
    assert await peer.adapter.deliver(answer, event)
    (dm,) = peer.sent()
    assert isinstance(dm.channel, discord.DMChannel)
    assert dm.content == "Points: 0"


@pytest.mark.parametrize(
    "error",
    [
        refused(403, 50083, "Thread is archived"),
        refused(403, 160005, "Thread is locked"),
        refused(404, 10003, "Unknown Channel"),
    ],
    ids=["archived", "locked", "deleted"],
)
async def test_a_thread_that_refuses_the_answer_sends_it_privately(
    peer: Peer, monkeypatch: pytest.MonkeyPatch, error: discord.HTTPException
) -> None:
    thread = make_thread(peer.lounge, "homework help", peer.ana)
    http = peer.adapter.client.http
    send_message = http.send_message
    tried: list[int] = []

    async def thread_refuses(channel_id: int, *, params: Any) -> Any:
        if channel_id == thread.id:
            tried.append(channel_id)
            raise error
        channel = sys._getframe(1).f_locals.get("channel")  # noqa: F841 (dpytest reads its caller's)
        return await send_message(channel_id, params=params)

    monkeypatch.setattr(http, "send_message", thread_refuses)
    await peer.say("!points", channel=thread)
    (answer,) = peer.sent()
    assert isinstance(answer.channel, discord.DMChannel)
    assert "Points: 0" in (answer.embeds[0].title or "")
    assert tried == [thread.id]  # tried once, then privately: no loop


async def test_a_gone_thread_and_closed_dms_end_quietly(
    peer: Peer, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def closed(user_id: int) -> None:
        raise refused(403, 50007, "Cannot send messages to this user")

    thread = make_thread(peer.lounge, "homework help", peer.ana)
    message = await peer.say("a message from Ana in the thread", channel=thread)
    event = event_from_message(message, app.config.community)
    assert event is not None
    delete_thread(thread)
    monkeypatch.setattr(peer.adapter.client.http, "start_private_message", closed)
    answer = Outgoing(Reply.text("Points: 0"), "en", chat=event.chat)
    assert not await peer.adapter.deliver(answer, event)
    assert peer.sent() == []


async def test_a_slash_command_whose_thread_is_gone_is_answered_privately(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = make_thread(peer.lounge, "homework help", peer.ana)

    async def gone(*args: Any, **kwargs: Any) -> Any:
        raise refused(404, 10003, "Unknown Channel")

    monkeypatch.setattr(peer.webhooks, "execute_webhook", gone)
    sent = await peer.interact("slash_points", command="help", channel_id=str(thread.id))
    assert [s.kind for s in sent] == ["defer"]
    (dm,) = peer.sent()
    assert isinstance(dm.channel, discord.DMChannel)
    assert "/points" in (dm.content or "") + "".join(e.description or "" for e in dm.embeds)


async def test_a_note_about_a_question_asked_in_a_thread_goes_to_that_thread(peer: Peer, app: App) -> None:
    thread = make_thread(peer.lounge, "homework help", peer.ana)
    await peer.say("!ask How do I read a CSV file with pandas quickly?", channel=thread)
    peer.sent()
    await peer.say("!answer 1 Use pandas.read_csv with the path of the file", channel=thread, member=peer.mei)
    sent = peer.sent()
    [note] = [m for m in sent if "answered your question" in text_of(m)]
    assert note.channel == thread
    assert (note.content or "").startswith(f"<@{peer.ana.id}>")  # named, so Discord notifies her
    question = await app.services.qa.question(await app.community(), 1)
    assert question.thread == str(thread.id)


async def test_a_note_for_a_deleted_thread_goes_privately(peer: Peer) -> None:
    thread = make_thread(peer.lounge, "homework help", peer.ana)
    await peer.say("!ask How do I read a CSV file with pandas quickly?", channel=thread)
    peer.sent()
    delete_thread(thread)
    await peer.say("!answer 1 Use pandas.read_csv with the path of the file", member=peer.mei)
    [note] = [m for m in peer.sent() if "answered your question" in text_of(m)]
    assert isinstance(note.channel, discord.DMChannel) and not (note.content or "").startswith("<@")
