"""web/dashboard/wechat.py over HTTP: the four notices with what each is and its fields, a
template and its keywords set and cleared by the same core calls /wechat template makes (so
/wechat templates shows the same), the same refusals beside the form with what was typed kept,
the subscribe message's template, the last days' counts, and creators only."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.audit.tables import audit_log
from core.clock import ManualClock
from core.delivery.templates import NOTICE_NAMES, NOTICES, SUBSCRIBE, NoticeTemplate
from core.i18n import render
from core.members.tables import members as members_table
from tests.conftest import console_member, snapshot
from tests.web_fixtures import WebWorld
from web.app import PAGES
from web.dashboard import wechat as wechat_page

PAGE = "/dashboard/wechat"
TEMPLATES = "/dashboard/wechat/templates"
SUBSCRIBE_FORM = "/dashboard/wechat/subscribe"
VOLATILE = ("activity", "job_runs", "web_sessions", "web_form_keys")
TEMPLATE_ID = "Xy7_abcDEF-123"


def section(html: str, notice: str) -> str:
    found = re.search(rf'<section id="notice-{notice}" class="notice">(.*?)</section>', html, re.S)
    assert found, html
    return found.group(1)


def text_of(html: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (tags dropped, entities read, spaces joined)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|dd|span)>', html, re.S)
    assert found, (element_id, html)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def value_of(html: str, input_id: str) -> str:
    found = re.search(rf'id="{input_id}" name="\w+" value="([^"]*)"', html)
    assert found, (input_id, html)
    return html_lib.unescape(found.group(1))


async def mapped(world: WebWorld) -> dict[str, NoticeTemplate]:
    community = (await console_member(world.app, "Mei")).community_id
    return await world.app.services.templates.all(community)


async def console_reply(world: WebWorld, *lines: str) -> str:
    """What the bot answers ``lines``, without the console's "(you are …)" lines."""
    out = await world.console(":as Mei creator", *lines)
    return "\n".join(line.removeprefix("bot> ") for line in out if not line.startswith("("))


async def test_the_page_is_in_the_creators_menu_and_lists_the_four_notices(world: WebWorld) -> None:
    assert wechat_page in PAGES and wechat_page.MENU.creators_only
    await world.sign_in("Mei")
    response = await world.client.get(PAGE)
    html = await response.text()
    assert response.status == 200
    assert '<a href="/dashboard/wechat" aria-current="page">WeChat</a>' in html
    assert re.findall(r'<section id="notice-(\w+)"', html) == list(NOTICES)
    for notice, fields in NOTICES.items():
        part = section(html, notice)
        name = render(NOTICE_NAMES[notice], "en")
        assert f"<h3>{name[:1].upper()}{name[1:]} <code>{notice}</code></h3>" in part
        assert text_of(part, f"current-{notice}").endswith(
            "no template: this notice goes only within the 48-hour window"
        )
        assert re.findall(r"<code>(\w+)</code> \(", part) == list(fields)
    assert text_of(section(html, "payment_received"), "fields-payment_received") == (
        "Fields: order (order number), title (course or plan), amount (amount), date (date)"
    )
    assert "To a buyer when their payment is received." in html
    assert (
        "no longer show first or remark lines" in html and "cut to 20 characters, and to 200 in all" in html
    )
    assert "接口权限 → 一次性订阅消息" in text_of(html, "subscribe-help")
    assert text_of(html, "current-subscribe") == "Now: off: /notifyme offers no links"
    assert [text_of(html, i) for i in ("sent-by-template", "sent-by-consent", "skipped")] == ["0", "0", "0"]
    assert "Remove" not in html  # nothing to remove yet


async def test_a_template_set_on_the_page_is_what_wechat_templates_shows(world: WebWorld) -> None:
    await world.sign_in("Mei")
    posted = await world.submit(
        PAGE,
        TEMPLATES,
        notice="payment_received",
        template_id=f" {TEMPLATE_ID} ",
        keywords="character_string1=order  thing2=title amount3=amount time4=date",
    )
    assert posted.status == 303
    assert posted.headers["Location"] == "/dashboard/wechat?saved=payment_received#notice-payment_received"
    html = await (await world.client.get(posted.headers["Location"])).text()
    assert text_of(html, "saved") == (
        f"payment_received now goes by template {TEMPLATE_ID} after the 48-hour window."
    )
    keywords = "character_string1=order thing2=title amount3=amount time4=date"
    part = section(html, "payment_received")
    assert text_of(part, "current-payment_received") == f"Now: {TEMPLATE_ID} · {keywords}"
    assert value_of(part, "template-payment_received") == TEMPLATE_ID
    assert value_of(part, "keywords-payment_received") == keywords
    assert ">Remove</button>" in part and ">Remove</button>" not in section(html, "renews_soon")

    # The core's record is the one the command reads: the same listing, the same keywords.
    assert await mapped(world) == {
        "payment_received": NoticeTemplate(
            "payment_received",
            TEMPLATE_ID,
            (("character_string1", "order"), ("thing2", "title"), ("amount3", "amount"), ("time4", "date")),
        )
    }
    listing = await console_reply(world, ":dm", "/wechat templates")
    assert f"payment received (payment_received): {TEMPLATE_ID} · {keywords}" in listing
    assert "subscription renews soon (renews_soon): no template · fields: title, date" in listing

    # Changed from the chat, shown on the page.
    await console_reply(world, "/wechat template renews_soon RenewTpl1 thing1=title time2=date")
    html = await (await world.client.get(PAGE)).text()
    assert text_of(html, "current-renews_soon") == "Now: RenewTpl1 · thing1=title time2=date"

    async with world.app.db.read() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.detail)
                .where(audit_log.c.action == "wechat.template")
                .order_by(audit_log.c.id)
            )
        ).scalars()
        vias = [json.loads(detail).get("via") for detail in rows]
    assert vias[0] == "dashboard" and vias[1] != "dashboard"


