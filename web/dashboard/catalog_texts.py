"""The catalog pages' labels (catalog messages: `make i18n` finds them)."""

from __future__ import annotations

from core.i18n import Msg, msg, nmsg

LABELS: dict[str, Msg] = {
    "catalog": msg("Catalog"),
    "courses": msg("Courses"),
    "bundles": msg("Bundles"),
    "plans": msg("Plans"),
    "coupons": msg("Coupons"),
    "mall": msg("Mall"),
    "code": msg("Code"),
    "title": msg("Title"),
    "price": msg("Price"),
    "currency_code": msg("Currency code"),
    "description": msg("Description"),
    "state": msg("State"),
    "lessons": msg("Lessons"),
    "add_course": msg("Add a course"),
    "add": msg("Add"),
    "edit_course": msg("Edit the course"),
    "hide": msg("Hide"),
    "show": msg("Publish"),
    "on_sale": msg("on sale"),
    "hidden": msg("hidden"),
    "add_lesson": msg("Add a lesson"),
    "text": msg("Text (Markdown)"),
    "text_help": msg(
        "Markdown: # heading, - list item, **bold**, [link](https://…). Learners read it with /learn."
    ),
    "day": msg("Opens days after purchase"),
    "day_help": msg("0 opens it at once (drip: /lesson add day=N)."),
    "file": msg("File"),
    "preview": msg("Preview"),
    "preview_of": msg("Preview of the lesson"),
    "preview_file": msg("Choose the file again when you save: a preview does not keep it."),
    "more": msg("More"),
    "first_page": msg("First page"),
    "no_courses": msg("No courses yet."),
    "no_lessons": msg("No lessons yet."),
    "no_items": msg("Nothing here yet."),
    "back_to_catalog": msg("Back to the catalog"),
    "includes": msg("Includes"),
    "period": msg("Renews every"),
    "trial": msg("Trial days"),
    "grace": msg("Grace days"),
    "tier": msg("Tier"),
    "no_tier": msg("none"),
    "off": msg("Discount"),
    "off_help": msg("A percentage like 15%, or an amount like 5 USD."),
    "min": msg("Minimum spend"),
    "min_help": msg("Optional, like 50 USD (in the coupon's currency)."),
    "uses": msg("Uses in all"),
    "uses_help": msg("Empty: no limit."),
    "per": msg("Uses per member"),
    "from": msg("Valid from"),
    "valid": msg("Valid"),
    "until": msg("Valid until (the last day)"),
    "for": msg("For courses"),
    "for_help": msg("Optional course codes separated by commas, like py101,sql201."),
    "used": msg("Used"),
    "disable": msg("Disable"),
    "active": msg("active"),
    "disabled": msg("disabled"),
    "points_price": msg("Points"),
    "points_help": msg("The course's points price (/buy CODE points); empty: not for points."),
    "completion": msg("Points for finishing it"),
    "kind": msg("Kind"),
    "target": msg("Course or coupon code"),
    "target_help": msg(
        "For a course item, the course's code; for a coupon item, the coupon whose terms each redeemer gets."
    ),
    "note": msg("How it is delivered"),
    "stock": msg("Stock"),
    "stock_help": msg("Empty: unlimited."),
    "per_member": msg("Per member"),
    "set_stock": msg("Set stock"),
    "redeemed": msg("Redeemed"),
    "unlimited": msg("unlimited"),
    "kind_course": msg("course"),
    "kind_coupon": msg("coupon"),
    "kind_reward": msg("reward"),
    "actions": msg("Actions"),
    "drafts": msg("Drafts"),
    "versions": msg("Versions"),
    "version": msg("Version"),
    "author": msg("Author"),
    "when": msg("When"),
    "restore": msg("Restore this version"),
    "approve": msg("Approve and publish"),
    "reject": msg("Reject"),
    "no_drafts": msg("No drafts wait for review."),
    "changes": msg("What changed"),
    "first_version": msg("The first version: all of it is new."),
    "compared_with": msg("Compared with version"),
    "done_restore": msg("Restored: the lesson reads as this version again, kept as its newest version."),
    "done_approve": msg("Approved: learners read it now."),
    "done_reject": msg("Rejected: learners never see it; it stays in the history."),
    "done_drafted": msg("Saved as a draft: the owner approves it before learners see it."),
    "review_help": msg(
        "With content.review on, lessons by moderators and other creators wait here for the owner."
    ),
}

PERIODS: dict[str, Msg] = {"month": msg("month"), "quarter": msg("quarter"), "year": msg("year")}
SAVED = msg("Saved: {code}.")
EDIT_LESSON = msg("Edit lesson {n}")
FILE_KEPT = msg("Now: {name}. Choose a file to replace it.")


def opens(days: int) -> Msg | str:
    """When a lesson opens, as /course shows it (nothing when at once)."""
    return nmsg("(opens {n} day after purchase)", "(opens {n} days after purchase)", days) if days else ""
