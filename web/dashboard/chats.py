"""Paid chats (creators): each paid chat with what it requires, binding a group to a course, a
plan or a tier and removing a binding (the calls /bind and /unbind make), the reconciliation's
dry run (/access check) with its problems in plain words, and "fix now" (/access fix)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from core.access.paid_chats import KINDS, Action, Binding
from core.errors import InvalidInput
from core.events import ChatKind
from core.i18n import Msg, msg, nmsg, render
from core.members.models import Community
from web.kit import Authorized, Kit, MenuItem, redirect

LABELS: dict[str, Msg] = {
    "chats": msg("Paid chats"),
    "chat": msg("Chat"),
    "platform": msg("Platform"),
    "requires": msg("Who may be in"),
    "remove": msg("Remove"),
    "no_bindings": msg("No paid chats yet."),
    "bind": msg("Make a group or channel paid"),
    "bind_button": msg("Bind"),
    "kind": msg("Requires"),
    "target": msg("Code or tier name"),
    "no_groups": msg("The bot is in no group yet: add it to a group, then come back."),
    "check": msg("Check who should be in"),
    "check_title": msg("Paid chats: the check"),
    "nothing_to_do": msg("Paid chats are in order: nothing to do."),
    "would_change": msg("What the check would change"),
    "problems": msg("What stands in the way"),
    "no_problems": msg("No problems: the bot has the rights it needs."),
    "refused": msg("Refused by the platform in the last day"),
    "fix": msg("Fix now"),
    "fix_help": msg("The scheduled check does this every 30 minutes; fix now does it at once."),
    "member": msg("Member"),
    "change": msg("Change"),
    "reason": msg("Reason"),
    "back_to_chats": msg("Back to paid chats"),
    "not_changed": msg("Nothing was changed."),
}
KIND_LABELS: dict[str, Msg] = {"course": msg("a course"), "plan": msg("a plan"), "tier": msg("a tier")}
VERBS: dict[str, Msg] = {
    "remove": msg("remove"),
    "admit": msg("give access"),
    "invite": msg("send an invite"),
}
PLATFORMS: dict[str, Msg] = {
    "telegram": msg("Telegram"),
    "discord": msg("Discord"),
    "wechat": msg("WeChat"),
    "console": msg("Console"),
}
MENU = MenuItem("/dashboard/chats", LABELS["chats"])


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Chats(kit)
    router.add_get("/dashboard/chats", kit.guard(pages.chats), allow_head=False)
    router.add_post("/dashboard/chats/bind", kit.guard(pages.bind))
    router.add_post("/dashboard/chats/unbind", kit.guard(pages.unbind))
    router.add_get("/dashboard/chats/check", kit.guard(pages.check), allow_head=False)
    router.add_post("/dashboard/chats/fix", kit.guard(pages.fix))


class Chats:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.services = kit.services
        self.paid = kit.services.paid_chats

    async def chats(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        done = {"bound": msg("The group is paid now."), "unbound": msg("The binding is removed.")}
        return await self._page(request, auth, done=done.get(request.query.get("done", "")))

    async def bind(self, request: web.Request) -> web.StreamResponse:
        """A refused binding re-renders the page (400) with the core's message beside its field."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        form = await request.post()
        kind, target = str(form.get("kind", "")), str(form.get("target", "")).strip()
        chat_id = _id(form.get("chat"))
        if chat_id is None:
            return await self._page(request, auth, refused=("chat", kind, target, msg("Choose a group.")))
        chat = await self.paid.chat_of(login.community, chat_id)  # another community's: 404

        async def act(_key: str) -> web.StreamResponse:
            field = "chat" if chat.kind is not ChatKind.GROUP else "kind" if kind not in KINDS else "target"
            if not target:
                return await self._page(
                    request,
                    auth,
                    refused=("target", kind, target, msg("Give a course or plan code, or a tier name.")),
                )
            try:
                await self.paid.bind(login.community, login.member, chat, kind, target, via="dashboard")
            except InvalidInput as refused:
                return await self._page(
                    request, auth, refused=(field, kind, target, refused.message), chat_id=chat_id
                )
            return redirect("/dashboard/chats?done=bound")

        return await self.kit.submit(request, auth, act)

    async def unbind(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        form = await request.post()
        chat_id = _id(form.get("chat"))
        if chat_id is None:
            raise web.HTTPNotFound()
        chat = await self.paid.chat_of(login.community, chat_id)
        kind, target = str(form.get("kind", "")), str(form.get("target", ""))

        async def act(_key: str) -> web.StreamResponse:
            await self.paid.unbind(
                login.community, login.member, chat, kind=kind, target=target, via="dashboard"
            )
            return redirect("/dashboard/chats?done=unbound")

        return await self.kit.submit(request, auth, act)

    async def check(self, request: web.Request) -> web.StreamResponse:
        """The dry run; after "fix now", what it did first."""
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        locale = self.kit.locale(request, login)
        checked = await self.paid.check(login.community, login.member)
        fixed = None
        if "done" in request.query:
            done, failed = _count(request.query.get("done")), _count(request.query.get("failed"))
            fixed = render(nmsg("Done: {n} change.", "Done: {n} changes.", done), locale)
            if failed:
                fixed += " " + render(
                    nmsg(
                        "{n} could not be made: see what stands in the way.",
                        "{n} could not be made: see what stands in the way.",
                        failed,
                    ),
                    locale,
                )
        context = {
            "actions": [_action(action, locale) for action in checked.actions],
            "problems": [
                {
                    "chat": chat.title,
                    "platform": _platform(chat.platform, locale),
                    "problem": render(problem, locale),
                }
                for chat, problem in checked.problems
            ],
            "refused": [
                {
                    "chat": chat.title,
                    "platform": _platform(chat.platform, locale),
                    "problem": render(problem, locale),
                }
                for chat, problem in checked.refused
            ],
            "fixed": fixed,
        }
        return self.kit.page(request, "chats_check.html", auth, context, labels=LABELS)

    async def fix(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            result = await self.paid.fix(login.community, login.member, via="dashboard")
            query = urlencode({"done": len(result.done), "failed": len(result.failed)})
            return redirect(f"/dashboard/chats/check?{query}")

        return await self.kit.submit(request, auth, act)

    async def _page(
        self,
        request: web.Request,
        auth: Authorized,
        *,
        done: Msg | None = None,
        refused: tuple[str, str, str, Msg] | None = None,
        chat_id: int | None = None,
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        bindings = await self.paid.bindings(login.community)
        error = None
        if refused is not None:
            error = {
                "field": refused[0],
                "kind": refused[1],
                "target": refused[2],
                "message": render(refused[3], locale),
            }
        context: dict[str, Any] = {
            "bindings": [await self._binding(login.community, b, locale) for b in bindings],
            "groups": [
                (chat.id, chat.title, _platform(chat.platform, locale))
                for chat in await self.paid.group_chats(login.community)
            ],
            "kinds": [(kind, render(KIND_LABELS[kind], locale)) for kind in KINDS],
            "choices": await self._choices(login.community, locale),
            "done": render(done, locale) if done is not None else None,
            "error": error,
            "chosen_chat": chat_id,
        }
        status = 400 if refused is not None else 200
        return self.kit.page(request, "chats.html", auth, context, labels=LABELS, status=status)

    async def _binding(self, community: Community, binding: Binding, locale: str) -> dict[str, Any]:
        return {
            "chat_id": binding.chat.id,
            "chat": binding.chat.title,
            "platform": _platform(binding.chat.platform, locale),
            "kind": binding.kind,
            "target": binding.target,
            "requires": render(await self._requirement(community, binding), locale),
        }

    async def _requirement(self, community: Community, binding: Binding) -> Msg:
        """What a binding asks of a member, in words rather than its kind code."""
        try:
            if binding.kind == "course":
                course = await self.services.catalog.course(community, binding.target, include_hidden=True)
                return msg("owners of the course {title} ({code})", title=course.title, code=course.code)
            if binding.kind == "plan":
                plan = await self.services.plans.get(community, binding.target, include_hidden=True)
                return msg("subscribers to the plan {title} ({code})", title=plan.title, code=plan.code)
        except InvalidInput:
            return msg("{kind} {target}, which no longer exists", kind=binding.kind, target=binding.target)
        return msg("members at tier {name} or above", name=binding.target)

    async def _choices(self, community: Community, locale: str) -> str:
        """The codes a binding can name, as help beside the field."""
        courses = [c.code for c in await self.services.catalog.courses(community, include_hidden=True)]
        plans = [p.code for p in await self.services.plans.list(community, include_hidden=True)]
        tiers = [t.name for t in await self.services.points.tiers(community)]
        none = render(msg("none"), locale)
        return render(
            msg(
                "Courses: {courses} · Plans: {plans} · Tiers: {tiers}",
                courses=", ".join(courses[:30]) or none,
                plans=", ".join(plans[:30]) or none,
                tiers=", ".join(tiers[:30]) or none,
            ),
            locale,
        )


def _action(action: Action, locale: str) -> dict[str, str]:
    return {
        "verb": render(VERBS.get(action.verb, VERBS["invite"]), locale),
        "member": action.member.display_name,
        "chat": action.chat.title,
        "reason": render(action.reason, locale),
    }


def _platform(code: str, locale: str) -> str:
    return render(PLATFORMS[code], locale) if code in PLATFORMS else code


def _id(value: object) -> int | None:
    text = str(value or "")
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) < 1:
        return None
    return int(text)


def _count(value: str | None) -> int:
    text = value or ""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else 0
