"""The dashboard's rounds list, a round's tables (every table of the report) and charts, trend and diff — the
report's own numbers (:mod:`mailposture.web.survey_data`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mailposture.survey.catalog import CatalogError
from mailposture.web.members import Member
from mailposture.web.survey_access import RoundTables, Signed, Staff
from mailposture.web.survey_context import PREFIX, DashContext, dash, lang_of, message, render

router = APIRouter()

PER_BODY_COLUMNS = ("name", "code", "name_en", "name_kana", "kana", "yomi")


def _round_rows(d: DashContext) -> list[dict[str, Any]]:
    from mailposture.survey.rounds import round_health

    rows = []
    for info in d.data.rounds():
        h = round_health(info)
        n = info.domains or 0
        failed = h.get("failed") if isinstance(h.get("failed"), int) else info.errors
        rows.append({"info": info, "error_share": f"{100.0 * (failed or 0) / n:.1f}% ({failed or 0}/{n})" if n
                     else "—"})
    return rows


@router.get("")
@router.get("/")
async def rounds_page(request: Request, v: Signed) -> Response:
    sess, member = v.sess, v.member
    d = dash(request)
    rows = await run_in_threadpool(_round_rows, d)
    return render(request, "survey_rounds.html", member=member, sess=sess, rows=rows)


def by_param(request: Request, d: DashContext, name: str, *, shared: bool = False) -> str | Response | None:
    """The ``by`` query parameter as one of the round's list columns (any case), None without one, else the 400
    page; a share link never groups by a per-body column."""
    by = (request.query_params.get("by") or "").strip()
    if not by:
        return None
    cols = d.data.columns(name)
    match = [c for c in cols if c.lower() == by.lower()]
    if shared:   # a share link shows group tables, never one row per body
        match = [c for c in match if c.lower() not in PER_BODY_COLUMNS]
    if not match:
        return message(request, 400, "bad_param", what=f"by={by[:40]}")
    return match[0]


def table_view(rep: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The report's table models (mailposture.report.tables.table_models, or one content-survey table) with the
    group each row stands for; a percent cell gets the CLI's text, ``rate (count/total)``."""
    if rep.get("table") not in (None, "adoption"):
        return [content_view(rep, lang)]
    from mailposture.report.tables import cell_text, table_models

    groups = [g["group"] for g in rep["groups"]]
    out = []
    for tm in table_models(rep, lang):
        rows = []
        for i, row in enumerate(tm["rows"]):
            grouped = tm["total_row"] and i < len(groups)
            cells = [{**c, "text": cell_text(c)} if isinstance(c, dict) else c for c in row]
            rows.append({"group": groups[i] if grouped else None, "total": tm["total_row"] and i == len(groups),
                         "cells": cells})
        out.append({**tm, "rows": rows})
    return out


def content_view(rep: dict[str, Any], lang: str) -> dict[str, Any]:
    """One content-survey table (mailposture.report.content: groups with rows {key, count, pct}) as a page table."""
    from mailposture.report.content_render import overall_name
    from mailposture.report.tables import by_label

    by = rep.get("by") or []
    head = by_label(",".join(by) if isinstance(by, list) else by, lang)
    keys = [k["key"] for k in rep.get("keys", [])]

    def cells(g: dict[str, Any], where: dict[str, str] | None) -> list[Any]:
        per = {r["key"]: r for r in g.get("rows", [])}
        out: list[Any] = [g["total"]]
        for k in keys:
            r = per.get(k, {"count": 0, "pct": "0.0"})
            link = urlencode({**(where or {}), "table": rep.get("table", ""), "key": k}) \
                if where is not None and r["count"] else None
            out.append({"count": r["count"], "total": g["total"], "rate": float(r["pct"]), "link": link,
                        "text": f"{r['pct']} ({r['count']}/{g['total']})"})
        return out

    rows = []
    for g in rep.get("groups", []):
        values = g.get("group") if isinstance(g.get("group"), dict) else {}
        single = next(iter(values.items())) if len(values) == 1 else None
        where = {"column": single[0], "value": single[1]} if single else None
        rows.append({"group": single[1] if single else None, "total": False,
                     "cells": [g.get("label", ""), *cells(g, where)]})
    rows.append({"group": None, "total": bool(rep.get("groups")),
                 "cells": [overall_name(rep, lang), *cells(rep["overall"], {})]})
    return {"key": rep.get("table", "content"), "title": rep.get("title", ""), "total_row": bool(rep.get("groups")),
            "columns": [head, "団体数" if lang == "ja" else "Bodies", *[k["label"] for k in rep.get("keys", [])]],
            "rows": rows}


def table_param(request: Request) -> str | None:
    """The ``table`` query parameter (default: adoption), or None when it names no table of the report."""
    from mailposture.web.survey_data import table_names

    table = request.query_params.get("table") or "adoption"
    return table if table in table_names() else None


@router.get("/r/{name}")
async def round_page(request: Request, v: RoundTables) -> Response:
    return await tables_page(request, dash(request), v.info, v.member, v.sess)


