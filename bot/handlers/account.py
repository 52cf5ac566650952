"""One learner across platforms and their data: /link, /unlink, /mydata, /forget, and the
creators' /export members."""

from __future__ import annotations

import json

from core.commands.context import Context
from core.commands.params import Word
from core.commands.router import CREATORS, Router
from core.errors import InvalidInput
from core.i18n import msg, nmsg
from core.replies import Button, File, Reply, ReplyBuilder

router = Router()


@router.command(
    "link",
    aliases=("关联",),
    help=msg("Join your accounts on other platforms into one member"),
    params=(Word("code", optional=True, max_length=20),),
)
async def link(ctx: Context) -> Reply:
    privacy = ctx.services.privacy
    if ctx.args["code"] is None:
        code = await privacy.link_code(ctx.member)
        return Reply.text(
            msg("Your code: {code}", code=code),
            msg("Send /link {code} from your other account (any platform) within 10 minutes.", code=code),
            to_member=ctx.member.id,
        )
    done = await privacy.link(ctx.community, ctx.member, ctx.args["code"])
    if not done.merged:
        return Reply.text(msg("These accounts are one member already."))
    return Reply.text(
        msg("Linked: your accounts are one member now, {name}.", name=done.member.display_name),
        nmsg(
            "{n} point moved with them; /whoami lists your accounts.",
            "{n} points moved with them; /whoami lists your accounts.",
            done.points_moved,
        ),
    )


@router.command(
    "unlink",
    aliases=("解除关联",),
    help=msg("Detach your account on a platform from this member"),
    params=(Word("platform", max_length=20),),
)
async def unlink(ctx: Context) -> Reply:
    await ctx.services.privacy.unlink(ctx.community, ctx.member, ctx.args["platform"])
    return Reply.text(
        msg("Your {platform} account is a member of its own again.", platform=ctx.args["platform"].lower())
    )


@router.command("mydata", aliases=("我的数据",), help=msg("Everything stored about you, as a file"))
async def mydata(ctx: Context) -> Reply:
    exported = await ctx.services.privacy.export(ctx.member)
    data = json.dumps(exported, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    builder = ReplyBuilder(to_member=ctx.member.id).text(msg("Everything studyhall stores about you."))
    builder.segments.append(File("mydata.json", data))
    return builder.build()


@router.command(
    "forget",
    aliases=("删除我的数据",),
    help=msg("Erase your personal data (asks you to confirm)"),
    params=(Word("confirm", optional=True),),
)
async def forget(ctx: Context) -> Reply:
    if (ctx.args["confirm"] or "").lower() != "confirm":
        return (
            ReplyBuilder()
            .bold(msg("This erases your name, your linked accounts and your texts, for good."))
            .line()
            .text(
                msg(
                    "Orders, points and commissions stay for the accounts, under an anonymous member."
                    " /mydata first if you want a copy."
                )
            )
            .buttons((Button(msg("Yes, erase my data"), data="cmd:/forget confirm"),))
            .build()
        )
    await ctx.services.privacy.forget(ctx.community, ctx.member)
    return Reply.text(msg("Done: your personal data is erased."))


@router.command(
    "export",
    aliases=("导出",),
    roles=CREATORS,
    help=msg("The community's members as a CSV file, by direct message (creators)"),
    params=(Word("what"),),
)
async def export(ctx: Context) -> Reply:
    if ctx.args["what"].lower() != "members":
        raise InvalidInput(msg("Usage: {usage}", usage="/export members"))
    data = await ctx.services.privacy.export_members(ctx.community, ctx.member)
    builder = ReplyBuilder(to_member=ctx.member.id).text(
        msg("The members of {community}.", community=ctx.community.name)
    )
    builder.segments.append(File("members.csv", data))
    return builder.build()
