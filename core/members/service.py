"""Member service: communities, members, identities, chats, roles and locale.

Authorization for role changes is checked here, not only in the command layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit import log as audit
from core.cache import Cache
from core.clock import Clock
from core.errors import InvalidInput, NotAllowed, NotFound
from core.events import ChatKind, ChatRef, UserRef
from core.i18n import SUPPORTED_LOCALES, msg, normalize_locale
from core.members.models import Chat, Community, Identity, Member, Role
from core.members.tables import chats, communities, identities, members
from core.storage.batching import GroupCommit
from core.storage.database import Database, from_sqlite_time
from core.storage.sqlite_bulk import as_json, select_all
from core.storage.upsert import insert_or_ignore
from core.web_sessions.store import end_sessions

MAX_NAME = 200


COMMUNITY_TTL = 10.0
MEMBER_TTL = 300.0  # commands that need a role re-read the member (see Router.run_command)
IDENTITY_TTL = 300.0  # identities change only by linking (this process invalidates)


@dataclass(frozen=True)
class _ChatWrite:
    """Create a chat, or take over its new title."""

    community_id: int
    platform: str
    external_id: str
    kind: str
    title: str
    at: datetime


@dataclass(frozen=True)
class _MemberWrite:
    """Create a learner with their first identity, unless the identity exists by now."""

    community_id: int
    display_name: str
    platform: str
    external_id: str
    language_hint: str
    at: datetime


class MemberService:
    def __init__(self, db: Database, clock: Clock, writer: GroupCommit[Any, Any] | None = None) -> None:
        """``writer``: the shared single writer, so first contacts join its batches instead of
        contending for SQLite's write lock; without one each write is its own transaction."""
        self._db = db
        self._clock = clock
        self._writer = writer
        if writer is not None:
            writer.register(_ChatWrite, _write_chats)
            writer.register(_MemberWrite, _write_members)
        # Hot-path lookups (every event). Ids never change; member rows may change in
        # another process, so they expire quickly; this process drops what it changes.
        self._communities: Cache[str, Community] = Cache(max_size=10_000, ttl=COMMUNITY_TTL)
        self._chats: Cache[tuple[int, str, str], Chat] = Cache(max_size=200_000)
        self._identity_members: Cache[tuple[int, str, str], int] = Cache(max_size=500_000)
        self._members: Cache[int, Member] = Cache(max_size=500_000, ttl=MEMBER_TTL)
        self._identities: Cache[int, list[Identity]] = Cache(max_size=500_000, ttl=IDENTITY_TTL)
        self._identity_pending: dict[tuple[int, str, str], asyncio.Future[Member | None]] = {}
        self._lookups: set[asyncio.Task[None]] = set()

    # -- communities ------------------------------------------------------------------------

    async def get_community(self, name: str) -> Community | None:
        cached = self._communities.get(name, self._read_community)
        if cached is not None:
            return cached
        found = await self._read_community(name)
        return self._communities.put(name, found) if found else None

    async def _read_community(self, name: str) -> Community | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(communities).where(communities.c.name == name))).first()
        return _community(row) if row else None

    async def community_by_id(self, community_id: int) -> Community:
        async with self._db.read() as conn:
            row = (await conn.execute(select(communities).where(communities.c.id == community_id))).first()
        if row is None:
            raise NotFound(msg("No such community."))
        return _community(row)

    async def ensure_community(self, name: str, *, default_locale: str, timezone: str) -> Community:
        """The community called ``name``, created on first use."""
        found = await self.get_community(name)
        if found:
            return found
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    insert(communities).values(
                        name=name,
                        default_locale=default_locale,
                        timezone=timezone,
                        created_at=self._clock.now(),
                    )
                )
        except IntegrityError:
            pass  # created concurrently
        found = await self.get_community(name)
        assert found is not None
        return found

    async def list_communities(self) -> list[Community]:
        async with self._db.read() as conn:
            rows = await conn.execute(select(communities).order_by(communities.c.id))
        return [_community(r) for r in rows]

    # -- chats ------------------------------------------------------------------------------

    async def ensure_chat(self, community: Community, ref: ChatRef) -> Chat:
        cache_key = (community.id, ref.platform, ref.external_id)
        cached = self._chats.get(cache_key)
        if cached is not None and (not ref.title or cached.title == ref.title[:MAX_NAME]):
            return cached
        # A miss goes straight to the writer, which finds or creates the chat: one round trip.
        title, now = ref.title[:MAX_NAME], self._clock.now()
        chat = await self._write(
            _ChatWrite(community.id, ref.platform, ref.external_id, ref.kind.value, title, now)
        )
        return self._chats.put(cache_key, chat)

    def forget_chat(self, community_id: int, platform: str, external_id: str) -> None:
        self._chats.drop((community_id, platform, external_id))  # it moved (chat_moves.py)

    async def chat_by_id(self, chat_id: int) -> Chat:
        async with self._db.read() as conn:
            row = (await conn.execute(select(chats).where(chats.c.id == chat_id))).one()
        return _chat(row)

    # -- members ----------------------------------------------------------------------------

    async def find_by_identity(self, community_id: int, platform: str, external_id: str) -> Member | None:
        key = (community_id, platform, external_id)
        member_id = self._identity_members.get(key)
        if member_id is not None:
            return await self.get_member(member_id)
        # Misses that arrive together (a busy group's first minutes) share one query, and
        # while one runs the next ones gather for the query after it: one at a time, so a
        # cold start makes a few large reads instead of hundreds of small ones.
        pending = self._identity_pending.get(key)
        if pending is None:
            pending = self._identity_pending[key] = asyncio.get_running_loop().create_future()
            if len(self._identity_pending) == 1 and not self._lookups:
                asyncio.get_running_loop().call_soon(self._start_identity_lookup)
        return await asyncio.shield(pending)

    def _start_identity_lookup(self) -> None:
        if self._lookups or not self._identity_pending:
            return  # one is running; it starts the next when it is done
        batch, self._identity_pending = self._identity_pending, {}
        task = asyncio.get_running_loop().create_task(self._lookup_identities(batch))
        self._lookups.add(task)
        task.add_done_callback(self._identity_lookup_done)

    def _identity_lookup_done(self, task: asyncio.Task[None]) -> None:
        self._lookups.discard(task)
        self._start_identity_lookup()  # the misses that arrived meanwhile

    async def _lookup_identities(
        self, batch: dict[tuple[int, str, str], asyncio.Future[Member | None]]
    ) -> None:
        """Resolve pending identity lookups, one query per (community, platform)."""
        try:
            wanted = list(batch)
            rows, identity_rows = await self._db.run_read(lambda conn: _read_identities(conn, wanted))
        except Exception as error:  # every waiter gets the error; nothing is left hanging
            for future in batch.values():
                if not future.done():
                    future.set_exception(error)
            return
        found: dict[tuple[int, str, str], Member] = {}
        for key, member in rows:
            self._identity_members.put(key, member.id)
            found[key] = self._members.put(member.id, member)
        # Their identities too: the locale of a first reply needs them, and one query there
        # spares one per member right after.
        for member_id, member_identities in identity_rows.items():
            self._identities.put(member_id, member_identities)
        for key, future in batch.items():
            if not future.done():
                future.set_result(found.get(key))

    async def ensure_member(self, community: Community, user: UserRef) -> Member:
        """The member behind ``user``, created as a learner on first contact.

        A changed display name on the platform is taken over.
        """
        name = (user.display_name.strip() or user.external_id)[:MAX_NAME]
        found = await self.find_by_identity(community.id, user.platform, user.external_id)
        if found is not None:
            if found.display_name != name:
                async with self._db.write() as conn:
                    await conn.execute(
                        update(members)
                        .where(members.c.id == found.id)
                        .values(display_name=name, name_key=name_key(name))
                    )
                found = await self.get_member(found.id, fresh=True)
            return found
        language_hint = normalize_locale(user.language or "")
        await self._write(
            _MemberWrite(
                community.id, name, user.platform, user.external_id, language_hint, self._clock.now()
            )
        )
        found = await self.find_by_identity(community.id, user.platform, user.external_id)
        assert found is not None
        return found

    async def _write(self, item: _ChatWrite | _MemberWrite) -> Any:
        if self._writer is not None:
            return await self._writer.submit(item)
        apply = _write_chats if isinstance(item, _ChatWrite) else _write_members
        (result,) = await self._db.run_batch(apply, [item])  # type: ignore[arg-type]
        return result

    async def get_member(self, member_id: int, *, fresh: bool = False) -> Member:
        """The member; ``fresh`` reads the database (for authorization decisions)."""
        if not fresh:
            cached = self._members.get(member_id)
            if cached is not None:
                return cached
        async with self._db.read() as conn:
            row = (await conn.execute(select(members).where(members.c.id == member_id))).first()
        if row is None:
            raise NotFound(msg("No such member."))
        if row.merged_into is not None:  # linked into another member (/link): that one answers
            return self._members.put(member_id, await self.get_member(row.merged_into, fresh=fresh))
        return self._members.put(member_id, _member(row))

    def forget_cached(self, member_id: int) -> None:
        """A member's row or identities changed in a way the caches cannot see (a merge)."""
        self._members.drop(member_id)
        self._identities.drop(member_id)
        self._identity_members.clear()

    async def find_by_name(self, community_id: int, name: str) -> list[Member]:
        """Members whose display name is ``name`` (case-insensitive), oldest first."""
        query = (
            select(members)
            .where(
                members.c.community_id == community_id,
                members.c.name_key == name_key(name),
            )
            .order_by(members.c.id)
        )
        async with self._db.read() as conn:
            rows = await conn.execute(query)
        return [_member(r) for r in rows]

    async def identities_of(self, member_id: int) -> list[Identity]:
        cached = self._identities.get(member_id)
        if cached is not None:
            return list(cached)
        query = select(identities).where(identities.c.member_id == member_id).order_by(identities.c.id)
        async with self._db.read() as conn:
            rows = await conn.execute(query)
        found = [
            Identity(r.id, r.member_id, r.platform, r.external_id, r.language_hint, r.created_at)
            for r in rows
        ]
        self._identities.put(member_id, found)
        return list(found)

    async def count_members(self, community_id: int) -> int:
        query = select(func.count()).select_from(members).where(members.c.community_id == community_id)
        async with self._db.read() as conn:
            return (await conn.execute(query)).scalar_one()

    async def members_by_role(self, community_id: int, roles: Sequence[Role]) -> list[Member]:
        query = (
            select(members)
            .where(members.c.community_id == community_id, members.c.role.in_([r.value for r in roles]))
            .order_by(members.c.id)
        )
        async with self._db.read() as conn:
            rows = await conn.execute(query)
        return [_member(r) for r in rows]

    # -- locale -----------------------------------------------------------------------------

    async def set_locale(self, member: Member, value: str) -> Member:
        locale = normalize_locale(value)
        if locale not in SUPPORTED_LOCALES:
            raise InvalidInput(msg("Unknown language {value}. Choose en or zh.", value=value[:20]))
        async with self._db.write() as conn:
            await conn.execute(update(members).where(members.c.id == member.id).values(locale=locale))
        return await self.get_member(member.id, fresh=True)

    async def effective_locale(self, member: Member, community: Community, hint: str | None = None) -> str:
        """The member's chosen locale, else ``hint`` (the language the platform reports for the
        account in use), else their first platform's stored hint, else the community's."""
        if member.locale:
            return member.locale
        hinted = normalize_locale(hint) if hint else None
        if hinted in SUPPORTED_LOCALES:
            return hinted
        for identity in await self.identities_of(member.id):
            if identity.language_hint in SUPPORTED_LOCALES:
                return identity.language_hint
        return community.default_locale

    # -- roles ------------------------------------------------------------------------------

    async def change_role(
        self,
        community: Community,
        actor: Member,
        target: Member,
        role: Role,
        *,
        reason: str = "",
        via: str = "command",
    ) -> Member:
        """Set ``target``'s role for ``actor`` (audited with ``via``): only creators change roles;
        only the owner makes or unmakes creators; nobody changes their own role; the owner's
        role never changes."""
        community = await self.community_by_id(community.id)  # fresh owner
        actor = await self.get_member(actor.id, fresh=True)
        target = await self.get_member(target.id, fresh=True)
        if actor.community_id != community.id or target.community_id != community.id:
            raise NotFound(msg("No such member."))
        if actor.role is not Role.CREATOR:
            raise NotAllowed(msg("Only creators can change roles."))
        if target.id == actor.id:
            raise NotAllowed(msg("You cannot change your own role."))
        if target.is_owner_of(community):
            raise NotAllowed(
                msg("{name} owns this community; their role cannot change.", name=target.display_name)
            )
        owner_only = Role.CREATOR in (role, target.role)
        if owner_only and not actor.is_owner_of(community):
            raise NotAllowed(msg("Only the owner can make or unmake creators."))
        if target.role is role:
            return target
        async with self._db.write() as conn:
            await conn.execute(update(members).where(members.c.id == target.id).values(role=role.value))
            # A web session carries what the old role allowed: the member signs in again.
            await end_sessions(conn, target.id, self._clock.now())
            await audit.record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="role.change",
                actor_member_id=actor.id,
                subject_member_id=target.id,
                before=target.role.value,
                after=role.value,
                reason=reason,
                via=via,
            )
        return await self.get_member(target.id, fresh=True)

    async def assign_role(self, community: Community, member: Member, role: Role, *, via: str) -> Member:
        """Set a role with system authority (console sandbox, command line), audited.

        The first creator of an ownerless community becomes its owner; the owner stays creator.
        """
        community = await self.community_by_id(community.id)
        if member.is_owner_of(community) and role is not Role.CREATOR:
            raise NotAllowed(
                msg("{name} owns this community; their role cannot change.", name=member.display_name)
            )
        async with self._db.write() as conn:
            if member.role is not role:
                await conn.execute(update(members).where(members.c.id == member.id).values(role=role.value))
                await end_sessions(conn, member.id, self._clock.now())
                await audit.record(
                    conn,
                    community_id=community.id,
                    at=self._clock.now(),
                    action="role.assign",
                    actor_member_id=None,
                    subject_member_id=member.id,
                    before=member.role.value,
                    after=role.value,
                    via=via,
                )
            if role is Role.CREATOR and community.owner_member_id is None:
                await self._make_owner(conn, community, member, via=via)
        return await self.get_member(member.id, fresh=True)

    async def _make_owner(
        self, conn: AsyncConnection, community: Community, member: Member, *, via: str
    ) -> None:
        claimed = await conn.execute(
            update(communities)
            .where(communities.c.id == community.id, communities.c.owner_member_id.is_(None))
            .values(owner_member_id=member.id)
        )
        if claimed.rowcount != 1:
            return  # another creator became the owner first
        self._communities.clear()
        await audit.record(
            conn,
            community_id=community.id,
            at=self._clock.now(),
            action="community.owner",
            actor_member_id=None,
            subject_member_id=member.id,
            via=via,
        )


