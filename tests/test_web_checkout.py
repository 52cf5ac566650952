"""web/learn/checkout.py over HTTP: a signed-in learner buys on the web the way /buy and
/subscribe buy in the chat (the same order, coupon, points and plan rules), pays through the
order's provider (the demo's sandbox here, a provider's page by redirect), and comes back to
/paid or /cancelled; only their own orders are theirs to see, pay or cancel."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

from bot.config import Config, Secret
from bot.payments.wechatpay_setup import wechatpay_provider
from core.catalog.money import Money
from core.clock import ManualClock
from core.events import UserRef
from core.orders.models import Checkout, Order, Status
from core.web_sessions.service import Scope
from tests.conftest import open_shop
from tests.learner_fixtures import web_link
from tests.mini_app_fixtures import init_data
from tests.web_fixtures import WebWorld, web_world
from tests.wechat_peer import APP_ID, APP_SECRET, FakeWeChat, running_wechat
from tests.wechatpay_peer import FakeWeChatPay, merchant_keys_for, running_wechatpay

WECHAT_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.50 NetType/WIFI"


async def signed_in(world: WebWorld, name: str = "Ana") -> None:
    response = await world.client.get(await web_link(world, name), allow_redirects=False)
    assert response.status == 303


async def hidden_fields(world: WebWorld, page: str) -> dict[str, str]:
    html = await (await world.client.get(page)).text()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    key = re.search(r'name="form_key" value="([\w-]+)"', html)
    assert csrf, html
    return {"csrf": csrf.group(1), **({"form_key": key.group(1)} if key else {})}


async def add_sql_course(world: WebWorld, *extra: str) -> None:
    await world.console(
        ":as Mei", "/course add sql201 10 USD SQL in practice", "/coupon add SPRING15 15%", *extra
    )


async def test_buying_with_a_coupon_makes_the_chats_order_and_the_sandbox_delivers_it_in_the_chat(
    learners: WebWorld,
) -> None:
    await add_sql_course(learners)
    await signed_in(learners)
    page = await (await learners.client.get("/buy/sql201")).text()
    assert "<h1>Checkout: SQL in practice</h1>" in page and "$10.00" in page

    fields = await hidden_fields(learners, "/buy/sql201")
    made = await learners.client.post(
        "/buy/sql201", data={**fields, "coupon": "spring15"}, allow_redirects=False
    )
    assert made.status == 303
    path = made.headers["Location"]
    assert re.fullmatch(r"/me/orders/\d+", path)
    order_id = int(path.rsplit("/", 1)[1])
    order = await learners.app.services.orders.get(order_id)
    assert (order.amount, order.list_minor, order.provider, order.status) == (
        Money("USD", 850),
        1000,
        "sandbox",
        Status.PENDING,
    )
    assert order.coupon_id is not None

    shown = await (await learners.client.get(path)).text()
    assert 'id="amount">$8.50 <s>$10.00</s>' in shown and 'id="status">awaiting payment<' in shown
    assert "Sandbox payment: nothing is charged." in shown

    before = len(learners.console.printed())
    paid = await learners.client.post(
        f"{path}/sandbox", data=await hidden_fields(learners, path), allow_redirects=False
    )
    assert paid.status == 303 and paid.headers["Location"] == path
    delivered = await (await learners.client.get(path)).text()
    assert (
        'id="status">delivered<' in delivered
        and '<a href="/learn/sql201/1">Start learning: SQL in practice</a>' in delivered
    )
    told = "\n".join(learners.console.printed()[before:])
    assert f"Payment received for order #{order_id}: SQL in practice." in told

    again = await learners.client.post(
        f"{path}/sandbox", data=await hidden_fields(learners, "/me"), allow_redirects=False
    )
    assert again.status == 303  # paying twice changes nothing
    assert (await learners.app.services.orders.get(order_id)).status is Status.FULFILLED


async def test_a_refused_order_shows_why_on_the_form_and_makes_nothing(learners: WebWorld) -> None:
    await add_sql_course(learners)
    await signed_in(learners)
    fields = await hidden_fields(learners, "/buy/sql201")
    before = await learners.app.services.orders.of_member(await member(learners, "Ana"))

    unknown = await learners.client.post("/buy/sql201", data={**fields, "coupon": "NOPE"})
    owned = await learners.client.post("/buy/py101", data=fields)

    assert unknown.status == 422 and 'id="error">' in await unknown.text()
    assert owned.status == 422 and "You already own Python for data analysis" in await owned.text()
    assert await learners.app.services.orders.of_member(await member(learners, "Ana")) == before
    reader = await learners.client.get("/buy/py101", allow_redirects=False)
    assert reader.status == 303 and reader.headers["Location"] == "/learn/py101/1"


async def test_a_course_with_a_points_price_is_paid_with_points_once_per_form(learners: WebWorld) -> None:
    await add_sql_course(learners, "/course edit sql201 points 15")
    await signed_in(learners)
    fields = await hidden_fields(learners, "/buy/sql201")
    assert "Pay with points: 15 points" in await (await learners.client.get("/buy/sql201")).text()

    bought = await learners.client.post(
        "/buy/sql201", data={**fields, "pay": "points"}, allow_redirects=False
    )
    again = await learners.client.post("/buy/sql201", data={**fields, "pay": "points"})

    assert bought.status == 303 and bought.headers["Location"] == "/learn/sql201/1"
    assert again.status == 422
    ana = await member(learners, "Ana")
    community = await learners.app.community()
    assert (await learners.app.services.ledger.balance(community.id, ana.id)).balance == 19 - 15


async def test_a_plan_starts_its_trial_or_makes_an_order(learners: WebWorld) -> None:
    await learners.console(
        ":as Mei", "/plan add monthly 9.99 USD month trial=7 Monthly", "/plan add yearly 99 USD year Yearly"
    )
    await signed_in(learners)
    page = await (await learners.client.get("/buy/monthly")).text()
    assert "$9.99</strong> every month" in page and "free trial of 7 days" in page

    trial = await learners.client.post(
        "/buy/monthly", data=await hidden_fields(learners, "/buy/monthly"), allow_redirects=False
    )
    yearly = await learners.client.post(
        "/buy/yearly", data=await hidden_fields(learners, "/buy/yearly"), allow_redirects=False
    )

    assert trial.status == 303 and trial.headers["Location"] == "/me"
    assert yearly.status == 303 and yearly.headers["Location"].startswith("/me/orders/")
    order = await learners.app.services.orders.get(int(yearly.headers["Location"].rsplit("/", 1)[1]))
    assert (order.product_kind, order.amount) == ("plan", Money("USD", 9900))


async def test_only_the_buyer_sees_pays_or_cancels_an_order(learners: WebWorld) -> None:
    ben = await member(learners, "Ben")
    bens = (await learners.app.services.orders.of_member(ben))[0]
    assert (await learners.client.get(f"/me/orders/{bens.id}", allow_redirects=False)).status == 401
    await signed_in(learners)
    fields = await hidden_fields(learners, "/me")

    assert (await learners.client.get(f"/me/orders/{bens.id}")).status == 404
    assert (await learners.client.post(f"/me/orders/{bens.id}/cancel", data=fields)).status == 404
    assert (await learners.client.post(f"/me/orders/{bens.id}/sandbox", data=fields)).status == 404
    await add_sql_course(learners)
    made = await learners.client.post("/buy/sql201", data=fields, allow_redirects=False)
    path = made.headers["Location"]
    assert (await learners.client.post(f"{path}/cancel", data={"csrf": "0" * 64})).status == 403

    cancelled = await learners.client.post(f"{path}/cancel", data=fields, allow_redirects=False)
    assert cancelled.status == 303
    assert 'id="status">cancelled<' in await (await learners.client.get(path)).text()


async def test_the_pay_button_goes_to_the_providers_page(learners: WebWorld) -> None:
    learners.app.services.orders.register(PageProvider(), first=True)
    await add_sql_course(learners)
    await signed_in(learners)
    fields = await hidden_fields(learners, "/buy/sql201")
    path = (await learners.client.post("/buy/sql201", data=fields, allow_redirects=False)).headers["Location"]
    page = await learners.client.get(path)
    assert 'data-provider="page"' in await page.text()
    assert "form-action 'self' https:" in page.headers["Content-Security-Policy"]

    pay = await learners.client.post(f"{path}/pay", data=fields, allow_redirects=False)
    asked = await learners.client.post(f"{path}/pay", data=fields, headers={"Accept": "application/json"})

    order_id = int(path.rsplit("/", 1)[1])
    assert pay.status == 303 and pay.headers["Location"] == f"https://pay.example/{order_id}"
    assert await asked.json() == {"url": f"https://pay.example/{order_id}"}


async def test_coming_back_from_the_provider(learners: WebWorld) -> None:
    ben = await member(learners, "Ben")
    bens = (await learners.app.services.orders.of_member(ben))[0]
    anonymous = await learners.client.get(f"/paid?order={bens.id}")
    assert anonymous.status == 200 and "Your payment is being confirmed" in await anonymous.text()
    assert f"#{bens.id}" not in await anonymous.text()

    await signed_in(learners)
    ana = await member(learners, "Ana")
    mine = (await learners.app.services.orders.of_member(ana))[0]
    back = await learners.client.get(f"/cancelled?order={mine.id}", allow_redirects=False)
    assert back.status == 303 and back.headers["Location"] == f"/me/orders/{mine.id}?back=cancelled"
    not_mine = await learners.client.get(f"/paid?order={bens.id}", allow_redirects=False)
    assert not_mine.status == 200
    odd = await learners.client.get("/paid?order=%C2%B2", allow_redirects=False)
    assert odd.status == 200


async def member(world: WebWorld, name: str):  # type: ignore[no-untyped-def]
    community = await world.app.community()
    found = await world.app.services.members.find_by_identity(community.id, "console", name.lower())
    assert found is not None
    return found


class PageProvider:
    """A provider whose payment page is elsewhere (as Stripe Checkout is)."""

    name = "page"

    def accepts(self, currency: str) -> bool:
        return currency == "USD"

    async def start(self, order: Order) -> Checkout:
        from core.i18n import msg

        return Checkout(msg("Pay"), url=f"https://pay.example/{order.id}")

    async def refund(self, order: Order, amount_minor: int) -> str:
        return "refund"


async def buy_and_read(world: WebWorld) -> str:
    """Buy sql201 on the web with the sandbox, then open its first lesson: the lesson's page."""
    fields = await hidden_fields(world, "/buy/sql201")
    path = (await world.client.post("/buy/sql201", data=fields, allow_redirects=False)).headers["Location"]
    await world.client.post(f"{path}/sandbox", data=await hidden_fields(world, path), allow_redirects=False)
    return await (await world.client.get("/learn/sql201/1")).text()


