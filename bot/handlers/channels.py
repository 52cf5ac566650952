"""Channel attribution in chat (creators): /channel makes tagged entry links, /channels reports
members, buyers, revenue, CAC and ROI per channel by first touch and by last touch."""

from __future__ import annotations

from bot.handlers.referrals import QR_PREFIX
from core.catalog.money import Money
from core.channels.payload import EntryLinks
from core.channels.service import Channel, ChannelStats, ModelStats
from core.commands.context import Context
from core.commands.params import Rest, Word
from core.commands.router import CREATORS, Router
from core.errors import InvalidInput
from core.i18n import Msg, msg
from core.replies import Link, Reply, ReplyBuilder

router = Router()

USAGE = "/channel add TAG [NAME] · /channel links TAG [REFERRAL_CODE]"


@router.command(
    "channel",
    aliases=("渠道",),
    roles=CREATORS,
    help=msg("Make a tagged entry link for a channel, or show its links (creators)"),
    params=(Word("action"), Word("tag", max_length=40), Rest("details", optional=True, max_length=100)),
)
async def channel(ctx: Context) -> Reply:
    action, tag, details = ctx.args["action"].lower(), ctx.args["tag"], ctx.args["details"] or ""
    service = ctx.services.channels
    web_base = ctx.services.web_sessions.base_url
    if action == "add":
        made = await service.add(ctx.community, ctx.member, tag, details)
        _, links = await service.links(ctx.community, ctx.member, made.tag, web_base=web_base)
        title = msg("Channel {tag} ({name}) is ready. Its entry links:", tag=made.tag, name=made.name)
        return _links_reply(ctx, made, links, title)
    if action == "links" and len(details.split()) <= 1:
        found, links = await service.links(
            ctx.community, ctx.member, tag, details.strip() or None, web_base=web_base
        )
        title = msg("Entry links of {tag} ({name}):", tag=found.tag, name=found.name)
        return _links_reply(ctx, found, links, title)
    raise InvalidInput(msg("Usage: {usage}", usage=USAGE))


def _links_reply(ctx: Context, found: Channel, links: EntryLinks, title: Msg) -> Reply:
    builder = ReplyBuilder().bold(title)
    if links.telegram:
        builder.line().text(msg("Telegram: {link}", link=links.telegram))
    builder.line().text(msg("Discord and other chats: send {command}", command=links.chat))
    builder.line().text(msg("WeChat QR code scene: {scene}", scene=links.payload))
    if links.web:
        builder.line().text(msg("Web: {link}", link=links.web))
    if "-ref_" not in links.payload:
        builder.line().text(
            msg("Add someone's referral code: {command}", command=f"/channel links {found.tag} CODE")
        )
    if ctx.event.platform == "wechat":
        builder.line().text(msg("Its QR code follows below."))
        builder.segments.append(
            Link(msg("QR code of channel {tag}", tag=found.tag), f"{QR_PREFIX}{links.payload}")
        )
    else:
        builder.line().text(msg("For its QR code, send this command to the WeChat Official Account."))
    return builder.build()


@router.command(
    "channels",
    aliases=("渠道统计",),
    roles=CREATORS,
    help=msg("Members, buyers, revenue, CAC and ROI per channel, first and last touch (creators)"),
)
async def channels(ctx: Context) -> Reply:
    report = await ctx.services.channels.report(ctx.community, ctx.member)
    if not report:
        return Reply.text(msg("No channels yet. {usage}", usage="/channel add TAG [NAME]"))
    builder = ReplyBuilder().bold(msg("Channels, by first touch and by last touch:"))
    for line in report:
        builder.line().bold(f"{line.channel.name} ({line.channel.tag})")
        if line.spend:
            builder.text(" · ").text(msg("spend {spend}", spend=_amounts(ctx, line.spend)))
        builder.line().text(_model(ctx, msg("First touch"), line.first, line))
        builder.line().text(_model(ctx, msg("Last touch"), line.last, line))
    builder.line().text(msg("Record spend with /spend add AMOUNT CURRENCY TAG."))
    return builder.build()


def _amounts(ctx: Context, amounts: tuple[Money, ...]) -> str:
    return ", ".join(m.localized(ctx.locale) for m in amounts) or "0"


def _model(ctx: Context, model: Msg, stats: ModelStats, line: ChannelStats) -> Msg:
    figures = msg(
        "{model}: members {members} · active {active} · buyers {buyers} · conversion {conversion} · "
        "revenue {revenue}",
        model=model,
        members=stats.members,
        active=stats.active,
        buyers=stats.buyers,
        conversion=f"{stats.conversion * 100:.0f}%",
        revenue=_amounts(ctx, stats.revenue),
    )
    if not line.spend:
        return figures
    roi = ", ".join(f"{percent:+d}%" for _, percent in stats.roi(line.spend))
    cac = _amounts(ctx, stats.cac(line.spend)) if stats.buyers else "—"
    return msg("{figures} · CAC {cac} · ROI {roi}", figures=figures, cac=cac, roi=roi)
