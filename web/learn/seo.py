"""What search engines and link previews read: a plain-text summary, the JSON-LD ``Course``,
the sitemap and robots.txt. Built from the same Course, Rating and Money the page shows."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import nh3
from markupsafe import Markup

from core.catalog.models import Course
from core.catalog.reviews import Rating

SUMMARY_LENGTH = 160  # what search results show of a meta description
# Paths a crawler has no business in: the signed-in pages.
PRIVATE_PATHS = ("/dashboard/", "/learn/", "/me")


def plain_summary(html: str, limit: int = SUMMARY_LENGTH) -> str:
    """The text of rendered (sanitised) HTML, whitespace collapsed, cut at a word near
    ``limit`` characters with an ellipsis."""
    text = " ".join(nh3.clean(html, tags=set()).split())
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("&quot;", '"')
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


def preview_tags(
    title: str, summary: str, url: str, image: str, site: str, locale: str
) -> list[tuple[str, str, str]]:
    """The OpenGraph and Twitter card ``<meta>`` tags of a page: (attribute, key, content)."""
    og = {
        "type": "website",
        "site_name": site,
        "title": title,
        "description": summary,
        "url": url,
        "image": image,
        "image:width": "1200",
        "image:height": "630",
        "locale": locale,
    }
    twitter = {"card": "summary_large_image", "title": title, "description": summary, "image": image}
    return [("property", f"og:{key}", value) for key, value in og.items()] + [
        ("name", f"twitter:{key}", value) for key, value in twitter.items()
    ]


def course_json_ld(
    course: Course,
    *,
    url: str,
    summary: str,
    language: str,
    provider: str,
    home: str,
    image: str,
    rating: Rating,
) -> Markup:
    """schema.org ``Course`` with its offer and, once it has reviews, its aggregate rating: the
    body of a ``<script type="application/ld+json">``, safe inside HTML (no ``<``, ``>`` or ``&``
    survives unescaped, so no text can close the script)."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Course",
        "name": course.title,
        "description": summary or course.title,
        "url": url,
        "courseCode": course.code,
        "inLanguage": language,
        "image": image,
        "provider": {"@type": "Organization", "name": provider, "url": home},
        "offers": {
            "@type": "Offer",
            "price": str(course.price.major),
            "priceCurrency": course.price.currency,
            "category": "Paid",
            "availability": "https://schema.org/InStock",
            "url": url,
        },
        "hasCourseInstance": {"@type": "CourseInstance", "courseMode": "Online"},
    }
    if rating.count and rating.average is not None:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": round(rating.average, 2),
            "ratingCount": rating.count,
            "bestRating": 5,
            "worstRating": 1,
        }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


def sitemap_xml(urls: Iterable[str]) -> str:
    """A sitemap (sitemaps.org 0.9) of ``urls``."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        *(f"<url><loc>{xml_escape(url)}</loc></url>" for url in urls),
        "</urlset>",
    ]
    return "\n".join(lines) + "\n"


def robots_txt(base_url: str) -> str:
    """Course pages open to every crawler, signed-in pages closed, and where the
    sitemap is."""
    closed = "".join(f"Disallow: {path}\n" for path in PRIVATE_PATHS)
    return f"User-agent: *\nAllow: /c/\n{closed}\nSitemap: {base_url}/sitemap.xml\n"
