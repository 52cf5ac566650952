"""web/dashboard/catalog.py and the catalog_* section pages: courses, lessons (Markdown with a preview),
bundles, plans, coupons and mall items added on the page by the commands' core calls — what
the chat then shows — and every refusal beside its field in the command's words, nothing
changed; moderators, strangers and forms without a CSRF token refused."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp import ClientResponse, FormData
from sqlalchemy import select

from core.audit.tables import audit_log
from core.catalog.coupons import CouponTerms
from core.catalog.money import Money
from core.events import UserRef
from core.members.models import Role
from tests.conftest import snapshot
from tests.test_catalog_markdown import unsafe_parts
from tests.web_fixtures import WebWorld, new_key

COURSE = {"code": "py101", "title": "Python", "price": "19.99", "currency": "USD", "description": "Hands-on."}


def error_of(html: str, name: str) -> str | None:
    """The refusal shown beside field ``name`` (None when there is none)."""
    found = re.search(rf'<p class="field-error" role="alert" id="error-{re.escape(name)}">([^<]*)</p>', html)
    return found.group(1) if found else None


def unescape(text: str) -> str:
    return text.replace("&#39;", "'").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


async def post(world: WebWorld, action: str, **data: str) -> ClientResponse:
    """A form sent with a valid CSRF token and a fresh form key (not following the redirect)."""
    fields = {"csrf": await world.csrf("/dashboard/catalog"), "form_key": new_key()}
    return await world.client.post(action, data={**fields, **data}, allow_redirects=False)


async def refused(world: WebWorld, action: str, field: str, **data: str) -> str:
    """Send a form the core refuses: 400, the message beside ``field``, nothing changed."""
    before = await snapshot(world.app.db)
    response = await post(world, action, **data)
    html = await response.text()
    assert response.status == 400, html
    assert "Nothing was changed." in html and html.count('class="field-error"') == 1, html
    assert await snapshot(world.app.db) == before
    message = error_of(html, field)
    assert message, html
    return unescape(message)


async def vias(world: WebWorld) -> dict[str, set[str]]:
    """Each audited action and where it was taken ("via")."""
    found: dict[str, set[str]] = {}
    async with world.app.db.read() as conn:
        for action, detail in await conn.execute(select(audit_log.c.action, audit_log.c.detail)):
            found.setdefault(action, set()).add(json.loads(detail).get("via", ""))
    return found


async def creator(world: WebWorld) -> None:
    await world.sign_in("Mei")


async def add_course(world: WebWorld, **changes: str) -> ClientResponse:
    return await post(world, "/dashboard/catalog/courses", **{**COURSE, **changes})


# -- courses -----------------------------------------------------------------------------------


async def test_a_course_added_on_the_page_is_what_courses_lists(world: WebWorld) -> None:
    await creator(world)
    added = await add_course(world)
    assert added.status == 303 and added.headers["Location"] == "/dashboard/catalog/courses/py101?saved=1"
    html = await (await world.client.get(added.headers["Location"])).text()
    assert 'id="saved">Saved: py101.</p>' in html and "$19.99" in html
    listing = await (await world.client.get("/dashboard/catalog")).text()
    assert '<tr id="course-py101">' in listing and "on sale" in listing
    assert "py101  Python · $19.99" in await world.console.text(":as Ana", "/courses")
    assert "Hands-on." in await world.console.text(":as Ana", "/course py101")
    async with world.app.db.read() as conn:
        detail = (
            await conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "course.add"))
        ).scalar()
    assert json.loads(detail)["via"] == "dashboard"


@pytest.mark.parametrize(
    ("changes", "field", "command"),
    [
        ({"price": "19.999"}, "price", "/course add zz1 19.999 USD T"),
        ({"price": "0"}, "price", "/course add zz1 0 USD T"),
        ({"currency": "ZZZ"}, "currency", "/course add zz1 5 ZZZ T"),
        ({"price": "5.5", "currency": "JPY"}, "price", "/course add zz1 5.5 JPY T"),
        ({"code": "Py 101!"}, "code", "/course add P! 5 USD T"),
        ({"title": "x" * 201}, "title", "/course add zz1 5 USD " + "x" * 201),
    ],
)
async def test_a_refused_course_shows_the_commands_message_beside_its_field(
    world: WebWorld, changes: dict[str, str], field: str, command: str
) -> None:
    await creator(world)
    message = await refused(world, "/dashboard/catalog/courses", field, **{**COURSE, **changes})
    assert message in await world.console.text(":as Mei", command)


async def test_a_taken_code_is_refused_beside_the_code(world: WebWorld) -> None:
    await creator(world)
    await add_course(world)
    assert (
        await refused(world, "/dashboard/catalog/courses", "code", **COURSE)
        == "The code py101 is taken already."
    )


async def test_editing_a_course_and_hiding_it(world: WebWorld) -> None:
    await creator(world)
    await add_course(world)
    page = "/dashboard/catalog/courses/py101"
    edited = await post(world, page, title="Python basics", price="25", currency="EUR", description="New.")
    assert edited.status == 303
    shown = await world.console.text(":as Ana", "/course py101")
    assert "Python basics" in shown and "€25.00" in shown and "New." in shown
    message = await refused(world, page, "price", title="Changed", price="0", currency="EUR", description="")
    assert message == "A price must be more than zero."  # and the title stayed
    assert "Python basics" in await world.console.text(":as Ana", "/courses")
    hidden = await post(world, page + "/visibility", hidden="1")
    assert hidden.status == 303
    assert "py101" not in await world.console.text(":as Ana", "/courses")
    assert "(hidden)" in await world.console.text(":as Mei", "/courses")
    html = await (await world.client.get(page)).text()
    assert "<strong>hidden</strong>" in html and ">Publish</button>" in html
    await post(world, page + "/visibility", hidden="0")
    assert "py101" in await world.console.text(":as Ana", "/courses")


async def test_a_course_of_no_such_code_or_another_community_is_not_found(world: WebWorld) -> None:
    await creator(world)
    members, catalog = world.app.services.members, world.app.services.catalog
    other = await world.app.community("otherhall")
    owner = await members.ensure_member(other, UserRef("console", "olga", "Olga"))
    owner = await members.assign_role(other, owner, Role.CREATOR, via="test")
    await catalog.add_course(other, owner, "theirs", Money("USD", 100), "Theirs")
    for path in ("/dashboard/catalog/courses/theirs", "/dashboard/catalog/courses/nope/lessons/new"):
        assert (await world.client.get(path)).status == 404
    await world.app.services.coupons.add(other, owner, CouponTerms(code="THEIRS", kind="percent", value=10))
    before = await snapshot(world.app.db)
    response = await post(world, "/dashboard/catalog/courses/theirs", title="Mine", price="1", currency="USD")
    assert response.status == 404 and await snapshot(world.app.db) == before
    for action in (
        "/dashboard/catalog/coupons/THEIRS/disable",
        "/dashboard/catalog/plans/nope/visibility",
        "/dashboard/catalog/mall/nope/visibility",
        "/dashboard/catalog/coupons/THEIRS/stock",
    ):
        assert (await post(world, action, hidden="1")).status == 404, action
    assert await snapshot(world.app.db) == before


# -- lessons -----------------------------------------------------------------------------------

LESSON = "# Reading CSV\n\n- open the file\n- read it with **pandas**\n"


async def test_a_lesson_previewed_then_saved_is_what_learn_shows(world: WebWorld) -> None:
    await creator(world)
    await add_course(world)
    lessons = "/dashboard/catalog/courses/py101/lessons"
    before = await snapshot(world.app.db)
    preview = await post(world, lessons, title="CSV", body=LESSON, unlock_days="0", do="preview")
    html = await preview.text()
    assert preview.status == 200 and await snapshot(world.app.db) == before
    assert '<div class="lesson-text" id="preview"><h1>Reading CSV</h1>' in html
    assert "<li>read it with <strong>pandas</strong></li>" in html
    assert "# Reading CSV\n\n- open the file" in html  # the textarea keeps the Markdown typed
    saved = await post(world, lessons, title="CSV", body=LESSON, unlock_days="0", do="save")
    assert saved.status == 303 and saved.headers["Location"] == lessons + "/1?saved=1"
    course = await (await world.client.get("/dashboard/catalog/courses/py101")).text()
    assert '<li id="lesson-1"><a href="/dashboard/catalog/courses/py101/lessons/1">CSV</a>' in course
    text = await world.console.text(":as Ana", "/buy py101", ":pay", "/learn py101")
    assert "Lesson 1 of 1: CSV" in text and "# Reading CSV" in text and "- read it with **pandas**" in text


async def test_markdown_is_sanitised_in_the_preview(world: WebWorld) -> None:
    await creator(world)
    await add_course(world)
    body = (
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        '[click](javascript:alert(1)) <a href="javascript:alert(2)" onclick="x()">a</a>'
    )
    html = await (
        await post(world, "/dashboard/catalog/courses/py101/lessons", title="X", body=body, do="preview")
    ).text()
    shown = re.search(r'<div class="lesson-text" id="preview">(.*?)</div>', html, re.S)
    assert shown, html
    assert unsafe_parts(shown.group(1)) == []
    assert html.count("<script") == 1 and '<script src="/dashboard/static/catalog.js" defer>' in html  # ours
    assert "<img" not in html and '<a href="javascript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.group(1)


async def test_editing_a_lesson_its_drip_day_and_its_file(world: WebWorld) -> None:
    await creator(world)
    await add_course(world)
    lessons = "/dashboard/catalog/courses/py101/lessons"
    form = FormData()
    for name, value in {
        "csrf": await world.csrf("/dashboard/catalog"),
        "form_key": new_key(),
        "title": "Slides",
        "body": "See the slides.",
        "unlock_days": "0",
        "do": "save",
    }.items():
        form.add_field(name, value)
    form.add_field("file", b"%PDF-1.4 slides", filename="slides.pdf", content_type="application/pdf")
    added = await world.client.post(lessons, data=form, allow_redirects=False)
    assert added.status == 303, await added.text()
    edit = await (await world.client.get(lessons + "/1")).text()
    assert "Now: slides.pdf. Choose a file to replace it." in edit and 'value="Slides"' in edit
    changed = await post(world, lessons + "/1", title="Slides, day 3", body="", unlock_days="3", do="save")
    assert changed.status == 303  # an empty text is fine: the lesson keeps its file
    shown = await world.console.text(":as Ana", "/course py101")
    assert "1. Slides, day 3 (opens 3 days after purchase)" in shown
    course = await (await world.client.get("/dashboard/catalog/courses/py101")).text()
    assert "File: slides.pdf" in course


@pytest.mark.parametrize(
    ("changes", "field", "command"),
    [
        ({"unlock_days": "5000"}, "unlock_days", None),
        ({"unlock_days": "soon"}, "unlock_days", None),
        ({"title": " "}, "title", None),
        ({"body": "  "}, "body", "/lesson add py101 Empty |  "),
        ({"body": "x" * 4001}, "body", None),
    ],
)
async def test_a_refused_lesson_shows_the_message_beside_its_field(
    world: WebWorld, changes: dict[str, str], field: str, command: str | None
) -> None:
    await creator(world)
    await add_course(world)
    data = {"title": "T", "body": "text", "unlock_days": "0", "do": "save", **changes}
    message = await refused(world, "/dashboard/catalog/courses/py101/lessons", field, **data)
    expected = {
        "unlock_days": "A lesson opens 0 to 3650 days after purchase.",
        "title": "A title cannot be empty.",
        "body": "A lesson's text is at most 4000 characters."
        if len(data["body"]) > 4000
        else "A lesson needs some content.",
    }[field]
    assert message == expected
    if command:
        assert message in await world.console.text(":as Mei", command)


# -- bundles, plans, coupons, mall -------------------------------------------------------------


async def test_a_bundle_of_two_courses(world: WebWorld) -> None:
    await creator(world)
    await add_course(world)
    await add_course(world, code="ml201", title="ML", price="29.99")
    base = {"code": "duo", "title": "Both", "price": "39.99", "currency": "USD"}
    message = await refused(world, "/dashboard/catalog/bundles", "courses", **base, courses="py101")
    assert message == "A bundle holds at least two courses."
    assert message in await world.console.text(":as Mei", "/bundle add duo 39.99 USD py101 Both")
    form = {**base, "csrf": await world.csrf("/dashboard/catalog"), "form_key": new_key()}
    data = [*form.items(), ("courses", "py101"), ("courses", "ml201")]
    added = await world.client.post("/dashboard/catalog/bundles", data=data, allow_redirects=False)
    assert (
        added.status == 303 and added.headers["Location"] == "/dashboard/catalog/bundles?saved=duo#item-duo"
    )
    assert "duo  Both (py101+ml201)" in await world.console.text(":as Ana", "/courses")


async def test_a_plan_with_trial_and_grace_and_its_refusals(world: WebWorld) -> None:
    await creator(world)
    plan = {"code": "monthly", "title": "Monthly pass", "price": "9.99", "currency": "USD", "period": "month"}
    for changes, field in (
        ({"trial": "400"}, "trial"),
        ({"grace": "91"}, "grace"),
        ({"tier": "Platinum"}, "tier"),
        ({"code": "M!"}, "code"),
    ):
        message = await refused(world, "/dashboard/catalog/plans", field, **{**plan, "trial": "7", **changes})
        option = " ".join(f"{k}={v}" for k, v in changes.items() if k in ("trial", "grace", "tier"))
        code = changes.get("code", "monthly")
        if field in ("tier", "code"):
            assert message in await world.console.text(
                ":as Mei", f"/plan add {code} 9.99 USD month {option} T"
            )
    assert (
        await post(world, "/dashboard/catalog/plans", **plan, trial="7", grace="3", tier="")
    ).status == 303
    assert "Monthly pass · $9.99 a month, 7-day trial" in await world.console.text(":as Ana", "/plans")
    assert (await post(world, "/dashboard/catalog/plans/monthly/visibility", hidden="1")).status == 303
    assert "No membership plans yet." in await world.console.text(":as Ana", "/plans")


async def test_coupons_added_listed_with_uses_and_disabled(world: WebWorld) -> None:
    await creator(world)
    await add_course(world)
    action = "/dashboard/catalog/coupons"
    coupon = {
        "code": "spring15",
        "off": "15%",
        "uses": "10",
        "per": "1",
        "until": "2026-03-31",
        "for": "py101",
    }
    for changes, field in (
        ({"off": "150%"}, "off"),
        ({"off": "5.555 USD"}, "off"),
        ({"uses": "0"}, "uses"),
        ({"per": "5000"}, "per"),
        ({"off": "5 USD", "min": "10 EUR"}, "min"),
        ({"from": "2026-02-30"}, "from"),
        ({"from": "2026-04-01"}, "until"),
        ({"for": "py101,,x"}, "for"),
    ):
        message = await refused(world, action, field, **{**coupon, **changes})
        assert message
    percent = await world.console.text(":as Mei", "/coupon add x1 150%")
    assert "A percent coupon takes 1% to 100%, like 15%." in percent
    assert (await post(world, action, **coupon)).status == 303
    assert "SPRING15  15% off, used 0 of 10, 1 per member, py101, until 2026-03-31 (active)" in (
        await world.console.text(":as Mei", "/coupon list")
    )
    await world.console(":as Ana", "/buy py101 spring15")
    html = await (await world.client.get(action)).text()
    row = re.search(r'<tr id="item-SPRING15">(.*?)</tr>', html, re.S)
    assert row and "<td>1 / 10</td>" in row.group(1) and "– 2026-03-31" in row.group(1)
    assert (await post(world, action + "/SPRING15/disable")).status == 303
    assert "(disabled)" in await world.console.text(":as Mei", "/coupon list")
    found = await vias(world)
    assert found["coupon.add"] == found["coupon.disable"] == {"dashboard"}


async def test_mall_items_with_stock(world: WebWorld) -> None:
    await creator(world)
    action = "/dashboard/catalog/mall"
    item = {
        "code": "mug",
        "points": "50",
        "kind": "reward",
        "title": "A mug",
        "note": "We post it",
        "stock": "5",
    }
    message = await refused(world, action, "stock", **{**item, "stock": "2000000"})
    assert message == "Stock is 0 to 1000000, or unlimited."
    assert (
        await refused(world, action, "points", **{**item, "points": "0"})
        == "An item costs 1 to 1000000000 points."
    )
    assert await refused(world, action, "per_member", **{**item, "per_member": "0"}) == (
        "A member may redeem an item 1 to 1000 times."
    )
    assert "There is no course" in await refused(world, action, "target", **{**item, "kind": "course"})
    assert (await post(world, action, **item)).status == 303
    assert "mug  A mug · 50 · 5 left" in await world.console.text(":as Ana", "/mall")
    before = await snapshot(world.app.db)
    bad = await post(world, action + "/mug/stock", stock="-3")
    html = await bad.text()
    assert bad.status == 400 and error_of(html, "stock-mug") == "Stock is 0 to 1000000, or unlimited."
    assert await snapshot(world.app.db) == before
    assert (await post(world, action + "/mug/stock", stock="")).status == 303
    assert "mug  A mug · 50 · unlimited" in await world.console.text(":as Ana", "/mall")
    assert (await post(world, action + "/mug/visibility", hidden="1")).status == 303
    assert "The mall is empty for now." in await world.console.text(":as Ana", "/mall")
    found = await vias(world)
    assert found["mall.add"] == found["mall.stock"] == found["mall.hide"] == {"dashboard"}


# -- who may ------------------------------------------------------------------------------------

PAGES = (
    "/dashboard/catalog",
    "/dashboard/catalog/bundles",
    "/dashboard/catalog/plans",
    "/dashboard/catalog/coupons",
    "/dashboard/catalog/mall",
    "/dashboard/catalog/courses/py101",
    "/dashboard/catalog/courses/py101/lessons/new",
)


async def test_a_moderator_is_refused_every_catalog_page_and_form(world: WebWorld) -> None:
    await world.console(":as Mei creator", "/course add py101 19.99 USD Python")
    await world.sign_in("Sam", "moderator")
    for page in PAGES:
        response = await world.client.get(page)
        assert response.status == 403, page
    html = await (await world.client.get("/dashboard")).text()
    assert "/dashboard/catalog" not in html  # no menu entry
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    before = await snapshot(world.app.db)
    for action in ("/dashboard/catalog/courses", "/dashboard/catalog/coupons", "/dashboard/catalog/mall"):
        sent = await world.client.post(
            action, data={"csrf": csrf, "form_key": new_key(), **COURSE, "off": "10%"}, allow_redirects=False
        )
        assert sent.status == 403, action
    assert await snapshot(world.app.db) == before


async def test_forms_without_a_csrf_token_or_signed_out_are_refused(world: WebWorld) -> None:
    await creator(world)
    before = await snapshot(world.app.db)
    for action in (
        "/dashboard/catalog/courses",
        "/dashboard/catalog/plans",
        "/dashboard/catalog/courses/py101/lessons",
    ):
        sent = await world.client.post(action, data={"form_key": new_key(), **COURSE}, allow_redirects=False)
        assert sent.status == 403 and "This form has expired" in await sent.text()
    assert await snapshot(world.app.db) == before
    world.client.session.cookie_jar.clear()
    assert (await world.client.get("/dashboard/catalog")).status == 401


async def test_the_catalog_is_in_the_menu_and_in_chinese(world: WebWorld) -> None:
    await creator(world)
    html = await (await world.client.get("/dashboard/catalog")).text()
    assert '<a href="/dashboard/catalog" aria-current="page">Catalog</a>' in html
    assert '<label for="f-code">Code</label>' in html and "<script" not in html
    await world.client.get("/dashboard/lang?to=zh_CN&next=/dashboard/catalog")
    refused_zh = await add_course(world, price="19.999")
    assert "USD" in (error_of(await refused_zh.text(), "price") or "") and "有" in await refused_zh.text()


async def test_a_double_submit_adds_one_course(world: WebWorld) -> None:
    await creator(world)
    fields = {"csrf": await world.csrf("/dashboard/catalog"), "form_key": new_key(), **COURSE}
    first = await world.client.post("/dashboard/catalog/courses", data=fields, allow_redirects=False)
    again = await world.client.post("/dashboard/catalog/courses", data=fields, allow_redirects=False)
    assert first.status == again.status == 303 and first.headers["Location"] == again.headers["Location"]
    assert (
        len(await world.app.services.catalog.courses(await world.app.community(), include_hidden=True)) == 1
    )


async def test_courses_and_coupons_are_listed_by_pages(
    world: WebWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web.dashboard import catalog, catalog_coupons

    monkeypatch.setattr(catalog, "PAGE", 2)
    monkeypatch.setattr(catalog_coupons, "PAGE", 2)
    await world.console(":as Mei creator", *(f"/course add c{n}x 5 USD Course {n}" for n in range(3)))
    await world.console(*(f"/coupon add K{n}X {n + 5}%" for n in range(3)))
    await creator(world)
    for page, ids in (
        ("/dashboard/catalog", r'<tr id="course-(\w+)">'),
        ("/dashboard/catalog/coupons", r'<tr id="item-(\w+)">'),
    ):
        html = await (await world.client.get(page)).text()
        first = re.findall(ids, html)
        more = re.search(r'<a href="([^"]+)" rel="next" id="more">', html)
        assert len(first) == 2 and more, html
        html = await (await world.client.get(unescape(more.group(1)))).text()
        rest = re.findall(ids, html)
        assert len(rest) == 1 and rest[0] not in first and 'id="more"' not in html


async def test_a_file_larger_than_a_lesson_takes_is_refused_beside_the_file(world: WebWorld) -> None:
    await creator(world)
    await add_course(world)
    form = FormData()
    for name, value in {
        "csrf": await world.csrf("/dashboard/catalog"),
        "form_key": new_key(),
        "title": "Video",
        "body": "",
        "unlock_days": "0",
        "do": "save",
    }.items():
        form.add_field(name, value)
    form.add_field("file", b"0" * (10 * 2**20 + 1), filename="big.mp4", content_type="video/mp4")
    before = await snapshot(world.app.db)
    sent = await world.client.post(
        "/dashboard/catalog/courses/py101/lessons", data=form, allow_redirects=False
    )
    html = await sent.text()
    assert sent.status == 400 and error_of(html, "file") == "A lesson&#39;s file can be at most 10 MB."
    assert await snapshot(world.app.db) == before


async def test_a_plan_edited_on_its_page_all_or_nothing(world: WebWorld) -> None:
    await world.console(":as Mei creator", "/plan add monthly 9.99 USD month trial=7 Monthly pass")
    await creator(world)
    page = "/dashboard/catalog/plans/monthly"
    html = await (await world.client.get("/dashboard/catalog/plans")).text()
    assert f'<a href="{page}"><code>monthly</code></a>' in html
    form = {"title": "Monthly", "price": "12", "currency": "USD", "trial": "400", "grace": "3", "tier": ""}
    assert await refused(world, page, "trial", **form) == "A trial lasts 0 to 365 days."
    assert await refused(world, page, "tier", **{**form, "trial": "7", "tier": "Platinum"}) == (
        "There is no tier Platinum. Tiers: regular, premium, VIP."
    )
    assert "Monthly pass · $9.99 a month, 7-day trial" in await world.console.text(":as Ana", "/plans")
    edited = await post(world, page, **{**form, "trial": "14"})
    assert edited.status == 303 and edited.headers["Location"] == page + "?saved=1"
    assert "Monthly · $12.00 a month, 14-day trial" in await world.console.text(":as Ana", "/plans")
    assert (await world.client.get("/dashboard/catalog/plans/nope")).status == 404


async def test_a_courses_points_price_and_completion_points(world: WebWorld) -> None:
    await creator(world)
    await add_course(world)
    page = "/dashboard/catalog/courses/py101"
    form = {"title": "Python", "price": "19.99", "currency": "USD", "description": "Hands-on."}
    message = await refused(world, page, "points", **form, points="lots", completion="30")
    assert message == "points takes a whole number of points."
    assert message in await world.console.text(":as Mei", "/course edit py101 points lots")
    assert await refused(world, page, "completion", **form, points="", completion="-1") == (
        "completion takes a whole number of points."
    )
    assert (await post(world, page, **form, points="300", completion="30")).status == 303
    shown = await world.console.text(":as Ana", "/course py101")
    assert "Price: $19.99 / 300 pts" in shown and "(300 points)" in shown
    html = await (await world.client.get(page)).text()
    assert 'name="points" value="300"' in html and 'name="completion" value="30"' in html
    assert (await post(world, page, **form, points="", completion="30")).status == 303
    assert "points" not in await world.console.text(":as Ana", "/course py101")
