"""Public course pages: ``/c/CODE`` (with ``?lang=`` and ``?ref=``), its preview card
``/c/CODE/card.png``, ``/sitemap.xml`` and ``/robots.txt``.

Anyone may open them, signed in or not, so they read only what a course's buyer would see
before buying: published courses, their lessons' titles and drip days, price, visible reviews.
A hidden or unknown course is a 404. ``?ref=`` carries a referral code into the "Open in
Telegram" link, so following it starts the bot with ``/start ref_CODE`` and attributes the
newcomer exactly as that command does; and into a cookie, so a visitor who signs in on the web
instead (the Mini App) is attributed then, by the same service. A code that is nobody's is left
out silently. ``?src=TAG`` (a creator's channel, /channel) goes the same two ways: into the
start link (``src_TAG``, with a code ``src_TAG-ref_CODE``) and into a cookie recorded as the
member's touch at sign-in; an unknown tag is left out silently.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from core.catalog.markdown import render_markdown
from core.catalog.models import Course
from core.catalog.money import format_money
from core.channels.payload import entry_payload
from core.errors import InvalidInput
from core.i18n import SUPPORTED_LOCALES, msg, normalize_locale, render
from core.links import telegram_start_link, telegram_username, wechat_qr
from core.members.models import Community
from core.referrals.service import PAYLOAD_PREFIX
from core.services import Services
from core.tracing import mark_error, request_scope
from web.learn import texts
from web.learn.card import course_card
from web.learn.seo import course_json_ld, plain_summary, preview_tags, robots_txt, sitemap_xml

log = logging.getLogger(__name__)

TELEGRAM_WEB = "https://web.telegram.org"
# Telegram Web shows a Mini App in a frame of its own page; nobody else may frame ours.
LEARNER_CSP = f"default-src 'self'; frame-ancestors 'self' {TELEGRAM_WEB}; form-action 'self'"
LANGUAGES = (("en", "English", "en"), ("zh_CN", "中文", "zh-CN"))  # code, name, hreflang
HREFLANG = {code: hreflang for code, _, hreflang in LANGUAGES}
HEADERS = {
    "Cache-Control": "public, max-age=60",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": LEARNER_CSP,
}
CODE_PATTERN = "[A-Za-z0-9_-]{1,30}"
WECHAT_QR_PATH = "/wechat-qr.png"
REVIEWS_SHOWN = 5
SITEMAP_PAGE = 1000  # courses read per query while the sitemap is written
# A visitor's referral code, kept until they sign in on the web (then attributed as /start
# ref_CODE would, with its window, self-referral and cycle rules) for at most REF_DAYS.
REF_COOKIE = "studyhall_ref"
# A visitor's channel tag (``?src=TAG``), kept the same way and recorded as their touch then.
SRC_COOKIE = "studyhall_src"
REF_DAYS = 30
SERVER_ERROR = msg("Sorry, something went wrong on our side (error {error_id}). Please try again later.")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _start_payload(src: str, ref: str) -> str | None:
    """The "Open in Telegram" link's start payload: the channel and the referral code, either or
    both (``src_TAG-ref_CODE``), or none."""
    if src:
        return entry_payload(src, ref or None)
    return f"{PAYLOAD_PREFIX}{ref}" if ref else None


class LearnerPages:
    def __init__(
        self,
        services: Services,
        *,
        community: Callable[[], Awaitable[Community]],
        base_url: str,
        discord_invite: str | None = None,
    ) -> None:
        """``community``: the deployment's community (the pages serve that one);
        ``discord_invite``: the server's invite, for "Open in Discord"."""
        self.services = services
        self.community = community
        self.base_url = base_url.rstrip("/")
        self.discord_invite = discord_invite or ""

    def install(self, router: web.UrlDispatcher) -> None:
        router.add_get(f"/c/{{code:{CODE_PATTERN}}}", self._guard(self.course_page))
        router.add_get(f"/c/{{code:{CODE_PATTERN}}}/card.png", self._guard(self.course_card))
        router.add_get("/sitemap.xml", self._guard(self.sitemap))
        router.add_get("/robots.txt", self._guard(self.robots))
        router.add_get(WECHAT_QR_PATH, self._guard(self.wechat_qr))

    # -- pages ----------------------------------------------------------------------------

    async def course_page(self, request: web.Request) -> web.StreamResponse:
        community = await self.community()
        course = await self._published(community, request.match_info["code"])
        locale = self._locale(request, community)
        catalog, reviews = self.services.catalog, self.services.reviews
        lessons = await catalog.lessons(course)
        rating = await reviews.rating(course)
        latest = await reviews.latest(course, REVIEWS_SHOWN)
        bundles = await catalog.bundles_including(community, course)
        url = f"{self.base_url}/c/{course.code}"
        description = render_markdown(course.description)
        summary = plain_summary(description)
        price = format_money(course.price, locale)
        zone = ZoneInfo(community.timezone)
        username = await telegram_username(self.services.db)
        ref = request.query.get("ref", "").strip().lower()
        if ref and not await self.services.referrals.is_code(community, ref):
            ref = ""  # nobody's code: ignored, silently
        src = request.query.get("src", "").strip().lower()
        if src and await self.services.channels.find(community, src) is None:
            src = ""  # no such channel: ignored, silently
        card = f"{url}/card.png"
        context = {
            "previews": preview_tags(course.title, summary, url, card, community.name, locale),
            "locale": locale,
            "lang_attr": HREFLANG[locale],
            "languages": [
                (code, name, attr, f"{url}?lang={code}", f"/c/{course.code}?lang={code}")
                for code, name, attr in LANGUAGES
            ],
            "t": texts.labels(locale),
            "community": community.name,
            "course": course,
            "url": url,
            "summary": summary,
            "description": description,
            "price": price,
            "points_price": render(texts.points_price(course.points_price), locale)
            if course.points_price
            else "",
            "how_to_buy": render(texts.how_to_buy(course.code), locale),
            "lessons": [
                (
                    lesson.position,
                    lesson.title,
                    render(texts.opens_on_day(lesson.unlock_days), locale)
                    if lesson.unlock_days
                    else texts.labels(locale)["at_once"],
                )
                for lesson in lessons
            ],
            "no_lessons": render(texts.NO_LESSONS, locale),
            "rating": render(texts.rating_line(rating.average, rating.count), locale)
            if rating.count and rating.average is not None
            else "",
            "reviews": [
                (
                    line.member_name,
                    "★" * line.stars + "☆" * (5 - line.stars),
                    line.stars,
                    line.text,
                    line.at.astimezone(zone).strftime("%Y-%m-%d"),
                )
                for line in latest
            ],
            "bundles": [(b.title, format_money(b.price, locale)) for b in bundles],
            "telegram": telegram_start_link(username, _start_payload(src, ref)) if username else "",
            "discord": self.discord_invite,
            "wechat": WECHAT_QR_PATH if await wechat_qr(self.services.db) else "",
            "json_ld": course_json_ld(
                course,
                url=url,
                summary=summary,
                language=HREFLANG[locale],
                provider=community.name,
                home=self.base_url,
                image=card,
                rating=rating,
            ),
        }
        response = aiohttp_jinja2.render_template("course_page.html", request, context)
        if "ref" in request.query or "src" in request.query:
            response.headers["Cache-Control"] = "private, max-age=60"  # not a shared cache's to keep
        if src:  # the newest tagged visit, touched when the visitor signs in (last touch)
            response.set_cookie(
                SRC_COOKIE,
                src,
                max_age=REF_DAYS * 86400,
                path="/",
                httponly=True,
                samesite="Lax",
                secure=self.base_url.startswith("https://"),
            )
        if ref and REF_COOKIE not in request.cookies:  # the first valid link wins
            secure = self.base_url.startswith("https://")
            response.set_cookie(
                REF_COOKIE,
                ref,
                max_age=REF_DAYS * 86400,
                path="/",
                httponly=True,
                samesite="Lax",
                secure=secure,
            )
        return response

    async def course_card(self, request: web.Request) -> web.StreamResponse:
        community = await self.community()
        course = await self._published(community, request.match_info["code"])
        price = format_money(course.price, community.default_locale)
        body = await course_card(course.title, community.name, price)
        headers = {"Cache-Control": "public, max-age=3600"}
        return web.Response(body=body, content_type="image/png", headers=headers)

    async def sitemap(self, request: web.Request) -> web.StreamResponse:
        community = await self.community()
        urls: list[str] = []
        after = 0
        while page := await self.services.catalog.courses(community, after=after, limit=SITEMAP_PAGE):
            urls.extend(f"{self.base_url}/c/{quote(course.code)}" for course in page)
            after = page[-1].id
        return web.Response(text=sitemap_xml(urls), content_type="application/xml")

    async def wechat_qr(self, request: web.Request) -> web.StreamResponse:
        """The Official Account's QR code (the WeChat adapter keeps it), or a 404."""
        png = await wechat_qr(self.services.db)
        if png is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=png, content_type="image/png", headers={"Cache-Control": "public, max-age=86400"}
        )

    async def robots(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=robots_txt(self.base_url), content_type="text/plain")

    # -- shared ---------------------------------------------------------------------------

    async def _published(self, community: Community, code: str) -> Course:
        """The course, unless hidden or unknown (then the 404 page)."""
        try:
            return await self.services.catalog.course(community, code)
        except InvalidInput:
            raise web.HTTPNotFound() from None

    def _locale(self, request: web.Request, community: Community) -> str:
        return page_locale(request, community.default_locale)

    def _guard(self, page: Handler) -> Handler:
        return guarded(page, self.community, HEADERS)


