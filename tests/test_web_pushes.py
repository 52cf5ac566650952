"""web/dashboard/pushes.py over HTTP: compose with the recipients preview, review, a test to
oneself, confirm (once), schedule, A/B, status and cancel, the automations' texts and
switches, refusals beside their fields — the same core calls and words as /push."""

from __future__ import annotations

import asyncio
import re

from core.pushes.campaigns import MAX_TEXT
from tests.conftest import snapshot
from tests.web_fixtures import WebWorld
from web.auth import LANG_COOKIE

PUSHES = "/dashboard/pushes"


async def community(world: WebWorld) -> None:
    """Mei (creator, signed in), Ana, Ben and Li (learners); Li muted pushes."""
    await world.console(":as Mei creator", ":as Ana", ":as Ben", ":as Li", "/mute")
    await world.sign_in("Mei")


def cell(html: str, row: str) -> str:
    found = re.search(rf'<tr id="{row}">.*?<td>([^<]*)</td>', html, re.S)
    assert found, html
    return found.group(1)


def error(html: str, field: str) -> str:
    found = re.search(rf'id="error-{field}">([^<]*)<', html)
    assert found, html
    return found.group(1)


def unescape(text: str) -> str:
    return text.replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")


async def compose(world: WebWorld, action: str = PUSHES, **data: str) -> tuple[int, str, str]:
    """Post the compose form; returns status, Location (when redirected) and the body."""
    form = {"segment": "all", "text_a": "", "text_b": "", "send_at": "", **data}
    response = await world.submit(PUSHES, action, **form)
    return response.status, response.headers.get("Location", ""), await response.text()


async def post(world: WebWorld, page: str, action: str, **data: str) -> str:
    response = await world.submit(page, action, **data)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_preview_shows_recipients_per_platform_as_push_does_and_stores_nothing(
    world: WebWorld,
) -> None:
    await community(world)
    before = await snapshot(world.app.db)
    status, _, html = await compose(world, f"{PUSHES}/preview", text_a="Hello <b>all</b>")
    assert status == 200
    assert cell(html, "reach-console") == "2" and cell(html, "reach-total") == "2"
    assert cell(html, "reach-muted") == "1" and cell(html, "reach-unreachable") == "0"
    assert "Hello &lt;b&gt;all&lt;/b&gt;</textarea>" in html  # the form as typed, escaped
    assert await snapshot(world.app.db) == before
    chat = await world.console.text(":as Mei", ":dm", "/push all Hello")
    assert "Recipients: 2 (console 2)" in chat and "Not reached: 1 muted, 0 without" in chat


async def test_compose_review_confirm_and_the_job_sends_it(world: WebWorld) -> None:
    await community(world)
    status, location, _ = await compose(world, text_a="Live class tonight at 8")
    assert status == 303 and location == f"{PUSHES}/1"
    review = await (await world.client.get(location)).text()
    assert 'id="push-status">draft, not confirmed<' in review
    assert cell(review, "reach-console") == "2" and cell(review, "reach-muted") == "1"
    assert "Sends: as soon as it is confirmed (outside quiet hours)." in review
    assert await world.console(":clock +1m") == [
        "(sandbox time 2026-01-05 09:01 UTC; jobs run: orders, pushes)"
    ]  # a draft sends nothing
    assert await post(world, location, f"{location}/confirm") == location
    assert await world.console(":clock +1m") == [
        "bot→Ana> Live class tonight at 8",
        "bot→Ben> Live class tonight at 8",
        "(sandbox time 2026-01-05 09:02 UTC; jobs run: orders, pushes)",
    ]
    page = await (await world.client.get(location)).text()
    assert 'id="push-status">done<' in page
    assert 'id="count-sent">2<' in page and 'id="count-skipped">1<' in page and 'id="count-failed">0<' in page
    assert "Skipped because: muted 1" in page
    listed = await (await world.client.get(PUSHES)).text()
    assert re.search(r'<tr id="push-1">.*?class="status">done<.*?class="sent">2<', listed)
    chat = await world.console.text(":as Mei", ":dm", "/push status 1")
    assert "Sent 2 · waiting 0 · skipped 1 · failed 0" in chat


