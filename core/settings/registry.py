"""The settings a community can change, with types, bounds and defaults.

Each package declares its own settings here so ``/rules`` can list and validate all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidInput
from core.i18n import Msg, msg
from core.numbers import parse_whole_number


@dataclass(frozen=True)
class IntSetting:
    key: str
    default: int
    minimum: int
    maximum: int
    help: Msg

    def parse(self, text: str) -> int:
        value = parse_whole_number(
            text.strip(), bound=max(abs(self.minimum), abs(self.maximum)), allow_plus=False
        )
        if value is None:
            raise InvalidInput(msg("{key} takes a whole number, not {value}.", key=self.key, value=text[:30]))
        if not self.minimum <= value <= self.maximum:
            raise InvalidInput(
                msg(
                    "{key} must be between {minimum} and {maximum}.",
                    key=self.key,
                    minimum=self.minimum,
                    maximum=self.maximum,
                )
            )
        return value


@dataclass(frozen=True)
class BoolSetting:
    key: str
    default: bool
    help: Msg

    def parse(self, text: str) -> bool:
        value = text.strip().lower()
        if value in ("on", "yes", "true", "1", "开"):
            return True
        if value in ("off", "no", "false", "0", "关"):
            return False
        raise InvalidInput(msg("{key} takes on or off, not {value}.", key=self.key, value=text[:30]))


Setting = IntSetting | BoolSetting

DAY = 24 * 3600

SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        IntSetting("message.points", 1, 0, 100, msg("points for a qualifying group message")),
        IntSetting("message.min_length", 10, 1, 1000, msg("characters a message needs to earn points")),
        IntSetting("message.cooldown_seconds", 60, 0, DAY, msg("seconds between two earning messages")),
        IntSetting("message.repeat_window", 5, 0, 50, msg("recent own messages a new one must differ from")),
        IntSetting("cap.message", 20, 0, 100_000, msg("daily cap on points from messages")),
        IntSetting("checkin.points", 5, 0, 1000, msg("points for a daily check-in")),
        IntSetting("checkin.streak_bonus", 1, 0, 1000, msg("extra points per day of an unbroken streak")),
        IntSetting("checkin.streak_bonus_max", 10, 0, 10_000, msg("largest streak bonus")),
        IntSetting("cap.checkin", 50, 0, 100_000, msg("daily cap on points from check-ins")),
        IntSetting("cap.award", 500, 0, 1_000_000, msg("daily cap on points a member receives from awards")),
        IntSetting("cap.answer", 100, 0, 1_000_000, msg("daily cap on points from accepted answers")),
        IntSetting("cap.referral", 200, 0, 1_000_000, msg("daily cap on points from referrals")),
        IntSetting("cap.purchase", 100_000, 0, 10_000_000, msg("daily cap on points from purchases")),
        IntSetting("award.budget", 200, 0, 1_000_000, msg("points each moderator may award per day")),
        IntSetting("award.max", 1000, 1, 1_000_000, msg("largest single award or deduction")),
        IntSetting("points.expiry_days", 0, 0, 3650, msg("days after which earned points expire (0: never)")),
        BoolSetting("top.include_staff", False, msg("show moderators and creators on /top")),
        BoolSetting(
            "content.review",
            False,
            msg("lessons by moderators and creators other than the owner wait for the owner's approval"),
        ),
        IntSetting("order.expiry_minutes", 60, 5, 7 * 24 * 60, msg("minutes an unpaid order stays open")),
        IntSetting(
            "points.offset_rate",
            0,
            0,
            1_000_000,
            msg("points worth one unit of a price's currency, paying part of it (0: points pay no part)"),
        ),
        IntSetting(
            "points.offset_max_percent", 50, 0, 100, msg("most of a price, in percent, that points may pay")
        ),
        IntSetting(
            "purchase.points_percent",
            100,
            0,
            10_000,
            msg("purchase points per 100 units of currency spent (100: one point per unit)"),
        ),
        IntSetting(
            "referral.window_days",
            30,
            1,
            365,
            msg("days after first contact in which a referral link still counts"),
        ),
        IntSetting(
            "referral.join_points", 20, 0, 100_000, msg("points to the referrer when the referee takes part")
        ),
        IntSetting(
            "referral.purchase_points",
            50,
            0,
            100_000,
            msg("points to the referrer at the referee's first purchase"),
        ),
        IntSetting(
            "referral.welcome_points", 10, 0, 100_000, msg("points for someone who joins through a link")
        ),
        BoolSetting("referral.staff", False, msg("links of moderators and creators attribute referrals too")),
        IntSetting("commission.hold_days", 14, 0, 365, msg("days a commission is held for refunds")),
        IntSetting(
            "qa.accept_bonus", 10, 0, 10_000, msg("points for an accepted answer, besides the bounty")
        ),
        IntSetting("qa.expire_days", 7, 1, 365, msg("days a question waits for an accepted answer")),
        BoolSetting("qa.escalate", False, msg("unanswered questions go to moderators instead of expiring")),
        IntSetting(
            "qa.suggest_percent",
            35,
            0,
            100,
            msg("how similar an answered question must be to be suggested (0: off)"),
        ),
        IntSetting(
            "push.quiet_start", 22, 0, 24, msg("hour when quiet hours begin: pushes wait (community time)")
        ),
        IntSetting("push.quiet_end", 8, 0, 24, msg("hour when quiet hours end (equal to the start: none)")),
        BoolSetting("push.welcome", False, msg("welcome sequence: messages on day 0, 1 and 3 after joining")),
        BoolSetting("push.winback", False, msg("a win-back message to members at risk of leaving")),
        IntSetting(
            "push.winback_days", 30, 1, 365, msg("days before a member may get another win-back message")
        ),
        BoolSetting("push.renewal_reminders", True, msg("reminders before a trial or subscription ends")),
    )
}
