"""/recommend (为你推荐): a member's top three courses, each with one plain reason. The rules
(what is never recommended, the fallbacks) are RecommendService's (core/recommend)."""

from __future__ import annotations

from core.commands.context import Context
from core.commands.router import Router
from core.i18n import msg
from core.replies import Button, Reply, ReplyBuilder

router = Router()


@router.command(
    "recommend",
    aliases=("为你推荐",),
    help=msg("Courses picked for you, and why"),
    personal=True,
)
async def recommend(ctx: Context) -> Reply:
    picks = await ctx.services.recommend.recommend(ctx.community, ctx.member)
    if not picks:
        return Reply.text(msg("Nothing to recommend to you yet. /courses lists every course."))
    builder = ReplyBuilder().bold(msg("Picked for you:"))
    for number, pick in enumerate(picks, start=1):
        course = pick.course
        builder.line().text(
            msg(
                "{n}. {title} ({code}), {price}",
                n=number,
                title=course.title,
                code=course.code,
                price=course.price,
            )
        )
        builder.line().text(msg("   because {reason}", reason=pick.reason))
    buttons = tuple(
        Button(msg("Buy {code}", code=p.course.code), data=f"cmd:/buy {p.course.code}") for p in picks
    )
    return builder.buttons(buttons).build()
