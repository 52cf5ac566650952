"""bot/handlers/recommend.py through the console: /recommend (and /为你推荐) with reasons and
buy buttons; /stats shows what the model learned; a push to `recommended` sends each member
their own course and counts their purchases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.app import App
from core.pushes.tables import push_outbox
from tests.conftest import ConsoleDriver, snapshot
from tests.shop_fixtures import Shop
from tests.test_cli import studyhall
from tests.test_recommend_service import _catalog, _crowd, _own


async def test_a_learner_asks_for_recommendations(app: App, shop: Shop, console: ConsoleDriver) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    await _own(app, shop.ana, ids["py101"])
    assert await console(":as Ana", "/recommend") == [
        "(you are Ana, learner, in dm)",
        "bot> Picked for you:",
        "bot> 1. SQL for analysts (sql), $9.00",
        "bot>    because learners who took Python for data analysis took this",
        "bot> 2. Charts that explain (viz), $9.00",
        "bot>    because popular here: 5 learners took it",
        "bot> 3. Public speaking (talk), $9.00",
        "bot>    because popular here: 5 learners took it",
        "bot> [1] Buy sql",
        "bot> [2] Buy viz",
        "bot> [3] Buy talk",
    ]
    before = await snapshot(app.db, exclude=("activity",))
    assert (await console("/为你推荐"))[1] == "bot> 1. SQL for analysts (sql), $9.00"
    assert await snapshot(app.db, exclude=("activity",)) == before  # reading changes nothing
    assert (await console("1"))[0].startswith("bot> ")  # the button buys: /buy sql
    assert await console(":as Ben", "/recommend") == [
        "(you are Ben, learner, in dm)",
        "bot> Picked for you:",
        "bot> 1. Python for data analysis (py101), $19.99",
        "bot>    because popular here: 11 learners took it",
        "bot> 2. SQL for analysts (sql), $9.00",
        "bot>    because popular here: 10 learners took it",
        "bot> 3. Charts that explain (viz), $9.00",
        "bot>    because popular here: 5 learners took it",
        "bot> [1] Buy py101",
        "bot> [2] Buy sql",
        "bot> [3] Buy viz",
    ]


async def test_with_no_courses_bought_anywhere_the_answer_says_so(console: ConsoleDriver) -> None:
    assert await console(":as Ana", "/recommend") == [
        "(you are Ana, learner, in dm)",
        "bot> Nothing to recommend to you yet. /courses lists every course.",
    ]


async def test_stats_shows_what_the_recommendations_learned(
    app: App, shop: Shop, console: ConsoleDriver
) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    text = await console.text(":as Mei", "/stats")
    assert (
        "bot> Recommendations: personal picks for 15 of 15 members with courses; taken together most:"
        " Python for data analysis + SQL for analysts (1.00) · Charts that explain + Public speaking (1.00)"
    ) in text


async def test_a_push_to_recommended_sends_each_member_their_own_course(
    app: App, shop: Shop, console: ConsoleDriver
) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    await _own(app, shop.ana, ids["py101"])
    await _own(app, shop.ben, ids["viz"])
    await console(":as Cy", "/mute")
    await console(":as Mei", "/courses")
    before = await snapshot(app.db, exclude=("activity",))
    assert await console("/push recommended New this week!") == [
        "bot> A push to recommended needs {course} in its text: each member's own course goes there."
    ]
    assert await snapshot(app.db, exclude=("activity",)) == before
    preview = await console("/push recommended Learners like you took {course}: have a look!")
    assert preview[:3] == [
        "bot> Push #1 to recommended: a preview",
        "bot> Recipients: 17 (console 17)",  # Ana, Ben and the crowd of 15
        "bot> Not reached: 1 muted, 0 without an account on any platform.",
    ]
    await console("1")
    sent = await console(":clock +1m")
    assert "bot→Ana> Learners like you took SQL for analysts: have a look!" in sent
    assert "bot→Ben> Learners like you took Public speaking: have a look!" in sent
    assert "bot→Data0> Learners like you took Charts that explain: have a look!" in sent
    # A recipient counts when they buy the course the push recommended to them, not another.
    await console(":as Ana", "/buy sql", ":pay", ":as Ben", "/buy sql", ":pay", ":as Mei")
    assert (await console("/push status 1"))[-3:] == [
        "bot> Purchases within 7 days of delivery:",
        "bot> 1 of 17 bought (5.9%)",
        "bot> Purchases still count until 2026-01-12 09:01; the numbers may change.",
    ]
    await console(":as Ben", "/buy talk", ":pay", ":as Mei")
    assert (await console("/push status 1"))[-2] == "bot> 2 of 17 bought (11.8%)"
    # A bundle holding the recommended course counts as buying it.
    await console("/bundle add pack 15 USD viz,talk Charts and talks")
    await console(":as Data0", "/buy pack", ":pay", ":as Mei")
    assert (await console("/push status 1"))[-2] == "bot> 3 of 17 bought (17.6%)"
    async with app.db.read() as conn:
        subjects = dict((await conn.execute(select(push_outbox.c.member_id, push_outbox.c.subject))).all())
    assert subjects[shop.ana.id] == ids["sql"] and subjects[shop.ben.id] == ids["talk"]


async def test_a_member_who_bought_everything_meanwhile_is_skipped(
    app: App, shop: Shop, console: ConsoleDriver
) -> None:
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)
    await console(":as Ana", ":as Mei", "/push recommended Try {course}", "1")
    for course_id in ids.values():
        await _own(app, shop.ana, course_id)
    await console(":clock +1m")
    status = await console("/push status 1")
    assert status[1] == "bot> Sent 16 · waiting 0 · skipped 1 · failed 0"
    assert status[2] == "bot> Skipped: nothing left to recommend 1"


RECOMMEND_SCRIPT = """\
:as Mei creator
/course add py101 19.99 USD Python for data analysis
/course add ml201 29.99 USD Machine learning basics
:as Ben
/buy ml201
:pay
:as Ana
/buy py101
:pay
/recommend
/为你推荐
"""


def test_recommend_in_a_console_subprocess(db_url: str, tmp_path: Path) -> None:
    result = studyhall(
        ["console", "--db", db_url, "--community", "rechall"], tmp_path, stdin=RECOMMEND_SCRIPT
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.count("bot> Picked for you:") == 2, lines
    assert "bot> 1. Machine learning basics (ml201), $29.99" in lines  # py101 is hers: never offered
    assert not any("(py101)" in line for line in lines if line.startswith("bot> 1."))
    assert "Traceback" not in result.stdout + result.stderr
