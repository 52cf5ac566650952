"""bot/app.py: handling events end to end, addressing replies, and never raising."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.adapters.render import render_plain
from bot.app import App, Outgoing
from bot.config import Config
from bot.handlers import build_router
from core.clock import ManualClock
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from core.members.models import Role
from tests.conftest import START, console_member, snapshot

WHEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def event(community: str, text: str, *, user: UserRef, chat: ChatRef | None = None) -> Event:
    chat = chat or ChatRef(user.platform, f"dm:{user.external_id}", ChatKind.PRIVATE, user.display_name)
    kind = EventKind.COMMAND if text.startswith("/") else EventKind.MESSAGE
    return Event(user.platform, community, chat, user, kind, WHEN, text=text)


async def test_bots_are_ignored_entirely(app: App) -> None:
    before = await snapshot(app.db, exclude=())
    bot_user = UserRef("console", "otherbot", "Other Bot", is_bot=True)
    assert await app.handle(event(app.config.community, "/help", user=bot_user)) == []
    assert await snapshot(app.db, exclude=()) == before


async def test_first_contact_creates_member_chat_and_activity(app: App) -> None:
    user = UserRef("console", "ana", "Ana", language="zh-CN")
    out = await app.handle(event(app.config.community, "/start", user=user))
    assert len(out) == 1 and out[0].chat is not None and out[0].locale == "zh_CN"
    assert "欢迎来到" in render_plain(out[0].reply, out[0].locale).text
    community = await app.community()
    member = await app.services.members.find_by_identity(community.id, "console", "ana")
    assert member is not None and member.role is Role.LEARNER
    assert await app.services.activity.count(community.id, member_id=member.id) == 1


async def test_private_replies_go_to_the_member_in_their_language(app: App) -> None:
    community = await app.community()
    members = app.services.members
    mei = await console_member(app, "Mei", Role.CREATOR)
    li = await members.ensure_member(community, UserRef("console", "li", "Li"))
    await members.set_locale(li, "zh")
    out = await app.handle(
        event(community.name, "/role @Li moderator", user=UserRef("console", "mei", "Mei"))
    )
    assert [o.chat is not None for o in out] == [True, False]
    dm = out[1]
    assert dm.member is not None and dm.member.id == li.id and dm.locale == "zh_CN"
    assert [i.external_id for i in dm.identities] == ["li"]
    assert render_plain(dm.reply, dm.locale).text == "Mei 已将你在 testhall 的角色设为版主。"
    assert mei.is_owner_of(await app.community())


async def test_a_note_to_a_member_on_another_platform_goes_out_through_its_adapter(app: App) -> None:
    """Ana asked on Telegram; Bob answers from the console: her note cannot go through the
    console's adapter, so it goes out at once through the adapters that reach her."""
    community = await app.community()
    sent: list[Outgoing] = []

    async def telegram(outgoing: Outgoing) -> bool:
        if any(i.platform == "telegram" for i in outgoing.identities):
            sent.append(outgoing)
            return True
        return False

    app.register_sender(telegram)
    ana = await app.services.members.ensure_member(community, UserRef("telegram", "100", "Ana"))
    lounge = ChatRef("telegram", "-100", ChatKind.GROUP, "lounge")
    chat = await app.services.members.ensure_chat(community, lounge)
    await app.services.qa.ask(community, ana, chat, "How do I read a CSV file with pandas?", 0, "k1")
    bob = UserRef("console", "bob", "Bob")
    out = await app.handle(event(community.name, "/answer 1 Use pandas.read_csv on the file path", user=bob))
    assert [o.chat is not None for o in out] == [True]  # only Bob's own answer is left to the console
    [note] = sent
    assert note.member is not None and note.member.id == ana.id
    assert "Bob answered your question #1" in render_plain(note.reply, note.locale).text


async def test_a_broken_store_gives_an_apology_not_an_exception(
    app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(app.services.members, "ensure_chat", broken)
    with caplog.at_level(logging.ERROR):
        out = await app.handle(event(app.config.community, "/help", user=UserRef("console", "ana", "Ana")))
    text = render_plain(out[0].reply, out[0].locale).text
    error_id = re.search(r"error ([0-9a-f]{8})", text)
    assert error_id and "database went away" not in text
    assert any(error_id.group(1) in r.getMessage() for r in caplog.records)


# -- property: any text yields replies or nothing, never an exception, and changes nothing
# -- it should not (only the activity log, and the sender's own language via /lang).

COMMAND_WORDS = sorted({*build_router().commands, *build_router().aliases, "unknown", "帮助"})
texts = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda name, rest, slash: f"{slash}{name} {rest}",
        st.sampled_from(COMMAND_WORDS),
        st.text(max_size=80),
        st.sampled_from(["/", "／"]),
    ),
    st.builds(
        lambda name, who, rest: f"/{name} @{who} {rest}",
        st.sampled_from(COMMAND_WORDS),
        st.sampled_from(["Mei", "Ana", "Sam", "nobody", "", "@@"]),
        st.text(max_size=40),
    ),
)