async def test_a_compose_or_confirm_sent_twice_acts_once(world: WebWorld) -> None:
    await community(world)
    form = {
        **await world.fields(PUSHES),
        "segment": "all",
        "text_a": "Once only",
        "text_b": "",
        "send_at": "",
    }
    drafted = await asyncio.gather(
        *(world.client.post(PUSHES, data=form, allow_redirects=False) for _ in range(2))
    )
    assert [r.status for r in drafted] == [303, 303]
    assert {r.headers["Location"] for r in drafted} == {f"{PUSHES}/1"}
    assert len((await snapshot(world.app.db))["push_campaigns"]) == 1
    location = f"{PUSHES}/1"
    data = {**await world.fields(location)}
    confirm = f"{location}/confirm"
    first, second = await asyncio.gather(
        *(world.client.post(confirm, data=data, allow_redirects=False) for _ in range(2))
    )
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"] == location
    out = await world.console(":clock +1m")
    assert out.count("bot→Ana> Once only") == 1 and out.count("bot→Ben> Once only") == 1
    again = await world.submit(location, confirm)  # a fresh form: the core refuses
    assert again.status == 400 and "Push #1 is already confirmed or cancelled." in await again.text()


async def test_a_scheduled_push_waits_and_can_be_cancelled(world: WebWorld) -> None:
    await community(world)
    _, location, _ = await compose(world, text_a="Good evening", send_at="2026-01-05T23:00")
    review = await (await world.client.get(location)).text()
    assert "Sends: at 2026-01-05 23:00 (UTC), outside quiet hours." in review
    await post(world, location, f"{location}/confirm")
    assert (await world.console(":clock +1m"))[:-1] == []
    page = await (await world.client.get(location)).text()
    assert 'id="push-status">scheduled<' in page and 'id="count-waiting">2<' in page
    await post(world, location, f"{location}/cancel")
    page = await (await world.client.get(location)).text()
    assert 'id="push-status">cancelled<' in page and "cancelled 2" in page
    assert (await world.console(":clock 2026-01-05T23:30"))[:-1] == []


async def test_an_ab_push_shows_both_texts_and_each_variant(world: WebWorld) -> None:
    await community(world)
    _, location, _ = await compose(world, text_a="Buy the course", text_b="Last day of the offer")
    review = await (await world.client.get(location)).text()
    assert 'id="text-a">Buy the course<' in review and 'id="text-b">Last day of the offer<' in review
    await post(world, location, f"{location}/confirm")
    out = await world.console(":clock +1m")
    assert sorted(line.split("> ")[1] for line in out[:-1]) == ["Buy the course", "Last day of the offer"]
    page = await (await world.client.get(location)).text()
    assert re.search(r"<td>A</td><td>0</td><td>1</td>", page) and re.search(
        r"<td>B</td><td>0</td><td>1</td>", page
    )
    assert "No difference can be measured yet" in page


async def test_a_test_goes_to_the_creator_alone(world: WebWorld) -> None:
    await community(world)
    await world.console(":as Mei", "/mute")  # a test reaches the creator even so
    _, location, _ = await compose(world, text_a="Try me", text_b="Or me")
    rows_before = (await snapshot(world.app.db))["push_outbox"]
    tested = await post(world, location, f"{location}/test")
    assert tested == f"{location}?tested=console"
    # Mei is who the console speaks as, so her messages print as the bot's answers.
    assert world.console._output[-2:] == ["bot> Try me", "bot> Or me"]
    page = await (await world.client.get(tested)).text()
    assert "The test was sent to you on console." in page and 'id="push-status">draft, not confirmed<' in page
    assert (await snapshot(world.app.db))["push_outbox"] == rows_before == []


async def test_bad_input_is_refused_beside_its_field_with_the_commands_words(world: WebWorld) -> None:
    await community(world)
    before = await snapshot(world.app.db)
    status, _, html = await compose(world, text_a="   ")
    assert status == 400 and error(html, "text_a") == "A push needs a text (and both texts for an A/B test)."
    status, _, html = await compose(world, text_a="x" * (MAX_TEXT + 1), text_b="y" * (MAX_TEXT + 1))
    assert status == 400 and error(html, "text_a") == f"A push text is at most {MAX_TEXT} characters."
    assert error(html, "text_b") == f"A push text is at most {MAX_TEXT} characters."
    status, _, html = await compose(world, text_a="Hi", send_at="2026-01-04T09:00")
    assert status == 400 and error(html, "send_at") == "2026-01-04T09:00 is in the past."
    status, _, html = await compose(world, text_a="Hi", segment="nosuch")
    assert status == 400 and error(html, "segment") == "There is no segment nosuch. /segments lists them."
    assert 'value="nosuch"' in html and "Nothing was sent or changed." in html
    status, _, html = await compose(world, f"{PUSHES}/preview", segment="nosuch")
    assert status == 400 and error(html, "segment") == "There is no segment nosuch. /segments lists them."
    assert await snapshot(world.app.db) == before
    chat = await world.console.text(":as Mei", ":dm", "/push nosuch Hi", "/push all Hi at 2026-01-04T09:00")
    assert "There is no segment nosuch. /segments lists them." in chat and "is in the past." in chat
    status, location, _ = await compose(world, text_a="Fixed", segment="all")  # corrected: sent
    assert status == 303 and location == f"{PUSHES}/1"


