"""One self-contained HTML page: tables, inline SVG charts, no external assets (opens offline)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mailposture import __version__
from mailposture.report import charts
from mailposture.report.md import meta_lines
from mailposture.report.tables import DEFINITIONS, headline_lines, table_models, text


def _env():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("mailposture.report", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                              lstrip_blocks=True)


def render_html(report: dict[str, Any], meta: dict[str, Any], lang: str = "ja") -> str:
    o = report["overall"]
    kpis = [
        {"cls": "spf", "label": text(lang, "SPF レコード宣言率", "SPF published"), **o["spf"], "total": o["total"]},
        {"cls": "dmarc", "label": text(lang, "DMARC レコード宣言率", "DMARC published"), **o["dmarc"],
         "total": o["total"]},
        {"cls": "", "label": text(lang, "DMARC 適用 (組織ドメイン含む)", "DMARC covered (incl. organizational)"),
         **o["dmarc_covered"], "total": o["total"]},
        {"cls": "", "label": text(lang, "DMARC 強制 (quarantine/reject)", "DMARC enforcing"),
         **o["dmarc_enforcing"], "total": o["total"]},
    ]
    title = meta.get("title") or text(lang, "送信ドメイン認証の普及状況", "Sender authentication adoption")
    by = report.get("by")
    return _env().get_template("report.html.j2").render(
        lang=lang, title=title, version=__version__, meta_lines=[m.strip("*") for m in meta_lines(meta, lang)
                                                                 if not m.startswith("**")],
        synthetic=bool(meta.get("synthetic")),
        synthetic_text=text(lang, "このレポートは架空のリスト (.example / .test) と合成 DNS によるデモです。"
                                  "実在の団体のデータではありません。",
                            "This report is a demo on a fictitious list (.example / .test names) and synthetic "
                            "DNS: it is not data about real bodies."),
        kpis=kpis, headlines=headline_lines(report, lang),
        chart_title=text(lang, f"{'グループ' if not by else by_name(by, lang)}別の宣言率 (%)",
                         f"Adoption by {by or 'group'} (%)"),
        policy_title=text(lang, "DMARC 実効ポリシーの分布", "Effective DMARC policy"),
        bars_svg=charts.bars_svg(report, lang), policy_svg=charts.policy_svg(report, lang),
        tables=table_models(report, lang), definitions=DEFINITIONS[lang],
        defs_title=text(lang, "定義", "Definitions"), empty_text=text(lang, "該当なし", "none"),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def by_name(by: str, lang: str) -> str:
    from mailposture.report.tables import by_label

    return by_label(by, lang)


def render_trend_html(trend: dict[str, Any], meta: dict[str, Any], lang: str = "ja") -> str:
    from html import escape

    parts = [f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{escape(meta.get('title', ''))}"
             "</title><style>body{font-family:'Noto Sans CJK JP',sans-serif;max-width:980px;margin:24px auto;"
             "color:#111827}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #e5e7eb;"
             "text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>",
             f"<h1>{escape(meta.get('title', ''))}</h1>"]
    for metric in ("spf", "dmarc"):
        parts.append(f"<section id='trend-{metric}'>{charts.trend_svg(trend, metric, lang)}</section>")
    from mailposture.survey.trend import trend_table

    cols, rows = trend_table(trend, lang)
    parts.append("<table><thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in cols) + "</tr></thead><tbody>")
    for r in rows:
        parts.append("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r) + "</tr>")
    parts.append("</tbody></table></body></html>")
    return "".join(parts)
