"""Catalog: courses (add, edit, publish or hide) and their lessons (a Markdown editor with a
preview, drip day, a file), by the same CatalogService calls /course and /lesson make, so the
same refusals apply; the core names the refused field (InvalidInput.field) and the page shows
its message there. Bundles, plans, coupons and the mall are in catalog_bundles,
catalog_plans, catalog_coupons and catalog_mall (sharing catalog_sections)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web
from markupsafe import Markup
from multidict import MultiDictProxy

from core.catalog.course_fields import course_field_value
from core.catalog.lessons import MAX_FILE
from core.catalog.markdown import render_markdown
from core.catalog.models import Course, Lesson
from core.catalog.money import Money, format_money, parse_money
from core.errors import InvalidInput
from core.events import Attachment
from core.i18n import Msg, msg, render
from core.numbers import parse_whole_number
from web.dashboard.catalog_texts import EDIT_LESSON, FILE_KEPT, LABELS, SAVED, opens
from web.dashboard.catalog_versions import version_row
from web.kit import Authorized, Kit, MenuItem, query_id, redirect

MENU = MenuItem("/dashboard/catalog", LABELS["catalog"])
PAGE = 50  # rows of a list page (keyset on the id)
CODE_PATH = "{code:[A-Za-z0-9_-]{1,40}}"
FORM_ROOM = 2**20  # bytes of a lesson form beside its file


def install(kit: Kit, router: web.UrlDispatcher) -> None:
    pages = Courses(kit)
    course = f"/dashboard/catalog/courses/{CODE_PATH}"
    router.add_get("/dashboard/catalog", kit.guard(pages.courses), allow_head=False)
    router.add_post("/dashboard/catalog/courses", kit.guard(pages.add_course))
    router.add_get(course, kit.guard(pages.course), allow_head=False)
    router.add_post(course, kit.guard(pages.edit_course))
    router.add_post(course + "/visibility", kit.guard(pages.visibility))
    router.add_get(course + "/lessons/new", kit.guard(pages.new_lesson), allow_head=False)
    router.add_post(course + "/lessons", kit.guard(pages.add_lesson))
    router.add_get(course + "/lessons/{n:[0-9]{1,4}}", kit.guard(pages.lesson), allow_head=False)
    router.add_post(course + "/lessons/{n:[0-9]{1,4}}", kit.guard(pages.edit_lesson))


# -- what every catalog form shares ------------------------------------------------------------


@dataclass
class Field:
    """One input of a form: its label, what was typed, and the core's refusal beside it."""

    name: str
    label: str
    kind: str = "text"  # text | textarea | select | checkboxes | date | file
    value: str = ""
    help: str = ""
    error: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    chosen: tuple[str, ...] = ()  # checkboxes ticked
    inputmode: str | None = None
    rows: int = 4


@dataclass
class Refusal:
    """A refused form: the field the core named (or ``fallback``) and its message."""

    field: str
    message: Msg

    @classmethod
    def of(cls, refused: InvalidInput, fallback: str) -> Refusal:
        return cls(refused.field or fallback, refused.message)


def form_values(form: MultiDictProxy[Any], names: tuple[str, ...]) -> dict[str, str]:
    """The text typed in each of ``names`` ("" when absent or a file)."""
    return {name: value if isinstance(value := form.get(name, ""), str) else "" for name in names}


def whole_number(text: str) -> int | None:
    """A number typed in a form: None when empty; -1 when not a whole number, which every range
    the core checks refuses, so the core's message (naming the range) is what the page shows."""
    if not text.strip():
        return None
    number = parse_whole_number(text.strip(), bound=10**12)
    return -1 if number is None else number


def price_of(amount: str, currency: str) -> Money:
    """The price typed in two inputs, read as /course add reads ``19.99 USD``."""
    return parse_money(f"{amount.strip()} {currency.strip()}")


def major(money: Money) -> str:
    return f"{money.major:f}"


def labelled(fields: list[Field], refusal: Refusal | None, locale: str) -> list[Field]:
    """Put the refusal's message beside its field (the first field when it names none shown)."""
    if refusal is not None:
        target = next((f for f in fields if f.name == refusal.field), fields[0])
        target.error = render(refusal.message, locale)
    return fields


