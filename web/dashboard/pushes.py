"""Pushes: compose a push to a segment with its recipients per platform, review it, send a
test to oneself, confirm, follow its status, cancel it; the automations' texts and switches.
Every step is the core call /push makes (core/pushes), so the same refusals apply."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.analytics.segments import RULES
from core.errors import InvalidInput
from core.i18n import Msg, msg, render
from core.pushes.audience import Reach
from core.pushes.automations import AUTOMATION_LABELS, AUTOMATIONS, DEFAULT_TEXTS
from core.pushes.campaigns import LIVE, MAX_TEXT, REASON_NAMES, STATUS_NAMES, Campaign, ab_note, check_text
from core.pushes.schedule import parse_send_time
from web.kit import Authorized, Kit, MenuItem, path_id, query_id, redirect, when

LABELS: dict[str, Msg] = {
    "pushes": msg("Pushes"),
    "compose": msg("New push"),
    "segment": msg("Segment"),
    "segment_help": msg(
        "all, a segment (new, active, at-risk, churned, paying, vip) or a cluster's number or name."
    ),
    "text_a": msg("Text"),
    "text_b": msg("Text B (optional: an A/B test)"),
    "text_b_help": msg("With a second text, recipients are split at random into two halves."),
    "send_at": msg("Send at (optional)"),
    "send_at_help": msg("Empty: as soon as it is confirmed. Quiet hours are kept."),
    "preview": msg("Preview recipients"),
    "review": msg("Review before sending"),
    "reach": msg("Who it reaches now"),
    "platform": msg("Platform"),
    "recipients": msg("Recipients"),
    "muted": msg("Muted"),
    "unreachable": msg("No account on any platform"),
    "total": msg("Total"),
    "list": msg("Pushes sent and scheduled"),
    "status": msg("Status"),
    "when": msg("When"),
    "sent": msg("Sent"),
    "waiting": msg("Waiting"),
    "skipped": msg("Skipped"),
    "failed": msg("Failed"),
    "no_pushes": msg("No pushes yet."),
    "older": msg("Older pushes"),
    "newest": msg("Newest pushes"),
    "not_sent": msg("Nothing was sent or changed."),
    "text": msg("Text"),
    "text_a_ab": msg("Text A"),
    "text_b_ab": msg("Text B"),
    "send_test": msg("Send a test to me"),
    "confirm": msg("Confirm and send"),
    "discard": msg("Discard"),
    "cancel": msg("Cancel this push"),
    "nothing_until": msg("Nothing is sent until you confirm."),
    "reasons_skipped": msg("Skipped because"),
    "reasons_failed": msg("Failed because"),
    "ab_results": msg("Purchases within 7 days of delivery"),
    "variant": msg("Text"),
    "bought": msg("Bought"),
    "rate": msg("Rate"),
    "back_to_pushes": msg("All pushes"),
    "automations": msg("Automations"),
    "switches": msg("Switches"),
    "welcome_switch": msg("Welcome sequence (day 0, 1, 3)"),
    "winback_switch": msg("Win-back for members at risk"),
    "renewal_switch": msg("Renewal reminders"),
    "texts": msg("Texts"),
    "default_text": msg("Default text"),
    "own_text": msg("Your text"),
    "use_default": msg("Use the default text"),
    "save": msg("Save"),
    "on": msg("on"),
    "off": msg("off"),
    "quiet_hours": msg("Quiet hours and the win-back interval are on the Settings page."),
}
MENU = MenuItem("/dashboard/pushes", LABELS["pushes"])
PUSH_PAGE = 20
SWITCHES = {
    "push.welcome": "welcome_switch",
    "push.winback": "winback_switch",
    "push.renewal_reminders": "renewal_switch",
}
SEGMENTS = ("all", *RULES)


def sent_to_you(platform: str) -> Msg:
    return msg("The test was sent to you on {platform}.", platform=platform)


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Pushes(kit)
    router.add_get("/dashboard/pushes", kit.guard(pages.pushes), allow_head=False)
    router.add_post("/dashboard/pushes", kit.guard(pages.draft))
    router.add_post("/dashboard/pushes/preview", kit.guard(pages.preview))
    router.add_get("/dashboard/pushes/automations", kit.guard(pages.automations), allow_head=False)
    router.add_post("/dashboard/pushes/automations/text", kit.guard(pages.automation_text))
    router.add_post("/dashboard/pushes/automations/switch", kit.guard(pages.switch))
    router.add_get("/dashboard/pushes/{id:[0-9]+}", kit.guard(pages.push), allow_head=False)
    for action in ("test", "confirm", "cancel"):
        router.add_post(f"/dashboard/pushes/{{id:[0-9]+}}/{action}", kit.guard(getattr(pages, action)))


def _reach(reach: Reach) -> dict[str, Any]:
    return {
        "per_platform": list(reach.per_platform.items()),
        "recipients": reach.recipients,
        "muted": reach.muted,
        "unreachable": reach.unreachable,
    }


class Pushes:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.service = kit.services.pushes

    # -- composing -----------------------------------------------------------------------------

    async def pushes(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        return await self._compose(request, auth, {})

    async def preview(self, request: web.Request) -> web.StreamResponse:
        """The compose form again, as typed, with who the segment reaches now (stores nothing)."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        form = _form(await request.post())
        login = auth.login
        try:
            reach = await self.service.reach(login.community, login.member, form["segment"])
        except InvalidInput as refused:
            return await self._compose(request, auth, form, errors={"segment": refused.message}, status=400)
        return await self._compose(request, auth, form, reach=reach)

    async def draft(self, request: web.Request) -> web.StreamResponse:
        """A draft push (core draft, as /push makes it), then its review page; a refusal is
        shown beside its field and stores nothing."""
        auth = await self.kit.authorize(request, post=True, creator=True)  # and the core checks again
        form = _form(await request.post())
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            errors: dict[str, Msg] = {}
            send_at = None
            for field in ("text_a", "text_b"):
                if field == "text_a" or form[field].strip():
                    try:
                        check_text(form[field])
                    except InvalidInput as refused:
                        errors[field] = refused.message
            if form["send_at"].strip():
                try:
                    send_at = parse_send_time(
                        form["send_at"], login.community.timezone, self.kit.services.clock.now()
                    )
                except InvalidInput as refused:
                    errors["send_at"] = refused.message
            if not errors:
                try:
                    preview = await self.service.draft(
                        login.community,
                        login.member,
                        form["segment"],
                        form["text_a"],
                        form["text_b"] if form["text_b"].strip() else None,
                        send_at,
                    )
                except InvalidInput as refused:  # the texts and time passed: the segment
                    errors["segment"] = refused.message
                else:
                    return redirect(f"/dashboard/pushes/{preview.campaign.id}")
            return await self._compose(request, auth, form, errors=errors, status=400)

        return await self.kit.submit(request, auth, act)

    async def _compose(
        self,
        request: web.Request,
        auth: Authorized,
        form: dict[str, str],
        *,
        reach: Reach | None = None,
        errors: dict[str, Msg] | None = None,
        status: int = 200,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        before = query_id(request, "before") if request.method == "GET" else None
        found = await self.service.campaigns(
            login.community, login.member, limit=PUSH_PAGE + 1, before=before
        )
        shown = found[:PUSH_PAGE]
        tallies = await self.service.tallies(login.community, login.member, [c.id for c in shown])
        rows = [
            {
                "id": c.id,
                "segment": c.segment,
                "status": _status(c.status, locale),
                "when": when(c.send_at, auth.zone),
                "ab": c.is_ab,
                **tallies[c.id],
            }
            for c in shown
        ]
        older = f"/dashboard/pushes?before={shown[-1].id}" if len(found) > PUSH_PAGE else None
        context = {
            "form": {"segment": "all", "text_a": "", "text_b": "", "send_at": "", **form},
            "errors": {field: render(message, locale) for field, message in (errors or {}).items()},
            "reach": _reach(reach) if reach is not None else None,
            "segments": SEGMENTS,
            "max_text": MAX_TEXT,
            "zone": login.community.timezone,
            "rows": rows,
            "older": older,
            "paged": before is not None,
        }
        return self.kit.page(request, "pushes.html", auth, context, labels=LABELS, status=status)

    # -- one push --------------------------------------------------------------------------------

    async def push(self, request: web.Request) -> web.StreamResponse:
        """A draft's review (its recipients now, the test and confirm buttons), or a push's
        status (counts by status and reason, A/B results, cancel while it is not finished)."""
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        locale = self.kit.locale(request, login)
        campaign_id = path_id(request, "id")
        status = await self.service.status(login.community, login.member, campaign_id)
        campaign = status.campaign
        context: dict[str, Any] = {
            "push": self._campaign(campaign, auth, locale),
            "counts": status.counts,
            "skipped": _reasons(status.skipped, locale),
            "failed": _reasons(status.failed, locale),
            "draft": campaign.status == "draft",
            "cancellable": campaign.status in ("draft", *LIVE),
            "reach": None,
            "comparison": None,
            "notice": None,
        }
        if campaign.status == "draft":
            context["reach"] = _reach(
                (await self.service.preview(login.community, login.member, campaign_id)).reach
            )
        if status.comparison is not None:
            c = status.comparison
            context["comparison"] = {
                "rows": [
                    (r.variant.upper(), r.converted, r.sent, f"{100 * r.rate:.1f}%") for r in (c.a, c.b)
                ],
                "note": render(ab_note(c), locale),
            }
        tested = request.query.get("tested", "")
        if tested.isalpha() and len(tested) <= 20:
            context["notice"] = render(sent_to_you(tested), locale)
        return self.kit.page(request, "push.html", auth, context, labels=LABELS)

    def _campaign(self, campaign: Campaign, auth: Authorized, locale: str) -> dict[str, Any]:
        now = self.kit.services.clock.now()
        if campaign.send_at > now:
            sends = msg(
                "Sends: at {when} ({zone}), outside quiet hours.",
                when=when(campaign.send_at, auth.zone),
                zone=auth.login.community.timezone,
            )
        else:
            sends = msg("Sends: as soon as it is confirmed (outside quiet hours).")
        return {
            "id": campaign.id,
            "segment": campaign.segment,
            "status": _status(campaign.status, locale),
            "sends": render(sends, locale),
            "text_a": campaign.text_a or "",
            "text_b": campaign.text_b,
        }

    async def test(self, request: web.Request) -> web.StreamResponse:
        """The push's text to the signed-in creator alone, through the channel a push takes."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login, campaign_id = auth.login, path_id(request, "id")

        async def act(key: str) -> web.StreamResponse:
            platform = await self.service.send_test(login.community, login.member, campaign_id, key)
            return redirect(f"/dashboard/pushes/{campaign_id}?tested={platform}")

        return await self.kit.submit(request, auth, act)

    async def confirm(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        login, campaign_id = auth.login, path_id(request, "id")

        async def act(_key: str) -> web.StreamResponse:
            await self.service.confirm(login.community, login.member, campaign_id)
            return redirect(f"/dashboard/pushes/{campaign_id}")

        return await self.kit.submit(request, auth, act)

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        login, campaign_id = auth.login, path_id(request, "id")

        async def act(_key: str) -> web.StreamResponse:
            await self.service.cancel(login.community, login.member, campaign_id)
            return redirect(f"/dashboard/pushes/{campaign_id}")

        return await self.kit.submit(request, auth, act)

    # -- automations -----------------------------------------------------------------------------

    async def automations(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        return await self._automations(request, auth)

    async def automation_text(self, request: web.Request) -> web.StreamResponse:
        """A creator's own text for an automation (/push auto KIND TEXT), or back to the
        default (/push auto KIND default); an empty or too long text is refused beside it."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        form = await request.post()
        kind, text = str(form.get("kind", "")), str(form.get("text", ""))
        reset = "reset" in form
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            try:
                if not reset:
                    check_text(text)  # the page's Save needs a text; the reset button clears it
                await self.service.set_automation_text(
                    login.community, login.member, kind, "" if reset else text
                )
            except InvalidInput as refused:
                return await self._automations(request, auth, refused=(kind, text, refused.message))
            return redirect(f"/dashboard/pushes/automations#auto-{kind}")

        return await self.kit.submit(request, auth, act)

    async def switch(self, request: web.Request) -> web.StreamResponse:
        """An automation on or off: the /rules set the command's list points to, audited."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        form = await request.post()
        key, value = str(form.get("key", "")), str(form.get("value", ""))
        if key not in SWITCHES:
            raise web.HTTPNotFound()
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            await self.kit.services.settings.set(
                login.community.id, key, value, actor=login.member, via="dashboard"
            )
            return redirect(f"/dashboard/pushes/automations#switch-{key.replace('.', '-')}")

        return await self.kit.submit(request, auth, act)

    async def _automations(
        self, request: web.Request, auth: Authorized, *, refused: tuple[str, str, Msg] | None = None
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        settings = await self.kit.services.settings.all(login.community.id)
        own = await self.service.automation_texts(login.community)
        switches = [
            {
                "key": key,
                "id": key.replace(".", "-"),
                "label": render(LABELS[label], locale),
                "on": bool(settings[key]),
            }
            for key, label in SWITCHES.items()
        ]
        texts = []
        for kind in AUTOMATIONS:
            default = DEFAULT_TEXTS[kind]
            item = {
                "kind": kind,
                "name": render(AUTOMATION_LABELS[kind], locale),
                "default": render(
                    Msg(default.text, {**default.params, "community": login.community.name}), locale
                ),
                "text": own.get(kind, ""),
                "error": None,
            }
            if refused is not None and refused[0] == kind:
                item["text"], item["error"] = refused[1], render(refused[2], locale)
            texts.append(item)
        context = {"switches": switches, "texts": texts, "max_text": MAX_TEXT, "refused": refused is not None}
        status = 400 if refused is not None else 200
        return self.kit.page(request, "push_automations.html", auth, context, labels=LABELS, status=status)


def _form(posted: Any) -> dict[str, str]:
    return {
        name: str(posted.get(name, ""))[: 2 * MAX_TEXT] for name in ("segment", "text_a", "text_b", "send_at")
    }


def _reasons(counts: dict[str, int], locale: str) -> list[tuple[str, int]]:
    return [
        (render(REASON_NAMES[reason], locale) if reason in REASON_NAMES else reason, n)
        for reason, n in sorted(counts.items())
    ]


def _status(status: str, locale: str) -> str:
    return render(STATUS_NAMES[status], locale) if status in STATUS_NAMES else status
