"""Templates for transactional notices: what a platform sends, by a template of its own, when a
notice's plain text cannot go (WeChat's template messages reach a follower outside the 48-hour
customer-service window).

A creator maps each notice (payment received, renews soon, access ends, refund done) to the
template id from the platform's console and says which notice field fills each of its
keywords. WeChat's rules since 2023 are kept here, in one place: no ``first`` or ``remark``
lines, a keyword's value at most 20 characters and 200 in all, cut between characters a reader
sees as one (never inside an emoji or an accented letter) and marked with "…".
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit import log as audit
from core.catalog.money import Money, format_money
from core.clock import Clock
from core.delivery.tables import notice_templates
from core.errors import InvalidInput
from core.i18n import Msg, msg
from core.members.models import Community, Member, require_creator
from core.replies import Notice
from core.storage.database import Database
from core.storage.upsert import insert_or_update

# Each notice and the fields it carries (core/replies.Notice), in the order a creator reads them.
NOTICES: dict[str, tuple[str, ...]] = {
    "payment_received": ("order", "title", "amount", "date"),
    "renews_soon": ("title", "date"),
    "access_ends": ("title", "date"),
    "refund_done": ("order", "title", "amount", "date"),
}
NOTICE_NAMES: dict[str, Msg] = {
    "payment_received": msg("payment received"),
    "renews_soon": msg("subscription renews soon"),
    "access_ends": msg("access ends"),
    "refund_done": msg("refund done"),
}
FIELD_NAMES: dict[str, Msg] = {
    "order": msg("order number"),
    "title": msg("course or plan"),
    "amount": msg("amount"),
    "date": msg("date"),
}
SUBSCRIBE = "subscribe"  # the one-time subscribe message's template (no keywords)
MAX_VALUE = 20  # characters in one keyword's value
MAX_TOTAL = 200  # characters in all of them
MAX_KEYWORDS = 5
ELLIPSIS = "…"
TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
RETIRED_KEYWORDS = ("first", "remark")  # WeChat stopped showing them in 2023


@dataclass(frozen=True)
class NoticeTemplate:
    notice: str
    template_id: str
    keywords: tuple[tuple[str, str], ...]  # (the template's keyword, the notice field it shows)


def clip(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: cut, when it must be, at the end of a
    character as a reader sees it (a letter with its accents, an emoji with its modifiers and
    joined parts), with "…" in the last place."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    clusters = _clusters(text)
    kept = ""
    for cluster in clusters:
        if len(kept) + len(cluster) > limit - len(ELLIPSIS):
            break
        kept += cluster
    return kept + ELLIPSIS


def _clusters(text: str) -> list[str]:
    """``text`` as the characters a reader sees, closely enough for cutting: a code point with
    the combining marks, variation selectors, skin tones and tag characters after it, code
    points joined by a zero-width joiner, and regional indicators in flag pairs."""
    clusters: list[str] = []
    for char in text:
        if clusters and (
            _extends(char) or clusters[-1].endswith("\u200d") or _pairs_flag(clusters[-1], char)
        ):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _extends(char: str) -> bool:
    point = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char == "\u200d"
        or 0xFE00 <= point <= 0xFE0F  # variation selectors
        or 0x1F3FB <= point <= 0x1F3FF  # skin tones
        or 0xE0020 <= point <= 0xE007F  # tags (subdivision flags)
    )


def _pairs_flag(cluster: str, char: str) -> bool:
    def indicator(c: str) -> bool:
        return 0x1F1E6 <= ord(c) <= 0x1F1FF

    return indicator(char) and len(cluster) == 1 and indicator(cluster)


def field_text(value: object, locale: str) -> str:
    """A notice field's value as the reader's text (money in their locale's format)."""
    if isinstance(value, Money):
        return format_money(value, locale)
    return " ".join(str(value).split())  # one line: a template shows no line breaks


def template_data(template: NoticeTemplate, notice: Notice, locale: str) -> dict[str, str]:
    """The template's keyword values for ``notice``: each at most MAX_VALUE characters, all of
    them at most MAX_TOTAL."""
    data: dict[str, str] = {}
    left = MAX_TOTAL
    for keyword, name in template.keywords:
        value = clip(field_text(notice.value(name), locale), min(MAX_VALUE, left))
        data[keyword] = value
        left -= len(value)
    return data


def parse_keywords(notice: str, pairs: list[str]) -> tuple[tuple[str, str], ...]:
    """``thing1=title amount2=amount`` as (keyword, field) pairs, checked against ``notice``'s
    fields and WeChat's rules; InvalidInput says what is wrong."""
    fields = NOTICES[notice]
    found: list[tuple[str, str]] = []
    for pair in pairs:
        keyword, equals, name = pair.partition("=")
        if not equals or not KEYWORD.fullmatch(keyword):
            raise InvalidInput(
                msg("{pair} is not KEYWORD=FIELD, like thing1=title.", pair=pair[:40]), field="keywords"
            )
        if keyword.lower() in RETIRED_KEYWORDS:
            raise InvalidInput(
                msg("WeChat no longer shows {keyword}: map only the template's keywords.", keyword=keyword),
                field="keywords",
            )
        if name not in fields:
            raise InvalidInput(
                msg(
                    "{notice} has the fields {fields}, not {name}.",
                    notice=notice,
                    fields=", ".join(fields),
                    name=name[:30],
                ),
                field="keywords",
            )
        if any(keyword == seen for seen, _ in found):
            raise InvalidInput(msg("{keyword} is mapped twice.", keyword=keyword), field="keywords")
        found.append((keyword, name))
    if not 1 <= len(found) <= MAX_KEYWORDS:
        raise InvalidInput(msg("Map 1 to {n} keywords, like thing1=title.", n=MAX_KEYWORDS), field="keywords")
    return tuple(found)


def _check_template_id(template_id: str) -> str:
    template_id = template_id.strip()
    if not TEMPLATE_ID.fullmatch(template_id):
        raise InvalidInput(
            msg("A template id is letters, digits, - and _ (at most 64), as the WeChat console shows it."),
            field="template_id",
        )
    return template_id


class NoticeTemplates:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def all(self, community_id: int) -> dict[str, NoticeTemplate]:
        t = notice_templates.c
        query = select(t.notice, t.template_id, t.keywords).where(t.community_id == community_id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return {
            row.notice: NoticeTemplate(
                row.notice, row.template_id, tuple(tuple(p) for p in json.loads(row.keywords))
            )
            for row in rows
        }

    async def get(self, community_id: int, notice: str) -> NoticeTemplate | None:
        return (await self.all(community_id)).get(notice)

    async def set(
        self, community: Community, actor: Member, notice: str, template_id: str, pairs: list[str]
    ) -> NoticeTemplate:
        """Map ``notice`` to ``template_id`` with its keywords (``KEYWORD=FIELD``; none for the
        subscribe template). Creators only; audited."""
        require_creator(community, actor, msg("Only creators set the WeChat templates."))
        notice = _check_notice(notice, subscribe=True)
        template_id = _check_template_id(template_id)
        keywords = () if notice == SUBSCRIBE else parse_keywords(notice, pairs)
        if notice == SUBSCRIBE and pairs:
            raise InvalidInput(msg("The subscribe template takes no keywords."), field="keywords")
        now = self._clock.now()
        row = {
            "community_id": community.id,
            "notice": notice,
            "template_id": template_id,
            "keywords": json.dumps([list(pair) for pair in keywords]),
            "updated_by": actor.id,
            "updated_at": now,
        }
        async with self._db.write() as conn:
            await conn.execute(
                insert_or_update(
                    self._db.dialect,
                    notice_templates,
                    row,
                    ["community_id", "notice"],
                    ["template_id", "keywords", "updated_by", "updated_at"],
                )
            )
            await _audit(conn, community, actor, now, notice, template_id)
        return NoticeTemplate(notice, template_id, keywords)

    async def clear(self, community: Community, actor: Member, notice: str) -> bool:
        """Stop sending ``notice`` by template; whether it had one. Creators only; audited."""
        require_creator(community, actor, msg("Only creators set the WeChat templates."))
        notice = _check_notice(notice, subscribe=True)
        t = notice_templates.c
        now = self._clock.now()
        async with self._db.write() as conn:
            done = await conn.execute(
                delete(notice_templates).where(t.community_id == community.id, t.notice == notice)
            )
            if done.rowcount:
                await _audit(conn, community, actor, now, notice, None)
        return bool(done.rowcount)


async def _audit(
    conn: AsyncConnection,
    community: Community,
    actor: Member,
    at: datetime,
    notice: str,
    template: str | None,
) -> None:
    """The entry a mapping's change leaves (``template`` None: removed)."""
    await audit.record(
        conn,
        community_id=community.id,
        at=at,
        action="wechat.template",
        actor_member_id=actor.id,
        notice=notice,
        template=template,
    )


def _check_notice(notice: str, *, subscribe: bool = False) -> str:
    notice = notice.strip().lower()
    known = [*NOTICES, SUBSCRIBE] if subscribe else list(NOTICES)
    if notice not in known:
        raise InvalidInput(
            msg(
                "Unknown notice {notice}: choose one of {notices}.",
                notice=notice[:30],
                notices=", ".join(known),
            ),
            field="notice",
        )
    return notice
