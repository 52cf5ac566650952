"""core/recommend/service.py: implicit feedback from the database, the kept model, picks with
reasons, exclusions (owned, refunded, hidden, bundles' courses), what a creator sees, and the
nightly refit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.app import App
from core.catalog.money import Money
from core.catalog.service import grant_statements
from core.catalog.tables import enrollments
from core.clock import ManualClock
from core.errors import NotAllowed
from core.i18n import render
from core.members.models import Member
from core.recommend.service import MODEL_KEY
from core.storage.state import get_state
from jobs.analytics import compute_analytics
from tests.conftest import ConsoleDriver, console_member
from tests.shop_fixtures import Shop

COURSES = (
    ("sql", "SQL for analysts", "Queries, joins and window functions."),
    ("viz", "Charts that explain", "Plots and dashboards with matplotlib."),
    ("talk", "Public speaking", "Stage fright, slides, stories."),
)


async def _catalog(app: App, shop: Shop) -> dict[str, int]:
    ids = {"py101": shop.course.id}
    for code, title, description in COURSES:
        course = await app.services.catalog.add_course(
            shop.community, shop.mei, code, Money("USD", 900), title
        )
        await app.services.catalog.edit_course(shop.community, shop.mei, code, "description", description)
        ids[code] = course.id
    return ids


async def _own(app: App, member: Member, course_id: int, *, bought: bool = True, days: int = 0) -> None:
    at = app.clock.now() - timedelta(days=30 - days)
    async with app.db.write() as conn:
        for statement in grant_statements(
            app.db.dialect, member.community_id, member.id, course_id, 1 if bought else None, at
        ):
            await conn.execute(statement)


async def _crowd(app: App, shop: Shop, ids: dict[str, int]) -> None:
    """Ten learners take py101 with sql; five take viz with talk."""
    for i in range(10):
        member = await console_member(app, f"Data{i}")
        await _own(app, member, ids["py101"])
        await _own(app, member, ids["sql"], days=1)
    for i in range(5):
        member = await console_member(app, f"Stage{i}")
        await _own(app, member, ids["viz"])
        await _own(app, member, ids["talk"], days=1)


async def test_a_learner_is_shown_what_others_took_with_their_course(app: App, shop: Shop) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    await _own(app, shop.ana, ids["py101"])
    picks = await app.services.recommend.recommend(shop.community, shop.ana)
    assert [p.course.code for p in picks] == ["sql", "viz", "talk"]
    assert render(picks[0].reason, "en") == "learners who took Python for data analysis took this"
    assert [p.source for p in picks] == ["cf", "popular", "popular"]
    assert render(picks[1].reason, "en") == "popular here: 5 learners took it"
    # The model was fitted on demand and kept for every process.
    assert await get_state(app.db, MODEL_KEY.format(community=shop.community.id)) is not None


async def test_owned_refunded_hidden_and_bundled_courses_are_never_recommended(app: App, shop: Shop) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    services = app.services
    await _own(app, shop.ana, ids["py101"])
    await _own(app, shop.ana, ids["talk"])
    async with app.db.write() as conn:  # a refund revoked talk
        await conn.execute(
            update(enrollments)
            .where(enrollments.c.member_id == shop.ana.id, enrollments.c.course_id == ids["talk"])
            .values(revoked_at=app.clock.now())
        )
    await services.catalog.set_hidden(shop.community, shop.mei, "sql", True)
    picks = await services.recommend.recommend(shop.community, shop.ana)
    assert [p.course.code for p in picks] == ["viz"]
    # A bundle grants each of its courses: once bought, none of them is recommended.
    await services.catalog.set_hidden(shop.community, shop.mei, "sql", False)
    await services.catalog.add_bundle(
        shop.community, shop.mei, "all", Money("USD", 2000), "All", ["sql", "viz"]
    )
    for code in ("sql", "viz"):
        await _own(app, shop.ana, ids[code])
    assert await services.recommend.recommend(shop.community, shop.ana) == []


async def test_a_new_member_gets_courses_matching_their_questions(
    app: App, shop: Shop, console: ConsoleDriver
) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    await console(":as Ben", ":in lounge", "/ask How do I make dashboards with matplotlib?")
    picks = await app.services.recommend.recommend(shop.community, shop.ben)
    assert picks[0].course.code == "viz" and picks[0].source == "content"
    assert render(picks[0].reason, "en") == "matches your questions about dashboards"
    assert [p.source for p in picks[1:]] == ["popular", "popular"]


async def test_with_no_purchases_at_all_there_is_nothing_to_recommend(app: App, shop: Shop) -> None:
    assert await app.services.recommend.recommend(shop.community, shop.ana) == []
    learned = await app.services.recommend.learned(shop.community, shop.mei)
    assert (learned.members, learned.interactions, learned.pairs) == (0, 0, [])


async def test_creators_see_the_strongest_pairs_learners_do_not(app: App, shop: Shop) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    learned = await app.services.recommend.learned(shop.community, shop.mei)
    assert {frozenset((a.code, b.code)) for a, b, _ in learned.pairs} == {
        frozenset(("py101", "sql")),
        frozenset(("viz", "talk")),
    }
    assert (learned.members, learned.interactions, learned.covered) == (15, 30, 15)
    with pytest.raises(NotAllowed):
        await app.services.recommend.learned(shop.community, shop.ana)


async def test_the_nightly_analytics_job_refits(app: App, shop: Shop, clock: ManualClock) -> None:
    ids = await _catalog(app, shop)
    first = await app.services.recommend.learned(shop.community, shop.mei)
    assert first.pairs == []
    await _crowd(app, shop, ids)
    clock.advance(timedelta(days=1))
    night = clock.now().replace(hour=4, minute=0)
    await compute_analytics(app.services, night)
    learned = await app.services.recommend.learned(shop.community, shop.mei)
    assert learned.fitted_at == night and len(learned.pairs) == 2


async def test_a_course_made_after_the_fit_is_reachable_by_content(
    app: App, shop: Shop, console: ConsoleDriver
) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    await app.services.recommend.refit(shop.community)
    await app.services.catalog.add_course(
        shop.community, shop.mei, "pd2", Money("USD", 900), "Advanced pandas"
    )
    await console(":as Ben", ":in lounge", "/ask pandas merge on two keys?")
    picks = await app.services.recommend.recommend(shop.community, shop.ben)
    assert picks[0].course.code in ("pd2", "py101") and picks[0].source == "content"
    assert "pd2" in [p.course.code for p in picks]


async def test_the_stored_model_is_parsed_again_only_when_it_changed(
    app: App, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    await _own(app, shop.ana, ids["py101"])
    service = app.services.recommend
    await service.refit(shop.community)
    parsed: list[str] = []
    real = json.loads

    def counting(text: str, *args: object, **kwargs: object) -> object:
        if text.startswith('{"fitted_at"'):
            parsed.append(text[:40])
        return real(text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "loads", counting)
    first = await service.recommend(shop.community, shop.ana)
    assert await service.recommend(shop.community, shop.ana) == first
    assert len(parsed) == 1
    await service.refit(shop.community, app.clock.now() + timedelta(days=1))  # another night's model
    assert await service.recommend(shop.community, shop.ana) == first
    assert len(parsed) == 2
