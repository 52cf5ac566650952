"""Learners' points: earning by taking part, /points, /history, /top, /checkin."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from core.commands.context import Context
from core.commands.params import Choice, Int
from core.commands.router import Router
from core.events import ChatKind
from core.i18n import Msg, msg, nmsg
from core.ledger.models import Kind
from core.ledger.notes import tier_upgrade_note
from core.ledger.tiers import Tier
from core.replies import Reply, ReplyBuilder

router = Router()

KIND_LABELS: dict[str, Msg] = {
    Kind.MESSAGE: msg("messages"),
    Kind.CHECKIN: msg("check-in"),
    Kind.AWARD: msg("award"),
    Kind.DEDUCT: msg("deduction"),
    Kind.ANSWER: msg("accepted answer"),
    Kind.REFERRAL: msg("referral"),
    Kind.PURCHASE: msg("purchase"),
    Kind.SPEND: msg("spent"),
    Kind.TRANSFER: msg("transfer"),
    Kind.EXPIRY: msg("expired"),
    Kind.REVERSAL: msg("correction"),
    Kind.COMPLETION: msg("course finished"),
}
WINDOW_LABELS: dict[str, Msg] = {
    "week": msg("last 7 days"),
    "month": msg("last 30 days"),
    "all": msg("all time"),
}


def tier_upgrade_reply(ctx: Context, tier: Tier, member_id: int | None = None) -> Reply:
    """The private note to a member (the sender by default) who reached a new tier."""
    return Reply.text(tier_upgrade_note(ctx.community, tier), to_member=member_id or ctx.member.id)


@router.on_message()
async def earn_for_taking_part(ctx: Context) -> Reply | None:
    """A qualifying message in a group chat earns points (rules: /rules)."""
    if ctx.chat.kind is not ChatKind.GROUP:
        return None
    earned = await ctx.services.points.earn_for_message(
        ctx.community, ctx.member, ctx.event.text, ctx.event.timestamp, ctx.event_key("msg")
    )
    if earned is not None and earned.upgraded_to is not None:
        return tier_upgrade_reply(ctx, earned.upgraded_to)
    return None


@router.command(
    "points",
    aliases=("积分", "balance", "p"),
    help=msg("Your points, tier and what expires soon"),
    personal=True,
)
async def points(ctx: Context) -> Reply:
    summary = await ctx.services.points.summary(ctx.community, ctx.member)
    builder = ReplyBuilder().bold(msg("Points: {points}", points=summary.balance.balance))
    builder.line().text(
        msg("Tier: {tier} ({multiplier})", tier=summary.tier.name, multiplier=summary.tier.multiplier_text)
    )
    if summary.tier_source is not None:
        builder.text(" ").text(msg("through your membership {plan}", plan=summary.tier_source))
    if summary.next_tier is not None:
        builder.text(" — ").text(
            msg(
                "{missing} more to {tier}",
                missing=summary.next_tier.threshold - summary.balance.earned,
                tier=summary.next_tier.name,
            )
        )
    if summary.expiring_soon:
        builder.line().text(msg("Expiring in the next 30 days: {points}", points=summary.expiring_soon))
    builder.line().text(
        msg(
            "Today: messages {earned}/{cap}, check-in {checkin}",
            earned=summary.today.get(Kind.MESSAGE, 0),
            cap=summary.caps["message"],
            checkin=msg("done") if summary.checked_in_today else msg("not yet (/checkin)"),
        )
    )
    return builder.build()


@router.command(
    "history",
    aliases=("记录", "明细"),
    help=msg("Your latest point movements"),
    personal=True,
    params=(Int("count", optional=True, minimum=1, maximum=50),),
)
async def history(ctx: Context) -> Reply:
    lines = await ctx.services.ledger.history(ctx.community.id, ctx.member.id, limit=ctx.args["count"] or 10)
    if not lines:
        return Reply.text(msg("No point movements yet. Take part in a group chat or /checkin to earn some."))
    builder = ReplyBuilder().bold(msg("Your latest point movements:"))
    for line in lines:
        transfer = line.transfer
        when = transfer.at.astimezone(ZoneInfo(ctx.community.timezone)).strftime("%Y-%m-%d %H:%M")
        builder.line().text(f"#{transfer.id} {when} ").code(f"{line.signed_amount:+d}").text(" ")
        builder.text(KIND_LABELS.get(transfer.kind, transfer.kind))
        if transfer.memo:
            builder.text(f": {transfer.memo}")
    return builder.build()


@router.command(
    "top",
    aliases=("排行", "leaderboard"),
    help=msg("Who earned the most points: week, month or all time"),
    params=(
        Choice(
            "window",
            optional=True,
            choices=("week", "month", "all"),
            synonyms={"周": "week", "月": "month", "全部": "all"},
        ),
    ),
)
async def top(ctx: Context) -> Reply:
    window = ctx.args["window"] or "week"
    standings = await ctx.services.points.leaderboard(ctx.community, window)
    builder = ReplyBuilder().bold(msg("Top learners ({window}):", window=WINDOW_LABELS[window]))
    if not standings:
        builder.line().text(msg("Nobody has earned points in this window yet."))
    for rank, (member, earned) in enumerate(standings, start=1):
        marker = " ◀" if member.id == ctx.member.id else ""
        builder.line().text(f"{rank}. {member.display_name} — ").text(nmsg("{n} point", "{n} points", earned))
        builder.text(marker)
    return builder.build()


@router.command(
    "checkin", aliases=("签到", "daily"), help=msg("Check in once a day for points; streaks earn more")
)
async def checkin(ctx: Context) -> list[Reply]:
    outcome = await ctx.services.points.checkin(ctx.community, ctx.member, ctx.event.timestamp)
    if outcome.already:
        return [
            Reply.text(
                msg("You have already checked in today."),
                nmsg("Streak: {n} day.", "Streak: {n} days.", outcome.streak),
            )
        ]
    if outcome.points == 0:
        return [Reply.text(msg("Checked in. Today's check-in points are used up."))]
    replies = [
        Reply.text(
            nmsg("Checked in: +{n} point.", "Checked in: +{n} points.", outcome.points),
            nmsg("Streak: {n} day.", "Streak: {n} days.", outcome.streak),
        )
    ]
    if outcome.upgraded_to is not None:
        replies.append(tier_upgrade_reply(ctx, outcome.upgraded_to))
    return replies
