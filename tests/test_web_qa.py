"""web/dashboard/qa.py over HTTP: the queues, hide and show again with a reason, accepting on
the asker's behalf (the bounty settles as /accept settles it), refusals beside their field with
nothing changed, CSRF, and another community's question a 404."""

from __future__ import annotations

import re

from core.audit.log import recent
from core.events import ChatKind, ChatRef, UserRef
from tests.conftest import snapshot
from tests.web_fixtures import WebWorld, new_key

SETUP = (
    ":as Ana",
    ":as Ben",
    ":as Sam moderator",
    ":as Mei creator",
    "/award @Ana 50 welcome",
    ":as Ana",
    ":in lounge",
)


async def _asked(world: WebWorld) -> None:
    """Ana asks #1 (bounty 20) and #2; Ben answers #1 (A1); Ben reports #2."""
    await world.console(
        *SETUP,
        "/ask How do I merge two DataFrames on a key? bounty 20",
        "/ask Buy followers cheap here at my shop today",
        ":as Ben",
        "/answer 1 pd.merge(left, right, on='key')",
        "/report Q2 spam",
    )


def ids(html: str) -> list[str]:
    return re.findall(r'<li id="question-(\d+)"', html)


async def balance(world: WebWorld, name: str) -> str:
    return next(line for line in await world.console(f":as {name}", ":dm", "/points") if "Points" in line)


async def test_the_queues_open_unanswered_reported_and_pages(world: WebWorld) -> None:
    await _asked(world)
    await world.sign_in("Sam", "moderator")
    page = await world.client.get("/dashboard/qa")
    html = await page.text()
    assert page.status == 200 and ids(html) == ["2", "1"]
    assert 'href="/dashboard/qa"' in html  # in the moderator's menu
    assert ids(await (await world.client.get("/dashboard/qa?tab=unanswered")).text()) == ["2"]
    reported = await (await world.client.get("/dashboard/qa?tab=reported")).text()
    assert ids(reported) == ["2"] and "Reports 1" in reported
    assert ids(await (await world.client.get("/dashboard/qa?tab=hidden")).text()) == []
    # Keyset pages of 20: the 21st question is on the next page.
    for n in range(20):
        await world.console(":as Ana", f"/ask Question number {n} about numpy arrays")
    first = await (await world.client.get("/dashboard/qa")).text()
    assert len(ids(first)) == 20 and ids(first)[0] == "22"
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older, first
    second = await (await world.client.get(older.group(1).replace("&amp;", "&"))).text()
    assert ids(second) == ["2", "1"]
    assert (await world.client.get("/dashboard/qa?before=abc")).status == 400


async def test_hide_needs_a_reason_then_hides_and_resolves_reports(world: WebWorld) -> None:
    await _asked(world)
    await world.sign_in("Sam", "moderator")
    before = await snapshot(world.app.db)
    refused = await world.submit("/dashboard/qa/2", "/dashboard/qa/2", do="hide", reason="  ")
    html = await refused.text()
    assert refused.status == 400
    assert re.search(r'id="error-question-hide">Say why it is hidden\.</p>', html), html
    assert await snapshot(world.app.db, exclude=("activity", "web_form_keys")) == {
        k: v for k, v in before.items() if k != "web_form_keys"
    }

    done = await world.submit("/dashboard/qa/2", "/dashboard/qa/2", do="hide", reason="spam")
    assert done.status == 303 and done.headers["Location"] == "/dashboard/qa/2?done=hidden#question"
    page = await (await world.client.get(done.headers["Location"])).text()
    assert "Hidden. Learners no longer see it." in page and 'id="question-hidden"' in page
    assert ids(await (await world.client.get("/dashboard/qa?tab=reported")).text()) == []
    assert ids(await (await world.client.get("/dashboard/qa?tab=hidden")).text()) == ["2"]
    assert "#2" not in await world.console.text(":as Ana", "/questions")
    async with world.app.db.read() as conn:
        entries = await recent(conn, (await world.app.community()).id)
    hidden = next(e for e in entries if e.action == "qa.hide_question")
    assert hidden.detail == {"item": 2, "reason": "spam", "via": "dashboard"}

    # Shown again, also with a reason; hiding it again while shown is what is refused now.
    again = await world.submit("/dashboard/qa/2", "/dashboard/qa/2", do="unhide", reason="false alarm")
    assert again.status == 303 and again.headers["Location"].endswith("done=shown#question")
    assert "#2" in await world.console.text(":as Ana", "/questions mine")
    refused = await world.submit("/dashboard/qa/2", "/dashboard/qa/2", do="unhide", reason="again")
    assert refused.status == 400 and "It is not hidden." in await refused.text()


