"""web/dashboard/feedback.py over HTTP: the inbox by status for moderators and creators, an
answer and a close through the same core calls /feedback makes (the member told in chat, the
change audited "via dashboard"), a refusal beside its form with what was typed kept, CSRF, a
learner refused, and the NPS of the latest surveys for creators only."""

from __future__ import annotations

import html as html_lib
import re

from core.audit import log as audit
from tests.conftest import console_member, snapshot
from tests.web_fixtures import WebWorld
from web.app import PAGES
from web.dashboard import feedback as feedback_page

PAGE = "/dashboard/feedback"
VOLATILE = ("activity", "job_runs", "web_sessions", "web_form_keys")


def plain(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|li|tr|textarea|a)>', html, re.S)
    assert found, (element_id, html)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


async def two_tickets(world: WebWorld) -> None:
    await world.console(":as Mei creator", ":as Sam moderator", ":as Ana", "/feedback Subtitles please")
    await world.console("/feedback The <b>audio</b> is quiet")


async def test_moderators_see_the_inbox_and_answer_from_it(world: WebWorld) -> None:
    assert feedback_page in PAGES and not feedback_page.MENU.creators_only
    await two_tickets(world)
    await world.sign_in("Sam", "moderator")
    response = await world.client.get(PAGE)
    html = await response.text()
    assert response.status == 200
    assert '<a href="/dashboard/feedback" aria-current="page">Feedback</a>' in html
    assert plain(html, "tab-open") == "Open (2)"
    assert re.findall(r'<li id="ticket-(\d+)"', html) == ["2", "1"]  # newest first
    assert "The &lt;b&gt;audio&lt;/b&gt; is quiet" in html  # member text escaped
    assert 'id="nps"' not in html  # the score is for creators
    response = await world.submit(PAGE, "/dashboard/feedback/1", do="answer", text="Next week")
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard/feedback?status=answered&done=answered"
    html = await (await world.client.get(response.headers["Location"])).text()
    assert plain(html, "done") == "Answered: the answer is on its way to them."
    assert plain(html, "answer-1") == "Answered (Sam, 2026-01-05 09:00): Next week"
    # Ana is told in chat at the next send of notices, as /feedback answer tells her.
    notes = [reply for _, reply in world.app.services.notices.take()]
    assert [n.to_member for n in notes] == [(await console_member(world.app, "Ana")).id]
    async with world.app.db.read() as conn:
        [entry] = [e for e in await audit.recent(conn, 1, limit=5) if e.action == "feedback.answer"]
    assert entry.detail == {"ticket": 1, "via": "dashboard"}
    response = await world.submit(PAGE, "/dashboard/feedback/2", do="close")
    assert response.headers["Location"] == "/dashboard/feedback?status=closed&done=closed"
    html = await (await world.client.get("/dashboard/feedback?status=closed")).text()
    assert re.findall(r'<li id="ticket-(\d+)"', html) == ["2"]
    assert 'id="close-2"' not in html  # a closed ticket has no forms
    listed = await world.console(":as Sam", "/feedback list answered")
    assert listed[2].startswith("bot> #1 Ana")  # the command sees what the page did


async def test_a_refused_answer_is_shown_beside_its_form_and_changes_nothing(world: WebWorld) -> None:
    await two_tickets(world)
    await world.sign_in("Mei")
    before = await snapshot(world.app.db, exclude=VOLATILE)
    long = "y" * 2001
    response = await world.submit(PAGE, "/dashboard/feedback/1", do="answer", text=long)
    html = await response.text()
    assert response.status == 400
    assert plain(html, "error-1") == "An answer is at most 2000 characters; this one has 2001."
    assert f">{long}</textarea>" in html
    response = await world.submit(PAGE, "/dashboard/feedback/1", do="answer", text="   ")
    assert plain(await response.text(), "error-1") == "An answer needs a text."
    assert await snapshot(world.app.db, exclude=VOLATILE) == before
    # No CSRF token: 403. Another ticket number: 404.
    response = await world.client.post("/dashboard/feedback/1", data={"do": "close"}, allow_redirects=False)
    assert response.status == 403
    response = await world.submit(PAGE, "/dashboard/feedback/99", do="close")
    assert response.status == 404
    assert await snapshot(world.app.db, exclude=VOLATILE) == before


async def test_a_demoted_moderator_loses_the_page_at_once(world: WebWorld) -> None:
    await two_tickets(world)
    await world.sign_in("Sam", "moderator")
    assert (await world.client.get(PAGE)).status == 200
    await world.console(":as Mei", "/role @Sam learner")
    before = await snapshot(world.app.db, exclude=VOLATILE)
    assert (await world.client.get(PAGE)).status == 401  # the demotion ended the session
    response = await world.client.post("/dashboard/feedback/1", data={"do": "close"}, allow_redirects=False)
    assert response.status in (401, 403)
    assert await snapshot(world.app.db, exclude=VOLATILE) == before


async def test_creators_see_the_nps_of_the_latest_surveys(world: WebWorld) -> None:
    console = world.console
    await console(":as Mei creator", ":as Ana", ":as Ben", ":as Mei", "/push nps all", "1", ":clock +1m")
    await console(":as Ana", "/nps 10", ":as Ben", "/nps 9")
    await world.sign_in("Mei")
    html = await (await world.client.get(PAGE)).text()
    assert plain(html, "survey-1") == "#1 2026-01-05 09:00 +100 +100 … +100 2 2 / 0 / 0"
    assert plain(html, "no-tickets") == "No feedback in this list."
