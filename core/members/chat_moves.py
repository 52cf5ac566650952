"""A chat that changed its id on its platform (Telegram makes a group a supergroup when it goes
public, passes 200 members or gets certain admin rights: the chat id changes for good).

Everything studyhall keeps of a chat refers to its ``chats`` row, so moving the chat is one
transaction on that row: with no row for the new id yet, the row takes the new id; when one
exists already (messages from the supergroup came before the news of the move), whatever refers
to the old row — bindings, chat memberships, pending invites, problems, activity, questions —
moves to the new row (where both have a row for the same thing, the newer one stays) and the
old row goes. The new row is the one kept because other processes may have it cached for the
new id; the old id never sends anything again. The move is audited and the creators are told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import PrimaryKeyConstraint, Table, UniqueConstraint, and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import record
from core.clock import Clock
from core.i18n import msg
from core.members.models import Community, Role
from core.members.tables import chats, members
from core.notices import Notices
from core.replies import Reply
from core.storage.database import Database
from core.storage.schema import load_all_tables


@dataclass(frozen=True)
class ChatMove:
    chat_id: int  # the chats row now holding the chat
    title: str
    merged: bool  # the new id had a row already: the old one's records moved into it


def _referring() -> list[tuple[Table, str, tuple[str, ...]]]:
    """Every (table, its column pointing at chats.id, the other columns of a key that column is
    part of, if any): what a merge moves, and what makes two rows the same thing."""
    found = []
    for table in load_all_tables().sorted_tables:
        for column in table.columns:
            if not any(fk.column is chats.c.id for fk in column.foreign_keys):
                continue
            others: tuple[str, ...] = ()
            for constraint in table.constraints:
                if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
                    names = [c.name for c in constraint.columns]
                    if column.name in names and len(names) > 1:
                        others = tuple(name for name in names if name != column.name)
                        break
            found.append((table, column.name, others))
    return found


class ChatMoves:
    def __init__(self, db: Database, clock: Clock, notices: Notices) -> None:
        self._db = db
        self._clock = clock
        self._notices = notices
        # Caches of chats by id to drop after a move (MemberService.forget_chat).
        self.forget: list[Callable[[int, str, str], None]] = []

    async def move(
        self, community: Community, platform: str, old_external: str, new_external: str
    ) -> ChatMove | None:
        """The chat ``old_external`` is ``new_external`` from now on. Idempotent: None when
        there is nothing (left) to move."""
        if old_external == new_external:
            return None
        t = chats.c
        now = self._clock.now()

        def ref(external: str) -> object:
            return and_(t.community_id == community.id, t.platform == platform, t.external_id == external)

        async with self._db.write() as conn:
            old = (await conn.execute(select(chats).where(ref(old_external)))).first()
            if old is None:
                return None
            new = (await conn.execute(select(chats).where(ref(new_external)))).first()
            if new is None:
                await conn.execute(update(chats).where(t.id == old.id).values(external_id=new_external))
                moved = ChatMove(old.id, old.title, merged=False)
            else:
                await _merge(conn, old.id, new.id)
                await conn.execute(delete(chats).where(t.id == old.id))
                await conn.execute(update(chats).where(t.id == new.id).values(bot_present=True))
                moved = ChatMove(new.id, new.title or old.title, merged=True)
            await record(
                conn,
                community_id=community.id,
                at=now,
                action="chat.migrate",
                actor_member_id=None,
                platform=platform,
                old=old_external,
                new=new_external,
                merged=moved.merged,
            )
            creators = list(
                (
                    await conn.execute(
                        select(members.c.id).where(
                            members.c.community_id == community.id, members.c.role == Role.CREATOR.value
                        )
                    )
                ).scalars()
            )
        for forget in self.forget:
            forget(community.id, platform, old_external)
            forget(community.id, platform, new_external)
        note = msg(
            "{chat} became a supergroup, with a new id; its paid access, members and invites moved with it.",
            chat=moved.title,
        )
        for creator in creators:
            self._notices.add(community.id, Reply.text(note, to_member=creator))
        return moved


async def _merge(conn: AsyncConnection, old_id: int, new_id: int) -> None:
    """Move what refers to chat ``old_id`` to ``new_id``; where a key would repeat, the new
    chat's row stays and the old one's goes."""
    for table, column, others in _referring():
        col = table.c[column]
        if others:
            twin = table.alias("twin")
            clash = exists().where(
                twin.c[column] == new_id, *[twin.c[name] == table.c[name] for name in others]
            )
            await conn.execute(delete(table).where(col == old_id, clash))
        await conn.execute(update(table).where(col == old_id).values({column: new_id}))
