"""The words analytics results are shown in (chat replies and dashboard pages alike): the
clusters' traits and the funnel's steps, as catalog messages keyed by the plain words the
analysis produces."""

from __future__ import annotations

from core.i18n import Msg, msg

TRAITS: dict[str, Msg] = {
    "recently active": msg("recently active"),
    "lapsing": msg("lapsing"),
    "long inactive": msg("long inactive"),
    "frequent": msg("frequent"),
    "rare": msg("rare"),
    "high spend": msg("high spend"),
    "no purchases": msg("no purchases"),
    "highly engaged": msg("highly engaged"),
}
STEPS: dict[str, Msg] = {
    "joined": msg("joined"),
    "active": msg("active"),
    "first purchase": msg("first purchase"),
    "repeat purchase": msg("repeat purchase"),
}
