"""One self-contained HTML page: tables, inline SVG charts, no external assets (opens offline)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mailposture import __version__
from mailposture.report import charts
from mailposture.report.md import failure_line, meta_lines, when
from mailposture.report.tables import DEFINITIONS, headline_lines, table_models, text


def _env():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("mailposture.report", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                              lstrip_blocks=True)


def render_html(report: dict[str, Any], meta: dict[str, Any], lang: str = "ja",
                content: list[dict[str, Any]] | None = None) -> str:
    """The adoption page; ``content``: sections of the configuration-content survey to add
    (:func:`mailposture.report.content_render.section`), e.g. in the demo's report."""
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
        synthetic=bool(meta.get("synthetic")), failed_text=failure_line(meta, lang),
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
        content=content or [], content_title=text(lang, "設定内容の調査", "Configuration-content survey"),
        generated=when(datetime.now(UTC).isoformat(), lang))


def by_name(by: str, lang: str) -> str:
    from mailposture.report.tables import by_label

    return by_label(by, lang)


def render_trend_html(trend: dict[str, Any], meta: dict[str, Any], lang: str = "ja") -> str:
    """Adoption over rounds: SPF and DMARC line charts and the table, in the report's page style."""
    from mailposture.report.tables import METRICS
    from mailposture.report.trendcharts import trend_svg
    from mailposture.survey.trend import change_notes, points, trend_table

    cols, _ = trend_table(trend, lang)
    cells = []
    for s_ in trend["series"]:
        out: list[Any] = [s_["label"]]
        for k in range(len(trend["rounds"])):
            for metric in ("spf", "dmarc"):
                out.append("" if s_[metric][k] is None else
                           {"rate": s_[metric][k], "count": s_[metric + "_count"][k], "total": s_["total"][k]})
            if k:
                out += [points(s_[m + "_delta"][k]) for m in ("spf", "dmarc")]
        cells.append(out)
    table = {"key": "trend", "title": text(lang, "調査回ごとの宣言率", "Publication rate by round"),
             "columns": cols, "rows": cells, "total_row": True}
    charts_ = [{"metric": m, "svg": trend_svg(trend, m, lang),
                "title": text(lang, f"{METRICS[m][0]} レコード宣言率の推移", f"{METRICS[m][1]} publication over time")}
               for m in ("spf", "dmarc")]
    title = meta.get("title") or text(lang, "送信ドメイン認証の普及状況の推移", "Sender authentication adoption over time")
    rounds = ", ".join(trend["rounds"])
    return _env().get_template("trend.html.j2").render(
        lang=lang, title=title, version=__version__, synthetic=bool(meta.get("synthetic")),
        synthetic_text=text(lang, "架空のデータを含む調査回があります。", "Some rounds hold fictitious data."),
        meta_lines=[text(lang, f"調査回: {rounds}", f"Rounds: {rounds}"), *change_notes(trend, lang)],
        charts=charts_, tables=[table],
        empty_text=text(lang, "該当なし", "none"), generated=when(datetime.now(UTC).isoformat(), lang))