async def test_in_telegrams_mini_app_a_learner_buys_and_reads(learners: WebWorld, clock: ManualClock) -> None:
    await add_sql_course(learners)
    community = await learners.app.community()
    mei = await member(learners, "Mei")
    await learners.app.services.catalog.add_lesson(community, mei, "sql201", "Select", "SELECT 1;")
    signed = await learners.client.post(
        "/learn/telegram", data={"init_data": init_data(signed_at=clock.now())}, allow_redirects=False
    )
    assert signed.status == 303

    assert "SELECT 1;" in await buy_and_read(learners)


async def test_in_wechats_h5_page_a_follower_buys_and_reads(config: Config, clock: ManualClock) -> None:
    fake = FakeWeChat()
    async with running_wechat(fake) as base:
        wechat = {"wechat": {"app_id": APP_ID, "app_secret": Secret(APP_SECRET), "api_base": base}}
        async with web_world(config, clock, adapter_settings=wechat) as world:
            await open_shop(world.app)
            await add_sql_course(world)
            community = await world.app.community()
            mei = await member(world, "Mei")
            await world.app.services.catalog.add_lesson(community, mei, "sql201", "Select", "SELECT 1;")
            start = await world.client.get(
                "/learn/wechat", params={"next": "/buy/sql201"}, allow_redirects=False
            )
            state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
            fake.oauth_codes["code-1"] = "o_follower_0042"
            back = await world.client.get(
                "/learn/wechat",
                params={"code": "code-1", "state": state, "next": "/buy/sql201"},
                allow_redirects=False,
            )
            assert back.status == 303 and back.headers["Location"] == "/buy/sql201"

            assert "SELECT 1;" in await buy_and_read(world)
            follower = await world.app.services.members.find_by_identity(
                community.id, "wechat", "o_follower_0042"
            )
            assert follower is not None
            [order] = await world.app.services.orders.of_member(follower)
            assert order.status is Status.FULFILLED


