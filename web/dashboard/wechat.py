"""WeChat: which template carries each transactional notice after the 48-hour window, with the
notice field each of its keywords shows, and the one-time subscribe message's template — set and
cleared by the same core calls /wechat template and /wechat subscribe make, so the same refusals
apply. Creators only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from core.delivery.outside import SUBSCRIBE as BY_CONSENT
from core.delivery.outside import TEMPLATE as BY_TEMPLATE
from core.delivery.templates import (
    FIELD_NAMES,
    MAX_KEYWORDS,
    MAX_TOTAL,
    MAX_VALUE,
    NOTICE_NAMES,
    NOTICES,
    SUBSCRIBE,
    NoticeTemplate,
)
from core.errors import InvalidInput
from core.i18n import Msg, msg, nmsg, render
from web.kit import Authorized, Kit, MenuItem, redirect

PLATFORM = "wechat"
RECENT_DAYS = 7
LABELS: dict[str, Msg] = {
    "wechat": msg("WeChat"),
    "intro": msg(
        "WeChat lets the account write to a follower only within 48 hours of their last message."
        " After that, a notice goes only by a template message: map it here to a template from"
        " the Official Account console (its template id), and say which of the notice's fields"
        " fills each of the template's keywords."
    ),
    "notices": msg("Notices after the 48-hour window"),
    "template_id": msg("Template id"),
    "keywords": msg("Keywords"),
    "fields": msg("Fields"),
    "current": msg("Now"),
    "no_template": msg("no template: this notice goes only within the 48-hour window"),
    "remove": msg("Remove"),
    "subscribe": msg("Subscribe messages"),
    "subscribe_help": msg(
        "Followers who send /notifyme may allow the account one message each after 48 hours:"
        " for pushes and for notes that have no template above. Give the template id of the"
        " one-time subscribe message from the Official Account console (接口权限 → 一次性订阅消息);"
        " remove it to stop offering them."
    ),
    "subscribe_off": msg("off: /notifyme offers no links"),
    "recent": msg("After the 48-hour window"),
    "by_template": msg("Sent by template"),
    "by_consent": msg("Sent by the follower's consent"),
    "skipped": msg("Not delivered"),
    "why_skipped": msg("Why, on the analytics page"),
}
# What each notice is, in plain words (its fields are NOTICES').
NOTICE_HELP: dict[str, Msg] = {
    "payment_received": msg("To a buyer when their payment is received."),
    "renews_soon": msg("To a subscriber a few days before their subscription renews or is due."),
    "access_ends": msg(
        "To a subscriber when a payment failed (access lasts until a date) or their subscription ended."
    ),
    "refund_done": msg("To a buyer when they are refunded."),
}
MENU = MenuItem("/dashboard/wechat", LABELS["wechat"])
RULES = msg(
    "WeChat's rules: templates no longer show first or remark lines, so map only the template's"
    " keywords (like thing1 or amount2, as the console lists them). Each value is cut to"
    " {value} characters, and to {total} in all.",
    value=MAX_VALUE,
    total=MAX_TOTAL,
)
KEYWORDS_HELP = msg(
    "KEYWORD=FIELD, separated by spaces, like thing1=title amount2=amount (1 to {n} of them).",
    n=MAX_KEYWORDS,
)


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = WeChatTemplates(kit)
    router.add_get("/dashboard/wechat", kit.guard(pages.wechat), allow_head=False)
    router.add_post("/dashboard/wechat/templates", kit.guard(pages.set_template))
    router.add_post("/dashboard/wechat/subscribe", kit.guard(pages.set_subscribe))


class WeChatTemplates:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.service = kit.services.templates

    async def wechat(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        saved = request.query.get("saved", "")
        return await self._page(request, auth, saved=saved if saved in (*NOTICES, SUBSCRIBE) else None)

    async def set_template(self, request: web.Request) -> web.StreamResponse:
        """As /wechat template NOTICE TEMPLATE_ID KEYWORD=FIELD… (or NOTICE off: an empty
        template id, or the Remove button); a refusal is shown beside its form (400)."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        form = await request.post()
        typed = {
            "notice": str(form.get("notice", ""))[:40],
            "template_id": str(form.get("template_id", ""))[:200],
            "keywords": str(form.get("keywords", ""))[:500],
        }
        remove = "remove" in form or not typed["template_id"].strip()

        async def act(_key: str) -> web.StreamResponse:
            try:
                if remove:
                    await self.service.clear(login.community, login.member, typed["notice"])
                    notice = typed["notice"].strip().lower()
                else:
                    template = await self.service.set(
                        login.community,
                        login.member,
                        typed["notice"],
                        typed["template_id"],
                        typed["keywords"].split(),
                    )
                    notice = template.notice
            except InvalidInput as refused:
                return await self._page(request, auth, refused=(typed, refused.field, refused.message))
            return redirect(f"/dashboard/wechat?saved={quote(notice)}#notice-{quote(notice)}")

        return await self.kit.submit(request, auth, act)

    async def set_subscribe(self, request: web.Request) -> web.StreamResponse:
        """As /wechat subscribe TEMPLATE_ID|off (off: an empty template id, or Remove)."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        form = await request.post()
        typed = {"notice": SUBSCRIBE, "template_id": str(form.get("template_id", ""))[:200], "keywords": ""}
        remove = "remove" in form or not typed["template_id"].strip()

        async def act(_key: str) -> web.StreamResponse:
            try:
                if remove:
                    await self.service.clear(login.community, login.member, SUBSCRIBE)
                else:
                    await self.service.set(login.community, login.member, SUBSCRIBE, typed["template_id"], [])
            except InvalidInput as refused:
                return await self._page(request, auth, refused=(typed, refused.field, refused.message))
            return redirect(f"/dashboard/wechat?saved={SUBSCRIBE}#subscribe")

        return await self.kit.submit(request, auth, act)

    async def _page(
        self,
        request: web.Request,
        auth: Authorized,
        *,
        saved: str | None = None,
        refused: tuple[dict[str, str], str | None, Msg] | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        mapped = await self.service.all(login.community.id)
        typed, field, error = None, None, None
        if refused is not None:
            typed, field, error = refused[0], refused[1], render(refused[2], locale)
        refused_notice = typed["notice"].strip().lower() if typed is not None else None
        notices = []
        for notice, fields in NOTICES.items():
            template = mapped.get(notice)
            entry: dict[str, Any] = {
                "notice": notice,
                "name": render(NOTICE_NAMES[notice], locale),
                "help": render(NOTICE_HELP[notice], locale),
                "fields": [(name, render(FIELD_NAMES[name], locale)) for name in fields],
                "current": _current(template),
                "template_id": template.template_id if template else "",
                "keywords": _keywords(template),
                "error": None,
                "error_field": None,
            }
            if typed is not None and refused_notice == notice:
                entry.update(
                    template_id=typed["template_id"],
                    keywords=typed["keywords"],
                    error=error,
                    error_field=field,
                )
            notices.append(entry)
        subscribe = mapped.get(SUBSCRIBE)
        subscribe_entry: dict[str, Any] = {
            "current": subscribe.template_id if subscribe else "",
            "template_id": subscribe.template_id if subscribe else "",
            "error": None,
        }
        if typed is not None and refused_notice == SUBSCRIBE:
            subscribe_entry.update(template_id=typed["template_id"], error=error)
        # A refusal no form holds (a notice the page does not offer): said at the top.
        stray = error if typed is not None and refused_notice not in (*NOTICES, SUBSCRIBE) else None
        context = {
            "rules": render(RULES, locale),
            "keywords_help": render(KEYWORDS_HELP, locale),
            "notices": notices,
            "subscribe": subscribe_entry,
            "refused": refused is not None,
            "stray_error": stray,
            "saved": _saved(saved, mapped, locale),
            "recent": await self._recent(locale),
        }
        status = 400 if refused is not None else 200
        return self.kit.page(request, "wechat.html", auth, context, labels=LABELS, status=status)

    async def _recent(self, locale: str) -> dict[str, Any]:
        """What went after the 48-hour window in the last RECENT_DAYS days, as /undelivered
        counts it."""
        services = self.kit.services
        since = services.clock.now() - timedelta(days=RECENT_DAYS)
        sent = await services.fallbacks.sent_since(PLATFORM, since)
        skipped = await services.delivery.skipped_since(PLATFORM, since)
        return {
            "title": render(nmsg("In the last {n} day", "In the last {n} days", RECENT_DAYS), locale),
            "by_template": sent.get(BY_TEMPLATE, 0),
            "by_consent": sent.get(BY_CONSENT, 0),
            "skipped": sum(skipped.values()),
        }


def _keywords(template: NoticeTemplate | None) -> str:
    """The keywords as the form takes them and /wechat templates shows them."""
    if template is None:
        return ""
    return " ".join(f"{keyword}={field}" for keyword, field in template.keywords)


def _current(template: NoticeTemplate | None) -> str:
    if template is None:
        return ""
    return f"{template.template_id} · {_keywords(template)}"


def _saved(saved: str | None, mapped: dict[str, NoticeTemplate], locale: str) -> str | None:
    """The confirmation of the change just redirected from, in the command's words."""
    if saved is None:
        return None
    template = mapped.get(saved)
    if saved == SUBSCRIBE:
        if template is None:
            return render(msg("Subscribe messages are off: /notifyme offers no links."), locale)
        return render(
            msg(
                "Subscribe messages use template {template}: followers allow them with /notifyme.",
                template=template.template_id,
            ),
            locale,
        )
    if template is None:
        return render(msg("{notice} now goes only within the 48-hour window.", notice=saved), locale)
    return render(
        msg(
            "{notice} now goes by template {template} after the 48-hour window.",
            notice=saved,
            template=template.template_id,
        ),
        locale,
    )
