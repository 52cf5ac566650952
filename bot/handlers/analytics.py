"""Creators' reports in chat: /stats (text), /retention and /revenue (charts), /segments
(sizes, clusters in plain words, a chart; naming clusters), /spend (marketing spend for CAC)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.handlers.feedback import nps_line
from core.analytics.charts import draw, forecast_text, retention_heatmap, revenue_chart, segments_chart
from core.analytics.labels import STEPS, TRAITS
from core.catalog.money import Money, parse_money
from core.commands.context import Context
from core.commands.params import Choice, Rest, Word
from core.commands.router import CREATORS, Router
from core.errors import InvalidInput
from core.i18n import Msg, msg, nmsg, render
from core.recommend.texts import learned_line
from core.replies import Image, Reply, ReplyBuilder

router = Router()


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def _when(summary: dict[str, Any]) -> str:
    return datetime.fromisoformat(summary["computed_at"]).strftime("%Y-%m-%d %H:%M UTC")


def _money(currency: str, minor: int | None) -> Money | str:
    return "—" if minor is None else Money(currency, minor)


@router.command("stats", aliases=("统计",), roles=CREATORS, help=msg("How the community is doing (creators)"))
async def stats(ctx: Context) -> Reply:
    s = await ctx.services.analytics.latest(ctx.community, ctx.member)
    funnel = " → ".join(f"{render(STEPS[k], ctx.locale)} {v}" for k, v in s["funnel"].items())
    builder = (
        ReplyBuilder()
        .bold(msg("{community} as of {when}", community=ctx.community.name, when=_when(s)))
        .line()
        .text(
            msg(
                "Members {members} · engagement {mean} on average (median {median}) · monthly churn {churn}",
                members=s["members"],
                mean=s["engagement"]["mean"],
                median=s["engagement"]["median"],
                churn=_percent(s["churn"]),
            )
        )
        .line()
        .text(msg("Funnel: {steps}", steps=funnel))
    )
    for r in s["revenue"]:
        c = r["currency"]
        builder.line().text(
            msg(
                "Revenue ({currency}): {total} in all · MRR {mrr} · ARPU this month {arpu} · "
                "average order {aov} · CLV {clv} · CAC {cac}",
                currency=c,
                total=Money(c, r["total"]),
                mrr=Money(c, r["mrr"]),
                arpu=Money(c, r["arpu"]),
                aov=Money(c, r["aov"]),
                clv=Money(c, r["clv"]),
                cac=_money(c, r["cac"]),
            )
        )
    channels = " · ".join(
        f"{ch['channel']}: {ch['members']} → {ch['buyers']} ({_percent(ch['conversion'])})"
        for ch in s["channels"]
    )
    builder.line().text(msg("Channels (members → buyers): {channels}", channels=channels))
    builder.line().text(forecast_text(s))
    builder.line().text(_incentive_line(s["incentives"]))
    builder.line().text(learned_line(await ctx.services.recommend.learned(ctx.community, ctx.member)))
    builder.line().text(nps_line(await ctx.services.nps.score(ctx.community, ctx.member)))
    return builder.line().text(msg("/retention · /revenue · /segments for charts.")).build()


def _incentive_line(i: dict[str, Any]) -> Msg:
    if i["treated"] < 5 or i["matched_control"] < 5:
        return msg(
            "Coupons: too few buyers yet to compare ({treated} with a coupon, {control} without).",
            treated=i["treated"],
            control=i["control"],
        )
    verdict = msg("likely a real difference") if i["likely_real"] else msg("could well be chance")
    return msg(
        "Coupons: {treated_rate} of coupon buyers bought again vs {control_rate} of similar buyers"
        " without one (n={treated} vs {control}): {verdict}.",
        treated_rate=_percent(i["treated_repeat_rate"]),
        control_rate=_percent(i["control_repeat_rate"]),
        treated=i["treated"],
        control=i["matched_control"],
        verdict=verdict,
    )


@router.command(
    "retention",
    aliases=("留存",),
    roles=CREATORS,
    help=msg("Weekly cohort retention as a heatmap (creators)"),
    params=(Choice("basis", optional=True, choices=("activity", "paying"), synonyms={"付费": "paying"}),),
)
async def retention(ctx: Context) -> Reply:
    s = await ctx.services.analytics.latest(ctx.community, ctx.member)
    basis = ctx.args["basis"] or "activity"
    cohorts = s["cohorts"][basis]
    if not cohorts["weeks"]:
        return Reply.text(msg("No members to make cohorts of yet."))
    caption = (
        msg("Share of each week's newcomers active in the weeks after joining.")
        if basis == "activity"
        else msg("Share of each week's newcomers who paid in the weeks after joining.")
    )
    png = await draw(retention_heatmap, {**cohorts, "basis": basis}, ctx.locale)
    return Reply((Image(png, caption),))


@router.command(
    "revenue", aliases=("收入",), roles=CREATORS, help=msg("Revenue by month as a chart (creators)")
)
async def revenue(ctx: Context) -> list[Reply]:
    s = await ctx.services.analytics.latest(ctx.community, ctx.member)
    if not s["revenue"]:
        return [Reply.text(msg("No revenue yet."))]
    replies = []
    for report in s["revenue"]:
        c = report["currency"]
        top = " · ".join(
            f"{title}: {Money(c, v).localized(ctx.locale)}"
            for title, v in list(report["by_product"].items())[:5]
        )
        caption = msg("By product: {top}", top=top or "—")
        replies.append(Reply((Image(await draw(revenue_chart, report, ctx.locale), caption),)))
    return replies


@router.command(
    "segments",
    aliases=("分群",),
    roles=CREATORS,
    help=msg("Member segments and what each cluster is like; name a cluster (creators)"),
    params=(
        Word("action", optional=True),
        Word("cluster", optional=True),
        Rest("name", optional=True, max_length=40),
    ),
)
async def segments(ctx: Context) -> Reply:
    analytics = ctx.services.analytics
    action = (ctx.args["action"] or "").lower()
    if action == "name":
        number = ctx.args["cluster"] or ""
        if not number.isdigit() or not ctx.args["name"]:
            raise InvalidInput(msg("Usage: {usage}", usage="/segments name NUMBER NAME"))
        await analytics.name_cluster(ctx.community, ctx.member, int(number), ctx.args["name"])
        return Reply.text(msg("Cluster {number} is now called {name}.", number=number, name=ctx.args["name"]))
    if action:
        raise InvalidInput(msg("Usage: {usage}", usage="/segments · /segments name NUMBER NAME"))
    s = await analytics.latest(ctx.community, ctx.member)
    builder = ReplyBuilder().bold(msg("Segments as of {when}:", when=_when(s))).line()
    builder.text(" · ".join(f"{name} {size}" for name, size in s["segments"].items()))
    if s["clusters"]:
        builder.line().text(
            msg("Clusters (K-means, k={k}, silhouette {silhouette}):", k=s["k"], silhouette=s["silhouette"])
        )
        for c in s["clusters"]:
            traits = ", ".join(render(TRAITS[t], ctx.locale) for t in c["traits"]) or "—"
            centre = c["centroid"]
            builder.line().text(
                msg(
                    "{number}{name} — {size}: {traits} (last active {recency} days ago,"
                    " {frequency} days a month, engagement {engagement})",
                    number=c["number"],
                    name=f" “{c['name']}”" if c.get("name") else "",
                    size=nmsg("{n} member", "{n} members", c["size"]),
                    traits=traits,
                    recency=centre["recency"],
                    frequency=centre["frequency"],
                    engagement=centre["engagement"],
                )
            )
    else:
        builder.line().text(msg("Too few members for clusters yet (K-means needs 10)."))
    builder.line().text(msg("/push SEGMENT TEXT reaches one; /segments name NUMBER NAME names a cluster."))
    builder.line().text(
        msg(
            "Pushes also reach all (every learner) and recommended (each learner's own top course,"
            " written where the text says {placeholder}).",
            placeholder="{course}",
        )
    )
    builder.segments.append(Image(await draw(segments_chart, s, ctx.locale)))
    return builder.build()


@router.command(
    "spend",
    aliases=("投放",),
    roles=CREATORS,
    help=msg("Record marketing spend on a channel, for CAC (creators)"),
    params=(Word("action"), Word("amount"), Word("currency"), Rest("channel", max_length=40)),
)
async def spend(ctx: Context) -> Reply:
    if ctx.args["action"].lower() != "add":
        raise InvalidInput(msg("Usage: {usage}", usage="/spend add AMOUNT CURRENCY CHANNEL"))
    amount = parse_money(f"{ctx.args['amount']} {ctx.args['currency']}")
    await ctx.services.analytics.add_spend(ctx.community, ctx.member, amount, ctx.args["channel"])
    return Reply.text(
        msg("Recorded {amount} on {channel}.", amount=amount, channel=ctx.args["channel"].lower())
    )