async def tables_page(request: Request, d: DashContext, info: Any, member: Member | None, sess: Any,
                  share: str | None = None) -> Response:
    from mailposture.survey.rounds import round_failure
    from mailposture.web.survey_data import table_names

    lang, _ = lang_of(request)
    by = await run_in_threadpool(lambda: by_param(request, d, info.name, shared=share is not None))
    if isinstance(by, Response):
        return by
    table = table_param(request)
    if table is None:
        return message(request, 400, "bad_param", member=member, sess=sess,
                       what=f"table={request.query_params.get('table', '')[:40]}")
    _, rep = await run_in_threadpool(d.data.report, info.name, by, lang, "any", table)
    cols = await run_in_threadpool(d.data.columns, info.name)
    base = f"{PREFIX}/share/{share}" if share else f"{PREFIX}/r/{quote(info.name)}"
    q = {k: v for k, v in (("by", by), ("table", table if table != "adoption" else None)) if v}
    return render(request, "survey_round.html", member=member, sess=sess, info=info, rep=rep, by=by or "",
                  columns=cols, tables=table_view(rep, lang), base=base, share=share, table=table,
                  table_names=table_names(), failed=round_failure(info, lang), by_q=urlencode(q),
                  drill=True)


def svg_response(svg: str | bytes) -> Response:
    """A chart: an SVG document that may style itself and load nothing (opened on its own, it runs no script)."""
    return Response(svg, media_type="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/r/{name}/chart.svg")
async def chart(request: Request, v: RoundTables) -> Response:
    return await chart_response(request, dash(request), v.info)


async def chart_response(request: Request, d: DashContext, info: Any, shared: bool = False) -> Response:
    from mailposture.report.charts import bars_svg

    lang, _ = lang_of(request)
    by = await run_in_threadpool(lambda: by_param(request, d, info.name, shared=shared))
    if isinstance(by, Response):
        return by
    table = table_param(request)
    if table is None:
        return message(request, 400, "bad_param", what="table")
    _, rep = await run_in_threadpool(d.data.report, info.name, by, lang, "any", table)
    if table == "adoption":
        svg: str | bytes = bars_svg(rep, lang)
    else:   # the content survey's own chart, as `survey report --table … --format svg` draws it
        svg = await run_in_threadpool(d.data.download, info.name, by, "svg", lang, "any", table)
    # An image document: its own inline style only, nothing else (no script runs in an <img> anyway).
    return svg_response(svg)


@router.get("/trend")
async def trend_page(request: Request, v: Staff) -> Response:
    from mailposture.survey.trend import build_trend, change_notes, trend_table

    sess, member = v.sess, v.member
    d = dash(request)
    lang, _ = lang_of(request)
    done = [r for r in d.data.rounds() if r.status == "complete"]
    by = None
    if done:
        by = await run_in_threadpool(by_param, request, d, done[0].name)
        if isinstance(by, Response):
            return by
    try:
        tr = await run_in_threadpool(build_trend, d.data.cat, by, None, lang=lang)
    except (CatalogError, KeyError):
        tr = None
    cols, rows = trend_table(tr, lang) if tr else ([], [])
    cols_all = await run_in_threadpool(d.data.columns, done[0].name) if done else []
    from mailposture.survey.trend import TREND_METRICS

    return render(request, "survey_trend.html", member=member, sess=sess, tr=tr, cols=cols, rows=rows,
                  notes=change_notes(tr, lang) if tr else [], by=by or "", columns=cols_all,
                  metrics=TREND_METRICS, by_q=urlencode({"by": by}) if by else "")


@router.get("/trend/chart.svg")
async def trend_chart(request: Request, v: Staff) -> Response:
    """The trend's line chart, drawn by the report's own code (mailposture.report.trendcharts.trend_svg)."""
    from mailposture.report.trendcharts import trend_svg
    from mailposture.survey.trend import TREND_METRICS, build_trend

    sess, member = v.sess, v.member
    d = dash(request)
    lang, _ = lang_of(request)
    metric = request.query_params.get("metric", "spf")
    if metric not in TREND_METRICS:
        return message(request, 400, "bad_param", member=member, sess=sess, what=f"metric={metric[:40]}")
    done = [r for r in d.data.rounds() if r.status == "complete"]
    if not done:
        return message(request, 404, "not_found", member=member, sess=sess)
    by = await run_in_threadpool(by_param, request, d, done[0].name)
    if isinstance(by, Response):
        return by
    tr = await run_in_threadpool(build_trend, d.data.cat, by, None, lang=lang)
    return svg_response(trend_svg(tr, metric, lang))


@router.get("/diff")
async def diff_page(request: Request, v: Staff) -> Response:
    from mailposture.survey.diff import diff_rounds, diff_rows, summary_line

    sess, member = v.sess, v.member
    d = dash(request)
    lang, _ = lang_of(request)
    done = [r.name for r in d.data.rounds() if r.status == "complete"]
    a = request.query_params.get("a") or (done[1] if len(done) > 1 else "")
    b = request.query_params.get("b") or (done[0] if done else "")
    result = None
    if a and b:
        if a not in done or b not in done:
            return message(request, 400, "bad_param", member=member, sess=sess, what=f"{a[:40]} / {b[:40]}")
        result = await run_in_threadpool(diff_rounds, d.data.cat, a, b)
    cols, rows = diff_rows(result, lang) if result else ([], [])
    return render(request, "survey_diff.html", member=member, sess=sess, done=done, a=a, b=b, result=result,
                  cols=cols, rows=rows[:3000], n=len(rows), summary=summary_line(result, lang) if result else "")
