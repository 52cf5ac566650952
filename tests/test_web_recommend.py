"""web/dashboard/analytics.py's recommendations section: what the model learned, in the same
words as /stats (core/recommend)."""

from __future__ import annotations

from core.catalog.money import Money
from core.events import UserRef
from tests.shop_fixtures import Shop
from tests.test_recommend_service import _catalog, _crowd
from tests.web_fixtures import WebWorld


async def test_the_dashboard_shows_the_course_pairs_the_model_learned(world: WebWorld) -> None:
    await world.sign_in("Mei")
    html = await (await world.client.get("/dashboard/analytics")).text()
    assert "not enough purchases yet to learn which courses go together" in html
    app = world.app
    community = await app.community()
    mei = await app.services.members.ensure_member(community, UserRef("console", "mei", "Mei"))
    py101 = await app.services.catalog.add_course(community, mei, "py101", Money("USD", 1999), "Python")
    shop = Shop(community, mei, mei, mei, py101)
    await _crowd(app, shop, await _catalog(app, shop))
    await app.services.recommend.refit(community)  # the nightly job's refit
    html = await (await world.client.get("/dashboard/analytics")).text()
    assert "<tr><td>Python + SQL for analysts</td><td>1.00</td></tr>" in html
    assert "personal picks for 15 of 15 members with courses" in html
