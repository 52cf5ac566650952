"""bot/adapters/telegram/adapter.py end to end for four learner-facing systems: the real PTB
Application running the real adapter against the telegram-test-api Bot API emulator, driven as
tests/test_telegram_adapter.py drives it (its ``emulator`` and ``running`` fixtures, its ``Chat``).

Points paying part of a price (/buy CODE usepoints [N], and a refusal naming the cap and the
balance), channel attribution (/channel add gives the t.me start link; /start src_TAG records the
touches), feedback and NPS (/feedback reaches the staff's private chats, /feedback answer the
learner's; a survey answered by pressing its button), and recommendations (/recommend, and a
pick's Buy button)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.telegram.adapter import TelegramAdapter
from bot.app import App
from core.catalog.money import Money
from core.members.models import Member, Role
from core.orders.tables import orders
from tests import test_telegram_adapter as adapter_tests
from tests.conftest import open_shop, snapshot
from tests.test_orders_offsets import _give
from tests.test_recommend_service import _catalog, _crowd, _own
from tests.test_telegram_adapter import ANA, LI, Chat, _private

pytestmark = adapter_tests.pytestmark  # skipped as those are where the emulator is not installed
emulator, running = adapter_tests.emulator, adapter_tests.running  # the same fixtures

MEI = {"id": 1003, "is_bot": False, "first_name": "Mei", "username": "mei", "language_code": "en"}
BO = {"id": 1004, "is_bot": False, "first_name": "Bo", "username": "bo", "language_code": "en"}
Running = tuple[TelegramAdapter, Chat]


async def _forget(chat: Chat, *users: dict[str, Any]) -> None:
    """Drop what earlier tests left for these users' private chats on the shared emulator."""
    for user in users:
        await chat.bot_messages(user["id"], expected=0, wait=0)