@pytest.mark.parametrize(
    ("form", "field", "command"),
    [
        (
            {
                "notice": "payment_received",
                "template_id": TEMPLATE_ID,
                "keywords": "first=title amount2=amount",
            },
            "keywords",
            f"/wechat template payment_received {TEMPLATE_ID} first=title amount2=amount",
        ),
        (
            {"notice": "renews_soon", "template_id": TEMPLATE_ID, "keywords": "thing1=title amount2=amount"},
            "keywords",
            f"/wechat template renews_soon {TEMPLATE_ID} thing1=title amount2=amount",
        ),
        (
            {"notice": "refund_done", "template_id": TEMPLATE_ID, "keywords": "thing1 title"},
            "keywords",
            f"/wechat template refund_done {TEMPLATE_ID} thing1 title",
        ),
        (
            {"notice": "access_ends", "template_id": "bad id!", "keywords": "thing1=title"},
            "template_id",
            "/wechat template access_ends bad! thing1=title",
        ),
    ],
)
async def test_a_refused_template_is_shown_beside_its_form_in_the_commands_words(
    world: WebWorld, form: dict[str, str], field: str, command: str
) -> None:
    said = await console_reply(world, ":dm", command)
    await world.sign_in("Mei")
    before = await snapshot(world.app.db, exclude=VOLATILE)
    posted = await world.submit(PAGE, TEMPLATES, **form)
    html = await posted.text()
    notice = form["notice"]
    assert posted.status == 400
    assert text_of(html, f"error-{notice}") == said
    assert "Nothing was changed." in html
    part = section(html, notice)
    assert value_of(part, f"template-{notice}") == form["template_id"]  # what was typed stays
    assert value_of(part, f"keywords-{notice}") == form["keywords"]
    invalid = "template" if field == "template_id" else "keywords"
    assert re.search(rf'id="{invalid}-{notice}"[^>]*aria-invalid="true"', part, re.S)
    assert await snapshot(world.app.db, exclude=VOLATILE) == before
    assert await mapped(world) == {}


async def test_the_retired_first_keyword_and_an_unknown_field_are_refused(world: WebWorld) -> None:
    await world.sign_in("Mei")
    first = await world.submit(
        PAGE, TEMPLATES, notice="payment_received", template_id=TEMPLATE_ID, keywords="first=title"
    )
    assert first.status == 400
    assert text_of(await first.text(), "error-payment_received") == (
        "WeChat no longer shows first: map only the template's keywords."
    )
    unknown = await world.submit(
        PAGE, TEMPLATES, notice="access_ends", template_id=TEMPLATE_ID, keywords="thing1=price"
    )
    assert unknown.status == 400
    assert text_of(await unknown.text(), "error-access_ends") == (
        "access_ends has the fields title, date, not price."
    )
    assert await mapped(world) == {}


async def test_an_unknown_notice_is_refused_at_the_top(world: WebWorld) -> None:
    await world.sign_in("Mei")
    posted = await world.submit(
        PAGE, TEMPLATES, notice="welcome", template_id=TEMPLATE_ID, keywords="a=title"
    )
    assert posted.status == 400
    assert text_of(await posted.text(), "error-notice").startswith("Unknown notice welcome: choose one of")
    assert await mapped(world) == {}


async def test_remove_or_an_empty_template_id_clears_the_notice(world: WebWorld) -> None:
    await console_reply(
        world,
        ":dm",
        "/wechat template refund_done RefundTpl order1=order thing2=title",
        "/wechat template access_ends EndTpl thing1=title time2=date",
    )
    await world.sign_in("Mei")
    html = await (await world.client.get(PAGE)).text()
    assert text_of(html, "current-refund_done") == "Now: RefundTpl · order1=order thing2=title"

    posted = await world.submit(
        PAGE, TEMPLATES, notice="refund_done", template_id="RefundTpl", keywords="order1=order", remove="1"
    )
    assert posted.status == 303
    assert posted.headers["Location"] == "/dashboard/wechat?saved=refund_done#notice-refund_done"
    html = await (await world.client.get(posted.headers["Location"])).text()
    assert text_of(html, "saved") == "refund_done now goes only within the 48-hour window."
    assert text_of(html, "current-refund_done").endswith(
        "no template: this notice goes only within the 48-hour window"
    )

    posted = await world.submit(
        PAGE, TEMPLATES, notice="access_ends", template_id="  ", keywords="thing1=title"
    )
    assert posted.status == 303
    assert set(await mapped(world)) == set()
    listing = await console_reply(world, "/wechat templates")
    assert "refund done (refund_done): no template" in listing
    assert "access ends (access_ends): no template" in listing


