"""Everyone's commands: /start, /help, /lang, /whoami."""

from __future__ import annotations

from core.channels.payload import split_payload
from core.commands.context import Context
from core.commands.params import Choice, Word
from core.commands.router import Router
from core.i18n import msg
from core.referrals.service import code_from_payload
from core.replies import Button, Reply, ReplyBuilder

router = Router()

LANGUAGE_NAMES = {"en": "English", "zh_CN": "中文"}
LANGUAGE = Choice(
    "language",
    optional=True,
    choices=("en", "zh_CN"),
    synonyms={"zh": "zh_CN", "zh-cn": "zh_CN", "cn": "zh_CN", "中文": "zh_CN", "english": "en"},
)


@router.command(
    "start",
    aliases=("开始",),
    help=msg("Start here: a welcome and what to try first"),
    params=(Word("payload", optional=True),),
)
async def start(ctx: Context) -> Reply:
    builder = ReplyBuilder().bold(
        msg("Welcome to {community}, {name}!", community=ctx.community.name, name=ctx.member.display_name)
    )
    # A tagged entry (src_TAG, or src_TAG-ref_CODE with an invitation): its touch is recorded
    # (an unknown tag silently not), what is left is a referral link: t.me/bot?start=ref_CODE.
    tag, rest = split_payload(ctx.args["payload"])
    if tag is not None:
        await ctx.services.channels.touch(ctx.community, ctx.member, tag, ctx.event.platform)
    code = code_from_payload(rest)
    if code is not None:
        came = await ctx.services.referrals.attribute(ctx.community, ctx.member, code)
        if came is not None:
            builder.line().text(msg("{name} invited you.", name=came.referrer.display_name))
            if came.welcome_points:
                builder.text(" ").text(msg("+{points} welcome points.", points=came.welcome_points))
    return (
        builder.line()
        .text(msg("Send /help to see what you can do here."))
        .buttons(
            (
                Button(msg("Help"), data="cmd:/help"),
                Button(msg("Language"), data="cmd:/lang"),
            )
        )
        .build()
    )


@router.command(
    "help",
    aliases=("帮助", "h"),
    help=msg("List the commands you can use, or explain one"),
    params=(Word("command", optional=True),),
)
async def help_command(ctx: Context) -> Reply:
    name = ctx.args["command"]
    if name:
        return _help_for(ctx, name.lstrip("/／"))
    builder = ReplyBuilder().bold(msg("Commands you can use here:"))
    for spec in ctx.router.available_to(ctx.member.role, ctx.chat.kind):
        builder.line().code(f"/{spec.name}").text(" — ").text(spec.help)
    builder.line().text(msg("Send /help COMMAND for details."))
    return builder.build()


def _help_for(ctx: Context, name: str) -> Reply:
    spec = ctx.router.find(name)
    if spec is None or spec.hidden or ctx.member.role not in spec.roles:
        return Reply.text(msg("No command /{name} for you. Send /help to see the list.", name=name[:40]))
    builder = ReplyBuilder().code(spec.usage).line().text(spec.help)
    if spec.aliases:
        builder.line().text(msg("Also: {aliases}", aliases=", ".join(f"/{a}" for a in spec.aliases)))
    return builder.build()


@router.command(
    "lang",
    aliases=("language", "语言"),
    help=msg("Choose your language: en or zh"),
    params=(LANGUAGE,),
)
async def lang(ctx: Context) -> Reply:
    chosen = ctx.args["language"]
    if chosen is None:
        return (
            ReplyBuilder()
            .text(msg("Choose your language:"))
            .buttons(tuple(Button(label, data=f"cmd:/lang {code}") for code, label in LANGUAGE_NAMES.items()))
            .build()
        )
    await ctx.services.members.set_locale(ctx.member, chosen)
    return Reply.text(msg("Language set to English."))


@router.command(
    "whoami",
    aliases=("我是谁", "me"),
    help=msg("Show your member profile and linked accounts"),
    personal=True,
)
async def whoami(ctx: Context) -> Reply:
    member = ctx.member
    identities = await ctx.services.members.identities_of(member.id)
    builder = ReplyBuilder().bold(member.display_name).line()
    if member.is_owner_of(ctx.community):
        builder.text(msg("Role: {role} (owner)", role=member.role.label))
    else:
        builder.text(msg("Role: {role}", role=member.role.label))
    builder.line().text(msg("Community: {community}", community=ctx.community.name))
    builder.line().text(msg("Language: {language}", language=LANGUAGE_NAMES.get(ctx.locale, ctx.locale)))
    builder.line().text(msg("Member since: {date}", date=member.created_at.date().isoformat()))
    builder.line().text(msg("Linked accounts:"))
    for identity in identities:
        builder.line().text(f"  • {identity.platform}: {identity.external_id}")
    return builder.build()
