"""bot/adapters/wechat/outside.py against the local fake of the WeChat API: transactional notices
by template after the 48-hour window (WeChat's 2023 rules checked by the fake), one-time
subscribe consents from the subscribemsg link to the message they allow, forged and replayed
returns, and the records of what went and what was skipped."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from bot.app import App
from core.catalog.money import Money
from core.clock import ManualClock
from core.delivery.outside import NEWS, NOTES
from core.orders.refunds import refund_reply
from core.pushes.delivery import Unreachable
from core.replies import Notice, Reply
from tests.shop_fixtures import Shop
from tests.test_wechat_adapter import ANA, BEN, Server, _member, _server

LONG_TITLE = "数据分析入门：从零开始掌握Python与pandas的实战课程"  # 30 characters
PAY_KEYWORDS = ("character_string1", "thing2", "amount3", "time4")


@pytest.fixture
async def wx(app: App) -> AsyncIterator[Server]:
    async for running in _server(app, False):
        running.adapter.outside.base_url = running.base  # where WeChat returns consenting followers
        yield running


async def _quiet_follower(wx: Server, app: App, clock: ManualClock, openid: str = ANA) -> int:
    """A follower who wrote once, 49 hours ago: the window is closed."""
    await wx.say(openid, "积分")
    clock.advance(timedelta(hours=49))
    return await _member(app, openid)


async def _send(app: App, reply: Reply) -> None:
    community = await app.community()
    await app.send([await app.deliver_to_member(reply, community)])


# -- template messages ------------------------------------------------------------------------


async def test_a_notice_after_the_window_goes_by_its_template_cut_to_wechats_rules(
    wx: Server, app: App, shop: Shop, clock: ManualClock
) -> None:
    ana = await _quiet_follower(wx, app, clock)
    wx.fake.templates["tmpl-pay"] = PAY_KEYWORDS
    pairs = ["character_string1=order", "thing2=title", "amount3=amount", "time4=date"]
    await app.services.templates.set(shop.community, shop.mei, "payment_received", "tmpl-pay", pairs)
    fields = (("order", "#42"), ("title", LONG_TITLE), ("amount", Money("CNY", 9900)), ("date", "2026-01-05"))
    await _send(app, Reply.text("Payment received", to_member=ana, notice=Notice("payment_received", fields)))

    [sent] = wx.fake.templated
    assert sent["touser"] == ANA and sent["template_id"] == "tmpl-pay"
    values = {keyword: value["value"] for keyword, value in sent["data"].items()}
    assert values["thing2"] == LONG_TITLE[:19] + "…" and len(values["thing2"]) == 20
    assert values["character_string1"] == "#42" and values["time4"] == "2026-01-05"
    assert values["amount3"].startswith("¥99")
    assert "first" not in sent["data"] and "remark" not in sent["data"]
    assert sent["client_msg_id"]  # WeChat sends a repeat with the same id once
    assert wx.fake.texts(ANA) == [] or "Payment received" not in wx.fake.texts(ANA)
    assert await app.services.delivery.latest_skipped("wechat") == []
    since = clock.now() - timedelta(hours=1)
    assert await app.services.fallbacks.sent_since("wechat", since) == {"template": 1}


async def test_a_refund_and_the_renewal_reminder_reach_a_quiet_follower_by_template(
    wx: Server, app: App, shop: Shop, clock: ManualClock
) -> None:
    await wx.say(ANA, "积分")
    ana = await app.services.members.get_member(await _member(app, ANA))
    wx.fake.templates.update(refund=("thing1", "amount2"), renew=("thing1", "time2"))
    templates = app.services.templates
    await templates.set(shop.community, shop.mei, "refund_done", "refund", ["thing1=title", "amount2=amount"])
    await templates.set(shop.community, shop.mei, "renews_soon", "renew", ["thing1=title", "time2=date"])
    plan = await app.services.plans.add(
        shop.community, shop.mei, code="club", title="数据俱乐部", price=Money("CNY", 3000), period="month"
    )
    subscribed = await app.services.subscriptions.subscribe(shop.community, ana, plan)
    order = subscribed.order
    assert order is not None
    await app.send(await app.settle_payment(order.id, "sandbox", "sandbox:paid", order.amount))

    clock.advance(timedelta(days=28, hours=12))  # the payment's 48 hours are long over
    await app.services.subscriptions.tend(clock.now())
    await app.send(await app.pending_notices())
    renew = [m for m in wx.fake.templated if m["template_id"] == "renew"]
    assert [m["data"]["thing1"]["value"] for m in renew] == ["数据俱乐部"]

    paid = await app.services.orders.get(order.id)
    done = await app.services.orders.refund(shop.community, shop.mei, order.id, 1000)
    await _send(app, refund_reply(paid, done.amount, clock.now()))
    [refund] = [m for m in wx.fake.templated if m["template_id"] == "refund"]
    assert refund["data"]["thing1"]["value"] == "数据俱乐部"
    assert refund["data"]["amount2"]["value"].startswith("¥10")


async def test_without_a_template_or_with_one_wechat_refuses_the_notice_is_skipped_with_why(
    wx: Server, app: App, shop: Shop, clock: ManualClock
) -> None:
    ana = await _quiet_follower(wx, app, clock)
    notice = Notice("refund_done", (("title", "Python"),))
    await _send(app, Reply.text("refunded", to_member=ana, notice=notice))
    await app.services.templates.set(shop.community, shop.mei, "refund_done", "gone", ["thing1=title"])
    await _send(app, Reply.text("refunded again", to_member=ana, notice=notice))  # not the account's
    skipped = await app.services.delivery.latest_skipped("wechat")
    assert [(s.reason, s.preview) for s in skipped] == [
        ("bad_template", "refunded again"),
        ("window_closed", "refunded"),
    ]
    assert wx.fake.templated == []


async def test_within_the_window_a_notice_goes_as_a_plain_message(wx: Server, app: App, shop: Shop) -> None:
    await wx.say(ANA, "积分")
    ana = await _member(app, ANA)
    wx.fake.templates["t"] = ("thing1",)
    await app.services.templates.set(shop.community, shop.mei, "access_ends", "t", ["thing1=title"])
    await _send(app, Reply.text("ends", to_member=ana, notice=Notice("access_ends", (("title", "x"),))))
    assert wx.fake.texts(ANA)[-1] == "ends" and wx.fake.templated == []


# -- one-time subscribe consents ----------------------------------------------------------------


async def _consent_links(wx: Server, app: App, shop: Shop, openid: str = ANA) -> dict[int, str]:
    await app.services.templates.set(shop.community, shop.mei, "subscribe", wx.fake.subscribe_template, [])
    answer = await wx.say(openid, "/notifyme")
    links = re.findall(r"https?://\S+", answer)
    assert len(links) == 2, answer
    return {int(re.search(r"scene=(\d+)", link).group(1)): link for link in links}  # type: ignore[union-attr]


async def _open(url: str) -> tuple[int, str, str]:
    """Open ``url`` as WeChat's browser would, following redirects: (status, page, final URL)."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text(), str(response.url)


