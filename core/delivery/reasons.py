"""Why a message was not delivered, in words (the /undelivered reply and the dashboard)."""

from __future__ import annotations

from core.i18n import Msg, msg

PLATFORMS = ("wechat",)  # the platforms whose sends are budgeted
REASONS: dict[str, Msg] = {
    "no_contact": msg("never wrote to the account"),
    "window_closed": msg("48 hours passed since their last message"),
    "quota_used": msg("messages allowed since their last message used up"),
    "unfollowed": msg("unfollowed the account"),
    "unknown_openid": msg("unknown follower"),
    "daily_quota": msg("the account's daily quota was reached"),
    "no_consent": msg("had not allowed a message after 48 hours"),
    "bad_template": msg("WeChat refused the template: check /wechat templates"),
    "refused": msg("the platform refused it"),
    "failed": msg("the platform could not be reached"),
}
