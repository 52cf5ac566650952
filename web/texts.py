"""Every label a page shows, as catalog messages (the bot's catalogs; `make i18n` finds them)."""

from __future__ import annotations

from core.analytics import labels as analytics_labels
from core.i18n import Msg, msg, render

LABELS: dict[str, Msg] = {
    "dashboard": msg("Dashboard"),
    "overview": msg("Overview"),
    "sessions": msg("Sessions"),
    "sign_out": msg("Sign out"),
    "language": msg("Language"),
    "change": msg("Change"),
    "members": msg("Members"),
    "active_7": msg("Active in the last 7 days"),
    "active_30": msg("Active in the last 30 days"),
    "revenue_month": msg("Revenue this month"),
    "mrr": msg("MRR"),
    "churn": msg("Monthly churn"),
    "funnel": msg("Funnel"),
    "currency": msg("Currency"),
    "no_revenue": msg("No revenue yet."),
    "recompute": msg("Recompute now"),
    "creators_only": msg("The overview is for creators."),
    "device": msg("Browser"),
    "signed_in": msg("Signed in"),
    "last_seen": msg("Last seen"),
    "this_device": msg("this browser"),
    "revoke": msg("Sign out this browser"),
    "revoke_all": msg("Sign out everywhere"),
    "no_sessions": msg("No other sessions."),
    "refused": msg("Not allowed"),
    "sign_in_again": msg("Send /dashboard to the bot in a private chat for a sign-in link."),
    "back": msg("Back to the dashboard"),
    "settings": msg("Settings"),
    "allowed": msg("Allowed"),
    "save": msg("Save"),
    "on": msg("on"),
    "off": msg("off"),
    "not_saved": msg("Nothing was changed."),
    "audit": msg("Audit log"),
    "when": msg("When"),
    "by": msg("By"),
    "member": msg("Member"),
    "points": msg("Points"),
    "action": msg("Action"),
    "reason": msg("Reason"),
    "all": msg("All"),
    "filter": msg("Filter"),
    "older": msg("Older entries"),
    "newest": msg("Newest entries"),
    "no_entries": msg("No awards, deductions or corrections yet."),
}
STEPS = analytics_labels.STEPS  # the funnel's steps, as /stats words them
KINDS: dict[str, Msg] = {
    "award": msg("award"),
    "deduct": msg("deduction"),
    "reversal": msg("correction"),
}
NOT_SIGNED_IN = msg("You are not signed in.")
FORM_EXPIRED = msg("This form has expired. Reload the page and try again.")
SIGNED_OUT = msg("You are signed out.")
CREATORS_ONLY = msg("This page is for creators.")
ON_OR_OFF = msg("on or off")
BAD_ADDRESS = msg("This page's address is not valid.")
NOT_FOUND = msg("There is no such page.")
ALREADY_SENT = msg("This form was sent already and is still being handled. Reload the page in a moment.")


def whole_number(minimum: int, maximum: int, locale: str) -> str:
    return render(msg("a whole number from {minimum} to {maximum}", minimum=minimum, maximum=maximum), locale)


def saved(key: str, value: object) -> Msg:
    """The confirmation /rules set gives, word for word."""
    return msg("{key} is now {value}.", key=key, value=value)


def labels(locale: str) -> dict[str, str]:
    return {key: render(text, locale) for key, text in LABELS.items()}


def computed_at(when: str, locale: str) -> str:
    return render(msg("Computed at {when}", when=when), locale)