def name_key(display_name: str) -> str:
    """How display names are compared: stripped and case-folded (Unicode-aware)."""
    return display_name.strip().casefold()[:MAX_NAME]


def _community(row: Any) -> Community:
    return Community(row.id, row.name, row.default_locale, row.timezone, row.owner_member_id, row.created_at)


def _member(row: Any) -> Member:
    return Member(row.id, row.community_id, row.display_name, Role(row.role), row.locale, row.created_at)


def _chat(row: Any) -> Chat:
    return Chat(row.id, row.community_id, row.platform, row.external_id, ChatKind(row.kind), row.title)


def _read_identities(
    conn: Connection, keys: Sequence[tuple[int, str, str]]
) -> tuple[list[tuple[tuple[int, str, str], Member]], dict[int, list[Identity]]]:
    """The members behind identity ``keys``, and every identity of those members, in one read."""
    if conn.dialect.name == "sqlite":
        return _read_identities_sqlite(conn.connection.driver_connection, keys)
    found: list[tuple[tuple[int, str, str], Member]] = []
    for (community_id, platform), external_ids in _by_platform(keys).items():
        for start in range(0, len(external_ids), 500):
            query = (
                select(members, identities.c.external_id.label("identity_external_id"))
                .join(identities, identities.c.member_id == members.c.id)
                .where(
                    identities.c.community_id == community_id,
                    identities.c.platform == platform,
                    identities.c.external_id.in_(external_ids[start : start + 500]),
                )
            )
            for row in conn.execute(query):
                found.append(((community_id, platform, row.identity_external_id), _member(row)))
    wanted = sorted({member.id for _, member in found})
    by_member: dict[int, list[Identity]] = {member_id: [] for member_id in wanted}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(identities).where(identities.c.member_id.in_(chunk)).order_by(identities.c.id)
        for r in conn.execute(query):
            by_member[r.member_id].append(
                Identity(r.id, r.member_id, r.platform, r.external_id, r.language_hint, r.created_at)
            )
    return found, by_member


