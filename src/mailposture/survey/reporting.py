"""The survey report as data and documents: a stored round in, the report's tables (a dict) and files (bytes) out.

One implementation for every face: ``mailposture survey report`` (:mod:`mailposture.survey.cli`) and the members'
dashboard (:mod:`mailposture.web.survey_data`) both call these functions, so a page, a download and the file the
command writes carry the same numbers. No printing, no exit codes, no web: a bad round is a
:class:`~mailposture.survey.catalog.CatalogError` (English ``str()``, Japanese ``ja``) for the caller to show.
Heavy imports stay inside the functions (the command line starts fast).
"""

from __future__ import annotations

from typing import Any

FORMATS = ("md", "html", "xlsx", "csv", "json", "png", "svg")
BODIES_FORMATS = ("xlsx", "csv", "json")


def report_meta(info: Any, title: str | None, count: str = "any") -> dict[str, Any]:
    """What a rendered report says about itself: the round, fictitious data or not, title, counting rule, and why
    the round failed (both languages) when it did."""
    from mailposture.survey.rounds import round_failure

    return {"round": info.to_json(), "synthetic": info.synthetic, "title": title, "count": count,
            "failed": {lg: round_failure(info, lg) for lg in ("ja", "en")} if info.status == "failed" else None}


def complete_round(cat: Any, round_name: str | None) -> Any:
    """The named round (else the latest), refused with a CatalogError while it is still being scanned."""
    info = cat.require(round_name) if round_name else cat.latest()
    if info.status not in ("complete", "failed"):  # a failed round can be reported: the report says so first
        from mailposture.survey.catalog import CatalogError

        raise CatalogError(f"round '{info.name}' is not complete (phase {info.phase}); "
                           "finish it with 'mailposture survey run' (it resumes)",
                           f"調査回「{info.name}」は完了していません (段階 {info.phase})。mailposture survey run "
                           "で終わらせてください (続きから再開します)")
    return info


def build_report(cat: Any, round_name: str | None, by: str | None, count: str, lang: str,
                 with_bodies: bool = False) -> tuple[Any, dict[str, Any]]:
    """(round info, the adoption report by the list column(s) ``by``); ``with_bodies`` adds the one-row-per-body
    table under ``_bodies`` (the xlsx report's Bodies sheet)."""
    from mailposture.report.tables import aggregate
    from mailposture.survey.rounds import load_results, load_round_list

    info = complete_round(cat, round_name)
    lst = load_round_list(cat, info)
    results = load_results(cat, info)
    rep = aggregate(lst.bodies, results, by=by, count=count, round_name=info.name, lang=lang)
    add_adoption_rows(rep, lst.bodies, results, count, lang)
    if with_bodies:
        from mailposture.report.bodies import bodies_table

        rep["_bodies"] = bodies_table(lst.bodies, results, count, lang)
    return info, rep


def add_adoption_rows(rep: dict[str, Any], bodies: Any, results: Any, count: str, lang: str) -> None:
    """The adoption report keeps its shape and gains the content-survey one beside it: ``table``, ``group_by``
    (the grouping columns), and per group ``rows`` [{key, label, count, rate (fraction), pct}]."""
    from mailposture.report.content import content_report

    gen = content_report(bodies, results, "adoption", by=[c for c in (rep.get("by") or "").split(",") if c],
                         count=count, round_name=rep.get("round", ""), lang=lang)
    rep["table"] = "adoption"
    rep["group_by"] = gen["by"]
    for g, h in zip(rep["groups"], gen["groups"], strict=True):
        g["rows"] = h["rows"]
    rep["overall"]["rows"] = gen["overall"]["rows"]
    rep["keys"] = gen["keys"]


def render(rep: dict[str, Any], meta: dict[str, Any], fmt: str, lang: str, *, size: tuple[int, int] | None = None,
           dpi: int | None = None) -> bytes:
    """A report (adoption or content table) as a file in one of FORMATS; ``size`` (pixels) and ``dpi`` for
    png/svg."""
    if rep.get("table") not in (None, "adoption"):
        from mailposture.report.content_render import render_content

        return render_content(rep, meta, fmt, lang, size=size, dpi=dpi)
    if fmt == "md":
        from mailposture.report.md import render_md

        return render_md(rep, meta, lang).encode()
    if fmt == "csv":
        from mailposture.report.md import render_csv

        return render_csv(rep, lang).encode("utf-8-sig")  # BOM: Excel opens Japanese CSV correctly
    if fmt == "json":
        from mailposture.report.md import render_json

        return render_json(rep, meta, lang).encode()
    if fmt == "html":
        from mailposture.report.html import render_html

        return render_html(rep, meta, lang).encode()
    if fmt == "xlsx":
        from mailposture.report.xlsx import render_xlsx

        return render_xlsx({k: v for k, v in rep.items() if k != "_bodies"}, meta, lang, rep.get("_bodies"))
    from mailposture.report.charts import bars_png

    title = meta.get("title") or (("送信ドメイン認証の普及状況" if lang == "ja" else "Sender authentication adoption")
                                  + f" — {rep['round']}")
    if meta.get("synthetic"):
        title += " (架空のデータ)" if lang == "ja" else " (fictitious data)"
    if meta.get("failed"):
        title = ("【失敗した調査回: 数値は信頼できません】 " if lang == "ja" else "[FAILED ROUND: figures not reliable] ") + title
    return bars_png(rep, lang, title=title, fmt=fmt, size=size, dpi=dpi)


def build_content(cat: Any, round_name: str | None, table: str, by: str | None, count: str, lang: str
                  ) -> tuple[Any, dict[str, Any]]:
    """(round info, one configuration-content table: ``survey report --table TABLE``)."""
    from mailposture.report.content import content_report
    from mailposture.survey.rounds import load_results, load_round_list

    info = complete_round(cat, round_name)
    lst = load_round_list(cat, info)
    rep = content_report(lst.bodies, load_results(cat, info), table, by=(by or "").split(","), count=count,
                         round_name=info.name, lang=lang)
    return info, rep


def render_bodies(tab: Any, meta: dict[str, Any], fmt: str, lang: str, max_rows: int | None = None
                  ) -> tuple[bytes, str]:
    """``survey report --table bodies`` (:func:`mailposture.report.bodies.bodies_table`) as a file in one of
    BODIES_FORMATS: (bytes, a note for the user, "" unless an xlsx was split over several sheets)."""
    from mailposture.report import bodies as B

    if fmt == "csv":
        return B.render_csv(tab).encode("utf-8-sig"), ""  # BOM: Excel opens Japanese CSV correctly
    if fmt == "json":
        return B.render_json(tab, meta, lang).encode(), ""
    if fmt != "xlsx":
        raise ValueError(f"bodies table: no format {fmt!r}")
    return B.render_xlsx(tab, meta, lang, max_rows or B.EXCEL_MAX_ROWS)


def build_bodies(cat: Any, round_name: str | None, count: str, lang: str) -> tuple[Any, dict[str, Any]]:
    """(round info, ``survey report --table bodies``: one row per body with every list column)."""
    from mailposture.report.bodies import bodies_table
    from mailposture.survey.rounds import load_results, load_round_list

    info = complete_round(cat, round_name)
    lst = load_round_list(cat, info)
    return info, bodies_table(lst.bodies, load_results(cat, info), count, lang)
