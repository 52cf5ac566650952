"""Charts of the analytics summary as PNG (chat, the HTML report) or SVG (the dashboard), drawn
once here with matplotlib (headless), labelled in the reader's language when a font for it is
installed, each with a text alternative carrying its key figures.

Chinese labels need a CJK font (Noto Sans CJK, WenQuanYi, Source Han, …; on Debian
``apt install fonts-noto-cjk``). Without one, matplotlib would draw empty boxes, so the
chart's own labels fall back to English while the message around it stays in Chinese.

Drawing takes tens of milliseconds to a second: async callers use :func:`draw`, which runs it
in a thread. matplotlib's settings (rcParams) are process-wide, so one chart is drawn at a time.
"""

from __future__ import annotations

import asyncio
import functools
import io
import math
import threading
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, Literal

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure

from core.analytics import data
from core.catalog.money import Money, format_money
from core.i18n import Msg, msg, nmsg, render

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
DPI = 110
Format = Literal["png", "svg"]
CONTENT_TYPES: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml"}
RETENTION_TITLES: dict[str, Msg] = {
    "activity": msg("Retention by weekly cohort, % active"),
    "paying": msg("Retention by weekly cohort, % paying"),
}
_DRAWING = threading.Lock()  # rcParams are global: one chart at a time, whatever the thread


@cache
def cjk_font() -> str | None:
    """An installed font that has Chinese glyphs, if any."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def chart_locale(locale: str) -> str:
    """The locale a chart's labels can be drawn in here."""
    if locale.startswith("zh") and cjk_font() is None:
        return "en"
    return locale


def _label(text: Msg | str, locale: str) -> str:
    return render(text, chart_locale(locale)) if isinstance(text, Msg) else text


def _chart(draw: Callable[[Any, str], Figure]) -> Callable[..., bytes]:
    """``draw(data, locale)`` makes the figure; the chart is its bytes in ``format``."""

    @functools.wraps(draw)
    def drawn(source: Any, locale: str, format: Format = "png") -> bytes:
        font = cjk_font() if chart_locale(locale).startswith("zh") else None
        settings = {
            "font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
            "axes.unicode_minus": False,
            "svg.fonttype": "path",  # glyphs as paths: the SVG needs no font on the reader's side
            "svg.hashsalt": "studyhall",  # the same chart gives the same bytes
        }
        buffer = io.BytesIO()
        with _DRAWING, matplotlib.rc_context(settings):
            figure = draw(source, locale)
            figure.tight_layout()
            metadata = {"Date": None} if format == "svg" else None
            figure.savefig(buffer, format=format, metadata=metadata)
        return buffer.getvalue()

    return drawn


async def draw(chart: Callable[..., bytes], source: Any, locale: str, format: Format = "png") -> bytes:
    """``chart(source, locale, format)`` in a thread, so the event loop keeps serving."""
    return await asyncio.to_thread(chart, source, locale, format)


# -- the charts --------------------------------------------------------------------------------


@_chart
def retention_heatmap(cohorts: dict[str, Any], locale: str) -> Figure:
    """Weekly cohorts (rows) by weeks since joining (columns), shares as percentages; the
    share of members active, or paying when ``cohorts["basis"]`` is "paying"."""
    rates = cohorts["rates"]
    figure = Figure(figsize=(8, 0.45 * max(len(rates), 3) + 1.5), dpi=DPI)
    axes = figure.add_subplot()
    matrix = [[math.nan if v is None else v * 100 for v in row] for row in rates] or [[math.nan]]
    image = axes.imshow(matrix, cmap="YlGnBu", vmin=0, vmax=100, aspect="auto")
    for i, row in enumerate(rates):
        for j, value in enumerate(row):
            if value is not None:
                axes.text(
                    j,
                    i,
                    f"{value * 100:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > 0.6 else "black",
                )
    labels = [f"{week} ({size})" for week, size in zip(cohorts["weeks"], cohorts["sizes"], strict=True)]
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xticks(range(len(matrix[0])), [str(k) for k in range(len(matrix[0]))], fontsize=8)
    axes.set_xlabel(_label(msg("weeks since joining"), locale))
    axes.set_ylabel(_label(msg("joined in the week of (members)"), locale))
    axes.set_title(
        _label(RETENTION_TITLES.get(cohorts.get("basis", ""), RETENTION_TITLES["activity"]), locale)
    )
    figure.colorbar(image, ax=axes, fraction=0.03)
    return figure


@_chart
def revenue_chart(report: dict[str, Any], locale: str) -> Figure:
    """Revenue per month (bars) in one currency, in major units."""
    months = list(report["by_month"])[-12:] or ["—"]
    values = [float(Money(report["currency"], report["by_month"].get(m, 0)).major) for m in months]
    figure = Figure(figsize=(8, 3.6), dpi=DPI)
    axes = figure.add_subplot()
    axes.bar(months, values, color="#3b7dd8")
    for x, value in enumerate(values):
        axes.text(x, value, f"{value:,.0f}", ha="center", va="bottom", fontsize=8)
    axes.set_ylabel(report["currency"])
    axes.set_title(_label(msg("Revenue by month ({currency})", currency=report["currency"]), locale))
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    return figure