def uploaded(form: MultiDictProxy[Any], name: str = "file") -> Attachment | None:
    """A file chosen in a multipart form, or None when none was chosen."""
    part = form.get(name)
    if part is None or not hasattr(part, "file") or not part.filename:
        return None
    return Attachment(part.filename, part.file.read())


# -- courses and lessons -----------------------------------------------------------------------

COURSE_FIELDS = ("code", "title", "price", "currency", "description", "points", "completion")
LESSON_FIELDS = ("title", "body", "unlock_days")


class Courses:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.catalog = kit.services.catalog

    # The course list with the form that adds one.

    async def courses(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        return await self._courses(request, auth, {"currency": "USD"})

    async def add_course(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        form = await request.post()
        values = form_values(form, COURSE_FIELDS)
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            try:
                added = await self.catalog.add_course(
                    login.community,
                    login.member,
                    values["code"],
                    price_of(values["price"], values["currency"]),
                    values["title"],
                    values["description"],
                    via="dashboard",
                )
            except InvalidInput as refused:
                return await self._courses(request, auth, values, Refusal.of(refused, "code"))
            return redirect(f"/dashboard/catalog/courses/{added.code}?saved=1")

        return await self.kit.submit(request, auth, act)

    async def _courses(
        self, request: web.Request, auth: Authorized, values: dict[str, str], refusal: Refusal | None = None
    ) -> web.Response:
        login = auth.login
        locale = self.kit.locale(request, login)
        after = query_id(request, "after") or 0
        found = await self.catalog.courses(login.community, include_hidden=True, after=after, limit=PAGE + 1)
        t = {key: render(text, locale) for key, text in LABELS.items()}
        rows = [
            {
                "code": c.code,
                "title": c.title,
                "price": price_text(c, locale),
                "state": t["hidden"] if c.hidden else t["on_sale"],
                "hidden": c.hidden,
            }
            for c in found[:PAGE]
        ]
        fields = [
            Field("code", t["code"], value=values.get("code", "")),
            Field("title", t["title"], value=values.get("title", "")),
            Field("price", t["price"], value=values.get("price", ""), inputmode="decimal"),
            Field("currency", t["currency_code"], value=values.get("currency", "")),
            Field("description", t["description"], kind="textarea", value=values.get("description", "")),
        ]
        context = {
            "courses": rows,
            "fields": labelled(fields, refusal, locale),
            "refused": refusal is not None,
            "older": f"/dashboard/catalog?after={found[PAGE - 1].id}" if len(found) > PAGE else None,
            "first": "/dashboard/catalog" if after else None,
            "section": "courses",
        }
        status = 400 if refusal is not None else 200
        return self.kit.page(request, "catalog.html", auth, context, labels=LABELS, status=status)

    # One course: its edit form, publish/hide, its lessons.

    async def course(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        found = await self._course(request, auth)
        saved = request.query.get("saved") == "1"
        return await self._course_page(request, auth, found, course_values(found), saved=saved)

    async def edit_course(self, request: web.Request) -> web.StreamResponse:
        """Title first: it is the one value the service may refuse after the price has been
        read, so a refusal changes nothing."""
        auth = await self.kit.authorize(request, post=True, creator=True)
        found = await self._course(request, auth)
        form = await request.post()
        values = form_values(form, COURSE_FIELDS)
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            try:
                typed = {
                    "title": values["title"],
                    "description": values["description"].replace("\r\n", "\n"),
                    "price": price_of(values["price"], values["currency"]),
                    "points": course_field_value("points", values["points"]),
                    "completion": course_field_value("completion", values["completion"] or "0"),
                }
                now = {
                    "title": found.title,
                    "description": found.description,
                    "price": found.price,
                    "points": found.points_price,
                    "completion": found.completion_points,
                }
                tidy = {**typed, "title": " ".join(values["title"].split())}
                changes = [(name, value) for name, value in typed.items() if tidy[name] != now[name]]
                for name, value in changes:
                    await self.catalog.edit_course(
                        login.community, login.member, found.code, name, value, via="dashboard"
                    )
            except InvalidInput as refused:
                return await self._course_page(request, auth, found, values, Refusal.of(refused, "title"))
            return redirect(f"/dashboard/catalog/courses/{found.code}?saved=1")

        return await self.kit.submit(request, auth, act)

    async def visibility(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, post=True, creator=True)
        found = await self._course(request, auth)
        hidden = (await request.post()).get("hidden") == "1"
        login = auth.login

        async def act(_key: str) -> web.StreamResponse:
            await self.catalog.set_hidden(login.community, login.member, found.code, hidden, via="dashboard")
            return redirect(f"/dashboard/catalog/courses/{found.code}?saved=1")

        return await self.kit.submit(request, auth, act)

    async def _course(self, request: web.Request, auth: Authorized) -> Course:
        """The course in the path, of the signed-in member's community; another's is not found."""
        try:
            return await self.catalog.course(
                auth.login.community, request.match_info["code"], include_hidden=True
            )
        except InvalidInput:
            raise web.HTTPNotFound() from None

    async def _course_page(
        self,
        request: web.Request,
        auth: Authorized,
        found: Course,
        values: dict[str, str],
        refusal: Refusal | None = None,
        *,
        saved: bool = False,
    ) -> web.Response:
        locale = self.kit.locale(request, auth.login)
        t = {key: render(text, locale) for key, text in LABELS.items()}
        fields = [
            Field("title", t["title"], value=values["title"]),
            Field("price", t["price"], value=values["price"], inputmode="decimal"),
            Field("currency", t["currency_code"], value=values["currency"]),
            Field("description", t["description"], kind="textarea", value=values["description"]),
            Field(
                "points",
                t["points_price"],
                value=values["points"],
                help=t["points_help"],
                inputmode="numeric",
            ),
            Field("completion", t["completion"], value=values["completion"], inputmode="numeric"),
        ]
        lessons = [
            {
                "position": lesson.position,
                "title": lesson.title,
                "opens": render(opens(lesson.unlock_days), locale),
                "file": lesson.file_name or "",
            }
            for lesson in await self.catalog.lessons(found)
        ]
        context = {
            "course": {
                "code": found.code,
                "title": found.title,
                "price": price_text(found, locale),
                "hidden": found.hidden,
                "state": t["hidden"] if found.hidden else t["on_sale"],
            },
            "fields": labelled(fields, refusal, locale),
            "refused": refusal is not None,
            "saved": render(msg(SAVED.text, code=found.code), locale) if saved else None,
            "lessons": lessons,
            "section": "courses",
        }
        status = 400 if refusal is not None else 200
        return self.kit.page(request, "catalog_course.html", auth, context, labels=LABELS, status=status)

    # Lessons: a Markdown editor whose Preview button re-renders the form with the lesson as
    # learners' pages will show it (no JavaScript needed).

    async def new_lesson(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        found = await self._course(request, auth)
        return self._lesson_page(request, auth, found, None, {"title": "", "body": "", "unlock_days": "0"})

    async def lesson(self, request: web.Request) -> web.StreamResponse:
        auth = await self.kit.authorize(request, creator=True)
        found = await self._course(request, auth)
        lesson = await self.catalog.lesson(found, int(request.match_info["n"]))
        values = {"title": lesson.title, "body": lesson.body, "unlock_days": str(lesson.unlock_days)}
        saved = request.query.get("saved") == "1"
        locale = self.kit.locale(request, auth.login)
        versions = await self.catalog.lesson_versions(auth.login.community, auth.login.member, lesson)
        rows = [await version_row(self.kit.services.members, auth, v, locale) for v in versions]
        return self._lesson_page(request, auth, found, lesson, values, saved=saved, versions=rows)

    async def add_lesson(self, request: web.Request) -> web.StreamResponse:
        return await self._save_lesson(request, new=True)

    async def edit_lesson(self, request: web.Request) -> web.StreamResponse:
        return await self._save_lesson(request, new=False)

    async def _save_lesson(self, request: web.Request, *, new: bool) -> web.StreamResponse:
        # A lesson's file may be as large as the core takes (the HTTP app's limit is for
        # webhooks): a larger one than that gets the core's refusal beside the file field.
        request = request.clone(client_max_size=MAX_FILE + FORM_ROOM)
        auth = await self.kit.authorize(request, post=True, creator=True)
        found = await self._course(request, auth)
        lesson = None if new else await self.catalog.lesson(found, int(request.match_info["n"]))
        form = await request.post()
        values = form_values(form, LESSON_FIELDS)
        values["body"] = values["body"].replace("\r\n", "\n")
        if form.get("do") == "preview":  # changes nothing: no form key is spent
            preview = Markup(render_markdown(values["body"]))  # sanitised in the core
            return self._lesson_page(request, auth, found, lesson, values, preview=preview)
        file = uploaded(form)
        login = auth.login
        days = whole_number(values["unlock_days"])

        async def act(_key: str) -> web.StreamResponse:
            try:
                written = await self.catalog.write_lesson(
                    login.community,
                    login.member,
                    found.code,
                    None if lesson is None else lesson.position,
                    title=values["title"],
                    body=values["body"],
                    unlock_days=0 if days is None else days,
                    file=file,
                    via="dashboard",
                )
            except InvalidInput as refused:
                refusal = Refusal.of(refused, "title")
                return self._lesson_page(request, auth, found, lesson, values, refusal, status=400)
            if written.lesson is None:  # a draft, for the owner to review
                assert written.draft is not None
                return redirect(f"/dashboard/catalog/versions/{written.draft.id}?done=drafted")
            position = written.lesson.position
            return redirect(f"/dashboard/catalog/courses/{found.code}/lessons/{position}?saved=1")

        return await self.kit.submit(request, auth, act)

    def _lesson_page(
        self,
        request: web.Request,
        auth: Authorized,
        course: Course,
        lesson: Lesson | None,
        values: dict[str, str],
        refusal: Refusal | None = None,
        *,
        preview: Markup | None = None,
        saved: bool = False,
        status: int = 200,
        versions: list[dict[str, Any]] | None = None,
    ) -> web.Response:
        locale = self.kit.locale(request, auth.login)
        t = {key: render(text, locale) for key, text in LABELS.items()}
        file_help = (
            render(msg(FILE_KEPT.text, name=lesson.file_name), locale) if lesson and lesson.file_name else ""
        )
        if preview is not None:
            file_help = " ".join(part for part in (file_help, t["preview_file"]) if part)
        fields = [
            Field("title", t["title"], value=values["title"]),
            Field("body", t["text"], kind="textarea", value=values["body"], help=t["text_help"], rows=14),
            Field(
                "unlock_days", t["day"], value=values["unlock_days"], help=t["day_help"], inputmode="numeric"
            ),
            Field("file", t["file"], kind="file", help=file_help),
        ]
        base = f"/dashboard/catalog/courses/{quote(course.code)}/lessons"
        heading = render(msg(EDIT_LESSON.text, n=lesson.position), locale) if lesson else t["add_lesson"]
        context = {
            "course": {"code": course.code, "title": course.title},
            "heading": heading,
            "action": f"{base}/{lesson.position}" if lesson else base,
            "fields": labelled(fields, refusal, locale),
            "refused": refusal is not None,
            "preview": preview,
            "saved": render(msg(SAVED.text, code=f"{course.code} #{lesson.position}"), locale)
            if saved and lesson
            else None,
            "section": "courses",
            "versions": versions or [],
        }
        return self.kit.page(request, "catalog_lesson.html", auth, context, labels=LABELS, status=status)


def price_text(course: Course, locale: str) -> str:
    """As /courses shows it: the price, and the points price where it has one."""
    text = format_money(course.price, locale)
    return f"{text} / {course.points_price} pts" if course.points_price else text


def course_values(course: Course) -> dict[str, str]:
    return {
        "title": course.title,
        "price": major(course.price),
        "currency": course.price.currency,
        "description": course.description,
        "points": "" if course.points_price is None else str(course.points_price),
        "completion": str(course.completion_points),
    }