@pytest.fixture
def sync_app(config: Config) -> Iterator[tuple[asyncio.Runner, App]]:
    with asyncio.Runner() as runner:
        app = runner.run(App.open(config, clock=ManualClock(START)))

        async def seed() -> None:
            community = await app.community()
            members = app.services.members
            for name, role in (("Mei", Role.CREATOR), ("Sam", Role.MODERATOR), ("Ana", Role.LEARNER)):
                member = await members.ensure_member(community, UserRef("console", name.lower(), name))
                await members.assign_role(community, member, role, via="test")

        runner.run(seed())
        yield runner, app
        runner.run(app.close())


def _without_sender_locale(state: dict[str, list[tuple]], sender: str) -> dict[str, list[tuple]]:
    members = [row[:4] + row[5:] if row[2] == sender else row for row in state["members"]]
    # The first /recommend fits the recommendations' model when none is stored yet: a cache of
    # what everyone did, not something the learner changed.
    kept = [row for row in state["app_state"] if not str(row[0]).startswith("recommend.model.")]
    return {**state, "members": members, "app_state": kept}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, in_group=st.booleans())
@example(text="/为你推荐 ", in_group=True)  # the first /recommend stores the model: not her change
def test_any_text_from_a_learner_is_safe(
    sync_app: tuple[asyncio.Runner, App], text: str, in_group: bool
) -> None:
    runner, app = sync_app
    user = UserRef("console", "ana", "Ana")
    chat = ChatRef("console", "group:lounge", ChatKind.GROUP, "lounge") if in_group else None
    # A learner's own referral and link codes are made when they ask for them (/ref, /link); a learner
    # may ask and answer questions (checked below: only her own points move, into escrow).
    # She may also mute pushes to herself (/mute), and send the team feedback (/feedback), checked
    # below too.
    qa_tables = ("questions", "answers", "answer_votes", "qa_documents", "qa_drafts")
    ignored = (
        "activity",
        "chats",
        "ledger_accounts",
        "ledger_balance_stripes",  # issuance's, on PostgreSQL, when she earns
        "ledger_transfers",
        "referral_codes",
        "link_codes",
        "push_mutes",
        "feedback_tickets",
        *qa_tables,
    )
    before = runner.run(snapshot(app.db, exclude=ignored))
    transfers_before = runner.run(snapshot(app.db))["ledger_transfers"]
    out = runner.run(app.handle(event(app.config.community, text, user=user, chat=chat)))
    for item in out:
        rendered = render_plain(item.reply, item.locale).text
        assert "Traceback" not in rendered and "error " not in rendered
    after = runner.run(snapshot(app.db, exclude=ignored))
    assert _without_sender_locale(after, "Ana") == _without_sender_locale(before, "Ana")
    # The only value a learner's text may move: points they earn themselves by taking part.
    community = runner.run(app.community())
    ana = runner.run(app.services.members.find_by_identity(community.id, "console", "ana"))
    assert ana is not None
    assert {row[1] for row in runner.run(snapshot(app.db))["push_mutes"]} <= {ana.id}
    assert {row[2] for row in runner.run(snapshot(app.db))["feedback_tickets"]} <= {ana.id}
    new = [t for t in runner.run(snapshot(app.db))["ledger_transfers"] if t not in transfers_before]
    for transfer in new:
        debit, credit, kind = transfer[2], transfer[3], transfer[5]
        if kind == "bounty":  # her own points, held for a question she asked
            assert runner.run(app.services.ledger.member_of_account(debit)) == ana.id
            continue
        assert kind in ("message", "checkin")
        assert runner.run(app.services.ledger.member_of_account(credit)) == ana.id
    assert runner.run(app.services.ledger.totals(community.id)) == (0, 0)


async def test_nul_characters_are_dropped_before_anything_sees_them(app: App) -> None:
    chat = ChatRef("console", "dm:ana", ChatKind.PRIVATE, "Ana")
    event = Event(
        "console",
        "testhall",
        chat,
        UserRef("console", "ana", "Ana"),
        EventKind.COMMAND,
        START,
        text="/course \x00py\x00101",
        message_id="1",
    )
    [reply] = await app.handle(event)
    assert render_plain(reply.reply, "en").text == "There is no course py101. /courses lists them."