async def test_a_consent_allows_one_push_after_the_window_and_only_one(
    wx: Server, app: App, shop: Shop, clock: ManualClock
) -> None:
    links = await _consent_links(wx, app, shop)
    wx.fake.consenting = ANA
    status, page, returned = await _open(links[NEWS])
    assert status == 200 and "/wechat/consent?" in returned
    assert "谢谢。48 小时后，公众号现在可以就社群动态给你发 1 条消息。" in page  # the follower's language
    assert await app.services.fallbacks.consents_left("wechat", ANA, NEWS) == 1
    assert await app.services.fallbacks.consents_left("wechat", ANA, NOTES) == 0

    clock.advance(timedelta(hours=49))
    assert await wx.adapter.push(ANA, Reply.text("本周直播：周六晚八点"), "zh_CN", "push:1:1") == ""
    [message] = wx.fake.subscribed
    assert message["touser"] == ANA and message["scene"] == str(NEWS)
    assert message["data"]["content"]["value"] == "本周直播：周六晚八点"
    assert message["title"] == app.config.community[:15]
    with pytest.raises(Unreachable):  # the consent is spent
        await wx.adapter.push(ANA, Reply.text("another"), "zh_CN", "push:1:2")
    assert await app.services.fallbacks.consents_left("wechat", ANA, NEWS) == 0
    assert await app.services.fallbacks.sent_since("wechat", clock.now() - timedelta(hours=1)) == {
        "subscribe": 1
    }


async def test_a_notes_consent_carries_a_private_note_without_a_template(
    wx: Server, app: App, shop: Shop, clock: ManualClock
) -> None:
    links = await _consent_links(wx, app, shop)
    wx.fake.consenting = ANA
    assert (await _open(links[NOTES]))[0] == 200
    clock.advance(timedelta(hours=49))
    ana = await _member(app, ANA)
    long_note = "你的问题有了新回答。" * 30  # 300 characters: cut to 200
    await _send(app, Reply.text(long_note, to_member=ana))
    [message] = wx.fake.subscribed
    content = message["data"]["content"]["value"]
    assert message["scene"] == str(NOTES) and len(content) == 200 and content.endswith("…")
    assert await app.services.delivery.latest_skipped("wechat") == []


async def test_a_replayed_forged_or_cancelled_return_records_no_consent(
    wx: Server, app: App, shop: Shop
) -> None:
    links = await _consent_links(wx, app, shop)
    wx.fake.consenting = ANA
    status, _, returned = await _open(links[NEWS])
    assert status == 200
    assert (await _open(returned))[0] == 200  # a reload: "used already"
    assert await app.services.fallbacks.consents_left("wechat", ANA, NEWS) == 1

    forged = returned.replace(ANA, BEN)  # Ana's signed link presented for Ben
    assert (await _open(forged))[0] == 400
    tampered = re.sub(r"reserved=[^&]+", "reserved=0-0.deadbeef", returned)
    assert (await _open(tampered))[0] == 400
    assert await app.services.fallbacks.consents_left("wechat", BEN, NEWS) == 0

    wx.fake.consent_action = "cancel"
    links = await _consent_links(wx, app, shop)
    assert (await _open(links[NEWS]))[0] == 200
    assert await app.services.fallbacks.consents_left("wechat", ANA, NEWS) == 1


async def test_a_link_older_than_a_day_is_refused(wx: Server, app: App, shop: Shop) -> None:
    links = await _consent_links(wx, app, shop)
    wx.fake.consenting = ANA
    made = wx.adapter.outside._now
    wx.adapter.outside._now = lambda: made() + 86400 + 60
    assert (await _open(links[NEWS]))[0] == 400
    assert await app.services.fallbacks.consents_left("wechat", ANA, NEWS) == 0


async def test_notifyme_says_what_is_missing(wx: Server, app: App, shop: Shop) -> None:
    answer = await wx.say(ANA, "/notifyme")
    assert "/notifyme" not in answer and "http" not in answer
    await app.services.templates.set(shop.community, shop.mei, "subscribe", "sub", [])
    wx.adapter.outside.base_url = None  # no public address to come back to: no links
    answer = await wx.say(ANA, "/notifyme")
    assert "http" not in answer