async def test_wechat_pay_on_the_order_page_in_place_inside_wechat_and_by_qr_code_elsewhere(
    learners: WebWorld,
) -> None:
    fake = FakeWeChatPay()
    async with running_wechatpay(fake) as base:
        keys = merchant_keys_for(fake, base, "https://learn.example.org/wechatpay/notify")
        provider = wechatpay_provider(learners.app, keys)
        learners.app.services.orders.register(provider, first=True)
        try:
            await learners.console(":as Mei", "/course add zh101 99 CNY 数据分析入门")
            community = await learners.app.community()
            follower = await learners.app.services.members.ensure_member(
                community, UserRef("wechat", "o_follower_7", "微信用户")
            )
            link = await learners.app.services.web_sessions.login_link(community, follower, Scope.LEARNER)
            await learners.client.get(urlsplit(link).path, allow_redirects=False)
            fields = await hidden_fields(learners, "/buy/zh101")
            made = await learners.client.post("/buy/zh101", data=fields, allow_redirects=False)
            path = made.headers["Location"]

            inside = await (await learners.client.get(path, headers={"User-Agent": WECHAT_UA})).text()
            outside = await (await learners.client.get(path)).text()
            image = await learners.client.get(f"{path}/qr.png")
        finally:
            await provider.client.close()

    found = re.search(r'id="wechat-pay" data-client="([^"]+)"', inside)
    assert found, inside
    client = json.loads(html.unescape(found.group(1)))
    assert client["appId"] == fake.appid and client["package"].startswith("prepay_id=wx")
    order_id = path.rsplit("/", 1)[1]
    assert fake.orders[f"studyhall-{order_id}-j"].request["payer"] == {"openid": "o_follower_7"}
    assert f'<img src="{path}/qr.png" width="240"' in outside and "Scan the code with WeChat" in outside
    assert image.status == 200 and (await image.read())[:4] == b"\x89PNG"


