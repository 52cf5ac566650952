"""Charts as PNG bytes (matplotlib, headless), labelled in the reader's language when a font
for it is installed.

Chinese labels need a CJK font (Noto Sans CJK, WenQuanYi, Source Han, …; on Debian
``apt install fonts-noto-cjk``). Without one, matplotlib would draw empty boxes, so the
chart's own labels fall back to English while the message around it stays in Chinese.
"""

from __future__ import annotations

import io
import math
from functools import cache
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory

from matplotlib import font_manager
from matplotlib import pyplot as plt

from core.i18n import Msg, msg, render

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


def _figure(width: float, height: float, locale: str) -> Any:
    font = cjk_font() if chart_locale(locale).startswith("zh") else None
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with plt.rc_context({"font.family": families, "axes.unicode_minus": False}):
        return plt.figure(figsize=(width, height), dpi=DPI)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def retention_heatmap(cohorts: dict[str, Any], locale: str) -> bytes:
    """Weekly cohorts (rows) by weeks since joining (columns), shares as percentages."""
    rates = cohorts["rates"]
    figure = _figure(8, 0.45 * max(len(rates), 3) + 1.5, locale)
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
    axes.set_title(_label(msg("Retention by weekly cohort, % active"), locale))
    figure.colorbar(image, ax=axes, fraction=0.03)
    return _png(figure)


def revenue_chart(report: dict[str, Any], locale: str) -> bytes:
    """Revenue per month (bars) in one currency, in major units."""
    from core.catalog.money import Money

    months = list(report["by_month"])[-12:] or ["—"]
    values = [float(Money(report["currency"], report["by_month"].get(m, 0)).major) for m in months]
    figure = _figure(8, 3.6, locale)
    axes = figure.add_subplot()
    axes.bar(months, values, color="#3b7dd8")
    for x, value in enumerate(values):
        axes.text(x, value, f"{value:,.0f}", ha="center", va="bottom", fontsize=8)
    axes.set_ylabel(report["currency"])
    axes.set_title(_label(msg("Revenue by month ({currency})", currency=report["currency"]), locale))
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    return _png(figure)


def segments_chart(summary: dict[str, Any], locale: str) -> bytes:
    """Rule segments' sizes, and the clusters' sizes beside them."""
    rules = summary["segments"]
    clusters = summary.get("clusters", [])
    figure = _figure(8, 3.6, locale)
    axes = figure.add_subplot()
    names = list(rules) + [c.get("name") or f"#{c['number']}" for c in clusters]
    sizes = list(rules.values()) + [c["size"] for c in clusters]
    colours = ["#6c8ebf"] * len(rules) + ["#d79b00"] * len(clusters)
    axes.bar(names, sizes, color=colours)
    axes.set_ylabel(_label(msg("members"), locale))
    axes.set_title(_label(msg("Segments (blue: rules, orange: clusters)"), locale))
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    return _png(figure)