_MEMBERS_BY_IDENTITY = (
    "SELECT i.community_id AS community, i.platform AS platform, i.external_id AS external, m.id AS id,"
    " m.community_id AS member_community, m.display_name AS name, m.role AS role, m.locale AS locale,"
    " m.created_at AS at FROM identities AS i JOIN members AS m ON m.id = i.member_id"
    " WHERE i.community_id = ? AND i.platform = ? AND i.external_id IN (SELECT value FROM json_each(?))"
)
_IDENTITIES_OF = (
    "SELECT id, member_id, platform, external_id, language_hint, created_at FROM identities"
    " WHERE member_id IN (SELECT value FROM json_each(?)) ORDER BY id"
)


def _read_identities_sqlite(
    raw: Any, keys: Sequence[tuple[int, str, str]]
) -> tuple[list[tuple[tuple[int, str, str], Member]], dict[int, list[Identity]]]:
    """``_read_identities`` on the raw driver: a busy group's cold start asks for thousands of
    members, and SQLAlchemy's row handling cost more than the reads (about 10 µs a member)."""
    found: list[tuple[tuple[int, str, str], Member]] = []
    columns = ("community", "platform", "external", "id", "member_community", "name", "role", "locale", "at")
    for (community_id, platform), external_ids in _by_platform(keys).items():
        params = (community_id, platform, as_json(external_ids))
        for row in select_all(raw, _MEMBERS_BY_IDENTITY, columns, params):
            member = Member(row[3], row[4], row[5], Role(row[6]), row[7], from_sqlite_time(row[8]))
            found.append(((row[0], row[1], row[2]), member))
    by_member: dict[int, list[Identity]] = {member.id: [] for _, member in found}
    if by_member:
        columns = ("id", "member_id", "platform", "external_id", "language_hint", "created_at")
        for row in select_all(raw, _IDENTITIES_OF, columns, (as_json(list(by_member)),)):
            identity = Identity(row[0], row[1], row[2], row[3], row[4], from_sqlite_time(row[5]))
            by_member[row[1]].append(identity)
    return found, by_member


