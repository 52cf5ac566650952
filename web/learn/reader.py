"""The lesson reader: ``/learn/CODE/N`` for the course's owners, signed in as learners. A lesson
shows its Markdown (sanitised), its file (an image, audio or video in place, anything else to
download), previous and next, and "Mark as done", which records progress as /learn does (a
finished course earns its completion points once). A lesson still on its drip shows when it
opens, not its content. Someone who does not own the course is sent to its page, which says how
to buy it; a file's address is signed for one member and a few minutes (web/learn/signed_files.py).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from core.catalog.markdown import render_markdown
from core.catalog.models import Course
from core.errors import InvalidInput, NotAllowed
from core.i18n import render
from core.members.models import Community
from core.services import Services
from web.learn import texts
from web.learn.pages import CODE_PATTERN, HREFLANG, guarded, page_locale
from web.learn.sessions import HEADERS, LearnerSessions
from web.learn.signed_files import FileSigner, byte_range

MEDIA = ("image", "audio", "video")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LessonReader:
    def __init__(
        self,
        services: Services,
        *,
        community: Callable[[], Awaitable[Community]],
        sessions: LearnerSessions,
        signer: FileSigner,
    ) -> None:
        self.services = services
        self.community = community
        self.sessions = sessions
        self.signer = signer

    def install(self, router: web.UrlDispatcher) -> None:
        lesson = f"/learn/{{code:{CODE_PATTERN}}}/{{n:[0-9]{{1,4}}}}"
        router.add_get(lesson, self._guard(self.lesson))
        router.add_post(lesson + "/done", self._guard(self.mark_done))
        router.add_get(lesson + "/file", self._guard(self.file))

    async def lesson(self, request: web.Request) -> web.StreamResponse:
        login = await self.sessions.required(request)
        member, community = login.member, login.community
        course = await self._course(community, request)
        position = int(request.match_info["n"])
        try:
            view = await self.services.learning.lesson(member, course, position)
        except NotAllowed:
            raise web.HTTPSeeOther(f"/c/{course.code}") from None
        locale = page_locale(request, member.locale or community.default_locale)
        t = texts.labels(locale)
        media = None
        if view.file is not None:
            kind = (mimetypes.guess_type(view.file.name)[0] or "").split("/")[0]
            query = self.signer.query(member.id, course.code, position, self.services.clock.now())
            media = (kind if kind in MEDIA else "download", f"{request.path}/file?{query}", view.file.name)
        here = f"/learn/{course.code}"
        context = {
            "locale": locale,
            "lang_attr": HREFLANG[locale],
            "t": t,
            "community": community.name,
            "course": course,
            "lesson": view.lesson,
            "heading": render(texts.lesson_heading(position, view.total, view.lesson.title), locale),
            "body": render_markdown(view.lesson.body) if view.opens_at is None else "",
            "opens": render(texts.opens_on(view.opens_at.date().isoformat()), locale)
            if view.opens_at
            else "",
            "done": view.done,
            "media": media,
            "action": f"{here}/{position}/done",
            "previous": f"{here}/{position - 1}" if position > 1 else "",
            "next": f"{here}/{position + 1}" if position < view.total else "",
            "hidden": self.sessions.hidden(login),
            "finished": render(texts.finished(course.title), locale) if request.query.get("finished") else "",
        }
        return aiohttp_jinja2.render_template("learn_lesson.html", request, context)

    async def mark_done(self, request: web.Request) -> web.StreamResponse:
        login = await self.sessions.required(request, post=True)
        course = await self._course(login.community, request)
        position = int(request.match_info["n"])
        try:
            done = await self.services.learning.mark_done(login.community, login.member, course, position)
        except NotAllowed:  # not open yet, or not theirs: the lesson's page says which
            raise web.HTTPSeeOther(f"/learn/{course.code}/{position}") from None
        suffix = "?finished=1" if done.finished else ""
        raise web.HTTPSeeOther(f"/learn/{course.code}/{position}{suffix}")

    async def file(self, request: web.Request) -> web.StreamResponse:
        login = await self.sessions.optional(request)
        community = await self.community()
        course = await self._course(community, request)
        position = int(request.match_info["n"])
        member = login.member if login is not None else None
        signed = member is not None and self.signer.valid(
            member.id,
            course.code,
            position,
            request.query.get("e", ""),
            request.query.get("s", ""),
            self.services.clock.now(),
        )
        if member is None or not signed:
            raise web.HTTPForbidden()
        try:
            name, data = await self.services.learning.file(member, course, position)
        except NotAllowed:
            raise web.HTTPForbidden() from None
        return ranged(request, name, data)

    async def _course(self, community: Community, request: web.Request) -> Course:
        try:
            return await self.services.catalog.course(
                community, request.match_info["code"], include_hidden=True
            )
        except InvalidInput:
            raise web.HTTPNotFound() from None

    def _guard(self, page: Handler) -> Handler:
        return guarded(page, self.community, HEADERS)


def ranged(request: web.Request, name: str, data: bytes) -> web.Response:
    """The file, or the part of it a ``Range`` header asks for (206; 416 when none of it)."""
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, max-age=600",
    }
    wanted = request.headers.get("Range")
    if wanted:
        try:
            part = byte_range(wanted, len(data))
        except ValueError:
            part = (0, len(data) - 1) if data else None  # another form: the whole file
            wanted = None
        if wanted and part is None:
            return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{len(data)}"})
        if wanted and part is not None:
            first, last = part
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            return web.Response(
                status=206, body=data[first : last + 1], content_type=content_type, headers=headers
            )
    return web.Response(body=data, content_type=content_type, headers=headers)
