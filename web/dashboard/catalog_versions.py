"""Lesson versions and drafts on the dashboard: a version's page shows what it changed (a diff
against the version before it, or, for a draft, against what learners read now) with Restore,
or Approve and Reject for a draft; the drafts page lists what waits for review. The same
CatalogService calls as /lesson history, /lesson restore and /drafts (core/catalog/lessons.py),
which also decide who may do what: the owner decides on drafts. The pages are creators'
(moderators see a lesson's versions with /lesson history)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.catalog.versions import DRAFT, PUBLISHED, STATES, LessonVersion, diff_lines
from core.errors import InvalidInput
from core.i18n import render
from core.members.service import MemberService
from web.dashboard.catalog_texts import LABELS
from web.kit import Authorized, Kit, redirect

MENU = None
VERSION_PATH = "/dashboard/catalog/versions/{id:[0-9]{1,18}}"


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Versions(kit)
    router.add_get("/dashboard/catalog/drafts", kit.guard(pages.drafts), allow_head=False)
    router.add_get(VERSION_PATH, kit.guard(pages.version), allow_head=False)
    router.add_post(VERSION_PATH + "/{action:restore|approve|reject}", kit.guard(pages.act))


class Versions:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.catalog = kit.services.catalog
        self.members = kit.services.members

    async def drafts(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        locale = self.kit.locale(request, login)
        rows = [
            await version_row(self.members, auth, draft, locale)
            for draft in await self.catalog.drafts(login.community, login.member)
        ]
        context = {"drafts": rows, "section": "drafts"}
        return self.kit.page(request, "catalog_drafts.html", auth, context, labels=LABELS)

    async def version(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        login = auth.login
        version = await self._version(request, auth)
        locale = self.kit.locale(request, login)
        before = await self.catalog.previous_version(version)
        course = await self.catalog.course_by_id(version.course_id)
        context = {
            **await version_row(self.members, auth, version, locale),
            "course": {"code": course.code, "title": course.title},
            "body": version.body,
            "compared": before.id if before else None,
            "diff": diff_lines(before, version),
            "can_restore": version.status == PUBLISHED and not await self.catalog.is_current(version),
            "can_decide": version.status == DRAFT
            and self.catalog.reviews_drafts(login.community, login.member),
            "done": request.query.get("done", ""),
            "section": "drafts" if version.status == DRAFT else "courses",
        }
        return self.kit.page(request, "catalog_version.html", auth, context, labels=LABELS)

    async def act(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        login = auth.login
        version = await self._version(request, auth)
        action = request.match_info["action"]

        async def act(_key: str) -> web.StreamResponse:
            community, member = login.community, login.member
            if action == "approve":
                await self.catalog.approve_draft(community, member, version.id, via="dashboard")
            elif action == "reject":
                await self.catalog.reject_draft(community, member, version.id, via="dashboard")
            else:
                written = await self.catalog.restore_version(community, member, version.id, via="dashboard")
                if written.draft is not None:
                    return redirect(f"/dashboard/catalog/versions/{written.draft.id}?done=drafted")
            return redirect(f"/dashboard/catalog/versions/{version.id}?done={action}")

        return await self.kit.submit(request, auth, act)

    async def _version(self, request: web.Request, auth: Authorized) -> LessonVersion:
        try:
            return await self.catalog.lesson_version(
                auth.login.community, auth.login.member, int(request.match_info["id"])
            )
        except InvalidInput:
            raise web.HTTPNotFound() from None


async def version_row(
    members: MemberService, auth: Authorized, version: LessonVersion, locale: str
) -> dict[str, Any]:
    """A version as the lesson page's list, the drafts page and a version's page show it."""
    author = await members.get_member(version.author_member_id) if version.author_member_id else None
    return {
        "id": version.id,
        "title": version.title,
        "author": author.display_name if author else "—",
        "when": version.created_at.astimezone(auth.zone).strftime("%Y-%m-%d %H:%M"),
        "state": render(STATES.get(version.status, STATES[PUBLISHED]), locale),
        "status": version.status,
        "note": version.note,
        "href": f"/dashboard/catalog/versions/{version.id}",
    }