def _by_platform(keys: Sequence[tuple[int, str, str]]) -> dict[tuple[int, str], list[str]]:
    """Identity keys grouped by (community, platform): one query each."""
    groups: dict[tuple[int, str], list[str]] = {}
    for community_id, platform, external_id in keys:
        groups.setdefault((community_id, platform), []).append(external_id)
    return groups


# -- batch writes (run in the single writer's transaction; see core/storage/batching.py) ------


def _write_chats(conn: Connection, items: Sequence[_ChatWrite]) -> list[Chat]:
    """Find or create each chat (taking over a new title); returns the chats."""
    found: list[Chat] = []
    for item in items:
        # Usually a chat not seen before (a member's first private message): one statement
        # creates and returns it. A conflict means it exists (perhaps just created by another
        # process: then theirs stands), and it is read below.
        values = {
            "community_id": item.community_id,
            "platform": item.platform,
            "external_id": item.external_id,
            "kind": item.kind,
            "title": item.title,
            "created_at": item.at,
            "bot_present": True,
        }
        created = conn.execute(
            insert_or_ignore(conn.dialect.name, chats).values(values).returning(chats)
        ).first()
        if created is not None:
            found.append(_chat(created))
            continue
        query = select(chats).where(
            chats.c.community_id == item.community_id,
            chats.c.platform == item.platform,
            chats.c.external_id == item.external_id,
        )
        chat = _chat(conn.execute(query).one())
        if item.title and chat.title != item.title:
            conn.execute(update(chats).where(chats.c.id == chat.id).values(title=item.title))
            chat = replace(chat, title=item.title)
        found.append(chat)
    return found


def _write_members(conn: Connection, items: Sequence[_MemberWrite]) -> list[None]:
    for item in items:
        known = conn.execute(
            select(identities.c.id).where(
                identities.c.community_id == item.community_id,
                identities.c.platform == item.platform,
                identities.c.external_id == item.external_id,
            )
        ).first()
        if known is not None:
            continue  # the same account arrived twice: the first write created it
        try:
            # A savepoint: if another process creates this identity meanwhile, only this
            # member's insert is undone, and the batch goes on.
            with conn.begin_nested():
                _insert_member(conn, item)
        except IntegrityError:
            continue
    return [None] * len(items)


def _insert_member(conn: Connection, item: _MemberWrite) -> None:
    member_id = conn.execute(
        insert(members)
        .values(
            community_id=item.community_id,
            display_name=item.display_name,
            name_key=name_key(item.display_name),
            role=Role.LEARNER.value,
            locale=None,
            created_at=item.at,
        )
        .returning(members.c.id)
    ).scalar_one()
    conn.execute(
        insert(identities).values(
            community_id=item.community_id,
            member_id=member_id,
            platform=item.platform,
            external_id=item.external_id,
            language_hint=item.language_hint,
            created_at=item.at,
        )
    )
