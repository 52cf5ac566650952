"""core/members/chat_moves.py: a chat that took a new id keeps everything studyhall knows of it —
taking the new id when it has no row yet, or moving its records into the new id's row (the newer
row winning where both hold the same thing) — once, audited, with the creators told; on both
databases."""

from __future__ import annotations

from sqlalchemy import insert, select

from bot.app import App
from core.access.tables import access_problems, chat_bindings, chat_memberships
from core.audit import log as audit
from core.events import ChatKind, ChatRef
from core.members.tables import chats
from tests.shop_fixtures import Shop

OLD, NEW = "-4001", "-1004001"


async def _chat(app: App, shop: Shop, external: str) -> int:
    chat = await app.services.members.ensure_chat(
        shop.community, ChatRef("telegram", external, ChatKind.GROUP, "Data club")
    )
    return chat.id


async def _rows(app: App, table: object, chat_id: int) -> list[tuple]:
    async with app.db.read() as conn:
        return [tuple(r) for r in await conn.execute(select(table).where(table.c.chat_id == chat_id))]  # type: ignore[attr-defined]


async def _bind_and_join(app: App, shop: Shop, chat_id: int) -> None:
    now = app.clock.now()
    async with app.db.write() as conn:
        await conn.execute(
            insert(chat_bindings).values(
                community_id=shop.community.id, chat_id=chat_id, kind="course", target="py101", created_at=now
            )
        )
        await conn.execute(
            insert(chat_memberships).values(
                chat_id=chat_id, member_id=shop.ana.id, in_chat=True, updated_at=now
            )
        )
        await conn.execute(
            insert(access_problems).values(chat_id=chat_id, problem="no invite right", reported_at=now)
        )


async def test_a_chat_with_no_row_for_its_new_id_takes_the_new_id(app: App, shop: Shop) -> None:
    old = await _chat(app, shop, OLD)
    await _bind_and_join(app, shop, old)
    moved = await app.services.chat_moves.move(shop.community, "telegram", OLD, NEW)
    assert moved is not None and (moved.chat_id, moved.merged) == (old, False)
    async with app.db.read() as conn:
        externals = list((await conn.execute(select(chats.c.external_id).where(chats.c.id == old))).scalars())
    assert externals == [NEW]
    assert len(await _rows(app, chat_bindings, old)) == 1  # nothing else had to move
    # The members service finds the chat by its new id (its cache was dropped), and the old id is gone.
    assert await _chat(app, shop, NEW) == old
    assert await app.services.chat_moves.move(shop.community, "telegram", OLD, NEW) is None  # once
    notes = app.services.notices.take()
    assert [(reply.to_member) for _, reply in notes] == [shop.mei.id]
    async with app.db.read() as conn:
        [entry] = [e for e in await audit.recent(conn, shop.community.id) if e.action == "chat.migrate"]
    assert entry.detail == {"platform": "telegram", "old": OLD, "new": NEW, "merged": False}


async def test_records_of_the_old_row_move_into_a_new_row_made_meanwhile(app: App, shop: Shop) -> None:
    old = await _chat(app, shop, OLD)
    await _bind_and_join(app, shop, old)
    new = await _chat(app, shop, NEW)  # the supergroup's first messages came before the news
    later = app.clock.now()
    async with app.db.write() as conn:
        await conn.execute(  # Ana left the supergroup since: the newer row wins
            insert(chat_memberships).values(
                chat_id=new, member_id=shop.ana.id, in_chat=False, updated_at=later
            )
        )
        await conn.execute(
            insert(chat_memberships).values(
                chat_id=new, member_id=shop.ben.id, in_chat=True, updated_at=later
            )
        )
    moved = await app.services.chat_moves.move(shop.community, "telegram", OLD, NEW)
    assert moved is not None and (moved.chat_id, moved.merged) == (new, True)
    async with app.db.read() as conn:
        remaining = list((await conn.execute(select(chats.c.id).where(chats.c.id.in_([old, new])))).scalars())
    assert remaining == [new]
    assert [(r[3], r[4]) for r in await _rows(app, chat_bindings, new)] == [("course", "py101")]
    members = {(r[1], r[2]) for r in await _rows(app, chat_memberships, new)}
    assert members == {(shop.ana.id, False), (shop.ben.id, True)}
    assert [r[1] for r in await _rows(app, access_problems, new)] == ["no invite right"]
    assert await _chat(app, shop, NEW) == new
