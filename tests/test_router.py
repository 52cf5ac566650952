"""core/commands/router.py: registration, role and chat checks, arguments, failures."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest

from bot.adapters.render import render_plain
from bot.app import App
from core.commands.context import Context
from core.commands.params import Int, Rest, Word
from core.commands.router import CREATORS, GROUPS_ONLY, STAFF, CommandSpec, Router
from core.errors import InvalidInput
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from core.i18n import msg
from core.members.models import Role
from core.replies import Reply

WHEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_rejects_bad_registrations() -> None:
    router = Router()

    async def handler(ctx: Context) -> None:
        return None

    with pytest.raises(ValueError):
        router.add(CommandSpec("Bad Name", msg("x"), handler))
    router.add(CommandSpec("ok", msg("x"), handler, aliases=("好",)))
    with pytest.raises(ValueError):
        router.add(CommandSpec("other", msg("x"), handler, aliases=("ok",)))
    with pytest.raises(ValueError):
        router.add(CommandSpec("好", msg("x"), handler))
    with pytest.raises(ValueError):
        router.add(CommandSpec("late", msg("x"), handler, params=(Rest("text"), Word("word"))))
    assert router.find("好") is router.find("OK") is router.commands["ok"]


def build_test_router(calls: list[str]) -> Router:
    router = Router()

    @router.command("echo", help=msg("echo"), params=(Int("count"), Rest("text", optional=True)))
    async def echo(ctx: Context) -> Reply:
        calls.append(f"echo {ctx.args['count']} {ctx.args['text']}")
        return Reply.text(f"{ctx.args['count']}:{ctx.args['text']}")

    @router.command("boom", help=msg("boom"))
    async def boom(ctx: Context) -> None:
        calls.append("boom")
        raise RuntimeError("secret internals")

    @router.command("refuse", help=msg("refuse"))
    async def refuse(ctx: Context) -> None:
        raise InvalidInput(msg("Not like that."))

    @router.command("staffonly", help=msg("staff"), roles=STAFF)
    async def staff_only(ctx: Context) -> Reply:
        calls.append("staff")
        return Reply.text("ok")

    @router.command("creatoronly", help=msg("creator"), roles=CREATORS)
    async def creator_only(ctx: Context) -> Reply:
        calls.append("creator")
        return Reply.text("ok")

    @router.command("grouponly", help=msg("group"), chats=GROUPS_ONLY)
    async def group_only(ctx: Context) -> Reply:
        calls.append("group")
        return Reply.text("ok")

    @router.on_message(priority=5)
    async def second(ctx: Context) -> Reply:
        calls.append("second")
        return Reply.text("second")

    @router.on_message(priority=1)
    async def first(ctx: Context) -> None:
        calls.append("first")

    return router


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def routed_app(app: App, calls: list[str]) -> App:
    app.router = build_test_router(calls)
    return app


async def send(
    app: App, text: str, *, kind: ChatKind = ChatKind.PRIVATE, data: str = "", name: str = "ana"
) -> str:
    chat = ChatRef("console", f"{kind.value}:{name}", kind, "room")
    event_kind = EventKind.BUTTON if data else EventKind.MESSAGE
    event = Event(
        "console",
        app.config.community,
        chat,
        UserRef("console", name, name),
        event_kind,
        WHEN,
        text=text,
        data=data,
    )
    outgoing = await app.handle(event)
    return "\n".join(render_plain(item.reply, item.locale).text for item in outgoing)


async def set_role(app: App, name: str, role: Role) -> None:
    community = await app.community()
    member = await app.services.members.ensure_member(community, UserRef("console", name, name))
    await app.services.members.assign_role(community, member, role, via="test")


async def test_arguments_are_converted_and_checked(routed_app: App, calls: list[str]) -> None:
    assert await send(routed_app, "/echo 3 hello  world") == "3:hello  world"
    assert await send(routed_app, "/echo 4") == "4:None"
    out = await send(routed_app, "/echo lots")
    assert "lots is not a whole number." in out and "Usage: /echo COUNT [text…]" in out
    out = await send(routed_app, "/echo")
    assert "Missing count." in out
    assert calls == ["echo 3 hello  world", "echo 4 None"]


async def test_unknown_commands_hint_in_private_and_stay_quiet_in_groups(routed_app: App) -> None:
    out = await send(routed_app, "/ecko 1")
    assert "Unknown command /ecko" in out and "Did you mean /echo?" in out
    assert await send(routed_app, "/ecko 1", kind=ChatKind.GROUP) == ""


async def test_roles_are_checked_before_anything_runs(routed_app: App, calls: list[str]) -> None:
    assert await send(routed_app, "/staffonly") == "Only moderators and creators can use /staffonly."
    assert await send(routed_app, "/creatoronly") == "Only creators can use /creatoronly."
    await set_role(routed_app, "ana", Role.MODERATOR)
    assert await send(routed_app, "/staffonly") == "ok"
    assert await send(routed_app, "/creatoronly") == "Only creators can use /creatoronly."
    assert calls == ["staff"]


async def test_chat_kind_is_checked(routed_app: App, calls: list[str]) -> None:
    assert await send(routed_app, "/grouponly") == "Use /grouponly in a group chat."
    assert await send(routed_app, "/grouponly", kind=ChatKind.GROUP) == "ok"
    assert calls == ["group"]


async def test_a_crash_is_an_apology_with_an_id_that_the_log_has(
    routed_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        out = await send(routed_app, "/boom")
    match = re.search(r"error ([0-9a-f]{8})", out)
    assert match and "Traceback" not in out and "secret internals" not in out
    assert any(match.group(1) in record.getMessage() and record.exc_info for record in caplog.records)


async def test_domain_errors_become_their_message(routed_app: App) -> None:
    assert await send(routed_app, "/refuse") == "Not like that."


async def test_plain_messages_reach_listeners_in_priority_order(routed_app: App, calls: list[str]) -> None:
    assert await send(routed_app, "just chatting", kind=ChatKind.GROUP) == "second"
    assert calls == ["first", "second"]


async def test_buttons_run_commands_with_the_same_checks(routed_app: App, calls: list[str]) -> None:
    assert await send(routed_app, "", data="cmd:/echo 7 x") == "7:x"
    assert await send(routed_app, "", data="cmd:/creatoronly") == "Only creators can use /creatoronly."
    assert "expired" in await send(routed_app, "", data="garbage")
    assert calls == ["echo 7 x"]


def test_available_to_filters_by_role_and_chat(calls: list[str]) -> None:
    router = build_test_router(calls)
    learner_private = {spec.name for spec in router.available_to(Role.LEARNER, ChatKind.PRIVATE)}
    assert learner_private == {"echo", "boom", "refuse"}
    assert "grouponly" in {spec.name for spec in router.available_to(Role.LEARNER, ChatKind.GROUP)}
    assert {"staffonly", "creatoronly"} <= {spec.name for spec in router.available_to(Role.CREATOR)}


async def test_restricted_commands_read_the_role_afresh(routed_app: App, calls: list[str]) -> None:
    """Another process demotes a moderator: this process's cached row must not keep the power."""
    await set_role(routed_app, "ana", Role.MODERATOR)
    assert await send(routed_app, "/staffonly") == "ok"
    other = App(routed_app.config, routed_app.db, routed_app.clock)  # a second process, same database
    community = await other.community()
    ana = await other.services.members.find_by_identity(community.id, "console", "ana")
    assert ana is not None
    await other.services.members.assign_role(community, ana, Role.LEARNER, via="test")
    assert (await routed_app.services.members.get_member(ana.id)).role is Role.MODERATOR  # cached
    assert await send(routed_app, "/staffonly") == "Only moderators and creators can use /staffonly."
    assert calls == ["staff"]


def test_personal_commands_are_marked_and_the_rest_are_not() -> None:
    from bot.handlers import build_router

    router = build_router()
    personal = {spec.name for spec in router.commands.values() if spec.personal}
    assert personal == {
        "points",
        "history",
        "orders",
        "mycourses",
        "subscription",
        "whoami",
        "recommend",
        "nps",
    }