@_chart
def signups_chart(summary: dict[str, Any], locale: str) -> Figure:
    """Sign-ups per complete week (bars), and next week's forecast (hatched, ± its typical error)."""
    weeks = signup_weeks(summary)
    forecast = summary["forecast"]["signups"]
    figure = Figure(figsize=(8, 3.6), dpi=DPI)
    axes = figure.add_subplot()
    labels = [w[5:] for w, _ in weeks]  # MM-DD: the year is in the title's context
    axes.bar(labels, [n for _, n in weeks], color="#3b7dd8")
    error = forecast["mean_abs_error"]
    axes.bar(
        [_label(msg("next"), locale)],
        [forecast["next_value"]],
        color="white",
        edgecolor="#d79b00",
        hatch="//",
        yerr=[[min(error, forecast["next_value"])], [error]] if error else None,
        capsize=3,
    )
    axes.set_ylabel(_label(msg("sign-ups"), locale))
    axes.set_title(_label(msg("Sign-ups by week, and next week's forecast"), locale))
    axes.tick_params(axis="x", labelrotation=60, labelsize=7)
    return figure


@_chart
def segments_chart(summary: dict[str, Any], locale: str) -> Figure:
    """Rule segments' sizes, and the clusters' sizes beside them."""
    rules = summary["segments"]
    clusters = summary.get("clusters", [])
    figure = Figure(figsize=(8, 3.6), dpi=DPI)
    axes = figure.add_subplot()
    names = list(rules) + [c.get("name") or f"#{c['number']}" for c in clusters]
    sizes = list(rules.values()) + [c["size"] for c in clusters]
    colours = ["#6c8ebf"] * len(rules) + ["#d79b00"] * len(clusters)
    axes.bar(names, sizes, color=colours)
    axes.set_ylabel(_label(msg("members"), locale))
    axes.set_title(_label(msg("Segments (blue: rules, orange: clusters)"), locale))
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    return figure


# -- what each chart shows, in words (its text alternative) ------------------------------------


def signup_weeks(summary: dict[str, Any]) -> list[tuple[str, int]]:
    """(the Monday a week starts, sign-ups) for the complete weeks the forecast was made from."""
    history = summary["forecast"]["signups"]["history"]
    current = data.week_of(datetime.fromisoformat(summary["computed_at"]))
    first = current - len(history)
    return [(data.week_start(first + i).date().isoformat(), int(n)) for i, n in enumerate(history)]


def _error(forecast: dict[str, Any]) -> str:
    error = forecast["mean_abs_error"]
    return "—" if error is None else f"±{error:g}"


def forecast_text(summary: dict[str, Any]) -> Msg:
    """Next week's forecast of sign-ups and sales, as /stats words it."""
    signups, sales = summary["forecast"]["signups"], summary["forecast"]["sales"]
    return msg(
        "Next week, forecast: {signups} (typical error {signups_error}), {sales} ({sales_error})",
        signups=nmsg("{n} sign-up", "{n} sign-ups", round(signups["next_value"])),
        signups_error=_error(signups),
        sales=nmsg("{n} sale", "{n} sales", round(sales["next_value"])),
        sales_error=_error(sales),
    )


def revenue_text(report: dict[str, Any], locale: str) -> str:
    """The last three months' revenue in one currency."""
    c = report["currency"]
    months = list(report["by_month"])[-3:]
    figures = ", ".join(f"{m} {format_money(Money(c, int(report['by_month'][m])), locale)}" for m in months)
    return render(msg("Revenue by month ({currency}): {months}", currency=c, months=figures or "—"), locale)


def signups_text(summary: dict[str, Any], locale: str) -> str:
    weeks = signup_weeks(summary)[-4:]
    text = msg(
        "Sign-ups in the last weeks: {weeks}; next week's forecast {next}",
        weeks=", ".join(f"{week} {n}" for week, n in weeks) or "—",
        next=f"{summary['forecast']['signups']['next_value']:g}",
    )
    return render(text, locale)


def retention_text(cohorts: dict[str, Any], locale: str) -> str:
    """How many members of the cohorts were still active the week after joining, on average."""
    second = [
        (row[1] if len(row) > 1 else None, size)
        for row, size in zip(cohorts["rates"], cohorts["sizes"], strict=True)
    ]
    known = [(rate, size) for rate, size in second if rate is not None and size]
    members = sum(size for _, size in known)
    share = sum(rate * size for rate, size in known) / members if members else None
    text = msg(
        "{cohorts}; active in the week after joining: {share}",
        cohorts=nmsg("{n} weekly cohort", "{n} weekly cohorts", len(cohorts["weeks"])),
        share="—" if share is None else f"{share * 100:.0f}%",
    )
    return render(text, locale)


def segments_text(summary: dict[str, Any], locale: str) -> str:
    sizes = list(summary["segments"].items()) + [
        (c.get("name") or f"#{c['number']}", c["size"]) for c in summary.get("clusters", [])
    ]
    return render(
        msg("Segments: {sizes}", sizes=", ".join(f"{name} {size}" for name, size in sizes) or "—"), locale
    )
