"""WeChat's messages outside its 48-hour window: /wechat templates for creators (which template
carries each transactional notice, and the subscribe message's template), and /notifyme for
followers (a consent for one message, per scene). The rules are core/delivery's (templates.py,
outside.py); the dashboard's WeChat page calls the same."""

from __future__ import annotations

from core.commands.context import Context
from core.commands.params import Rest, Word
from core.commands.router import CREATORS, Router
from core.delivery.outside import NEWS, NOTES, SCENES
from core.delivery.templates import FIELD_NAMES, NOTICE_NAMES, NOTICES, SUBSCRIBE, NoticeTemplate
from core.errors import InvalidInput
from core.i18n import msg, nmsg
from core.replies import Reply, ReplyBuilder

router = Router()

CONSENT_PREFIX = "consent:"  # a link the WeChat adapter makes the follower's subscribemsg link
PLATFORM = "wechat"
USAGE = (
    "/wechat templates | /wechat template NOTICE TEMPLATE_ID KEYWORD=FIELD… | "
    "/wechat template NOTICE off | /wechat subscribe TEMPLATE_ID|off"
)


@router.command(
    "wechat",
    aliases=("微信",),
    roles=CREATORS,
    help=msg("WeChat templates for notices after the 48-hour window, and subscribe messages (creators)"),
    params=(Word("action", optional=True, max_length=20), Rest("what", optional=True, max_length=500)),
)
async def wechat(ctx: Context) -> Reply:
    action = (ctx.args["action"] or "templates").lower()
    words = (ctx.args["what"] or "").split()
    templates = ctx.services.templates
    if action == "template" and len(words) == 2 and words[1].lower() == "off":
        cleared = await templates.clear(ctx.community, ctx.member, words[0])
        if not cleared:
            return Reply.text(msg("{notice} had no template.", notice=words[0].lower()))
        return Reply.text(msg("{notice} now goes only within the 48-hour window.", notice=words[0].lower()))
    if action == "template" and len(words) >= 2:
        template = await templates.set(ctx.community, ctx.member, words[0], words[1], words[2:])
        return Reply.text(
            msg(
                "{notice} now goes by template {template} after the 48-hour window.",
                notice=template.notice,
                template=template.template_id,
            ),
            _keywords(template),
        )
    if action == "subscribe" and len(words) == 1:
        if words[0].lower() == "off":
            await templates.clear(ctx.community, ctx.member, SUBSCRIBE)
            return Reply.text(msg("Subscribe messages are off: /notifyme offers no links."))
        template = await templates.set(ctx.community, ctx.member, SUBSCRIBE, words[0], [])
        return Reply.text(
            msg(
                "Subscribe messages use template {template}: followers allow them with /notifyme.",
                template=template.template_id,
            )
        )
    if action != "templates" or words:
        raise InvalidInput(msg("Usage: {usage}", usage=USAGE))
    return await _listing(ctx)


async def _listing(ctx: Context) -> Reply:
    mapped = await ctx.services.templates.all(ctx.community.id)
    builder = ReplyBuilder().bold(msg("WeChat notices after the 48-hour window"))
    for notice, fields in NOTICES.items():
        builder.line().text(NOTICE_NAMES[notice]).text(f" ({notice}): ")
        template = mapped.get(notice)
        if template is None:
            builder.text(msg("no template"))
            builder.text(" · ").text(msg("fields: {fields}", fields=", ".join(fields)))
        else:
            builder.text(template.template_id).text(f" · {_keywords(template)}")
    subscribe = mapped.get(SUBSCRIBE)
    builder.line().text(msg("Subscribe messages (/notifyme): ")).text(
        subscribe.template_id if subscribe is not None else msg("off")
    )
    builder.line().text(msg("Fields:"))
    for name, label in FIELD_NAMES.items():
        builder.text(f" {name} = ").text(label).text(";")
    builder.line().text(msg("Usage: {usage}", usage=USAGE))
    return builder.build()


def _keywords(template: NoticeTemplate) -> str:
    return " ".join(f"{keyword}={field}" for keyword, field in template.keywords)


@router.command(
    "notifyme",
    aliases=("订阅通知",),
    help=msg("On WeChat: allow the account one message to you after 48 hours, once per tap"),
)
async def notifyme(ctx: Context) -> Reply:
    if ctx.event.platform != PLATFORM:
        return Reply.text(
            msg(
                "This is for WeChat, where an account may write to you only within 48 hours of your"
                " message. Here, messages reach you anyway."
            )
        )
    if await ctx.services.templates.get(ctx.community.id, SUBSCRIBE) is None:
        return Reply.text(msg("This account does not offer subscribe messages yet."))
    fallbacks = ctx.services.fallbacks
    account = ctx.event.sender.external_id
    builder = ReplyBuilder().text(msg("Each tap allows this account one message to you after 48 hours:"))
    for scene in (NEWS, NOTES):
        builder.line().link(SCENES[scene], f"{CONSENT_PREFIX}{scene}")
    for scene in (NEWS, NOTES):
        left = await fallbacks.consents_left(PLATFORM, account, scene)
        builder.line().text(
            nmsg(
                "Allowed now for {scene}: {n} message.",
                "Allowed now for {scene}: {n} messages.",
                left,
                scene=SCENES[scene],
            )
        )
    return builder.build()
