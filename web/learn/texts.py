"""The labels of the learner's pages, as catalog messages (`make i18n` finds them)."""

from __future__ import annotations

from core.catalog.money import Money
from core.i18n import Msg, msg, nmsg, render

LABELS: dict[str, Msg] = {
    "language": msg("Language"),
    "lessons": msg("Lessons"),
    "price": msg("Price"),
    "reviews": msg("Reviews"),
    "no_reviews": msg("No reviews yet."),
    "open_telegram": msg("Open in Telegram"),
    "open_discord": msg("Open in Discord"),
    "open_wechat": msg("Scan with WeChat to follow the Official Account"),
    "at_once": msg("available at once"),
    "in_bundles": msg("Also in"),
    "not_found_title": msg("Not found"),
    "not_found": msg("There is no such course here. It may have been hidden or renamed."),
    "error_title": msg("Something went wrong"),
    "powered_by": msg("A learning community on studyhall"),
    "stars": msg("stars"),
    "your_page": msg("Your page"),
    "your_courses": msg("Your courses"),
    "no_courses": msg("No courses yet."),
    "your_orders": msg("Your orders"),
    "no_orders": msg("No orders yet."),
    "your_points": msg("Your points"),
    "invite": msg("Your invitation link"),
    "sign_out": msg("Sign out"),
    "signing_in": msg("Signing you in…"),
    "previous": msg("Previous lesson"),
    "next": msg("Next lesson"),
    "mark_done": msg("Mark as done"),
    "is_done": msg("Done"),
    "download": msg("Download"),
    "buy": msg("Buy"),
    "checkout": msg("Checkout"),
    "coupon": msg("Coupon code (optional)"),
    "continue": msg("Continue to payment"),
    "pay_with_points": msg("Pay with points"),
    "use_points": msg("Points toward the price (optional)"),
    "includes": msg("Includes"),
    "pay": msg("Pay"),
    "pay_sandbox": msg("Pay (sandbox)"),
    "cancel_order": msg("Cancel the order"),
    "status": msg("Status"),
    "ordered": msg("Ordered"),
    "before_coupon": msg("before the coupon"),
    "before_discounts": msg("before the coupon and points"),
    "points_paid": msg("Points"),
    "open": msg("Start learning"),
    "stars_paid": msg("Payment received. Delivering…"),
    "memberships": msg("Your memberships"),
    "stop_renewing": msg("Stop renewing"),
    "resume": msg("Keep renewing"),
    "renew": msg("Renew"),
}
NO_LESSONS = msg("The lessons are being written.")
FORM_EXPIRED = msg("This form has expired. Reload the page and try again.")
SIGNED_OUT = msg("You are signed out.")
SIGN_IN_FIRST = msg("Send /web to the bot in a private chat for a sign-in link.")
OPEN_FROM_BOT = msg("Open this page from the bot in Telegram.")
NO_WECHAT = msg("Signing in with WeChat is not set up here.")
WECHAT_REFUSED = msg("WeChat did not confirm who you are. Open the page again from the Official Account.")

SANDBOX_NOTE = msg("Sandbox payment: nothing is charged.")
PAY_IN_CHAT = msg("This order is paid in the chat with the bot.")
BACK_PAID = msg(
    "Thank you! Your payment is being confirmed: this page shows it once it arrives,"
    " and the bot tells you in the chat."
)
BACK_CANCELLED = msg("Payment cancelled: nothing was charged. You can pay while the order is open.")
PAID = msg(
    "Thank you! Your payment is being confirmed. The bot tells you in the chat when your purchase is ready."
)
CANCELLED = msg("Payment cancelled: nothing was charged. Send /orders to the bot to see your order.")


def labels(locale: str) -> dict[str, str]:
    return {key: render(text, locale) for key, text in LABELS.items()}


def how_to_buy(code: str) -> Msg:
    return msg("To buy it, send /buy {code} to the bot.", code=code)


def points_price(points: int) -> Msg:
    return nmsg("or {n} point", "or {n} points", points)


def opens_on_day(day: int) -> Msg:
    return nmsg("opens {n} day after you buy it", "opens {n} days after you buy it", day)


def rating_line(average: float, count: int) -> Msg:
    return nmsg(
        "{average} out of 5, from {n} review",
        "{average} out of 5, from {n} reviews",
        count,
        average=f"{average:.1f}",
    )


def progress(done: int, total: int) -> Msg:
    return nmsg("{done} of {n} lesson done", "{done} of {n} lessons done", total, done=done)


def points(balance: int) -> Msg:
    return nmsg("{n} point", "{n} points", balance)


def lesson_heading(position: int, total: int, title: str) -> Msg:
    return msg("Lesson {n} of {total}: {title}", n=position, total=total, title=title)


def opens_on(date: str) -> Msg:
    return msg("This lesson opens on {date}.", date=date)


def finished(title: str) -> Msg:
    return msg("You have finished {title}. Well done!", title=title)


def every_period(period: Msg) -> Msg:
    return msg("every {period}", period=period)


def trial_days(days: int) -> Msg:
    return nmsg("It starts with a free trial of {n} day.", "It starts with a free trial of {n} days.", days)


def offset_terms(balance: int, percent: int, rate: int, one: Money) -> Msg:
    """How points may pay part of a price, under the checkout's points field."""
    return nmsg(
        "You have {n} point. Points pay up to {percent}%; {rate} points make {one}."
        " Type all to use as many as allowed.",
        "You have {n} points. Points pay up to {percent}%; {rate} points make {one}."
        " Type all to use as many as allowed.",
        balance,
        percent=percent,
        rate=rate,
        one=one,
    )


def offset_paid(points: int, amount: Money) -> Msg:
    return nmsg("{n} point pays {amount}.", "{n} points pay {amount}.", points, amount=amount)


def owned_already(titles: str) -> Msg:
    return msg("You own already: {titles}. The bundle price stays the same.", titles=titles)


def order_heading(order_id: int, title: str) -> Msg:
    return msg("Order #{id}: {title}", id=order_id, title=title)


def open_until(when: str) -> Msg:
    return msg("Open for payment until {date}.", date=when)


def membership_until(date: str, live: bool, stopped: bool, status: str) -> Msg:
    if not live:
        return msg("ended on {date}", date=date)
    if stopped or status == "trial":
        return msg("access until {date}", date=date)
    return msg("renews on {date}", date=date)