async def test_points_pay_part_of_the_price_as_usepoints_does_in_the_chat(learners: WebWorld) -> None:
    await add_sql_course(
        learners, "/rules set points.offset_rate 100", "/rules set points.offset_max_percent 20"
    )
    await signed_in(learners)
    await learners.console(":as Mei", "/award @Ana 150 thanks for the notes")
    community = await learners.app.community()
    ana = await learners.app.services.members.find_by_identity(community.id, "console", "ana")
    assert ana is not None
    have = (await learners.app.services.ledger.balance(community.id, ana.id)).balance
    assert 150 <= have < 200
    page = html.unescape(await (await learners.client.get("/buy/sql201")).text())
    assert f"You have {have} points. Points pay up to 20%; 100 points make $1.00." in page

    fields = await hidden_fields(learners, "/buy/sql201")
    refused = await learners.client.post("/buy/sql201", data={**fields, "use_points": "500"})
    assert refused.status == 422
    refusal = f"at most 200 points toward $10.00 (that is 20%), and you have {have}"
    assert refusal in html.unescape(await refused.text())
    typo = await learners.client.post("/buy/sql201", data={**fields, "use_points": "lots"})
    assert "Type a number of points, or all." in await typo.text()

    made = await learners.client.post(
        "/buy/sql201", data={**fields, "use_points": "all"}, allow_redirects=False
    )
    path = made.headers["Location"]
    order = await learners.app.services.orders.get(int(path.rsplit("/", 1)[1]))
    assert (order.offset_points, order.amount) == (have, Money("USD", 1000 - have))
    shown = html.unescape(await (await learners.client.get(path)).text())
    assert f'id="offset">{have} points pay ${have / 100:.2f}.' in shown
    assert f'id="amount">${(1000 - have) / 100:.2f} <s>$10.00</s>' in shown
