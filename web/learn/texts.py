"""The labels of the learner's pages, as catalog messages (`make i18n` finds them)."""

from __future__ import annotations

from core.i18n import Msg, msg, nmsg, render

LABELS: dict[str, Msg] = {
    "language": msg("Language"),
    "lessons": msg("Lessons"),
    "price": msg("Price"),
    "reviews": msg("Reviews"),
    "no_reviews": msg("No reviews yet."),
    "open_telegram": msg("Open in Telegram"),
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
}
NO_LESSONS = msg("The lessons are being written.")
FORM_EXPIRED = msg("This form has expired. Reload the page and try again.")
SIGNED_OUT = msg("You are signed out.")
SIGN_IN_FIRST = msg("Send /web to the bot in a private chat for a sign-in link.")
OPEN_FROM_BOT = msg("Open this page from the bot in Telegram.")
NO_WECHAT = msg("Signing in with WeChat is not set up here.")
WECHAT_REFUSED = msg("WeChat did not confirm who you are. Open the page again from the Official Account.")


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