async def test_the_subscribe_template_set_and_cleared(world: WebWorld) -> None:
    await world.sign_in("Mei")
    posted = await world.submit(PAGE, SUBSCRIBE_FORM, template_id="SubTpl_9")
    assert (
        posted.status == 303 and posted.headers["Location"] == "/dashboard/wechat?saved=subscribe#subscribe"
    )
    html = await (await world.client.get(posted.headers["Location"])).text()
    assert (
        text_of(html, "saved")
        == "Subscribe messages use template SubTpl_9: followers allow them with /notifyme."
    )
    assert text_of(html, "current-subscribe") == "Now: SubTpl_9"
    assert value_of(html, "template-subscribe") == "SubTpl_9"
    assert await mapped(world) == {SUBSCRIBE: NoticeTemplate(SUBSCRIBE, "SubTpl_9", ())}
    assert "Subscribe messages (/notifyme): SubTpl_9" in await console_reply(
        world, ":dm", "/wechat templates"
    )

    before = await snapshot(world.app.db, exclude=VOLATILE)
    refused = await world.submit(PAGE, SUBSCRIBE_FORM, template_id="no spaces")
    html = await refused.text()
    assert refused.status == 400
    assert text_of(html, "error-subscribe") == (
        "A template id is letters, digits, - and _ (at most 64), as the WeChat console shows it."
    )
    assert value_of(html, "template-subscribe") == "no spaces"
    assert await snapshot(world.app.db, exclude=VOLATILE) == before

    posted = await world.submit(PAGE, SUBSCRIBE_FORM, template_id="SubTpl_9", remove="1")
    html = await (await world.client.get(posted.headers["Location"])).text()
    assert text_of(html, "saved") == "Subscribe messages are off: /notifyme offers no links."
    assert await mapped(world) == {}
    assert "Subscribe messages (/notifyme): off" in await console_reply(world, "/wechat templates")


async def test_the_last_weeks_sends_after_the_window_are_counted(world: WebWorld, clock: ManualClock) -> None:
    services = world.app.services
    await services.fallbacks.sent("wechat", "o-ana", None, "template", "window_closed", "Payment received")
    await services.fallbacks.sent("wechat", "o-ben", None, "template", "window_closed", "Refund")
    await services.fallbacks.sent("wechat", "o-cy", None, "subscribe", "window_closed", "News")
    await services.fallbacks.sent("telegram", "42", None, "template", "window_closed", "elsewhere")
    await world.sign_in("Mei")
    html = await (await world.client.get(PAGE)).text()
    assert text_of(html, "recent-title") == "In the last 7 days"
    assert [text_of(html, i) for i in ("sent-by-template", "sent-by-consent")] == ["2", "1"]
    clock.advance(timedelta(days=8))
    await world.sign_in("Mei")  # a week on: a fresh session
    html = await (await world.client.get(PAGE)).text()
    assert [text_of(html, i) for i in ("sent-by-template", "sent-by-consent")] == ["0", "0"]


async def test_a_moderator_a_learner_and_a_stranger_are_refused(world: WebWorld) -> None:
    forms = (
        (TEMPLATES, {"notice": "payment_received", "template_id": TEMPLATE_ID, "keywords": "thing1=title"}),
        (SUBSCRIBE_FORM, {"template_id": TEMPLATE_ID}),
    )
    signed_out = await world.client.get(PAGE)
    assert signed_out.status == 401

    await world.console(":as Mei creator")
    assert "Only moderators and creators" in await world.console.text(":as Ana", ":dm", "/dashboard")
    await world.sign_in("Sam", "moderator")
    page = await world.client.get(PAGE)
    assert page.status == 403 and "This page is for creators." in await page.text()
    assert 'href="/dashboard/wechat"' not in await (await world.client.get("/dashboard")).text()
    fields = await world.fields("/dashboard")
    for action, form in forms:
        posted = await world.client.post(action, data={**fields, **form}, allow_redirects=False)
        assert posted.status == 403 and "This page is for creators." in await posted.text()

    sam = await console_member(world.app, "Sam")
    async with world.app.db.write() as conn:  # demoted to learner behind the app's back
        await conn.execute(update(members_table).where(members_table.c.id == sam.id).values(role="learner"))
    assert (await world.client.get(PAGE)).status == 403
    for action, form in forms:
        posted = await world.client.post(action, data={**fields, **form}, allow_redirects=False)
        assert posted.status == 403
    assert await mapped(world) == {}
