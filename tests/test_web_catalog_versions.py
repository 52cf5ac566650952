"""web/dashboard/catalog_versions.py: a lesson's versions on its page, a version's diff with
Restore, and drafts (written in chat by a moderator with content.review on) approved or
rejected by the owner on the page, what learners then read; others refused."""

from __future__ import annotations

import re

from aiohttp import ClientResponse

from tests.web_fixtures import WebWorld, new_key

LESSONS = "/dashboard/catalog/courses/py101/lessons"


async def post(world: WebWorld, action: str, **data: str) -> ClientResponse:
    fields = {"csrf": await world.csrf("/dashboard/catalog"), "form_key": new_key()}
    return await world.client.post(action, data={**fields, **data}, allow_redirects=False)


async def course_with_a_lesson(world: WebWorld) -> None:
    await world.console(
        ":as Mei creator",  # the owner
        "/course add py101 19.99 USD Python",
        "/lesson add py101 Setup | Install Python.\nThen pandas.",
    )
    await world.sign_in("Mei")


async def test_an_edit_on_the_page_keeps_the_old_version_whose_diff_shows_and_restores(
    world: WebWorld,
) -> None:
    await course_with_a_lesson(world)
    saved = await post(
        world, LESSONS + "/1", title="Setup", body="Install Python 3.13.\nThen pandas.", unlock_days="0"
    )
    assert saved.status == 303

    page = await (await world.client.get(LESSONS + "/1")).text()
    ids = [int(i) for i in re.findall(r'<a href="/dashboard/catalog/versions/(\d+)">', page)]
    assert len(ids) == 2 and ids[0] > ids[1]  # newest first
    newest = await (await world.client.get(f"/dashboard/catalog/versions/{ids[0]}")).text()
    assert '<span class="removed">- Install Python.</span>' in newest
    assert '<span class="added">+ Install Python 3.13.</span>' in newest
    assert '<span class="same">  Then pandas.</span>' in newest

    restored = await post(world, f"/dashboard/catalog/versions/{ids[1]}/restore")
    assert restored.status == 303 and restored.headers["Location"].endswith("?done=restore")
    text = await world.console.text(":as Ana", "/buy py101", ":pay", "/learn py101")
    assert "bot> Install Python.\nbot> Then pandas." in text and "3.13" not in text


async def test_the_owner_approves_or_rejects_drafts_on_the_page(world: WebWorld) -> None:
    await course_with_a_lesson(world)
    await world.console(":as Mei", "/rules set content.review on")
    first = await world.console.text(
        ":as Sam moderator", "/lesson add py101 Loops | for x in range(3): print(x)"
    )
    second = await world.console.text("/lesson edit py101 1 Setup | rm -rf /")
    new_id, edit_id = (re.search(r"Saved as draft (\d+)", out).group(1) for out in (first, second))  # type: ignore[union-attr]

    drafts = await (await world.client.get("/dashboard/catalog/drafts")).text()
    assert f'<a href="/dashboard/catalog/versions/{new_id}">' in drafts and "Sam" in drafts
    shown = await (await world.client.get(f"/dashboard/catalog/versions/{edit_id}")).text()
    assert (
        '<span class="added">+ rm -rf /</span>' in shown and 'id="state">draft, waiting for review<' in shown
    )

    assert (await post(world, f"/dashboard/catalog/versions/{edit_id}/reject")).status == 303
    assert (await post(world, f"/dashboard/catalog/versions/{new_id}/approve")).status == 303
    assert (await post(world, f"/dashboard/catalog/versions/{new_id}/approve")).status == 400  # decided
    course = await world.console.text(":as Ana", "/course py101")
    assert "Loops" in course
    text = await world.console.text("/buy py101", ":pay", "/learn py101")
    assert "rm -rf" not in text and "Install Python." in text
    assert 'id="no-drafts"' in await (await world.client.get("/dashboard/catalog/drafts")).text()


async def test_a_moderator_or_an_unknown_version_is_refused(world: WebWorld) -> None:
    await course_with_a_lesson(world)
    assert (await world.client.get("/dashboard/catalog/versions/99999")).status == 404
    await world.sign_in("Sam", "moderator")
    assert (await world.client.get("/dashboard/catalog/drafts")).status == 403
    assert (await world.client.get("/dashboard/catalog/versions/1")).status == 403
