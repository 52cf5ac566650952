"""A course's preview card: the 1200×630 PNG that link previews (OpenGraph, Twitter cards) show
beside a shared course page. Drawn with matplotlib's object API (no pyplot, no process-wide
settings touched), in a thread, and kept for the next request until the course changes."""

from __future__ import annotations

import asyncio
import io
import textwrap
from functools import lru_cache

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from core.analytics.charts import cjk_font

WIDTH, HEIGHT, DPI = 1200, 630, 100
BACKGROUND, INK, ACCENT = "#1f2a44", "#ffffff", "#ffcc4d"


async def course_card(title: str, community: str, price: str) -> bytes:
    return await asyncio.to_thread(_card, title, community, price)


@lru_cache(maxsize=256)
def _card(title: str, community: str, price: str) -> bytes:
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    font = cjk_font()
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    # Chinese has no spaces to wrap at: fewer characters a line.
    width = 15 if any(ord(ch) > 0x2E80 for ch in title) else 24
    lines = textwrap.wrap(title, width, max_lines=3, placeholder="…") or [title]
    figure.text(0.07, 0.82, community, color=ACCENT, fontsize=26, family=family, va="top")
    figure.text(0.07, 0.62, "\n".join(lines), color=INK, fontsize=46, family=family, va="top", weight="bold")
    figure.text(0.07, 0.1, price, color=INK, fontsize=30, family=family)
    figure.text(0.93, 0.1, "studyhall", color=ACCENT, fontsize=22, family=family, ha="right")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, facecolor=BACKGROUND)
    return out.getvalue()
