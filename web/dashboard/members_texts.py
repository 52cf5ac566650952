"""The Members pages' labels and messages (the bot's catalogs; `make i18n` finds them)."""

from __future__ import annotations

from core.i18n import Msg, msg, nmsg

LABELS: dict[str, Msg] = {
    "search": msg("Name or account id"),
    "role_filter": msg("Role"),
    "segment": msg("Segment"),
    "tier": msg("Tier"),
    "paying": msg("Paying"),
    "yes": msg("yes"),
    "no": msg("no"),
    "platform": msg("Platform"),
    "name": msg("Name"),
    "platforms": msg("Platforms"),
    "balance": msg("Points"),
    "spend": msg("Spend"),
    "joined": msg("Joined"),
    "no_members": msg("No members match."),
    "next_page": msg("Next page"),
    "first_page": msg("First page"),
    "export_csv": msg("Export CSV"),
    "accounts": msg("Accounts"),
    "history": msg("Points history"),
    "orders": msg("Orders"),
    "subscriptions": msg("Subscriptions"),
    "referrals": msg("Referrals"),
    "referred_by": msg("Referred by"),
    "questions": msg("Questions"),
    "answers": msg("Answers"),
    "activity": msg("Activity"),
    "events_total": msg("Messages and actions, all time"),
    "events_30": msg("In the last 30 days"),
    "last_active": msg("Last active"),
    "never": msg("never"),
    "earned": msg("Lifetime points"),
    "points_form": msg("Award or deduct points"),
    "amount": msg("Points"),
    "award": msg("Award"),
    "deduct": msg("Deduct"),
    "role_form": msg("Change role"),
    "new_role": msg("New role"),
    "reason_optional": msg("Reason (optional)"),
    "erase_form": msg("Erase personal data"),
    "erase_help": msg(
        "This erases the member's name, linked accounts and texts, for good. Orders, points and"
        " commissions stay, under an anonymous member."
    ),
    "erase_confirm": msg("Type the member's name to confirm"),
    "erase": msg("Erase"),
    "owner_note": msg("The owner's data cannot be erased and their role cannot change."),
    "forgotten": msg("This member's personal data was erased."),
    "none_yet": msg("None yet."),
    "title": msg("Title"),
    "amount_paid": msg("Amount"),
    "refunded": msg("Refunded"),
    "status": msg("Status"),
    "provider": msg("Provider"),
    "plan": msg("Plan"),
    "until": msg("Until"),
    "question": msg("Question"),
    "votes": msg("Votes"),
    "hidden": msg("hidden"),
    "all_members": msg("All members"),
}
AWARDED = msg("Points awarded.")
DEDUCTED = msg("Points deducted.")
ROLE_CHANGED = msg("Role changed.")
ERASED = msg("The member's personal data is erased.")
CHOOSE_ROLE = msg("Choose learner or moderator.")


def confirm_name(name: str) -> Msg:
    return msg("Type {name} exactly to confirm.", name=name)


def referred(n: int) -> Msg:
    return nmsg("Referred {n} member", "Referred {n} members", n)


def tier_of(name: str, earned: int) -> Msg:
    return msg("{tier} ({earned} lifetime points)", tier=name, earned=earned)


def budget_left(left: int) -> Msg:
    return msg("Your award budget left today: {left}", left=left)  # as /award says it
