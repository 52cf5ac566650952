"""Paid chats: who may be in a chat bound to a course, a plan or a tier, and keeping it so.

Entitlement: staff and the owner always; anyone else needs one of the chat's bindings — the
course owned, the plan live (trial, paid period or grace), or the tier reached by lifetime
earned points. Join requests are approved or declined by it; a member who gets in without it
is taken out again (so they can come back after paying).

Reconciliation compares who should be in each paid chat with who is (as studyhall knows it
from join and leave events and its own actions) and plans removals and invitations; run for
real, each action goes through the platform's ChatAccess port and into the audit log with its
reason. What the platform refuses becomes one message to the creators, at most once a day per
chat and problem, never a retry storm. Running it twice in a row does nothing the second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

from core.access.plans import PlanService
from core.access.ports import AdmitsDirectly, ChatAccess, PlatformRefused
from core.access.subscriptions import SubscriptionService
from core.access.tables import access_problems, chat_bindings, chat_memberships
from core.audit.log import record
from core.catalog.service import CatalogService
from core.clock import Clock
from core.errors import InvalidInput, NotFound
from core.events import ChatKind
from core.i18n import Msg, msg, render
from core.ledger.points import PointsService
from core.members.models import Chat, Community, Member, Role, require_creator
from core.members.service import MemberService
from core.members.tables import chats
from core.notices import Notices
from core.replies import Reply
from core.storage.database import Database
from core.storage.upsert import insert_or_ignore, insert_or_update

BINDING_FOR_CREATORS = msg("Only creators can bind paid chats.")
NOT_CONNECTED = msg("studyhall is not connected to this chat's platform right now: nothing can change there.")

KINDS = ("course", "plan", "tier")
BINDABLE = (ChatKind.GROUP, ChatKind.CHANNEL)  # a paid channel works as a paid group does
INVITE_AGAIN_AFTER = timedelta(days=1)
INVITE_VALID = timedelta(days=1)
REPORT_AGAIN_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Binding:
    chat: Chat
    kind: str
    target: str


@dataclass(frozen=True)
class Action:
    """One step of a reconciliation plan: remove, invite or admit ``member`` for ``reason``."""

    verb: str  # remove | invite | admit (on platforms that let the bot add members itself)
    chat: Chat
    member: Member
    reason: Msg


@dataclass(frozen=True)
class Checked:
    """A dry run: the plan, and each paid chat's problems in words a creator can act on."""

    actions: tuple[Action, ...]
    problems: tuple[tuple[Chat, Msg], ...]
    refused: tuple[tuple[Chat, Msg], ...] = ()  # what the platforms refused in the last day


@dataclass(frozen=True)
class Reconciled:
    """What a reconciliation did, and what the platforms refused (with their reason)."""

    done: tuple[Action, ...]
    failed: tuple[tuple[Action, Msg], ...]


