"""/dashboard and /web: one-time links that sign a creator or moderator in to the web dashboard,
and any member in to their own page (courses, orders, points)."""

from __future__ import annotations

from core.commands.context import Context
from core.commands.router import PRIVATE_ONLY, STAFF, Router
from core.i18n import msg
from core.replies import Reply
from core.web_sessions.service import LINK_TTL, Scope

router = Router()


@router.command(
    "dashboard",
    aliases=("后台",),
    roles=STAFF,
    chats=PRIVATE_ONLY,
    help=msg("A sign-in link to the web dashboard (creators, moderators; private chat)"),
)
async def dashboard(ctx: Context) -> Reply:
    link = await ctx.services.web_sessions.login_link(ctx.community, ctx.member)
    return Reply.text(
        msg("Open the dashboard: {link}", link=link),
        msg(
            "The link works once, for {minutes} minutes, and only for you: do not share it.",
            minutes=int(LINK_TTL.total_seconds() // 60),
        ),
    )


@router.command(
    "web",
    aliases=("网页",),
    chats=PRIVATE_ONLY,
    help=msg("A sign-in link to your page on the web: your courses, orders and points (private chat)"),
)
async def web(ctx: Context) -> Reply:
    link = await ctx.services.web_sessions.login_link(ctx.community, ctx.member, Scope.LEARNER)
    return Reply.text(
        msg("Open your page: {link}", link=link),
        msg(
            "The link works once, for {minutes} minutes, and only for you: do not share it.",
            minutes=int(LINK_TTL.total_seconds() // 60),
        ),
    )
