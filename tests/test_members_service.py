"""core/members/service.py: communities, members, identities, chats, locale and roles.

The concurrency tests use one Database (own engine, own connections) per caller and hold every
caller at a barrier after its first read, so they all see "not there yet" and race to insert.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.app import App
from core.audit import log as audit
from core.audit.log import AuditEntry
from core.clock import ManualClock
from core.errors import InvalidInput, NotAllowed, NotFound
from core.events import ChatKind, ChatRef, UserRef
from core.members.models import Community, Member, Role
from core.members.service import MemberService
from core.members.tables import chats, communities, identities, members
from core.storage.database import Database

PLATFORM = "telegram"


# -- helpers ----------------------------------------------------------------------------------


class Gate:
    """Lets ``parties`` callers through only once all of them have arrived."""

    def __init__(self, parties: int) -> None:
        self._parties = parties
        self._arrived = 0
        self._open = asyncio.Event()

    async def wait(self) -> None:
        self._arrived += 1
        if self._arrived >= self._parties:
            self._open.set()
        await asyncio.wait_for(self._open.wait(), timeout=10)


class GatedDatabase(Database):
    """A Database whose first read transaction, once finished, waits at a shared gate."""

    def __init__(self, url: str, gate: Gate) -> None:
        super().__init__(url)
        self._gate = gate
        self._waited = False

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with super().read() as conn:
            yield conn
        if not self._waited:
            self._waited = True
            await self._gate.wait()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def service(db: Database, clock: ManualClock) -> MemberService:
    return MemberService(db, clock)


@pytest.fixture
async def community(service: MemberService) -> Community:
    return await service.ensure_community("hall", default_locale="en", timezone="Asia/Shanghai")


def user(external_id: str, name: str | None = None, *, language: str | None = None) -> UserRef:
    return UserRef(PLATFORM, external_id, external_id.title() if name is None else name, language=language)


async def count(db: Database, table: Any, *where: Any) -> int:
    async with db.read() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def audit_entries(db: Database, community: Community, **kwargs: Any) -> list[AuditEntry]:
    async with db.read() as conn:
        return await audit.recent(conn, community.id, **kwargs)


async def race(
    db_url: str, clock: ManualClock, parties: int, call: Callable[[MemberService, int], Awaitable[Any]]
) -> list[Any]:
    """Run ``call`` once per party, each on its own Database, all past their first read together."""
    gate = Gate(parties)
    databases = [GatedDatabase(db_url, gate) for _ in range(parties)]
    try:
        async with asyncio.timeout(30):
            return await asyncio.gather(*(call(MemberService(d, clock), i) for i, d in enumerate(databases)))
    finally:
        for database in databases:
            await database.dispose()


@pytest.fixture
async def staff(service: MemberService, community: Community) -> dict[str, Member]:
    """An owner, a second creator, a moderator and two learners."""
    people = {
        name: await service.ensure_member(community, user(name)) for name in ("ola", "cai", "mo", "li", "lu")
    }
    people["ola"] = await service.assign_role(community, people["ola"], Role.CREATOR, via="test")
    people["cai"] = await service.assign_role(community, people["cai"], Role.CREATOR, via="test")
    people["mo"] = await service.assign_role(community, people["mo"], Role.MODERATOR, via="test")
    return people


# -- communities ------------------------------------------------------------------------------


async def test_ensure_community_creates_once_and_returns_the_same_row(
    service: MemberService, db: Database, clock: ManualClock
) -> None:
    first = await service.ensure_community("hall", default_locale="zh_CN", timezone="Asia/Shanghai")
    again = await service.ensure_community("hall", default_locale="en", timezone="UTC")

    assert again == first
    assert (first.name, first.default_locale, first.timezone) == ("hall", "zh_CN", "Asia/Shanghai")
    assert first.owner_member_id is None
    assert first.created_at == clock.now()
    assert await count(db, communities) == 1
    assert await service.get_community("other") is None


async def test_community_by_id_of_an_unknown_id_is_not_found(service: MemberService) -> None:
    with pytest.raises(NotFound):
        await service.community_by_id(12345)


@pytest.mark.parametrize("parties", [2, 8])
async def test_concurrent_ensure_community_creates_exactly_one(
    db_url: str, clock: ManualClock, db: Database, parties: int
) -> None:
    async def call(s: MemberService, _: int) -> Community:
        return await s.ensure_community("raced", default_locale="en", timezone="UTC")

    results = await race(db_url, clock, parties, call)

    assert len({c.id for c in results}) == 1
    assert await count(db, communities) == 1


# -- chats ------------------------------------------------------------------------------------


async def test_ensure_chat_creates_once_and_takes_over_a_new_title(
    service: MemberService, community: Community, db: Database
) -> None:
    ref = ChatRef(PLATFORM, "-100", ChatKind.GROUP, "Study group")
    first = await service.ensure_chat(community, ref)
    same = await service.ensure_chat(community, ref)
    untitled = await service.ensure_chat(community, ChatRef(PLATFORM, "-100", ChatKind.GROUP, ""))
    renamed = await service.ensure_chat(community, ChatRef(PLATFORM, "-100", ChatKind.GROUP, "Renamed"))

    assert same == first == untitled
    assert (first.kind, first.title) == (ChatKind.GROUP, "Study group")
    assert renamed.id == first.id
    assert renamed.title == "Renamed"
    assert (await service.chat_by_id(first.id)).title == "Renamed"
    assert await count(db, chats) == 1


@pytest.mark.parametrize("parties", [2, 8])
async def test_concurrent_ensure_chat_creates_exactly_one(
    db_url: str, clock: ManualClock, db: Database, community: Community, parties: int
) -> None:
    ref = ChatRef(PLATFORM, "-200", ChatKind.GROUP, "Raced")

    async def call(s: MemberService, _: int) -> Any:
        return await s.ensure_chat(community, ref)

    results = await race(db_url, clock, parties, call)

    assert len({c.id for c in results}) == 1
    assert await count(db, chats) == 1


# -- members ----------------------------------------------------------------------------------


async def test_ensure_member_creates_a_learner_once(
    service: MemberService, community: Community, db: Database, clock: ManualClock
) -> None:
    first = await service.ensure_member(community, user("42", "Mei"))
    again = await service.ensure_member(community, user("42", "Mei"))

    assert again == first
    assert first.role is Role.LEARNER
    assert (first.display_name, first.locale, first.community_id) == ("Mei", None, community.id)
    assert first.created_at == clock.now()
    assert await count(db, members) == 1
    assert [(i.platform, i.external_id) for i in await service.identities_of(first.id)] == [(PLATFORM, "42")]


async def test_ensure_member_keeps_accounts_of_other_platforms_and_communities_apart(
    service: MemberService, community: Community, db: Database
) -> None:
    other = await service.ensure_community("other", default_locale="en", timezone="UTC")
    a = await service.ensure_member(community, user("42", "Mei"))
    b = await service.ensure_member(community, UserRef("discord", "42", "Mei"))
    c = await service.ensure_member(other, user("42", "Mei"))

    assert len({a.id, b.id, c.id}) == 3
    assert c.community_id == other.id
    assert await service.count_members(community.id) == 2
    assert await service.count_members(other.id) == 1


async def test_ensure_member_takes_over_a_changed_display_name(
    service: MemberService, community: Community, db: Database
) -> None:
    first = await service.ensure_member(community, user("42", "Mei"))
    renamed = await service.ensure_member(community, user("42", "  Mei Lin  "))

    assert renamed.id == first.id
    assert renamed.display_name == "Mei Lin"
    assert (await service.get_member(first.id)).display_name == "Mei Lin"
    assert await count(db, members) == 1


async def test_ensure_member_falls_back_to_the_account_id_and_caps_the_name(
    service: MemberService, community: Community
) -> None:
    blank = await service.ensure_member(community, user("777", "   "))
    long = await service.ensure_member(community, user("778", "x" * 500))

    assert blank.display_name == "777"
    assert long.display_name == "x" * 200


@pytest.mark.parametrize(
    ("language", "hint"),
    [("zh-hans", "zh_CN"), ("zh", "zh_CN"), ("en-US", "en"), ("fr", None), (None, None)],
)
async def test_ensure_member_records_the_language_hint(
    service: MemberService, community: Community, language: str | None, hint: str | None
) -> None:
    member = await service.ensure_member(community, user("42", "Mei", language=language))

    [identity] = await service.identities_of(member.id)
    assert identity.language_hint == hint
    assert member.locale is None  # a hint is not a choice


async def test_get_member_of_an_unknown_id_is_not_found(service: MemberService) -> None:
    with pytest.raises(NotFound):
        await service.get_member(999)


@pytest.mark.parametrize("parties", [2, 8])
async def test_concurrent_ensure_member_for_one_new_account_creates_one_member_and_identity(
    db_url: str, clock: ManualClock, db: Database, community: Community, parties: int
) -> None:
    async def call(s: MemberService, _: int) -> Member:
        return await s.ensure_member(community, user("9001", "Racer", language="zh"))

    results = await race(db_url, clock, parties, call)

    assert len({m.id for m in results}) == 1
    assert await count(db, members) == 1
    assert await count(db, identities) == 1
    async with db.read() as conn:
        row = (await conn.execute(select(identities))).one()
    assert (row.member_id, row.external_id, row.language_hint) == (results[0].id, "9001", "zh_CN")


async def test_concurrent_ensure_member_for_different_accounts_creates_each_once(
    db_url: str, clock: ManualClock, db: Database, community: Community
) -> None:
    databases = [Database(db_url) for _ in range(4)]
    try:
        services = [MemberService(d, clock) for d in databases]
        calls = [s.ensure_member(community, user(f"u{i % 2}")) for i, s in enumerate(services)]
        async with asyncio.timeout(30):
            results = await asyncio.gather(*calls)
    finally:
        for database in databases:
            await database.dispose()

    assert results[0].id == results[2].id
    assert results[1].id == results[3].id
    assert results[0].id != results[1].id
    assert await count(db, members) == 2
    assert await count(db, identities) == 2


async def test_find_by_name_is_case_insensitive_oldest_first_and_per_community(
    service: MemberService, community: Community
) -> None:
    other = await service.ensure_community("other", default_locale="en", timezone="UTC")
    mei = await service.ensure_member(community, user("1", "Mei"))
    mei_again = await service.ensure_member(community, user("2", "MEI"))
    await service.ensure_member(community, user("3", "Meiling"))
    await service.ensure_member(other, user("4", "mei"))

    assert [m.id for m in await service.find_by_name(community.id, "mei")] == [mei.id, mei_again.id]
    assert [m.id for m in await service.find_by_name(community.id, "  mEi ")] == [mei.id, mei_again.id]
    assert await service.find_by_name(community.id, "nobody") == []


async def test_find_by_name_finds_chinese_names(service: MemberService, community: Community) -> None:
    member = await service.ensure_member(community, user("5", "小明"))

    assert [m.id for m in await service.find_by_name(community.id, "小明")] == [member.id]


async def test_find_by_name_ignores_case_beyond_ascii(service: MemberService, community: Community) -> None:
    emile = await service.ensure_member(community, user("6", "Émile"))
    zoe = await service.ensure_member(community, user("7", "ZOË"))

    assert [m.id for m in await service.find_by_name(community.id, "émile")] == [emile.id]
    assert [m.id for m in await service.find_by_name(community.id, "Zoë")] == [zoe.id]


# -- locale -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"), [("zh", "zh_CN"), ("zh-CN", "zh_CN"), ("EN_us", "en"), ("en", "en")]
)
async def test_set_locale_normalises_what_people_type(
    service: MemberService, community: Community, typed: str, stored: str
) -> None:
    member = await service.ensure_member(community, user("42"))

    updated = await service.set_locale(member, typed)

    assert updated.locale == stored
    assert (await service.get_member(member.id)).locale == stored


@pytest.mark.parametrize("bad", ["klingon", "", "fr", "de-DE"])
async def test_set_locale_refuses_an_unknown_language_and_changes_nothing(
    service: MemberService, community: Community, bad: str
) -> None:
    member = await service.set_locale(await service.ensure_member(community, user("42")), "zh")

    with pytest.raises(InvalidInput):
        await service.set_locale(member, bad)

    assert (await service.get_member(member.id)).locale == "zh_CN"


async def test_effective_locale_prefers_choice_then_hint_then_community(service: MemberService) -> None:
    zh_hall = await service.ensure_community("zh-hall", default_locale="zh_CN", timezone="Asia/Shanghai")

    no_hint = await service.ensure_member(zh_hall, user("1", language=None))
    french = await service.ensure_member(zh_hall, user("2", language="fr"))
    english = await service.ensure_member(zh_hall, user("3", language="en-GB"))

    assert await service.effective_locale(no_hint, zh_hall) == "zh_CN"
    assert await service.effective_locale(french, zh_hall) == "zh_CN"
    assert await service.effective_locale(english, zh_hall) == "en"

    chose_zh = await service.set_locale(english, "zh")
    assert await service.effective_locale(chose_zh, zh_hall) == "zh_CN"


# -- change_role -------------------------------------------------------------------------------


async def test_a_creator_changes_a_learners_role_and_it_is_audited(
    service: MemberService, community: Community, staff: dict[str, Member], db: Database, clock: ManualClock
) -> None:
    updated = await service.change_role(
        community, staff["cai"], staff["li"], Role.MODERATOR, reason="helps a lot"
    )

    assert updated.role is Role.MODERATOR
    assert (await service.get_member(staff["li"].id)).role is Role.MODERATOR
    [entry] = await audit_entries(db, community, subject_member_id=staff["li"].id)
    assert entry.action == "role.change"
    assert entry.actor_member_id == staff["cai"].id
    assert entry.subject_member_id == staff["li"].id
    assert entry.at == clock.now()
    assert entry.detail == {
        "before": "learner",
        "after": "moderator",
        "reason": "helps a lot",
        "via": "command",
    }


async def test_a_creator_demotes_a_moderator(
    service: MemberService, community: Community, staff: dict[str, Member], db: Database
) -> None:
    updated = await service.change_role(community, staff["ola"], staff["mo"], Role.LEARNER)

    assert updated.role is Role.LEARNER
    entry = (await audit_entries(db, community, subject_member_id=staff["mo"].id))[0]
    assert (entry.action, entry.actor_member_id) == ("role.change", staff["ola"].id)
    assert entry.detail == {"before": "moderator", "after": "learner", "reason": "", "via": "command"}


@pytest.mark.parametrize("actor", ["mo", "lu"])
async def test_only_creators_change_roles(
    service: MemberService, community: Community, staff: dict[str, Member], db: Database, actor: str
) -> None:
    before = await audit_entries(db, community)

    with pytest.raises(NotAllowed) as refused:
        await service.change_role(community, staff[actor], staff["li"], Role.MODERATOR)

    assert refused.value.message.text == "Only creators can change roles."
    assert (await service.get_member(staff["li"].id)).role is Role.LEARNER
    assert await audit_entries(db, community) == before


@pytest.mark.parametrize(("who", "role"), [("cai", Role.LEARNER), ("ola", Role.MODERATOR)])
async def test_nobody_changes_their_own_role(
    service: MemberService, community: Community, staff: dict[str, Member], who: str, role: Role
) -> None:
    with pytest.raises(NotAllowed) as refused:
        await service.change_role(community, staff[who], staff[who], role)

    assert refused.value.message.text == "You cannot change your own role."
    assert (await service.get_member(staff[who].id)).role is Role.CREATOR


@pytest.mark.parametrize("role", [Role.LEARNER, Role.MODERATOR])
async def test_the_owners_role_never_changes(
    service: MemberService, community: Community, staff: dict[str, Member], db: Database, role: Role
) -> None:
    before = await audit_entries(db, community)

    with pytest.raises(NotAllowed) as refused:
        await service.change_role(community, staff["cai"], staff["ola"], role)

    assert "owns this community" in refused.value.message.text
    assert refused.value.message.params["name"] == "Ola"
    assert (await service.get_member(staff["ola"].id)).role is Role.CREATOR
    assert (await service.community_by_id(community.id)).owner_member_id == staff["ola"].id
    assert await audit_entries(db, community) == before


@pytest.mark.parametrize(("target", "role"), [("li", Role.CREATOR), ("mo", Role.CREATOR)])
async def test_only_the_owner_makes_creators(
    service: MemberService, community: Community, staff: dict[str, Member], target: str, role: Role
) -> None:
    with pytest.raises(NotAllowed) as refused:
        await service.change_role(community, staff["cai"], staff[target], role)

    assert refused.value.message.text == "Only the owner can make or unmake creators."
    assert (await service.get_member(staff[target].id)).role is staff[target].role

    made = await service.change_role(community, staff["ola"], staff[target], role)
    assert made.role is Role.CREATOR


async def test_only_the_owner_unmakes_creators(
    service: MemberService, community: Community, staff: dict[str, Member], db: Database
) -> None:
    third = await service.assign_role(
        community, await service.ensure_member(community, user("tia")), Role.CREATOR, via="test"
    )

    with pytest.raises(NotAllowed) as refused:
        await service.change_role(community, staff["cai"], third, Role.MODERATOR)
    assert refused.value.message.text == "Only the owner can make or unmake creators."
    assert (await service.get_member(third.id)).role is Role.CREATOR

    unmade = await service.change_role(community, staff["ola"], third, Role.MODERATOR, reason="stepped back")
    assert unmade.role is Role.MODERATOR
    [entry, *_] = await audit_entries(db, community, subject_member_id=third.id)
    assert (entry.action, entry.actor_member_id) == ("role.change", staff["ola"].id)
    assert entry.detail == {
        "before": "creator",
        "after": "moderator",
        "reason": "stepped back",
        "via": "command",
    }


async def test_change_role_uses_fresh_roles_not_the_callers_copies(
    service: MemberService, community: Community, staff: dict[str, Member]
) -> None:
    # cai's copy still says creator, but the owner has since made cai a moderator.
    stale_cai = staff["cai"]
    await service.change_role(community, staff["ola"], staff["cai"], Role.MODERATOR)

    with pytest.raises(NotAllowed):
        await service.change_role(community, stale_cai, staff["li"], Role.MODERATOR)
    assert (await service.get_member(staff["li"].id)).role is Role.LEARNER


async def test_setting_the_same_role_changes_nothing_and_writes_no_audit(
    service: MemberService, community: Community, staff: dict[str, Member], db: Database
) -> None:
    before = await audit_entries(db, community)

    same = await service.change_role(community, staff["ola"], staff["mo"], Role.MODERATOR)

    assert same.role is Role.MODERATOR
    assert await audit_entries(db, community) == before


async def test_change_role_refuses_members_of_another_community(
    service: MemberService, community: Community, staff: dict[str, Member]
) -> None:
    other = await service.ensure_community("other", default_locale="en", timezone="UTC")
    stranger = await service.ensure_member(other, user("zed"))

    with pytest.raises(NotFound):
        await service.change_role(community, staff["ola"], stranger, Role.MODERATOR)
    assert (await service.get_member(stranger.id)).role is Role.LEARNER


# -- assign_role ------------------------------------------------------------------------------


async def test_assign_role_makes_the_first_creator_the_owner(
    service: MemberService, community: Community, db: Database
) -> None:
    first = await service.ensure_member(community, user("ola"))
    second = await service.ensure_member(community, user("cai"))

    first = await service.assign_role(community, first, Role.CREATOR, via="cli")
    second = await service.assign_role(community, second, Role.CREATOR, via="cli")

    fresh = await service.community_by_id(community.id)
    assert fresh.owner_member_id == first.id
    assert first.is_owner_of(fresh) and not second.is_owner_of(fresh)
    assert (first.role, second.role) == (Role.CREATOR, Role.CREATOR)

    entries = list(reversed(await audit_entries(db, community)))
    assert [(e.action, e.subject_member_id, e.actor_member_id) for e in entries] == [
        ("role.assign", first.id, None),
        ("community.owner", first.id, None),
        ("role.assign", second.id, None),
    ]
    assert entries[0].detail == {"before": "learner", "after": "creator", "via": "cli"}
    assert entries[1].detail == {"via": "cli"}


async def test_assign_role_of_a_moderator_makes_no_owner(
    service: MemberService, community: Community, db: Database
) -> None:
    member = await service.ensure_member(community, user("mo"))

    member = await service.assign_role(community, member, Role.MODERATOR, via="console")

    assert member.role is Role.MODERATOR
    assert (await service.community_by_id(community.id)).owner_member_id is None
    [entry] = await audit_entries(db, community)
    assert (entry.action, entry.detail) == (
        "role.assign",
        {"before": "learner", "after": "moderator", "via": "console"},
    )


@pytest.mark.parametrize("role", [Role.LEARNER, Role.MODERATOR])
async def test_assign_role_refuses_to_demote_the_owner(
    service: MemberService, community: Community, staff: dict[str, Member], db: Database, role: Role
) -> None:
    before = await audit_entries(db, community)

    with pytest.raises(NotAllowed):
        await service.assign_role(community, staff["ola"], role, via="cli")

    assert (await service.get_member(staff["ola"].id)).role is Role.CREATOR
    assert (await service.community_by_id(community.id)).owner_member_id == staff["ola"].id
    assert await audit_entries(db, community) == before


async def test_assign_creator_to_the_owner_again_changes_nothing(
    service: MemberService, community: Community, staff: dict[str, Member], db: Database
) -> None:
    before = await audit_entries(db, community)

    owner = await service.assign_role(community, staff["ola"], Role.CREATOR, via="cli")

    assert owner.role is Role.CREATOR
    assert await audit_entries(db, community) == before


async def test_concurrent_first_creators_make_exactly_one_owner_and_one_owner_audit_entry(
    db_url: str, clock: ManualClock, service: MemberService, community: Community, db: Database
) -> None:
    a = await service.ensure_member(community, user("ana"))
    b = await service.ensure_member(community, user("bo"))
    candidates = [a, b]

    async def call(s: MemberService, index: int) -> Member:
        return await s.assign_role(community, candidates[index], Role.CREATOR, via="cli")

    await race(db_url, clock, 2, call)

    owner_id = (await service.community_by_id(community.id)).owner_member_id
    assert owner_id in {a.id, b.id}
    owner_entries = [e for e in await audit_entries(db, community) if e.action == "community.owner"]
    assert [e.subject_member_id for e in owner_entries] == [owner_id]


async def test_misses_arriving_during_a_lookup_wait_for_it_and_share_the_next(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = app.services.members
    community = await service.ensure_community("wavehall", default_locale="en", timezone="UTC")
    created = [
        await service.ensure_member(community, UserRef("console", f"w{i}", f"W{i}")) for i in range(40)
    ]
    fresh = MemberService(app.db, app.clock)  # empty caches
    original_run_read = app.db.run_read
    gate = asyncio.Event()
    lookups: list[int] = []

    async def slow_run_read(read):  # type: ignore[no-untyped-def]
        lookups.append(1)
        await gate.wait()  # the first lookup is still running while the next waves arrive
        return await original_run_read(read)

    monkeypatch.setattr(app.db, "run_read", slow_run_read)
    first = [asyncio.ensure_future(fresh.find_by_identity(community.id, "console", "w0"))]
    await asyncio.sleep(0.01)
    waves = []
    for wave in range(3):  # three turns of the loop, ten misses each
        waves += [
            asyncio.ensure_future(fresh.find_by_identity(community.id, "console", f"w{i}"))
            for i in range(1 + 10 * wave, 11 + 10 * wave)
        ]
        await asyncio.sleep(0.01)
    assert len(lookups) == 1  # one at a time: the waves wait for the running one
    gate.set()
    found = await asyncio.gather(*first, *waves)
    assert [m.id for m in found if m] == [m.id for m in created[:31]]
    assert len(lookups) == 2  # and the three waves shared the next


async def test_concurrent_identity_misses_share_one_query(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    service = app.services.members
    community = await service.ensure_community("batchhall", default_locale="en", timezone="UTC")
    created = [
        await service.ensure_member(community, UserRef("console", f"u{i}", f"U{i}")) for i in range(30)
    ]
    fresh = MemberService(app.db, app.clock)  # empty caches
    reads = 0
    original, original_run_read = app.db.read, app.db.run_read
    in_run_read = False

    def counting_read():  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += not in_run_read  # run_read may use read() itself (PostgreSQL)
        return original()

    async def counting_run_read(read):  # type: ignore[no-untyped-def]
        nonlocal reads, in_run_read
        reads += 1
        in_run_read = True
        try:
            return await original_run_read(read)
        finally:
            in_run_read = False

    monkeypatch.setattr(app.db, "read", counting_read)
    monkeypatch.setattr(app.db, "run_read", counting_run_read)
    found = await asyncio.gather(
        *(fresh.find_by_identity(community.id, "console", f"u{i}") for i in range(30)),
        fresh.find_by_identity(community.id, "console", "nobody"),
    )
    assert [m.id for m in found[:30] if m] == [m.id for m in created]
    assert found[30] is None
    assert reads == 1
