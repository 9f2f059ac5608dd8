"""The dashboard's drill-down: the bodies behind a cell (filtered, sorted, paged), one body's page (findings, the fix,
raw answers, history) and search."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mailposture.web.survey_access import RoundAny, RoundTables, Staff
from mailposture.web.survey_context import DashContext, audit, dash, lang_of, message, render
from mailposture.web.survey_data import FILTER_POLICIES, SPF_STATES, body_key

router = APIRouter()

PAGE = 200                 # bodies per page of the drill-down
SORTS = ("name", "region", "prefecture", "domain", "policy", "spf_status", "findings")


@router.get("/r/{name}/bodies")
async def bodies_page(request: Request, v: RoundTables) -> Response:
    from mailposture.web.survey_data import table_names

    sess, member, info = v.sess, v.member, v.info
    d = dash(request)
    qp = request.query_params
    cols = await run_in_threadpool(d.data.columns, info.name)
    column = qp.get("column", "")
    if column and column not in cols:
        return message(request, 400, "bad_param", member=member, sess=sess, what=f"column={column[:40]}")
    policy, spf = qp.get("policy", ""), qp.get("spf", "")
    if policy and policy not in FILTER_POLICIES:
        return message(request, 400, "bad_param", member=member, sess=sess, what=f"policy={policy[:40]}")
    if spf and spf not in SPF_STATES:
        return message(request, 400, "bad_param", member=member, sess=sess, what=f"spf={spf[:40]}")
    code = qp.get("code", "")[:60]
    query = qp.get("q", "")[:100]
    table, key = qp.get("table", ""), qp.get("key", "")[:200]
    if table and (table == "adoption" or table not in table_names()):
        return message(request, 400, "bad_param", member=member, sess=sess, what=f"table={table[:40]}")
    sort = qp.get("sort", "name")
    if sort not in SORTS:
        sort = "name"
    desc = qp.get("dir") == "desc"
    value = qp.get("value") if column else None
    rows = await run_in_threadpool(lambda: d.data.bodies(info.name, column=column, value=value, policy=policy,
                                                         spf=spf, code=code, query=query, table=table, key=key))
    rows = sorted(rows, key=lambda bv: _sort_key(bv, sort), reverse=desc)
    codes = await run_in_threadpool(_all_codes, d, info.name)
    params = {k: v for k, v in (("column", column), ("value", value or ""), ("policy", policy), ("spf", spf),
                                ("code", code), ("q", query), ("table", table), ("key", key)) if v}
    pages = max(1, -(-len(rows) // PAGE))
    try:
        page = min(max(1, int(qp.get("page", "1"))), pages)
    except ValueError:
        page = 1
    nav = {"page": page, "pages": pages,
           "prev": urlencode({**params, "sort": sort, "dir": "desc" if desc else "asc", "page": page - 1})
           if page > 1 else None,
           "next": urlencode({**params, "sort": sort, "dir": "desc" if desc else "asc", "page": page + 1})
           if page < pages else None}
    return render(request, "survey_bodies.html", member=member, sess=sess, info=info,
                  rows=rows[(page - 1) * PAGE:page * PAGE], nav=nav, n=len(rows), columns=cols, column=column, value=value, policy=policy, spf=spf, code=code,
                  query=query, sort=sort, desc=desc, codes=codes, policies=FILTER_POLICIES, spf_states=SPF_STATES,
                  sorts=SORTS, params=params, body_key=body_key, urlencode=urlencode, table=table, key=key)


def _sort_key(bv: tuple[Any, dict[str, Any]], sort: str) -> tuple[int, str]:
    b, v = bv
    if sort == "findings":
        return (len((v.get("findings") or "").split()), v.get("name") or b.domain)
    val = v.get(sort) if sort in v else b.attrs.get(sort, "")
    return (0, str(val or ""))


def _all_codes(d: DashContext, name: str) -> list[str]:
    codes: set[str] = set()
    for _, v in d.data.views(name):
        codes.update((v.get("findings") or "").split())
    return sorted(codes)


@router.get("/r/{name}/body/{key:path}")
async def body_page(request: Request, key: str, v: RoundAny) -> Response:
    from mailposture import findings as F

    sess, member, info = v.sess, v.member, v.info
    d = dash(request)
    if member.body and key != member.body:
        return message(request, 403, "forbidden", member=member, sess=sess)
    lang, _ = lang_of(request)
    found = await run_in_threadpool(d.data.body, info.name, key)
    if found is None:
        return message(request, 404, "not_found", member=member, sess=sess)
    body, results = found
    domains = []
    for dom, res in results.items():
        fl = []
        if res:
            for section in ("spf", "dmarc", "mx", "posture"):
                for f in (res.get(section) or {}).get("findings") or ():
                    if isinstance(f, dict):
                        fl.append((section, F.render(f, lang)))
            for f in res.get("findings") or ():
                if isinstance(f, dict):
                    fl.append(("domain", F.render(f, lang)))
        domains.append({"domain": dom, "res": res, "findings": fl,
                        "answers": ((res or {}).get("dns") or {}).get("answers") or [],
                        "errors": ((res or {}).get("dns") or {}).get("errors") or []})
    history = await run_in_threadpool(d.data.history, key)
    view = next((v for b, v in await run_in_threadpool(d.data.views, info.name) if b is body), {})
    await audit(request, member, "view-body", f"{info.name} {key}"[:200]) if member.body else None
    return render(request, "survey_body.html", member=member, sess=sess, info=info, body=body, key=key,
                  domains=domains, history=history, view=view)


@router.get("/search")
async def search_page(request: Request, v: Staff) -> Response:
    sess, member = v.sess, v.member
    d = dash(request)
    query = request.query_params.get("q", "")[:100]
    done = [r for r in d.data.rounds() if r.status == "complete"]
    rows: list[Any] = []
    info = done[0] if done else None
    if info is not None and query.strip():
        rows = await run_in_threadpool(lambda: d.data.bodies(info.name, query=query))
    return render(request, "survey_search.html", member=member, sess=sess, info=info, query=query,
                  rows=rows[:500], n=len(rows), body_key=body_key)
