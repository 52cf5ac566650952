"""Every column that points at a member, and what exporting, forgetting and merging do to it.

A test (tests/test_privacy_coverage.py) fails when a table gains such a column that is not
listed here, so no package can store personal data that /mydata, /forget and /link ignore.

- ``export``: the rows go into the member's /mydata file (columns naming other members are
  left out, so the file holds nobody else's data).
- ``forget``: ``keep`` — records accounting needs (orders, ledger, commissions) or history
  (audit); they stay, attached to the anonymised member; ``delete`` — the rows go;
  ``blank:COLUMN`` — the rows stay with that text emptied.
- ``merge``: ``repoint`` — the rows move to the surviving member; ``repoint:KEYS`` — they move
  unless the survivor has a row with the same KEYS (comma-separated; the survivor's stays, the
  duplicate goes); ``drop`` — the merged member's rows go (derived data, made again);
  ``keep`` — history that is never edited; ``custom`` — core/privacy/merge.py handles it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Handling:
    export: bool
    forget: str
    merge: str


MEMBER_COLUMNS: dict[tuple[str, str], Handling] = {
    ("identities", "member_id"): Handling(True, "delete", "repoint"),
    ("activity", "member_id"): Handling(False, "keep", "repoint"),  # counts only, no message text
    ("audit_log", "actor_member_id"): Handling(True, "keep", "keep"),
    ("audit_log", "subject_member_id"): Handling(True, "keep", "keep"),
    ("chat_memberships", "member_id"): Handling(True, "delete", "repoint:chat_id"),
    ("enrollments", "member_id"): Handling(True, "keep", "repoint:course_id"),
    ("lesson_progress", "member_id"): Handling(True, "keep", "repoint:lesson_id"),
    # Lessons staff wrote are the course's content: they stay, their author anonymised.
    ("lesson_versions", "author_member_id"): Handling(True, "keep", "repoint"),
    ("lesson_versions", "reviewed_by"): Handling(False, "keep", "keep"),
    ("reviews", "member_id"): Handling(True, "blank:text", "repoint:course_id"),
    ("redemptions", "member_id"): Handling(True, "keep", "repoint"),
    ("orders", "member_id"): Handling(True, "keep", "repoint"),
    ("subscriptions", "member_id"): Handling(True, "keep", "custom"),
    ("ledger_accounts", "member_id"): Handling(True, "keep", "custom"),
    ("ledger_transfers", "actor_member_id"): Handling(False, "keep", "keep"),
    ("referral_codes", "member_id"): Handling(True, "delete", "repoint:member_id"),
    ("referrals", "referee_member_id"): Handling(True, "keep", "custom"),
    ("referrals", "referrer_member_id"): Handling(True, "keep", "custom"),
    ("commissions", "earner_member_id"): Handling(True, "keep", "repoint"),
    ("commissions", "buyer_member_id"): Handling(False, "keep", "repoint"),
    ("commission_transfers", "member_id"): Handling(True, "keep", "custom"),
    ("commission_transfers", "actor_member_id"): Handling(False, "keep", "keep"),
    ("questions", "asker_member_id"): Handling(True, "keep", "repoint"),  # shown as "deleted member"
    ("answers", "answerer_member_id"): Handling(True, "keep", "repoint"),
    ("answer_votes", "member_id"): Handling(True, "keep", "repoint:answer_id"),
    ("qa_drafts", "member_id"): Handling(True, "delete", "drop"),
    ("qa_reports", "reporter_member_id"): Handling(True, "blank:reason", "repoint"),
    ("member_scores", "member_id"): Handling(False, "delete", "drop"),
    ("marketing_spend", "actor_member_id"): Handling(False, "keep", "repoint"),
    ("channels", "created_by"): Handling(False, "keep", "keep"),  # a creator's entry links
    ("channel_touches", "member_id"): Handling(True, "delete", "repoint"),
    ("channel_attribution", "member_id"): Handling(True, "delete", "repoint:member_id"),
    ("link_codes", "member_id"): Handling(False, "delete", "drop"),
    ("push_campaigns", "created_by"): Handling(True, "keep", "keep"),  # a creator's pushes
    ("push_outbox", "member_id"): Handling(True, "delete", "repoint:campaign_id"),  # what was sent
    ("push_mutes", "member_id"): Handling(True, "delete", "repoint:community_id"),
    ("delivery_skipped", "member_id"): Handling(True, "delete", "repoint"),
    ("delivery_fallbacks", "member_id"): Handling(True, "delete", "repoint"),
    ("notice_templates", "updated_by"): Handling(False, "keep", "keep"),  # a creator's settings
    # Feedback is the member's own words: it goes with them; who answered or closed it stays.
    ("feedback_tickets", "member_id"): Handling(True, "delete", "repoint"),
    ("feedback_tickets", "answered_by"): Handling(False, "keep", "keep"),
    ("feedback_tickets", "closed_by"): Handling(False, "keep", "keep"),
    ("nps_answers", "member_id"): Handling(True, "delete", "repoint:campaign_id"),
    ("web_login_tokens", "member_id"): Handling(False, "delete", "drop"),
    ("web_sessions", "member_id"): Handling(True, "delete", "drop"),  # erasing signs them out
    ("web_form_keys", "member_id"): Handling(False, "delete", "drop"),
}
# Rows keyed by a platform account rather than a member (core/delivery: send windows, pending
# options, skipped messages, consents, what went outside the window): forgetting a member
# deletes those of their accounts too.
ACCOUNT_TABLES = (
    "delivery_windows",
    "pending_options",
    "delivery_skipped",
    "delivery_consents",
    "delivery_fallbacks",
)
