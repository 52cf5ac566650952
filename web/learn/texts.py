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
}
NO_LESSONS = msg("The lessons are being written.")


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