class Answered(Exception):
    """Raised with the page that answers the request instead (a refusal that explains itself)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def page_locale(request: web.Request, default: str) -> str:
    """``?lang=`` when it names a language the pages have, else ``default`` (the member's or
    the community's), else English."""
    for candidate in (request.query.get("lang", ""), default):
        chosen = normalize_locale(candidate)
        if chosen in SUPPORTED_LOCALES:
            return chosen
    return "en"


def guarded(page: Handler, community: Callable[[], Awaitable[Community]], headers: dict[str, str]) -> Handler:
    """The page, a 404 page, or a 500 page with an error id (logged without the request's
    address, which may carry a login token or a referral code); ``headers`` added to each."""

    async def guarded_page(request: web.Request) -> web.StreamResponse:
        with request_scope():
            try:
                response = await page(request)
            except Answered as answered:
                response = answered.response
            except web.HTTPNotFound:
                response = await _problem(request, community, "not_found_title", "not_found", 404)
            except web.HTTPException as other:  # a redirect, a bare 403
                response = web.Response(status=other.status, headers=other.headers, text=other.text)
            except Exception:
                error_id = mark_error()
                log.exception("learner pages: a page failed [error %s]", error_id)
                response = await _problem(request, community, "error_title", None, 500, error_id)
        response.headers.update({k: v for k, v in headers.items() if k not in response.headers})
        return response

    return guarded_page


async def _problem(
    request: web.Request,
    community: Callable[[], Awaitable[Community]],
    title: str,
    message: str | None,
    status: int,
    error_id: str = "",
) -> web.Response:
    try:
        locale = page_locale(request, (await community()).default_locale)
    except Exception:  # the database is down: the page still answers, in English
        locale = "en"
    labels = texts.labels(locale)
    server_error = msg(SERVER_ERROR.text, error_id=error_id)
    context = {
        "locale": locale,
        "lang_attr": HREFLANG[locale],
        "t": labels,
        "title": labels[title],
        "message": labels[message] if message else render(server_error, locale),
    }
    response = aiohttp_jinja2.render_template("learn_problem.html", request, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response
