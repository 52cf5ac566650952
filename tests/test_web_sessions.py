"""core/web_sessions: one-time login links and server-side sessions, authorized by the
member's current role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app import App
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed
from core.members.models import Role
from core.members.tables import members as members_table
from core.web_sessions.service import (
    LINK_TTL,
    LINKS_PER_HOUR,
    SESSION_IDLE,
    DashboardOff,
    LoginFailure,
    LoginRefused,
    WebSessionService,
)
from core.web_sessions.tables import web_login_tokens, web_sessions
from tests.conftest import console_member

BASE = "https://hall.example.com"


@pytest.fixture
def service(app: App) -> WebSessionService:
    app.services.web_sessions.enable(BASE)
    return app.services.web_sessions


def token_of(link: str) -> str:
    assert link.startswith(f"{BASE}/dashboard/login/")
    return link.rsplit("/", 1)[1]


async def test_a_link_is_off_until_the_dashboard_is_enabled(app: App) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    with pytest.raises(DashboardOff):
        await app.services.web_sessions.login_link(community, mei)


async def test_only_creators_and_moderators_get_a_link(app: App, service: WebSessionService) -> None:
    community = await app.community()
    ana = await console_member(app, "Ana")
    with pytest.raises(NotAllowed):
        await service.login_link(community, ana)
    sam = await console_member(app, "Sam", Role.MODERATOR)
    assert token_of(await service.login_link(community, sam))


async def test_a_link_signs_in_once_and_only_its_hash_is_stored(app: App, service: WebSessionService) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    token = token_of(await service.login_link(community, mei))
    session_id, login = await service.sign_in(token, "Firefox")
    assert (login.member.id, login.community.id, login.session.user_agent) == (
        mei.id,
        community.id,
        "Firefox",
    )
    assert (await service.authenticate(session_id)) == login
    async with app.db.read() as conn:
        stored = [tuple(r) for t in (web_login_tokens, web_sessions) for r in await conn.execute(select(t))]
    assert stored and all(token not in repr(row) and session_id not in repr(row) for row in stored)
    with pytest.raises(LoginRefused) as used:
        await service.sign_in(token, "Firefox")
    assert used.value.reason is LoginFailure.USED
    assert len(await service.sessions(mei)) == 1


async def test_an_expired_or_forged_link_is_refused(
    app: App, service: WebSessionService, clock: ManualClock
) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    token = token_of(await service.login_link(community, mei))
    clock.advance(LINK_TTL + timedelta(seconds=1))
    with pytest.raises(LoginRefused) as expired:
        await service.sign_in(token, "")
    assert expired.value.reason is LoginFailure.EXPIRED
    with pytest.raises(LoginRefused) as forged:
        await service.sign_in(token[:-2] + "xx", "")
    assert forged.value.reason is LoginFailure.UNKNOWN
    assert await service.sessions(mei) == []


async def test_a_link_of_a_member_demoted_since_signs_nobody_in(app: App, service: WebSessionService) -> None:
    community = await app.community()
    sam = await console_member(app, "Sam", Role.MODERATOR)
    token = token_of(await service.login_link(community, sam))
    await app.services.members.assign_role(community, sam, Role.LEARNER, via="test")
    with pytest.raises(LoginRefused) as refused:
        await service.sign_in(token, "")
    assert refused.value.reason is LoginFailure.NOT_STAFF
    assert await service.sessions(sam) == []


async def test_every_request_reads_the_role_afresh(app: App, service: WebSessionService) -> None:
    community = await app.community()
    sam = await console_member(app, "Sam", Role.MODERATOR)
    session_id, _ = await service.sign_in(token_of(await service.login_link(community, sam)), "")
    # Demoted behind the service's back (another process, by hand): refused at once.
    async with app.db.write() as conn:
        await conn.execute(update(members_table).where(members_table.c.id == sam.id).values(role="learner"))
    with pytest.raises(NotAllowed):
        await service.authenticate(session_id)


@pytest.mark.parametrize("how", ["assign_role", "change_role"])
async def test_a_role_change_ends_the_members_sessions(
    app: App, service: WebSessionService, how: str
) -> None:
    community = await app.community()
    owner = await console_member(app, "Mei", Role.CREATOR)
    sam = await console_member(app, "Sam", Role.MODERATOR)
    ids = [(await service.sign_in(token_of(await service.login_link(community, sam)), ""))[0] for _ in "ab"]
    mine, _ = await service.sign_in(token_of(await service.login_link(community, owner)), "")
    if how == "assign_role":
        await app.services.members.assign_role(community, sam, Role.CREATOR, via="test")
    else:
        await app.services.members.change_role(community, owner, sam, Role.LEARNER)
    assert [await service.authenticate(i) for i in ids] == [None, None]
    assert await service.authenticate(mine) is not None  # nobody else's


async def test_forget_erases_the_members_sessions_and_links(app: App, service: WebSessionService) -> None:
    community = await app.community()
    sam = await console_member(app, "Sam", Role.MODERATOR)
    session_id, _ = await service.sign_in(token_of(await service.login_link(community, sam)), "")
    await service.login_link(community, sam)
    await app.services.privacy.forget(community, sam)
    assert await service.authenticate(session_id) is None
    async with app.db.read() as conn:
        for table in (web_login_tokens, web_sessions):
            assert (await conn.execute(select(table).where(table.c.member_id == sam.id))).all() == []


async def test_sign_out_one_or_everywhere(app: App, service: WebSessionService, clock: ManualClock) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    sam = await console_member(app, "Sam", Role.MODERATOR)
    first, one = await service.sign_in(token_of(await service.login_link(community, mei)), "phone")
    clock.advance(timedelta(minutes=5))
    second, _ = await service.sign_in(token_of(await service.login_link(community, mei)), "laptop")
    assert [s.user_agent for s in await service.sessions(mei)] == ["laptop", "phone"]
    assert await service.revoke(sam, one.session.id) is False  # not Sam's to end
    assert await service.revoke(mei, one.session.id) is True
    assert await service.authenticate(first) is None and await service.authenticate(second) is not None
    third, _ = await service.sign_in(token_of(await service.login_link(community, mei)), "tablet")
    assert await service.revoke_all(mei) == 2
    assert await service.sessions(mei) == []
    await service.sign_out(third)  # already over: nothing to do, no error


async def test_an_idle_session_ends(app: App, service: WebSessionService, clock: ManualClock) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    session_id, _ = await service.sign_in(token_of(await service.login_link(community, mei)), "")
    clock.advance(SESSION_IDLE - timedelta(minutes=1))
    assert await service.authenticate(session_id) is not None  # seen: the idle time starts again
    clock.advance(SESSION_IDLE - timedelta(minutes=1))
    assert await service.authenticate(session_id) is not None
    clock.advance(SESSION_IDLE + timedelta(minutes=1))
    assert await service.authenticate(session_id) is None


async def test_links_per_hour_are_limited(app: App, service: WebSessionService, clock: ManualClock) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    for _ in range(LINKS_PER_HOUR):
        await service.login_link(community, mei)
    with pytest.raises(InvalidInput):
        await service.login_link(community, mei)
    clock.advance(timedelta(hours=1, seconds=1))
    assert await service.login_link(community, mei)


async def test_mydata_lists_the_members_sessions_without_their_ids(
    app: App, service: WebSessionService
) -> None:
    community = await app.community()
    mei = await console_member(app, "Mei", Role.CREATOR)
    session_id, _ = await service.sign_in(token_of(await service.login_link(community, mei)), "Firefox/140")
    exported = await app.services.privacy.export(mei)
    assert "Firefox/140" in repr(exported) and session_id not in repr(exported)
