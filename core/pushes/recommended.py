"""The ``recommended`` push segment: every learner with a course to recommend, each sent their
own top course in place of ``{course}`` (core/recommend). The course is picked when the row
is sent, from the model of that night, so it is never one the member bought meanwhile; a
member left with nothing to recommend is skipped (``no_pick``). Purchases are attributed to
the push when the recipient bought the course it recommended to them, alone or in a bundle
(each sent row keeps it, ``subject``), within 7 days of delivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from core.errors import InvalidInput
from core.i18n import msg
from core.members.models import Community
from core.members.tables import members
from core.storage.database import Database

if TYPE_CHECKING:
    from core.catalog.models import Course

RECOMMENDED = "recommended"
PLACEHOLDER = "{course}"


class Recommender(Protocol):
    async def top_picks(self, community: Community, member_ids: Sequence[int]) -> dict[int, Course]: ...


def check_placeholder(segment: str, texts: Sequence[str | None]) -> None:
    """A push to ``recommended`` must say where each member's course goes."""
    if segment == RECOMMENDED and any(t is not None and PLACEHOLDER not in t for t in texts):
        raise InvalidInput(
            msg(
                "A push to {segment} needs {placeholder} in its text: each member's own course goes there.",
                segment=RECOMMENDED,
                placeholder=PLACEHOLDER,
            )
        )


def with_course(text: str, title: str | None) -> str:
    """``text`` with the member's course in place of ``{course}`` (unchanged without one)."""
    return text if title is None else text.replace(PLACEHOLDER, title)


async def recommended_audience(db: Database, recommender: Recommender, community: Community) -> list[int]:
    """Learners (staff left out) who have a course to recommend now."""
    async with db.read() as conn:
        learners = list(
            (
                await conn.execute(
                    select(members.c.id)
                    .where(members.c.community_id == community.id, members.c.role == "learner")
                    .order_by(members.c.id)
                )
            ).scalars()
        )
    return sorted(await recommender.top_picks(community, learners))


async def pick_courses(
    recommender: Recommender | None,
    community_of: Callable[[int], Awaitable[Community]],
    campaigns: Mapping[int, Any],
    rows: Sequence[Any],
    picks: dict[tuple[int, int], Course],
) -> list[Any]:
    """Fill ``picks`` (campaign id, member id) → course for the ``rows`` of ``recommended``
    pushes; returns those rows whose member has nothing left to recommend."""
    wanted = [r for r in rows if campaigns[r.campaign_id].segment == RECOMMENDED]
    if not wanted or recommender is None:
        return []
    by_community: dict[int, list[Any]] = {}
    for row in wanted:
        by_community.setdefault(row.community_id, []).append(row)
    missing = []
    for community_id, mine in by_community.items():
        found = await recommender.top_picks(await community_of(community_id), [r.member_id for r in mine])
        for row in mine:
            if row.member_id in found:
                picks[(row.campaign_id, row.member_id)] = found[row.member_id]
            else:
                missing.append(row)
    return missing
