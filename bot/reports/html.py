"""A self-contained HTML report of a community's analytics: the summary in tables and the same
charts as in chat, embedded as data URIs (one file, no network, opens anywhere)."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from core.analytics.charts import retention_heatmap, revenue_chart, segments_chart, signups_chart
from core.catalog.money import Money
from core.i18n import msg, render


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(rows: list[list[Any]], head: list[str]) -> str:
    cells = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def html_report(community: str, summary: dict[str, Any], locale: str) -> str:
    def t(text: Any) -> str:
        return escape(render(text, locale))

    parts = [
        f"<h1>{escape(community)}</h1>",
        f"<p>{t(msg('Computed at {when}', when=summary['computed_at']))}</p>",
        f"<h2>{t(msg('Members'))}</h2>",
        _table(
            [
                [
                    summary["members"],
                    summary["engagement"]["mean"],
                    summary["engagement"]["median"],
                    summary["churn"],
                ]
            ],
            [
                t(msg("members")),
                t(msg("engagement, mean")),
                t(msg("engagement, median")),
                t(msg("monthly churn")),
            ],
        ),
        _table([[k, v] for k, v in summary["funnel"].items()], [t(msg("funnel step")), t(msg("members"))]),
        f"<h2>{t(msg('Retention'))}</h2>",
    ]
    for basis in ("activity", "paying"):
        cohorts = summary["cohorts"][basis]
        if cohorts["weeks"]:
            parts.append(_img(retention_heatmap({**cohorts, "basis": basis}, locale), f"retention ({basis})"))
    parts.append(f"<h2>{t(msg('Revenue'))}</h2>")
    for report in summary["revenue"]:
        c = report["currency"]

        def money(minor: int | None, currency: str = c) -> str:
            return "—" if minor is None else Money(currency, minor).localized(locale)

        parts.append(_img(revenue_chart(report, locale), f"revenue {c}"))
        parts.append(
            _table(
                [[money(report[k]) for k in ("total", "mrr", "arpu", "aov", "clv", "cac")]],
                ["total", "MRR", "ARPU", "AOV", "CLV", "CAC"],
            )
        )
        parts.append(_table([[p, money(v)] for p, v in report["by_product"].items()], [t(msg("product")), c]))
    parts.append(f"<h2>{t(msg('Channels'))}</h2>")
    parts.append(
        _table(
            [[ch["channel"], ch["members"], ch["buyers"], ch["conversion"]] for ch in summary["channels"]],
            [t(msg("channel")), t(msg("members")), t(msg("buyers")), t(msg("conversion"))],
        )
    )
    parts.append(f"<h2>{t(msg('Segments'))}</h2>")
    parts.append(_img(segments_chart(summary, locale), "segments"))
    parts.append(
        _table(
            [
                [c["number"], c.get("name") or "", c["size"], ", ".join(c["traits"])]
                for c in summary["clusters"]
            ],
            ["#", t(msg("name")), t(msg("members")), t(msg("traits"))],
        )
    )
    forecast = summary["forecast"]
    parts.append(f"<h2>{t(msg('Forecast'))}</h2>")
    parts.append(_img(signups_chart(summary, locale), "sign-ups"))
    parts.append(
        _table(
            [[name, f["next_value"], f["mean_abs_error"]] for name, f in forecast.items()],
            [t(msg("series")), t(msg("next week")), t(msg("mean absolute error"))],
        )
    )
    style = (
        "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;max-width:960px;margin:2em auto;"
        "padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em}"
        "img{max-width:100%}"
    )
    title = escape(community)
    return (
        f'<!doctype html><html lang="{escape(locale.replace("_", "-"))}"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )
