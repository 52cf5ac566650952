"""Pushes in chat: /push (creators: draft, preview, confirm, status, automations), /mute and
/unmute (everyone)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from core.commands.context import Context
from core.commands.params import Rest, Word
from core.commands.router import CREATORS, PRIVATE_ONLY, Router
from core.errors import InvalidInput
from core.feedback.survey import SURVEY_KIND, question
from core.i18n import Msg, msg, nmsg
from core.pushes.automations import AUTOMATION_LABELS, AUTOMATIONS
from core.pushes.campaigns import (
    MAX_TEXT,
    REASON_NAMES,
    STATUS_NAMES,
    Campaign,
    CampaignStatus,
    Comparison,
    Preview,
    ab_note,
)
from core.pushes.schedule import parse_send_time
from core.replies import Button, Reply, ReplyBuilder

router = Router()

USAGE = (
    "/push SEGMENT TEXT… [at TIME] (SEGMENT: all, recommended with {course} in the text, or one of"
    " /segments) · /push ab SEGMENT TEXT_A || TEXT_B [at TIME] · "
    "/push nps SEGMENT [QUESTION…] · /push confirm|cancel ID · /push status [ID] · /push list · "
    "/push auto [KIND TEXT…|default]"
)
# "at 18:00" or "at 2026-12-24T09:00" ending the text schedules the push.
_AT = re.compile(r"\s+at\s+(\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2})\s*$", re.IGNORECASE)
_ID = re.compile(r"^#?(\d{1,12})$")

REASONS, STATUSES, AUTOMATION_NAMES = REASON_NAMES, STATUS_NAMES, AUTOMATION_LABELS


@router.command(
    "push",
    aliases=("推送",),
    roles=CREATORS,
    chats=PRIVATE_ONLY,  # the preview names segments and counts: not for the whole group
    help=msg("Send a message to a segment of members, with a preview first (creators)"),
    params=(Word("segment", max_length=60), Rest("text", optional=True, max_length=2 * MAX_TEXT + 100)),
)
async def push(ctx: Context) -> Reply:
    first, rest = ctx.args["segment"].strip(), (ctx.args["text"] or "").strip()
    action = first.lower()
    pushes = ctx.services.pushes
    if action == "confirm":
        preview = await pushes.confirm(ctx.community, ctx.member, _campaign_id(rest))
        return _confirmed(ctx, preview)
    if action == "cancel":
        campaign_id = _campaign_id(rest)
        stopped = await pushes.cancel(ctx.community, ctx.member, campaign_id)
        return Reply.text(
            nmsg(
                "Push #{id} cancelled; {n} message will not be sent.",
                "Push #{id} cancelled; {n} messages will not be sent.",
                stopped,
                id=campaign_id,
            )
        )
    if action == "status":
        status = await pushes.status(ctx.community, ctx.member, _campaign_id(rest) if rest else None)
        return _status(ctx, status)
    if action == "list":
        return _list(ctx, await pushes.campaigns(ctx.community, ctx.member))
    if action == "auto":
        return await _automations(ctx, rest)
    if action == "nps":  # a survey with 0-10 buttons: /push nps SEGMENT [QUESTION…] [at TIME]
        segment, _, question = rest.partition(" ")
        question, send_at = _schedule(ctx, question)
        if not segment:
            raise InvalidInput(msg("Usage: {usage}", usage="/push nps SEGMENT [QUESTION…] [at TIME]"))
        preview = await ctx.services.nps.draft(ctx.community, ctx.member, segment, question or None, send_at)
        return _preview(ctx, preview)
    if action == "ab":
        segment, _, texts = rest.partition(" ")
        text, send_at = _schedule(ctx, texts)
        text_a, separator, text_b = text.partition("||")
        if not segment or not separator or not text_a.strip() or not text_b.strip():
            raise InvalidInput(msg("Usage: {usage}", usage="/push ab SEGMENT TEXT_A || TEXT_B [at TIME]"))
        preview = await pushes.draft(ctx.community, ctx.member, segment, text_a, text_b.strip(), send_at)
        return _preview(ctx, preview)
    text, send_at = _schedule(ctx, rest)
    if not text:
        raise InvalidInput(msg("Usage: {usage}", usage=USAGE))
    preview = await pushes.draft(ctx.community, ctx.member, first, text, None, send_at)
    return _preview(ctx, preview)


@router.command("mute", aliases=("静音",), help=msg("Stop announcements and automated messages to you"))
async def mute(ctx: Context) -> Reply:
    if not await ctx.services.pushes.mute(ctx.member):
        return Reply.text(msg("You have muted announcements already. /unmute brings them back."))
    return Reply.text(
        msg(
            "Done: no more announcements or automated messages to you. Reminders about your own"
            " orders and memberships still come. /unmute brings announcements back."
        )
    )


@router.command("unmute", aliases=("取消静音",), help=msg("Receive announcements again"))
async def unmute(ctx: Context) -> Reply:
    if not await ctx.services.pushes.unmute(ctx.member):
        return Reply.text(msg("You were not muted: announcements reach you."))
    return Reply.text(msg("Announcements will reach you again. /mute stops them."))


def _campaign_id(text: str) -> int:
    match = _ID.match(text.strip())
    if match is None:
        raise InvalidInput(msg("Name a push by its number, like 3 or #3."))
    return int(match[1])


def _schedule(ctx: Context, text: str) -> tuple[str, datetime | None]:
    """The text without a trailing ``at TIME``, and that time (None: now)."""
    match = _AT.search(text)
    if match is None:
        return text.strip(), None
    at = parse_send_time(match[1], ctx.community.timezone, ctx.services.clock.now())
    return text[: match.start()].strip(), at


def _local(ctx: Context, at: datetime) -> str:
    return at.astimezone(ZoneInfo(ctx.community.timezone)).strftime("%Y-%m-%d %H:%M")


def _when(ctx: Context, campaign: Campaign) -> Msg:
    if campaign.send_at <= ctx.services.clock.now():
        return msg("Sends: as soon as it is confirmed (outside quiet hours).")
    return msg(
        "Sends: at {when} ({zone}), outside quiet hours.",
        when=_local(ctx, campaign.send_at),
        zone=ctx.community.timezone,
    )


def _preview(ctx: Context, preview: Preview) -> Reply:
    campaign = preview.campaign
    builder = ReplyBuilder().bold(
        msg("Push #{id} to {segment}: a preview", id=campaign.id, segment=campaign.segment)
    )
    _audience_lines(builder, preview)
    builder.line().text(_when(ctx, campaign))
    _texts(builder, campaign, ctx.community.name)
    builder.line().text(msg("Nothing is sent until you confirm."))
    return builder.buttons(
        (
            Button(msg("Confirm"), data=f"cmd:/push confirm {campaign.id}"),
            Button(msg("Cancel"), data=f"cmd:/push cancel {campaign.id}"),
        )
    ).build()


def _audience_lines(builder: ReplyBuilder, preview: Preview) -> None:
    platforms = ", ".join(f"{name} {n}" for name, n in preview.per_platform.items()) or "-"
    builder.line().text(msg("Recipients: {n} ({platforms})", n=preview.recipients, platforms=platforms))
    if preview.muted or preview.unreachable:
        builder.line().text(
            msg(
                "Not reached: {muted} muted, {unreachable} without an account on any platform.",
                muted=preview.muted,
                unreachable=preview.unreachable,
            )
        )


def _texts(builder: ReplyBuilder, campaign: Campaign, community: str) -> None:
    if campaign.kind == SURVEY_KIND:
        builder.line().text(msg("Survey:")).text(" ").text(question(community, campaign.text_a))
        builder.line().text(msg("Buttons: 0 to 10; each member's first answer counts."))
        return
    if campaign.text_b is None:
        builder.line().text(msg("Text:")).text(" ").text(campaign.text_a or "")
        return
    builder.line().text(msg("A/B test: recipients are split at random into two halves."))
    builder.line().text(msg("Text A:")).text(" ").text(campaign.text_a or "")
    builder.line().text(msg("Text B:")).text(" ").text(campaign.text_b)


def _confirmed(ctx: Context, preview: Preview) -> Reply:
    campaign = preview.campaign
    builder = ReplyBuilder().text(msg("Push #{id} confirmed.", id=campaign.id))
    _audience_lines(builder, preview)
    builder.line().text(_when(ctx, campaign))
    builder.line().text(msg("/push status {id} shows how it goes.", id=campaign.id))
    return builder.build()


def _status(ctx: Context, status: CampaignStatus) -> Reply:
    campaign, counts = status.campaign, status.counts
    builder = ReplyBuilder().bold(
        msg(
            "Push #{id} to {segment}: {status}",
            id=campaign.id,
            segment=campaign.segment,
            status=STATUSES.get(campaign.status, campaign.status),
        )
    )
    builder.line().text(
        msg(
            "Sent {sent} · waiting {waiting} · skipped {skipped} · failed {failed}",
            sent=counts["sent"],
            waiting=counts["pending"] + counts["sending"],
            skipped=counts["skipped"],
            failed=counts["failed"],
        )
    )
    if status.skipped:
        _reasons(builder.line().text(msg("Skipped:")), status.skipped)
    if status.failed:
        _reasons(builder.line().text(msg("Failed:")), status.failed)
    if status.comparison is not None:
        _comparison(ctx, builder, status.comparison, status.campaign.is_ab)
    return builder.build()


def _reasons(builder: ReplyBuilder, counts: dict[str, int]) -> None:
    for index, (reason, n) in enumerate(sorted(counts.items())):
        builder.text("," if index else "").text(" ").text(REASONS.get(reason, reason)).text(f" {n}")


def _comparison(ctx: Context, builder: ReplyBuilder, comparison: Comparison, ab: bool) -> None:
    builder.line().bold(msg("Purchases within 7 days of delivery:"))
    if not ab:  # one text (a push to `recommended`): its recipients' purchases, no comparison
        a = comparison.a
        rate = f"{100 * a.rate:.1f}"
        builder.line().text(
            msg("{converted} of {sent} bought ({rate}%)", converted=a.converted, sent=a.sent, rate=rate)
        )
    for result in (comparison.a, comparison.b) if ab else ():
        builder.line().text(
            msg(
                "{variant}: {converted} of {sent} bought ({rate}%)",
                variant=result.variant.upper(),
                converted=result.converted,
                sent=result.sent,
                rate=f"{100 * result.rate:.1f}",
            )
        )
    if ab:
        builder.line().text(ab_note(comparison))
    if comparison.window_ends is not None and comparison.window_ends > ctx.services.clock.now():
        builder.line().text(
            msg(
                "Purchases still count until {when}; the numbers may change.",
                when=_local(ctx, comparison.window_ends),
            )
        )


def _list(ctx: Context, campaigns: list[Campaign]) -> Reply:
    if not campaigns:
        return Reply.text(msg("No pushes yet. Send one with /push SEGMENT TEXT."))
    builder = ReplyBuilder().bold(msg("Latest pushes:"))
    for campaign in campaigns:
        builder.line().code(f"#{campaign.id}").text(" ")
        builder.text(
            msg(
                "{segment} · {status} · {when}",
                segment=campaign.segment,
                status=STATUSES.get(campaign.status, campaign.status),
                when=_local(ctx, campaign.send_at),
            )
        )
    return builder.line().text(msg("/push status ID for the numbers.")).build()


async def _automations(ctx: Context, rest: str) -> Reply:
    pushes = ctx.services.pushes
    kind, _, text = rest.partition(" ")
    if kind:
        kind = kind.lower()
        if kind not in AUTOMATIONS or not text.strip():
            raise InvalidInput(
                msg("Usage: {usage}", usage=f"/push auto {'|'.join(AUTOMATIONS)} TEXT…|default")
            )
        reset = text.strip().lower() == "default"
        await pushes.set_automation_text(ctx.community, ctx.member, kind, "" if reset else text)
        if reset:
            return Reply.text(msg("{kind} uses its default text again.", kind=kind))
        return Reply.text(msg("{kind} now says: {text}", kind=kind, text=text.strip()))
    settings = await ctx.services.settings.all(ctx.community.id)
    own = await pushes.automation_texts(ctx.community)

    def state(on: bool) -> Msg:
        return msg("on") if on else msg("off")

    builder = ReplyBuilder().bold(msg("Automations:"))
    builder.line().text(
        msg(
            "Welcome sequence (day 0, 1, 3): {state} — /rules set push.welcome on|off",
            state=state(settings["push.welcome"]),
        )
    )
    builder.line().text(
        msg(
            "Win-back for members at risk, at most once in {days}: {state} — /rules set push.winback on|off",
            days=nmsg("{n} day", "{n} days", settings["push.winback_days"]),
            state=state(settings["push.winback"]),
        )
    )
    builder.line().text(
        msg(
            "Renewal reminders: {state} — /rules set push.renewal_reminders on|off",
            state=state(settings["push.renewal_reminders"]),
        )
    )
    builder.line().text(
        msg(
            "Quiet hours: {start}:00 to {end}:00 ({zone}) — /rules set push.quiet_start|push.quiet_end HOUR",
            start=settings["push.quiet_start"],
            end=settings["push.quiet_end"],
            zone=ctx.community.timezone,
        )
    )
    for kind in AUTOMATIONS:
        builder.line().code(kind).text(" ").text(AUTOMATION_NAMES[kind]).text(": ")
        builder.text(own[kind] if kind in own else msg("(default text)"))
    return (
        builder.line()
        .text(msg("/push auto KIND TEXT… sets a text; /push auto KIND default resets it."))
        .build()
    )