async def test_hide_and_show_an_answer(world: WebWorld) -> None:
    await _asked(world)
    await world.sign_in("Sam", "moderator")
    hidden = await world.submit("/dashboard/qa/1", "/dashboard/qa/1", do="hide", answer="1", reason="rude")
    assert hidden.status == 303 and hidden.headers["Location"] == "/dashboard/qa/1?done=hidden#answer-1"
    assert "A1" not in await world.console.text(":as Ana", "/q 1")
    html = await (await world.client.get("/dashboard/qa/1")).text()
    assert 'id="answer-1" class="item is-hidden"' in html  # moderators still see it
    shown = await world.submit("/dashboard/qa/1", "/dashboard/qa/1", do="unhide", answer="1", reason="ok")
    assert shown.status == 303
    assert "A1" in await world.console.text(":as Ana", "/q 1")


async def test_accept_on_the_askers_behalf_settles_the_bounty(world: WebWorld) -> None:
    await _asked(world)
    assert await balance(world, "Ben") == "bot> Points: 0"
    await world.sign_in("Mei", "creator")
    done = await world.submit("/dashboard/qa/1", "/dashboard/qa/1", do="accept", answer="1")
    assert done.status == 303 and done.headers["Location"] == "/dashboard/qa/1?done=accepted#answer-1"
    page = await (await world.client.get("/dashboard/qa/1")).text()
    assert '<span id="status">answered</span>' in page
    assert "Accept on the asker" not in page  # no accept form on an answered question
    # The bounty of 20 and the accept bonus, as /accept pays them; Ana's 50 - 20 stays spent.
    bonus = await world.app.services.settings.get((await world.app.community()).id, "qa.accept_bonus")
    assert await balance(world, "Ben") == f"bot> Points: {20 + bonus}"
    assert await balance(world, "Ana") == "bot> Points: 30"
    # A second accept is refused beside the answer, nothing paid twice.
    before = await snapshot(world.app.db, exclude=("activity", "web_form_keys"))
    again = await world.client.post(
        "/dashboard/qa/1",
        data={
            "csrf": await world.csrf("/dashboard/qa/1"),
            "form_key": new_key(),
            "do": "accept",
            "answer": "1",
        },
        allow_redirects=False,
    )
    assert again.status == 400 and "That question is no longer open." in await again.text()
    assert await snapshot(world.app.db, exclude=("activity", "web_form_keys")) == before


async def test_an_accept_from_a_stale_page_is_refused(world: WebWorld) -> None:
    await _asked(world)
    await world.sign_in("Sam", "moderator")
    fields = await world.fields("/dashboard/qa/1")  # the page, while the question is open
    await world.console(":as Ana", "/accept A1")  # the asker accepts meanwhile
    before = await snapshot(world.app.db, exclude=("activity", "web_form_keys"))
    refused = await world.client.post(
        "/dashboard/qa/1", data={**fields, "do": "accept", "answer": "1"}, allow_redirects=False
    )
    html = await refused.text()
    assert refused.status == 400
    # The accept form is gone (the question is answered): the refusal is at the top.
    assert 'id="not-changed">That question is no longer open. Nothing was changed.</p>' in html, html
    assert await snapshot(world.app.db, exclude=("activity", "web_form_keys")) == before


async def test_dismissing_reports_keeps_the_question(world: WebWorld) -> None:
    await _asked(world)
    await world.sign_in("Sam", "moderator")
    page = await (await world.client.get("/dashboard/qa/2")).text()
    assert "Ben" in page and "spam" in page
    done = await world.submit("/dashboard/qa/2", "/dashboard/qa/2", do="dismiss", reason="it is fine")
    assert done.status == 303
    assert ids(await (await world.client.get("/dashboard/qa?tab=reported")).text()) == []
    assert "#2" in await world.console.text(":as Ana", "/questions")


async def test_csrf_learners_and_another_community(world: WebWorld) -> None:
    await _asked(world)
    await world.sign_in("Sam", "moderator")
    no_csrf = await world.client.post(
        "/dashboard/qa/2",
        data={"form_key": new_key(), "do": "hide", "reason": "spam"},
        allow_redirects=False,
    )
    assert no_csrf.status == 403
    assert "#2" in await world.console.text(":as Ana", "/questions")

    # Another community's question: not found, and not hidden.
    members = world.app.services.members
    other = await members.ensure_community("other", default_locale="en", timezone="UTC")
    eve = await members.ensure_member(other, UserRef("console", "eve-other", "Eve"))
    chat = await members.ensure_chat(other, ChatRef("console", "group:other", ChatKind.GROUP, "other"))
    asked = await world.app.services.qa.ask(
        other, eve, chat, "A question in another community", 0, "other-1", anyway=True
    )
    assert asked.question is not None
    theirs = f"/dashboard/qa/{asked.question.id}"
    assert (await world.client.get(theirs)).status == 404
    refused = await world.submit("/dashboard/qa/2", theirs, do="hide", reason="spam")
    assert refused.status == 404
    assert not (await world.app.services.qa.question(other, asked.question.id)).hidden
    # Another question's answer on this question's page: not found either.
    assert (
        await world.submit("/dashboard/qa/2", "/dashboard/qa/2", do="hide", answer="1", reason="x")
    ).status == 404


async def test_a_learner_is_refused(world: WebWorld) -> None:
    await _asked(world)
    response = await world.client.get("/dashboard/qa")
    assert response.status == 401