class PaidChatService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        members: MemberService,
        catalog: CatalogService,
        plans: PlanService,
        subscriptions: SubscriptionService,
        points: PointsService,
        notices: Notices,
    ) -> None:
        self._db = db
        self._clock = clock
        self._members = members
        self._catalog = catalog
        self._plans = plans
        self._subscriptions = subscriptions
        self._points = points
        self._notices = notices
        self.ports: dict[str, ChatAccess] = {}  # per platform; adapters register theirs

    # -- creators ------------------------------------------------------------------------

    async def bind(
        self, community: Community, actor: Member, chat: Chat, kind: str, target: str, *, via: str = "command"
    ) -> Binding:
        require_creator(community, actor, BINDING_FOR_CREATORS)
        if chat.kind not in BINDABLE:
            raise InvalidInput(
                msg(
                    "Bind a group or a channel: send /bind inside the group, or in our private chat"
                    " to choose one."
                )
            )
        if kind not in KINDS:
            raise InvalidInput(msg("Bind a course, a plan or a tier: /bind course|plan|tier ID"))
        target = await self._checked_target(community, kind, target)
        async with self._db.write() as conn:
            await conn.execute(
                insert_or_ignore(self._db.dialect, chat_bindings).values(
                    community_id=community.id,
                    chat_id=chat.id,
                    kind=kind,
                    target=target,
                    created_at=self._clock.now(),
                )
            )
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="chat.bind",
                actor_member_id=actor.id,
                chat=chat.title,
                kind=kind,
                target=target,
                via=via,
            )
        return Binding(chat, kind, target)

    async def unbind(
        self,
        community: Community,
        actor: Member,
        chat: Chat,
        *,
        kind: str | None = None,
        target: str | None = None,
        via: str = "command",
    ) -> int:
        """Remove the chat's bindings (only the one ``kind``/``target`` when given); how many
        went."""
        require_creator(community, actor, BINDING_FOR_CREATORS)
        query = delete(chat_bindings).where(chat_bindings.c.chat_id == chat.id)
        if kind is not None and target is not None:
            query = query.where(chat_bindings.c.kind == kind, chat_bindings.c.target == target)
        one = {"kind": kind, "target": target} if kind is not None and target is not None else {}
        async with self._db.write() as conn:
            gone = await conn.execute(query)
            if gone.rowcount:
                await record(
                    conn,
                    community_id=community.id,
                    at=self._clock.now(),
                    action="chat.unbind",
                    actor_member_id=actor.id,
                    chat=chat.title,
                    via=via,
                    **one,
                )
        return int(gone.rowcount)

    async def bindings(self, community: Community) -> list[Binding]:
        query = (
            select(chat_bindings)
            .where(chat_bindings.c.community_id == community.id)
            .order_by(chat_bindings.c.chat_id, chat_bindings.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [Binding(await self._members.chat_by_id(row.chat_id), row.kind, row.target) for row in rows]

    async def group_chats(self, community: Community, limit: int = 200) -> list[Chat]:
        """The community's groups and channels the bot is in: where a binding can go."""
        query = (
            select(chats)
            .where(
                chats.c.community_id == community.id,
                chats.c.kind.in_([kind.value for kind in BINDABLE]),
                chats.c.bot_present.is_(True),
            )
            .order_by(chats.c.title, chats.c.id)
            .limit(limit)
        )
        async with self._db.read() as conn:
            ids = [row.id for row in await conn.execute(query)]
        return [await self._members.chat_by_id(chat_id) for chat_id in ids]

    async def bot_present(self, chat: Chat, present: bool) -> None:
        """The bot joined (or was made admin of) ``chat``, or left it: only chats it is in are
        offered for binding."""
        async with self._db.write() as conn:
            await conn.execute(update(chats).where(chats.c.id == chat.id).values(bot_present=present))

    async def chat_of(self, community: Community, chat_id: int) -> Chat:
        """The community's chat ``chat_id``; NotFound for another community's."""
        async with self._db.read() as conn:
            row = (await conn.execute(select(chats.c.community_id).where(chats.c.id == chat_id))).first()
        if row is None or row.community_id != community.id:
            raise NotFound(msg("There is no such chat."))
        return await self._members.chat_by_id(chat_id)

    async def _checked_target(self, community: Community, kind: str, target: str) -> str:
        if kind == "course":
            return (await self._catalog.course(community, target, include_hidden=True)).code
        if kind == "plan":
            return (await self._plans.get(community, target, include_hidden=True)).code
        tiers = await self._points.tiers(community)
        for tier in tiers:
            if tier.name.lower() == target.lower():
                return tier.name
        raise InvalidInput(msg("There is no tier {name}; /tier list shows them.", name=target[:40]))

    # -- who may be in -------------------------------------------------------------------

    async def is_paid(self, chat: Chat) -> bool:
        query = select(chat_bindings.c.id).where(chat_bindings.c.chat_id == chat.id).limit(1)
        async with self._db.read() as conn:
            return (await conn.execute(query)).first() is not None

    async def entitled(self, community: Community, member: Member, chat: Chat) -> bool:
        if member.role.is_staff or member.is_owner_of(community):
            return True
        for binding in await self._bindings_of(chat):
            if await self._grants(community, member, binding):
                return True
        return False

    async def _grants(self, community: Community, member: Member, binding: Binding) -> bool:
        if binding.kind == "course":
            course = await self._catalog.course(community, binding.target, include_hidden=True)
            return await self._catalog.enrollment(member, course) is not None
        if binding.kind == "plan":
            plan = await self._plans.get(community, binding.target, include_hidden=True)
            return await self._subscriptions.entitled(member.id, plan.id)
        tiers = await self._points.tiers(community)
        wanted = next((t for t in tiers if t.name == binding.target), None)
        earned = (await self._points.ledger.balance(community.id, member.id)).earned
        tier = await self._points.tier_of(community, member.id, earned)
        return wanted is not None and tier.threshold >= wanted.threshold

    async def how_to_get_in(self, community: Community, chat: Chat) -> Msg:
        """What the chat asks for, as the member is told when refused."""
        ways = []
        for binding in await self._bindings_of(chat):
            if binding.kind == "course":
                ways.append(f"/buy {binding.target}")
            elif binding.kind == "plan":
                ways.append(f"/subscribe {binding.target}")
            else:
                ways.append(f"tier {binding.target}")
        return msg("{chat} is for members only. To get in: {ways}.", chat=chat.title, ways=" · ".join(ways))

    async def _bindings_of(self, chat: Chat) -> list[Binding]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(chat_bindings).where(chat_bindings.c.chat_id == chat.id))).all()
        return [Binding(chat, row.kind, row.target) for row in rows]

    # -- platform events -----------------------------------------------------------------

    async def join_requested(
        self, community: Community, member: Member, chat: Chat, account: str
    ) -> Reply | None:
        """Approve an entitled member's request, decline anyone else's; the member's answer."""
        port = self.ports.get(chat.platform)
        if port is None or not await self.is_paid(chat):
            return None
        try:
            if await self.entitled(community, member, chat):
                await port.approve_join(chat.external_id, account)
                await self._mark(chat, member, in_chat=True)
                return Reply.text(msg("Welcome to {chat}!", chat=chat.title), to_member=member.id)
            await port.decline_join(chat.external_id, account)
        except PlatformRefused as refused:
            await self._report(community, chat, refused.message)
            return None
        return Reply.text(await self.how_to_get_in(community, chat), to_member=member.id)

    async def joined(self, community: Community, member: Member, chat: Chat, account: str) -> Reply | None:
        """Someone is in the chat: recorded; taken out again when the chat is paid and they
        are not entitled (they can come back after paying)."""
        await self._mark(chat, member, in_chat=True)
        if not await self.is_paid(chat) or await self.entitled(community, member, chat):
            return None
        port = self.ports.get(chat.platform)
        if port is None:
            return None
        try:
            await port.remove(chat.external_id, account)
        except PlatformRefused as refused:
            await self._report(community, chat, refused.message)
            return None
        await self._mark(chat, member, in_chat=False)
        await self._audit(community, "chat.remove", chat, member, msg("joined without access"))
        return Reply.text(await self.how_to_get_in(community, chat), to_member=member.id)

    async def left(self, chat: Chat, member: Member) -> None:
        await self._mark(chat, member, in_chat=False)

    async def in_chat(self, chat: Chat, member: Member) -> bool:
        query = select(chat_memberships.c.in_chat).where(
            chat_memberships.c.chat_id == chat.id, chat_memberships.c.member_id == member.id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return bool(row and row.in_chat)

    # -- reconciliation ------------------------------------------------------------------

    async def plan(self, community: Community) -> list[Action]:
        """What reconciliation would do now (``/access check`` prints it)."""
        now = self._clock.now()
        actions: list[Action] = []
        chats = {b.chat.id: b.chat for b in await self.bindings(community)}
        for chat in chats.values():
            async with self._db.read() as conn:
                rows = (
                    await conn.execute(select(chat_memberships).where(chat_memberships.c.chat_id == chat.id))
                ).all()
            known = {row.member_id: row for row in rows}
            for member_id, row in known.items():
                member = await self._members.get_member(member_id)
                if row.in_chat and not await self.entitled(community, member, chat):
                    actions.append(
                        Action("remove", chat, member, msg("no course, plan or tier that grants it"))
                    )
            for member in await self._candidates(community, chat):
                row = known.get(member.id)
                recently = (
                    row is not None
                    and row.invited_at is not None
                    and now - row.invited_at < INVITE_AGAIN_AFTER
                )
                if (row is None or not row.in_chat) and not recently and not member.role.is_staff:
                    verb = "admit" if isinstance(self.ports.get(chat.platform), AdmitsDirectly) else "invite"
                    actions.append(Action(verb, chat, member, msg("entitled but not in the chat")))
        return actions

    async def problems(self, community: Community) -> list[tuple[Chat, Msg]]:
        """What each paid chat's platform says the bot lacks there (its rights)."""
        found: list[tuple[Chat, Msg]] = []
        chats = {b.chat.id: b.chat for b in await self.bindings(community)}
        for chat in chats.values():
            found.extend((chat, problem) for problem in await self.problems_in(chat))
        return found

    async def problems_in(self, chat: Chat) -> list[Msg]:
        """What the chat's platform says the bot lacks there for paid access to work."""
        port = self.ports.get(chat.platform)
        if port is None:
            return []
        try:
            return await port.missing_rights(chat.external_id)
        except PlatformRefused as refused:
            return [refused.message]

    async def reconcile(self, community: Community) -> list[Action]:
        """Carry out the plan through the platforms' ports; returns what was done. What the
        bot lacks is reported to the creators (once a day per chat and problem)."""
        return list((await self._reconcile(community)).done)

    async def check(self, community: Community, actor: Member) -> Checked:
        """The dry run a creator asks for: what reconciliation would do, and what stands in
        its way (rights the bot lacks, a platform studyhall is not connected to)."""
        require_creator(community, actor, BINDING_FOR_CREATORS)
        problems = await self.problems(community)
        chats = {b.chat.id: b.chat for b in await self.bindings(community)}
        problems.extend((chat, NOT_CONNECTED) for chat in chats.values() if chat.platform not in self.ports)
        current = {(chat.id, render(problem, "en")[:300]) for chat, problem in problems}
        query = select(access_problems).where(
            access_problems.c.chat_id.in_(list(chats)),
            access_problems.c.reported_at > self._clock.now() - REPORT_AGAIN_AFTER,
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query.order_by(access_problems.c.reported_at.desc()))).all()
        refused = tuple(
            (chats[row.chat_id], _loaded(row.message, row.problem))
            for row in rows
            if (row.chat_id, row.problem) not in current
        )
        return Checked(tuple(await self.plan(community)), tuple(problems), refused)

    async def fix(self, community: Community, actor: Member, *, via: str = "command") -> Reconciled:
        """Reconcile now at a creator's request, audited with who asked and ``via``."""
        require_creator(community, actor, BINDING_FOR_CREATORS)
        result = await self._reconcile(community)
        async with self._db.write() as conn:
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action="chat.reconcile",
                actor_member_id=actor.id,
                done=len(result.done),
                failed=len(result.failed),
                via=via,
            )
        return result

    async def _reconcile(self, community: Community) -> Reconciled:
        for chat, problem in await self.problems(community):
            await self._report(community, chat, problem)
        done: list[Action] = []
        failed: list[tuple[Action, Msg]] = []
        for action in await self.plan(community):
            port = self.ports.get(action.chat.platform)
            account = await self._account(action.member, action.chat.platform)
            if port is None or account is None:
                continue
            try:
                if action.verb == "remove":
                    await port.remove(action.chat.external_id, account)
                    await self._mark(action.chat, action.member, in_chat=False)
                    self._notices.add(
                        community.id,
                        Reply.text(
                            await self.how_to_get_in(community, action.chat), to_member=action.member.id
                        ),
                    )
                elif action.verb == "admit" and isinstance(port, AdmitsDirectly):
                    await port.admit(action.chat.external_id, account)
                    await self._mark(action.chat, action.member, in_chat=True, invited=True)
                    self._notices.add(
                        community.id,
                        Reply.text(
                            msg("You now have access to {chat}.", chat=action.chat.title),
                            to_member=action.member.id,
                        ),
                    )
                else:
                    link = await port.single_use_invite(
                        action.chat.external_id,
                        for_account=account,
                        expires_at=self._clock.now() + INVITE_VALID,
                    )
                    await self._mark(action.chat, action.member, invited=True)
                    self._notices.add(
                        community.id,
                        Reply.text(
                            msg(
                                "You have access to {chat}: join with {link} (for you only, valid 24 hours).",
                                chat=action.chat.title,
                                link=link,
                            ),
                            to_member=action.member.id,
                        ),
                    )
            except PlatformRefused as refused:
                await self._report(community, action.chat, refused.message)
                failed.append((action, refused.message))
                continue
            await self._audit(community, f"chat.{action.verb}", action.chat, action.member, action.reason)
            done.append(action)
        return Reconciled(tuple(done), tuple(failed))

    async def _candidates(self, community: Community, chat: Chat) -> list[Member]:
        """Members entitled through the chat's bindings who have an account on its platform."""
        from core.members.tables import identities

        async with self._db.read() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(identities.c.member_id).where(
                            identities.c.community_id == community.id, identities.c.platform == chat.platform
                        )
                    )
                ).scalars()
            )
        found = []
        for member_id in sorted(set(ids)):
            member = await self._members.get_member(member_id)
            if not member.role.is_staff and await self.entitled(community, member, chat):
                found.append(member)
        return found

    async def _account(self, member: Member, platform: str) -> str | None:
        return next(
            (i.external_id for i in await self._members.identities_of(member.id) if i.platform == platform),
            None,
        )

    async def _mark(
        self, chat: Chat, member: Member, *, in_chat: bool | None = None, invited: bool = False
    ) -> None:
        now = self._clock.now()
        values: dict[str, Any] = {
            "chat_id": chat.id,
            "member_id": member.id,
            "updated_at": now,
            "in_chat": bool(in_chat),
            "invited_at": now if invited else None,
        }
        changed = (
            ["updated_at"]
            + (["in_chat"] if in_chat is not None else [])
            + (["invited_at"] if invited else [])
        )
        async with self._db.write() as conn:
            await conn.execute(
                insert_or_update(
                    self._db.dialect, chat_memberships, values, keys=("chat_id", "member_id"), update=changed
                )
            )

    async def _audit(
        self, community: Community, action: str, chat: Chat, member: Member, reason: Msg
    ) -> None:
        from core.i18n import render

        async with self._db.write() as conn:
            await record(
                conn,
                community_id=community.id,
                at=self._clock.now(),
                action=action,
                actor_member_id=None,
                subject_member_id=member.id,
                chat=chat.title,
                reason=render(reason, "en"),
            )

    async def _report(self, community: Community, chat: Chat, problem: Msg) -> None:
        """Tell the creators what the platform refused, once a day at most per chat and problem."""
        from core.i18n import render

        key, now = render(problem, "en")[:300], self._clock.now()
        async with self._db.write() as conn:
            fresh = await conn.execute(
                insert_or_ignore(self._db.dialect, access_problems).values(
                    chat_id=chat.id, problem=key, reported_at=now, message=_stored(problem)
                )
            )
            if fresh.rowcount != 1:
                stale = await conn.execute(
                    update(access_problems)
                    .where(
                        access_problems.c.chat_id == chat.id,
                        access_problems.c.problem == key,
                        access_problems.c.reported_at <= now - REPORT_AGAIN_AFTER,
                    )
                    .values(reported_at=now, message=_stored(problem))
                )
                if stale.rowcount != 1:
                    return
        for creator in await self._members.members_by_role(community.id, [Role.CREATOR]):
            self._notices.add(
                community.id,
                Reply.text(
                    msg("Paid chat {chat}: {problem}", chat=chat.title, problem=problem), to_member=creator.id
                ),
            )


def _stored(problem: Msg) -> str | None:
    """A problem as JSON, to show later in any language; None when its parameters are not plain."""
    try:
        return json.dumps(
            {"text": problem.text, "params": dict(problem.params), "plural": problem.plural, "n": problem.n}
        )
    except TypeError:
        return None


def _loaded(stored: str | None, english: str) -> Msg:
    if stored is None:
        return Msg(english.replace("{", "{{").replace("}", "}}"))  # already rendered: no fields
    data = json.loads(stored)
    return Msg(data["text"], data["params"], data["plural"], data["n"])
