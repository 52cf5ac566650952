"""Every registered command against every role: refused roles get a clear message and
nothing changes; allowed roles are not refused. New commands are covered automatically."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.adapters.render import render_plain
from bot.app import App
from bot.handlers import build_router
from core.commands.router import refusal
from core.events import ChatKind, ChatRef, Event, EventKind, UserRef
from core.i18n import render
from core.members.models import Role
from tests.conftest import snapshot

ROUTER = build_router()
WHEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CASES = [(spec.name, role) for spec in ROUTER.commands.values() for role in Role]


async def _actor(app: App, role: Role) -> UserRef:
    community = await app.community()
    members = app.services.members
    # An owner exists first, so the actor under test is an ordinary member of its role.
    owner = await members.ensure_member(community, UserRef("console", "owner", "Owner"))
    await members.assign_role(community, owner, Role.CREATOR, via="test")
    await members.ensure_member(community, UserRef("console", "target", "Target"))
    user = UserRef("console", f"actor-{role.value}", f"Actor{role.value}")
    member = await members.ensure_member(community, user)
    await members.assign_role(community, member, role, via="test")
    return user


def test_matrix_covers_every_command() -> None:
    assert {name for name, _ in CASES} == set(ROUTER.commands)
    assert {"start", "help", "lang", "whoami", "role"} <= set(ROUTER.commands)


@pytest.mark.parametrize(("name", "role"), CASES, ids=[f"{n}-{r.value}" for n, r in CASES])
async def test_command_against_role(app: App, name: str, role: Role) -> None:
    spec = ROUTER.commands[name]
    user = await _actor(app, role)
    kind = ChatKind.PRIVATE if ChatKind.PRIVATE in spec.chats else ChatKind.GROUP
    chat = ChatRef("console", f"{kind.value}:matrix", kind, "matrix")
    await app.services.members.ensure_chat(await app.community(), chat)
    text = f"/{name} @Target learner because"
    before = await snapshot(app.db)
    out = await app.handle(
        Event("console", app.config.community, chat, user, EventKind.COMMAND, WHEN, text=text)
    )
    replies = [render_plain(o.reply, o.locale).text for o in out]
    refused = render(refusal(spec), "en")
    if role in spec.roles:
        assert refused not in replies
    else:
        assert replies == [refused]
        assert await snapshot(app.db) == before