async def test_the_list_is_newest_first_by_pages(world: WebWorld) -> None:
    await community(world)
    for n in range(22):
        await world.console(f"/push all note {n}")
    first = await (await world.client.get(PUSHES)).text()
    ids = re.findall(r'<tr id="push-(\d+)">', first)
    assert ids == [str(n) for n in range(22, 2, -1)]
    older = re.search(r'href="(/dashboard/pushes\?before=\d+)" rel="next"', first)
    assert older, first
    second = await (await world.client.get(older.group(1))).text()
    assert re.findall(r'<tr id="push-(\d+)">', second) == ["2", "1"] and 'rel="next"' not in second


async def test_automations_texts_and_switches_are_what_push_auto_shows(world: WebWorld) -> None:
    await community(world)
    html = await (await world.client.get(f"{PUSHES}/automations")).text()
    for kind in ("welcome0", "welcome1", "welcome3", "winback"):
        assert f'id="auto-{kind}"' in html
    assert "Welcome to" in html and "(default text)" not in html
    location = await post(
        world, f"{PUSHES}/automations", f"{PUSHES}/automations/text", kind="winback", text="Come back!"
    )
    assert location == f"{PUSHES}/automations#auto-winback"
    chat = await world.console.text(":as Mei", ":dm", "/push auto")
    assert "winback win-back, for members at risk: Come back!" in chat
    await post(
        world, f"{PUSHES}/automations", f"{PUSHES}/automations/text", kind="winback", text="", reset="1"
    )
    assert "Come back!" not in await world.console.text("/push auto")

    before = await snapshot(world.app.db)
    refused = await world.submit(
        f"{PUSHES}/automations", f"{PUSHES}/automations/text", kind="welcome0", text=" "
    )
    html = await refused.text()
    assert refused.status == 400
    assert error(html, "welcome0") == "A push needs a text (and both texts for an A/B test)."
    refused = await world.submit(
        f"{PUSHES}/automations", f"{PUSHES}/automations/text", kind="welcome0", text="z" * (MAX_TEXT + 1)
    )
    assert refused.status == 400 and error(await refused.text(), "welcome0").startswith(
        "A push text is at most"
    )
    assert await snapshot(world.app.db) == before

    assert "push.welcome = off" in await world.console.text("/rules")
    await post(world, f"{PUSHES}/automations", f"{PUSHES}/automations/switch", key="push.welcome", value="on")
    assert "push.welcome = on" in await world.console.text("/rules")
    html = await (await world.client.get(f"{PUSHES}/automations")).text()
    assert re.search(r'id="value-push-welcome".*?<option value="on" selected>', html, re.S)
    refused = await world.submit(
        f"{PUSHES}/automations", f"{PUSHES}/automations/switch", key="cap.award", value="9"
    )
    assert refused.status == 404


async def test_moderators_get_403_strangers_404_and_a_post_needs_csrf(world: WebWorld) -> None:
    await community(world)
    _, location, _ = await compose(world, text_a="Mine")
    fields = await world.fields(location)
    missing = await world.client.get(f"{PUSHES}/999")
    assert missing.status == 404 and "There is no push #999." in await missing.text()
    no_csrf = await world.client.post(
        f"{location}/confirm", data={"form_key": fields["form_key"]}, allow_redirects=False
    )
    assert no_csrf.status == 403
    await world.sign_in("Sam", "moderator")
    for page in (PUSHES, location, f"{PUSHES}/automations"):
        assert (await world.client.get(page)).status == 403
    csrf = await world.csrf()
    before = await snapshot(world.app.db)
    for action, data in (
        (PUSHES, {"segment": "all", "text_a": "Hi"}),
        (f"{PUSHES}/preview", {"segment": "all"}),
        (f"{location}/confirm", {}),
        (f"{location}/test", {}),
        (f"{PUSHES}/automations/text", {"kind": "welcome0", "text": "x"}),
        (f"{PUSHES}/automations/switch", {"key": "push.welcome", "value": "on"}),
    ):
        refused = await world.client.post(
            action,
            data={"csrf": csrf, "form_key": fields["form_key"] + action[-3:], **data},
            allow_redirects=False,
        )
        assert refused.status == 403, action
    assert await snapshot(world.app.db) == before
    assert "Mine" not in " ".join(world.console._output[-5:])


async def test_the_pages_speak_chinese_when_asked(world: WebWorld) -> None:
    await community(world)
    _, location, _ = await compose(world, text_a="你好")
    world.client.session.cookie_jar.update_cookies({LANG_COOKIE: "zh_CN"})
    for page in (PUSHES, location, f"{PUSHES}/automations"):
        response = await world.client.get(page)
        html = await response.text()
        assert response.status == 200 and 'lang="zh-CN"' in html and "推送" in html, page
