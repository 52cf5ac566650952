"""bot/handlers/wechat.py: /wechat templates for creators and /notifyme for followers, through
the console (the WeChat side runs in tests/test_wechat_outside.py against the OA fake)."""

from __future__ import annotations

from bot.app import App
from tests.conftest import ConsoleDriver


async def test_a_creator_maps_notices_to_templates_and_reads_them_back(
    console: ConsoleDriver, app: App
) -> None:
    await console(":as Mei creator")
    listing = await console.text("/wechat templates")
    assert "payment received (payment_received): no template · fields: order, title, amount, date" in listing
    assert "Subscribe messages (/notifyme): off" in listing
    said = await console.text("/wechat template refund_done Rf_1-x thing1=title amount2=amount")
    assert "refund_done now goes by template Rf_1-x after the 48-hour window." in said
    assert "thing1=title amount2=amount" in said
    assert "Subscribe messages use template Sub9" in await console.text("/wechat subscribe Sub9")
    listing = await console.text("/wechat")
    assert "refund done (refund_done): Rf_1-x · thing1=title amount2=amount" in listing
    assert "Subscribe messages (/notifyme): Sub9" in listing
    community = await app.community()
    mapped = await app.services.templates.all(community.id)
    assert mapped["refund_done"].keywords == (("thing1", "title"), ("amount2", "amount"))
    assert "only within the 48-hour window" in await console.text("/wechat template refund_done off")
    assert "refund_done had no template." in await console.text("/wechat template refund_done off")
    assert "/notifyme offers no links" in await console.text("/wechat subscribe off")
    assert await app.services.templates.all(community.id) == {}


async def test_bad_mappings_are_refused_with_what_is_wrong_and_change_nothing(
    console: ConsoleDriver, app: App
) -> None:
    await console(":as Mei creator")
    cases = {
        "/wechat template refund_done T1 first=title": "WeChat no longer shows first",
        "/wechat template refund_done T1 remark=amount": "WeChat no longer shows remark",
        "/wechat template refund_done T1 thing1=price": (
            "refund_done has the fields order, title, amount, date, not price"
        ),
        "/wechat template refund_done T1 thing1": "thing1 is not KEYWORD=FIELD",
        "/wechat template refund_done T1 a=title a=amount": "a is mapped twice.",
        "/wechat template refund_done T1": "Map 1 to 5 keywords, like thing1=title.",
        "/wechat template refund_done bad!id thing1=title": "A template id is letters, digits",
        "/wechat template birthday T1 thing1=title": "Unknown notice birthday",
        "/wechat subscribe T1 thing1=title": "Usage:",
        "/wechat frobnicate": "Usage:",
    }
    for command, refusal in cases.items():
        assert refusal in await console.text(command), command
    assert await app.services.templates.all((await app.community()).id) == {}


async def test_only_creators_set_templates(console: ConsoleDriver) -> None:
    await console(":as Mei creator", ":as Sam moderator")
    assert "Only creators can use /wechat." in await console.text(
        "/wechat template refund_done T1 thing1=title"
    )
    await console(":as Ana")
    assert "Only creators can use /wechat." in await console.text("/wechat")


async def test_notifyme_elsewhere_says_it_is_for_wechat(console: ConsoleDriver) -> None:
    await console(":as Ana")
    assert "This is for WeChat" in await console.text("/notifyme")
