"""Creators' economy settings: /rules and /tier."""

from __future__ import annotations

from core.commands.context import Context
from core.commands.params import Int, Rest, Word
from core.commands.router import CREATORS, Router
from core.errors import InvalidInput, NotAllowed
from core.i18n import msg, nmsg
from core.ledger.tiers import MAX_THRESHOLD, parse_multiplier
from core.members.models import Role
from core.replies import Reply, ReplyBuilder
from core.settings.registry import SETTINGS

router = Router()


@router.command(
    "rules",
    aliases=("规则",),
    help=msg("How points are earned here; creators change them with /rules set KEY VALUE"),
    params=(
        Word("action", optional=True),
        Word("key", optional=True),
        Rest("value", optional=True, max_length=40),
    ),
)
async def rules(ctx: Context) -> Reply:
    action, key, value = ctx.args["action"], ctx.args["key"], ctx.args["value"]
    settings = ctx.services.settings
    if action is None:
        current = await settings.all(ctx.community.id)
        builder = ReplyBuilder().bold(msg("Rules in {community}:", community=ctx.community.name))
        for name, spec in SETTINGS.items():
            shown = current[name]
            if isinstance(shown, bool):
                shown = "on" if shown else "off"
            builder.line().code(f"{name} = {shown}").text(" — ").text(spec.help)
        return builder.build()
    if action.lower() != "set" or key is None or value is None:
        raise InvalidInput(msg("Usage: {usage}", usage="/rules set KEY VALUE"))
    if ctx.member.role is not Role.CREATOR:
        raise NotAllowed(msg("Only creators can change the rules."))
    stored = await settings.set(ctx.community.id, key, value, actor=ctx.member)
    shown = ("on" if stored else "off") if isinstance(stored, bool) else stored
    return Reply.text(msg("{key} is now {value}.", key=key.lower(), value=shown))


@router.command(
    "tier",
    aliases=("等级",),
    roles=CREATORS,
    help=msg("List tiers, or set one: /tier set NAME THRESHOLD MULTIPLIER"),
    params=(
        Word("action", optional=True),
        Word("name", optional=True, max_length=40),
        Int("threshold", optional=True, minimum=0, maximum=MAX_THRESHOLD),
        Word("multiplier", optional=True, max_length=10),
    ),
)
async def tier(ctx: Context) -> Reply:
    action = (ctx.args["action"] or "list").lower()
    points = ctx.services.points
    if action == "list":
        builder = ReplyBuilder().bold(msg("Tiers (by lifetime earned points):"))
        for item in await points.tiers(ctx.community):
            builder.line().text(
                nmsg(
                    "{name}: from {n} point, participation {multiplier}",
                    "{name}: from {n} points, participation {multiplier}",
                    item.threshold,
                    name=item.name,
                    multiplier=item.multiplier_text,
                )
            )
        return builder.build()
    name, threshold, multiplier = ctx.args["name"], ctx.args["threshold"], ctx.args["multiplier"]
    if action != "set" or name is None or threshold is None or multiplier is None:
        raise InvalidInput(msg("Usage: {usage}", usage="/tier set NAME THRESHOLD MULTIPLIER"))
    saved = await points.set_tier(ctx.community, ctx.member, name, threshold, parse_multiplier(multiplier))
    return Reply.text(
        nmsg(
            "Tier {name} now starts at {n} point with participation {multiplier}.",
            "Tier {name} now starts at {n} points with participation {multiplier}.",
            saved.threshold,
            name=saved.name,
            multiplier=saved.multiplier_text,
        )
    )