async def _say(chat: Chat, user: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """``user`` sends ``text`` in their private chat: what the bot sent back there."""
    await chat.send(user, _private(user), text)
    return await chat.bot_messages(user["id"])


async def _press(chat: Chat, user: dict[str, Any], message: dict[str, Any], label: str) -> None:
    """``user`` presses the button labelled ``label`` under ``message`` in their private chat."""
    buttons = [button for row in message["reply_markup"]["inline_keyboard"] for button in row]
    data = next(button["callback_data"] for button in buttons if button["text"] == label)
    pressed_on = {"message_id": 1, "date": 0, "chat": _private(user), "text": message["text"]}
    await chat.press(user, pressed_on, data)


async def _member(app: App, user: dict[str, Any]) -> Member:
    community = await app.community()
    found = await app.services.members.find_by_identity(community.id, "telegram", str(user["id"]))
    assert found is not None
    return found


async def _creator(app: App, chat: Chat, user: dict[str, Any] = MEI) -> Member:
    """``user`` has started the bot in a private chat and is a creator."""
    await _forget(chat, user)
    await _say(chat, user, "/start")
    community = await app.community()
    return await app.services.members.assign_role(community, await _member(app, user), Role.CREATOR, via="t")


async def _balance(app: App, member: Member) -> int:
    return (await app.services.ledger.balance(member.community_id, member.id)).balance


async def _order(app: App, order_id: int) -> tuple[int, int, int, str, str]:
    """The order's (amount_minor, offset_points, offset_minor, offset_state, status)."""
    t = orders.c
    query = select(t.amount_minor, t.offset_points, t.offset_minor, t.offset_state, t.status)
    async with app.db.read() as conn:
        row = (await conn.execute(query.where(t.id == order_id))).one()
    return row.amount_minor, row.offset_points, row.offset_minor, row.offset_state, row.status


# -- points toward a price --------------------------------------------------------------------


async def test_points_pay_part_of_a_price_and_are_spent_when_it_is_paid(running: Running) -> None:
    adapter, chat = running
    app = adapter.app
    await _creator(app, chat)
    (added,) = await _say(chat, MEI, "/course add py101 19.99 USD Python for data analysis")
    assert added["text"].startswith("Course py101 added: Python for data analysis, $19.99.")
    (rate,) = await _say(chat, MEI, "/rules set points.offset_rate 100")  # 100 points make $1
    (cap,) = await _say(chat, MEI, "/rules set points.offset_max_percent 30")
    assert (rate["text"], cap["text"]) == (
        "points.offset_rate is now 100.",
        "points.offset_max_percent is now 30.",
    )
    await _say(chat, ANA, "/start")
    ana = await _member(app, ANA)
    await _give(app, ana, 400)

    (checkout,) = await _say(chat, ANA, "/buy py101 usepoints 250")
    lines = checkout["text"].splitlines()
    assert lines[:2] == [
        "250 points pay $2.50: held until you pay, back to you if the order lapses.",
        "Order #1: Python for data analysis, $17.49. It stays open for 60 minutes.",
    ]
    assert await _order(app, 1) == (1749, 250, 250, "held", "pending")
    assert await _balance(app, ana) == 150  # 250 held in escrow

    await app.send(await app.settle_payment(1, "sandbox", "sandbox:1", Money("USD", 1749)))
    (paid,) = await chat.bot_messages(ANA["id"])  # the payment's notice, in her private chat
    assert paid["text"].startswith("Payment received for order #1: Python for data analysis.")
    assert await _order(app, 1) == (1749, 250, 250, "spent", "fulfilled")
    assert await _balance(app, ana) == 150 + 17  # the purchase earns a point per dollar paid


@pytest.mark.parametrize("wanted", [900, 500])  # over the cap and the balance; over the balance only
async def test_more_points_than_the_cap_or_the_balance_are_refused_with_both_numbers(
    running: Running, wanted: int
) -> None:
    adapter, chat = running
    app = adapter.app
    mei = await _creator(app, chat)
    community = await app.community()
    await app.services.catalog.add_course(community, mei, "py101", Money("USD", 1999), "Python")
    for key, value in (("points.offset_rate", "100"), ("points.offset_max_percent", "30")):
        await app.services.settings.set(community.id, key, value, actor=mei)
    await _say(chat, ANA, "/start")
    ana = await _member(app, ANA)
    await _give(app, ana, 400)
    before = await snapshot(app.db)

    (refused,) = await _say(chat, ANA, f"/buy py101 usepoints {wanted}")
    assert refused["text"] == "You can use at most 599 points toward $19.99 (that is 30%), and you have 400."
    assert await snapshot(app.db) == before  # no order, no points moved

    (checkout,) = await _say(chat, ANA, "/buy py101 usepoints")  # as many as allowed: all 400
    assert "400 points pay $4.00" in checkout["text"]
    assert "Order #1: Python, $15.99." in checkout["text"]
    assert await _order(app, 1) == (1599, 400, 400, "held", "pending")
    assert await _balance(app, ana) == 0


# -- channel attribution ------------------------------------------------------------------------


async def test_a_channels_telegram_link_attributes_a_newcomer_by_first_and_last_touch(
    running: Running,
) -> None:
    adapter, chat = running
    app = adapter.app
    mei = await _creator(app, chat)
    await _forget(chat, BO)
    (made,) = await _say(chat, MEI, "/channel add XHS Xiaohongshu notes")
    assert made["text"].splitlines()[:2] == [
        "<b>Channel xhs (Xiaohongshu notes) is ready. Its entry links:</b>",
        f"Telegram: https://t.me/{adapter.bot.username}?start=src_xhs",  # the bot's name from getMe
    ]
    await _say(chat, MEI, "/channel add wx WeChat moments")

    # Bo opens the link (Telegram sends /start src_xhs), later comes through wx, then an unknown
    # tag, and buys: the purchase counts for xhs by first touch, for wx by last touch.
    for payload in ("src_xhs", "src_wx", "src_nothing"):
        (welcome,) = await _say(chat, BO, f"/start {payload}")
        assert welcome["text"].startswith("<b>Welcome to testhall, Bo!</b>")
    bo = await _member(app, BO)
    assert await app.services.channels.touches_of(bo) == ("xhs", "wx")  # the first touch stays
    await app.services.catalog.add_course(await app.community(), mei, "py101", Money("USD", 1999), "Python")
    (checkout,) = await _say(chat, BO, "/buy py101")
    assert checkout["text"].startswith("Order #1: Python, $19.99.")
    await app.send(await app.settle_payment(1, "sandbox", "sandbox:1", Money("USD", 1999)))
    (paid,) = await chat.bot_messages(BO["id"])
    assert paid["text"].startswith("Payment received for order #1: Python.")

    (report,) = await _say(chat, MEI, "/channels")
    assert report["text"].splitlines() == [
        "<b>Channels, by first touch and by last touch:</b>",
        "<b>Xiaohongshu notes (xhs)</b>",
        "First touch: members 1 · active 1 · buyers 1 · conversion 100% · revenue $19.99",
        "Last touch: members 1 · active 1 · buyers 0 · conversion 0% · revenue 0",  # entered through it
        "<b>WeChat moments (wx)</b>",
        "First touch: members 0 · active 0 · buyers 0 · conversion 0% · revenue 0",
        "Last touch: members 1 · active 1 · buyers 1 · conversion 100% · revenue $19.99",
        "Record spend with /spend add AMOUNT CURRENCY TAG.",
    ]


# -- feedback and NPS -------------------------------------------------------------------------


async def test_feedback_reaches_the_staff_and_the_answer_reaches_the_learner(running: Running) -> None:
    adapter, chat = running
    app = adapter.app
    mei = await _creator(app, chat)
    (thanks,) = await _say(chat, ANA, "/feedback The videos are too quiet")
    assert thanks["text"] == "Thank you! Your feedback #1 is with the team; their answer will come here."
    (told,) = await chat.bot_messages(MEI["id"])  # the creator's private chat
    assert told["text"] == (
        "New feedback #1 from Ana: /feedback answer 1 TEXT replies to them.\nThe videos are too quiet"
    )

    (answered,) = await _say(chat, MEI, "/feedback answer 1 Thanks, louder from lesson 3 on")
    assert answered["text"] == "Answered feedback #1; the answer is on its way to them."
    (answer,) = await chat.bot_messages(ANA["id"])
    assert answer["text"] == "An answer to your feedback #1 in testhall:\nThanks, louder from lesson 3 on"
    ticket = await app.services.feedback.ticket(await app.community(), mei, 1)
    assert (ticket.platform, ticket.status, ticket.text, ticket.answer) == (
        "telegram",
        "answered",
        "The videos are too quiet",
        "Thanks, louder from lesson 3 on",
    )


async def test_an_nps_survey_is_answered_by_pressing_a_button(running: Running) -> None:
    adapter, chat = running
    app = adapter.app
    mei = await _creator(app, chat)
    community = await app.community()
    for key in ("push.quiet_start", "push.quiet_end"):
        await app.services.settings.set(community.id, key, "0", actor=mei)
    await _say(chat, ANA, "/start")

    (preview,) = await _say(chat, MEI, "/push nps all")
    assert preview["text"].startswith("<b>Push #1 to all: a preview</b>")
    await _press(chat, MEI, preview, "Confirm")
    await chat.bot_messages(MEI["id"])  # confirmed
    assert (await app.services.pushes.send_due()).sent == 1  # to Ana (not to its creator)

    (survey,) = await chat.bot_messages(ANA["id"])
    assert survey["text"].startswith("How likely are you to recommend testhall to a friend?")
    labels = [button["text"] for row in survey["reply_markup"]["inline_keyboard"] for button in row]
    assert labels == [str(score) for score in range(11)]
    await _press(chat, ANA, survey, "9")
    (recorded,) = await chat.bot_messages(ANA["id"])
    assert recorded["text"] == "Thank you! Your answer 9 is recorded."
    await _press(chat, ANA, survey, "3")  # a second press does not change it
    (again,) = await chat.bot_messages(ANA["id"])
    assert again["text"] == "You answered this survey already (with 9); thank you!"

    score = await app.services.nps.score(community, mei)
    assert score is not None
    assert (score.survey_id, score.promoters, score.passives, score.detractors) == (1, 1, 0, 0)


# -- recommendations ----------------------------------------------------------------------------


async def test_recommend_lists_picks_with_reasons_and_a_picks_button_buys_it(
    running: Running, app: App
) -> None:
    _adapter, chat = running
    shop = await open_shop(app)
    ids = await _catalog(app, shop)
    await _crowd(app, shop, ids)  # ten took py101 with sql; five took viz with talk
    await _say(chat, ANA, "/start")
    await _own(app, await _member(app, ANA), ids["py101"])

    (picks,) = await _say(chat, ANA, "/recommend")
    assert picks["text"].splitlines() == [
        "<b>Picked for you:</b>",
        "1. SQL for analysts (sql), $9.00",
        "   because learners who took Python for data analysis took this",
        "2. Charts that explain (viz), $9.00",
        "   because popular here: 5 learners took it",
        "3. Public speaking (talk), $9.00",
        "   because popular here: 5 learners took it",
    ]
    labels = [button["text"] for row in picks["reply_markup"]["inline_keyboard"] for button in row]
    assert labels == ["Buy sql", "Buy viz", "Buy talk"]

    await _press(chat, ANA, picks, "Buy sql")
    (checkout,) = await chat.bot_messages(ANA["id"])
    assert checkout["text"].startswith("Order #1: SQL for analysts, $9.00.")


async def test_with_no_history_of_their_own_a_learner_gets_the_popular_courses(
    running: Running, app: App
) -> None:
    """Li has bought nothing: the picks fall back to popularity, in her language (Chinese)."""
    _adapter, chat = running
    await _forget(chat, LI)
    shop = await open_shop(app)  # py101, by the console creator Mei
    ml = await app.services.catalog.add_course(
        shop.community, shop.mei, "ml201", Money("USD", 2999), "Machine learning basics"
    )
    await _own(app, shop.ana, ml.id)
    await _own(app, shop.ben, ml.id)
    await _own(app, shop.ben, shop.course.id)

    (picks,) = await _say(chat, LI, "/recommend")
    assert picks["text"].splitlines() == [
        "<b>为你挑选：</b>",
        "1. Machine learning basics（ml201），US$29.99",
        "   理由：这里很受欢迎：2 位学员学过",  # popular here: 2 learners took it
        "2. Python for data analysis（py101），US$19.99",
        "   理由：这里很受欢迎：1 位学员学过",
    ]
    labels = [button["text"] for row in picks["reply_markup"]["inline_keyboard"] for button in row]
    assert labels == ["购买 ml201", "购买 py101"]
