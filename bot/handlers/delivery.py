"""/undelivered (creators): messages a platform's send rules kept from members (WeChat's
48-hour customer-service window), counted by reason, with the latest few."""

from __future__ import annotations

from datetime import timedelta

from core.commands.context import Context
from core.commands.params import Int
from core.commands.router import CREATORS, Router
from core.delivery.outside import SUBSCRIBE, TEMPLATE
from core.delivery.reasons import PLATFORMS, REASONS
from core.i18n import Msg, msg, nmsg
from core.replies import Reply, ReplyBuilder

router = Router()

LATEST = 5


@router.command(
    "undelivered",
    aliases=("未送达",),
    roles=CREATORS,
    help=msg("Messages WeChat's send rules kept from members, by reason (creators)"),
    params=(Int("days", optional=True, minimum=1, maximum=90),),
)
async def undelivered(ctx: Context) -> Reply:
    days = ctx.args["days"] or 7
    since = ctx.services.clock.now() - timedelta(days=days)
    delivery = ctx.services.delivery
    builder = ReplyBuilder().bold(
        nmsg("Undelivered in the last {n} day:", "Undelivered in the last {n} days:", days)
    )
    total = 0
    outside: list[Msg | str] = []
    for platform in PLATFORMS:
        counts = await ctx.services.fallbacks.sent_since(platform, since)
        if counts:
            said = msg(
                "sent after 48 hours: {templates} by template, {consents} by the follower's consent",
                templates=counts.get(TEMPLATE, 0),
                consents=counts.get(SUBSCRIBE, 0),
            )
            outside += [f"{platform} · ", said]
        for reason, count in sorted((await delivery.skipped_since(platform, since)).items()):
            total += count
            builder.line().text(f"{platform} · ").text(REASONS.get(reason, reason)).text(f": {count}")
        latest = [s for s in await delivery.latest_skipped(platform, LATEST) if s.created_at >= since]
        if latest:
            builder.line().text(msg("Latest:"))
        for skipped in latest:
            when = skipped.created_at.strftime("%Y-%m-%d %H:%M")
            builder.line().text(f"{when} · ").text(REASONS.get(skipped.reason, skipped.reason))
            builder.text(f" · {skipped.preview[:60]}")
    if not total:
        builder = ReplyBuilder().text(
            nmsg(
                "Every message was delivered in the last {n} day.",
                "Every message was delivered in the last {n} days.",
                days,
            )
        )
    for index in range(0, len(outside), 2):  # what went by template or consent (WeChat)
        builder.line().text(outside[index]).text(outside[index + 1])
    return builder.build()
