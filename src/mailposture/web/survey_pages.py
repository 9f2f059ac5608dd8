"""The members' survey dashboard at /survey/: rounds, every table of the report, drill-down to a body's fix, trend,
diff, downloads, search, share links — server-rendered, no script, Japanese and English.

The numbers come from :mod:`mailposture.web.survey_data`, i.e. from the report command's own functions. Logins are
the members file's (:mod:`mailposture.web.members`, argon2), sessions / login limits / audit / share links live in the
shared SQL store, every form carries a CSRF token, every response the security headers of the guard's pages.

    install(app, DashContext.create(data_dir, users_file, store_url, secret))   # into any FastAPI app
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from mailposture.survey.catalog import CatalogError
from mailposture.web import i18n
from mailposture.web.auth import AuthUnavailable, clean_username, password_acceptable
from mailposture.web.members import Member, MembersFile, SharedState
from mailposture.web.security import FormError, limit_key, parse_networks, read_form, resolve_client
from mailposture.web.survey_data import FILTER_POLICIES, SPF_STATES, SurveyData, body_key
from mailposture.web.survey_text import t as tt

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PREFIX = "/survey"
COOKIE = "mp_survey"
LANG_COOKIE = "mp_lang"
DOWNLOADS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8", "json": "application/json", "png": "image/png"}
PAGE = 200                 # bodies per page of the drill-down
SORTS = ("name", "region", "prefecture", "domain", "policy", "spf_status", "findings")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class DashContext:
    data: SurveyData
    state: SharedState
    members: MembersFile
    env: Environment
    https: bool = False
    trusted: list[Any] = field(default_factory=list)
    account_failures: int = 5
    ip_failures: int = 20
    jobs: Any = None            # survey_jobs.JobRunner: rounds started from the page

    @classmethod
    def create(cls, data_dir: str | Path, users_file: str | Path, store_url: str, secret: bytes, *,
               https: bool = False, trusted_proxies: list[str] | None = None, clock: Any = None,
               engine_factory: Any = None, schedule: str | None = None, schedule_list: str | None = None,
               lang: str = "ja", retry_delay: float = 5.0) -> DashContext:
        import time

        from mailposture.web.survey_jobs import JobRunner

        env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                          autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        state = SharedState(store_url, secret, clock or time.time)
        if engine_factory is None:
            from mailposture.cliopts import DnsOptions

            engine_factory = DnsOptions().engine
        jobs = JobRunner(state, Path(data_dir), engine_factory, lang=lang, schedule=schedule,
                         schedule_list=schedule_list, retry_delay=retry_delay)
        return cls(SurveyData(data_dir), state, MembersFile(users_file), env, https,
                   parse_networks(trusted_proxies if trusted_proxies is not None else ["127.0.0.1/32", "::1/128"]),
                   jobs=jobs)


def dash(request: Request) -> DashContext:
    return request.app.state.survey


# ----------------------------------------------------------------------------------------------------- helpers

def lang_of(request: Request) -> tuple[str, bool]:
    q = request.query_params.get("lang")
    lang = i18n.pick_lang(q, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    return lang, q in i18n.LANGS and q != request.cookies.get(LANG_COOKIE)


def _other_url(request: Request, lang: str) -> str:
    path = request.url.path if request.method == "GET" else PREFIX + "/"
    if not path.startswith(PREFIX):
        path = PREFIX + "/"
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
    return quote(path) + "?" + urlencode(params)


def client_ip(request: Request) -> str:
    peer = request.client.host if request.client else ""
    trusted = dash(request).trusted
    return resolve_client(peer, request.headers.getlist("x-forwarded-for"), trusted) if trusted else peer


def render(request: Request, template: str, status: int = 200, *, member: Member | None = None,
           sess: Any = None, **values: Any) -> HTMLResponse:
    d = dash(request)
    lang, remember = lang_of(request)
    other = "en" if lang == "ja" else "ja"
    html = d.env.get_template(template).render(
        lang=lang, t=lambda key, **kw: tt(key, lang, **kw), other_lang=other,
        other_lang_url=_other_url(request, other), member=member, sess=sess, prefix=PREFIX,
        fmt_time=lambda dt: i18n.fmt_short(dt, lang), q=quote, **values)
    resp = HTMLResponse(html, status_code=status)
    if remember:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="strict", secure=d.https,
                        httponly=True)
    return resp


def message(request: Request, status: int, key: str, *, member: Member | None = None, sess: Any = None,
            **kw: Any) -> HTMLResponse:
    lang, _ = lang_of(request)
    return render(request, "survey_message.html", status, member=member, sess=sess, message=tt(key, lang, **kw))


def _cookie(resp: Response, d: DashContext, value: str) -> None:
    resp.set_cookie(("__Host-" if d.https else "") + COOKIE, value, path="/", httponly=True, samesite="strict",
                    secure=d.https)


def _session_cookie(request: Request) -> str | None:
    return request.cookies.get(("__Host-" if dash(request).https else "") + COOKIE)


async def who(request: Request) -> tuple[Any, Member] | Response:
    """The logged-in session and its account as the members file says now, or the redirect to the login form."""
    d = dash(request)
    sess = await run_in_threadpool(d.state.get, _session_cookie(request))
    if sess is None or not sess.username:
        nxt = request.url.path + (("?" + request.url.query) if request.url.query else "")
        return RedirectResponse(PREFIX + "/login?" + urlencode({"next": nxt}), status_code=303)
    member = d.members.member(sess.username)
    if member is None:   # removed from the members file: the session ends now
        await run_in_threadpool(d.state.logout, sess)
        return RedirectResponse(PREFIX + "/login", status_code=303)
    return sess, member


class Refused(Exception):
    """Raised by an access check: the request is answered with ``response`` (the login form, 403, a form error)
    instead of its page. :func:`install` registers the handler that sends it."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return exc.response


@dataclass
class Visit:
    """A request its page's checks let through: the session, the member (as the members file says now), the posted
    form (POST pages) and the round (pages of one round)."""
    sess: Any
    member: Member
    form: dict[str, str] = field(default_factory=dict)
    info: Any = None


def access(role: str | None = None, *, body_members: bool = True, post: bool = False,
           form_limit: int | None = None, round_tables: bool | None = None) -> Any:
    """The checks in front of a page, as a FastAPI dependency; a request that fails one is answered by it, in
    this order:

    1. a session logged in to an account still in the members file, else the login form (303);
    2. ``role`` (viewer < editor < admin): the member's role at least that; ``body_members=False``: not a login
       restricted to one body; else 403;
    3. ``post``: the form, read within ``form_limit`` bytes (else 4xx), carries the session's CSRF token (else 403);
    4. ``round_tables`` (True: the round's group tables, which a body login may not see; False: any member): the
       round named in the path exists and is complete (else 404 / 403 / 409); it is then ``Visit.info``.
    """

    async def check(request: Request) -> Visit:
        got = await who(request)
        if isinstance(got, Response):
            raise Refused(got)
        sess, member = got
        if (role is not None and not member.may(role)) or (member.body and not body_members):
            raise Refused(message(request, 403, "forbidden", member=member, sess=sess))
        form: dict[str, str] = {}
        if post:
            try:
                form = await (read_form(request) if form_limit is None else read_form(request, limit=form_limit))
            except FormError as exc:
                raise Refused(message(request, exc.status, "form_error", member=member, sess=sess)) from None
            if not _csrf_ok(sess.csrf, form.get("csrf")):
                raise Refused(message(request, 403, "csrf_failed", member=member, sess=sess))
        info = None
        if round_tables is not None:
            info = _round_or_error(request, request.path_params.get("name", ""), member, sess, tables=round_tables)
            if isinstance(info, Response):
                raise Refused(info)
        return Visit(sess, member, form, info)

    return Depends(check)


Signed = Annotated[Visit, access()]                               # any member, a body login too
Staff = Annotated[Visit, access(body_members=False)]              # not a body login
Editor = Annotated[Visit, access("editor", body_members=False)]
Admin = Annotated[Visit, access("admin", body_members=False)]
RoundTables = Annotated[Visit, access(round_tables=True)]         # /r/{name}: group tables, not for a body login
RoundAny = Annotated[Visit, access(round_tables=False)]           # /r/{name}: a body login's own rows too


def _safe_next(nxt: str | None) -> str:
    if nxt and nxt.startswith(PREFIX + "/") and not nxt.startswith("//") and "\\" not in nxt and len(nxt) < 1000:
        return nxt
    return PREFIX + "/"


def _round_name(name: str) -> str | None:
    return name if _NAME_RE.match(name) else None


async def audit(request: Request, member: Member | None, action: str, detail: str) -> None:
    d = dash(request)
    await run_in_threadpool(d.state.audit, member.name if member else "-", action, detail, client_ip(request))
    log.info("survey %s by %s: %s", action, member.name if member else "-", detail)


router = APIRouter()


# ------------------------------------------------------------------------------------------------------- login

@router.get("/login")
async def login_get(request: Request) -> Response:
    return await login_form(request)


async def login_form(request: Request, error: str | None = None, status: int = 200, username: str = "",
                     nxt: str | None = None) -> Response:
    d = dash(request)
    lang, _ = lang_of(request)
    sess = d.state.anon()
    info = tt("logged_out", lang) if request.query_params.get("out") == "1" else None
    resp = render(request, "survey_login.html", status, sess=sess, error=error, info=info, username=username,
                  next=_safe_next(nxt or request.query_params.get("next")))
    _cookie(resp, d, d.state.cookie_value(sess))
    return resp


@router.post("/login")
async def login_post(request: Request) -> Response:
    d = dash(request)
    lang, _ = lang_of(request)
    try:
        form = await read_form(request)
    except FormError as exc:
        return message(request, exc.status, "form_error")
    sess = await run_in_threadpool(d.state.get, _session_cookie(request))
    if sess is None or sess.username or not _csrf_ok(sess.csrf, form.get("csrf")):
        return message(request, 403, "csrf_failed")
    raw = form.get("username", "")
    password = form.get("password", "")
    name = clean_username(raw)
    ip = client_ip(request)
    acct = "acct:" + (name or raw[:254].lower())
    ipk = "ip:" + limit_key(ip)
    t_ip = await run_in_threadpool(d.state.acquire, ipk, d.ip_failures)
    t_acct = await run_in_threadpool(d.state.acquire, acct, d.account_failures) if t_ip is not None else None
    if t_ip is None or t_acct is None:
        await run_in_threadpool(d.state.refund, t_ip)
        await audit(request, None, "login-limited", (name or "?")[:64])
        return await login_form(request, tt("try_later", lang), 429, raw[:254], form.get("next"))
    member = None
    if name is not None and password_acceptable(password):
        try:
            member = await run_in_threadpool(d.members.check, name, password)
        except AuthUnavailable as exc:
            await run_in_threadpool(d.state.refund, t_ip)
            await run_in_threadpool(d.state.refund, t_acct)
            log.error("survey login: %s", exc)
            return await login_form(request, tt("auth_unavailable", lang), 503, raw[:254], form.get("next"))
    del password
    if member is None:
        await audit(request, None, "login-failed", (name or "?")[:64] if "@" in (name or "") else "-")
        return await login_form(request, tt("bad_login", lang), 401, raw[:254], form.get("next"))
    await run_in_threadpool(d.state.refund, t_ip)
    await run_in_threadpool(d.state.reset, acct)
    new = await run_in_threadpool(d.state.login, member.name)
    await audit(request, member, "login", member.role + (f" body={member.body}" if member.body else ""))
    resp = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    _cookie(resp, d, d.state.cookie_value(new))
    return resp


def _csrf_ok(expected: str, given: str | None) -> bool:
    import hmac

    return bool(given) and hmac.compare_digest(str(given).encode("utf-8", "replace"), expected.encode())


@router.post("/logout")
async def logout(request: Request, v: Annotated[Visit, access(post=True)]) -> Response:
    sess, member = v.sess, v.member
    await run_in_threadpool(dash(request).state.logout, sess)
    await audit(request, member, "logout", "")
    resp = RedirectResponse(PREFIX + "/login?out=1", status_code=303)
    resp.delete_cookie(("__Host-" if dash(request).https else "") + COOKIE, path="/")
    return resp


# ------------------------------------------------------------------------------------------------------ rounds

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


def _round_or_error(request: Request, name: str, member: Member, sess: Any, *, tables: bool = True
                    ) -> Any:
    d = dash(request)
    if _round_name(name) is None:
        return message(request, 404, "not_found", member=member, sess=sess)
    if tables and member.body:
        return message(request, 403, "forbidden", member=member, sess=sess)
    try:
        info = d.data.info(name)
    except CatalogError:
        return message(request, 404, "not_found", member=member, sess=sess)
    if info.status not in ("complete", "failed"):
        return message(request, 409, "round_not_ready", member=member, sess=sess)
    return info


PER_BODY_COLUMNS = ("name", "code", "name_en", "name_kana", "kana", "yomi")


def _by(request: Request, d: DashContext, name: str, *, shared: bool = False) -> str | Response | None:
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


def _table(request: Request) -> str | None:
    from mailposture.web.survey_data import table_names

    table = request.query_params.get("table") or "adoption"
    return table if table in table_names() else None


@router.get("/r/{name}")
async def round_page(request: Request, v: RoundTables) -> Response:
    return await _tables(request, dash(request), v.info, v.member, v.sess)


async def _tables(request: Request, d: DashContext, info: Any, member: Member | None, sess: Any,
                  share: str | None = None) -> Response:
    from mailposture.survey.rounds import round_failure
    from mailposture.web.survey_data import table_names

    lang, _ = lang_of(request)
    by = await run_in_threadpool(lambda: _by(request, d, info.name, shared=share is not None))
    if isinstance(by, Response):
        return by
    table = _table(request)
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


@router.get("/r/{name}/chart.svg")
async def chart(request: Request, v: RoundTables) -> Response:
    return await _chart(request, dash(request), v.info)


async def _chart(request: Request, d: DashContext, info: Any, shared: bool = False) -> Response:
    from mailposture.report.charts import bars_svg

    lang, _ = lang_of(request)
    by = await run_in_threadpool(lambda: _by(request, d, info.name, shared=shared))
    if isinstance(by, Response):
        return by
    table = _table(request)
    if table is None:
        return message(request, 400, "bad_param", what="table")
    _, rep = await run_in_threadpool(d.data.report, info.name, by, lang, "any", table)
    if table == "adoption":
        svg: str | bytes = bars_svg(rep, lang)
    else:   # the content survey's own chart, as `survey report --table … --format svg` draws it
        svg = await run_in_threadpool(d.data.download, info.name, by, "svg", lang, "any", table)
    # An image document: its own inline style only, nothing else (no script runs in an <img> anyway).
    return Response(svg, media_type="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/r/{name}/download/{fmt}")
async def download(request: Request, fmt: str, v: RoundTables) -> Response:
    sess, member, info = v.sess, v.member, v.info
    d = dash(request)
    if fmt not in DOWNLOADS:
        return message(request, 404, "not_found", member=member, sess=sess)
    lang, _ = lang_of(request)
    by = await run_in_threadpool(_by, request, d, info.name)
    if isinstance(by, Response):
        return by
    table = _table(request)
    if table is None:
        return message(request, 400, "bad_param", member=member, sess=sess, what="table")
    data = await run_in_threadpool(d.data.download, info.name, by, fmt, lang, "any", table)
    tag = "" if table == "adoption" else f" table={table}"
    await audit(request, member, "download", f"{info.name} by={by or '-'} {fmt} {lang}{tag}")
    fname = f"{info.name}{'' if table == 'adoption' else '-' + table}{'-' + by.replace(',', '-') if by else ''}.{fmt}"
    return Response(data, media_type=DOWNLOADS[fmt],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(fname)}"})


@router.get("/r/{name}/bodies-sheet/{fmt}")
async def bodies_sheet(request: Request, fmt: str, v: RoundAny) -> Response:
    sess, member, info = v.sess, v.member, v.info
    d = dash(request)
    if fmt not in ("xlsx", "csv", "json"):
        return message(request, 404, "not_found", member=member, sess=sess)
    lang, _ = lang_of(request)
    keys = {member.body} if member.body else None
    data = await run_in_threadpool(d.data.bodies_download, info.name, fmt, lang, keys)
    await audit(request, member, "download", f"{info.name} bodies {fmt} {lang}")
    fname = f"{info.name}-bodies.{fmt}"
    return Response(data, media_type=DOWNLOADS[fmt],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(fname)}"})


# -------------------------------------------------------------------------------------------------- drill-down

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


# ------------------------------------------------------------------------------------------------ trend / diff

@router.get("/trend")
async def trend_page(request: Request, v: Staff) -> Response:
    from mailposture.survey.trend import build_trend, change_notes, trend_table

    sess, member = v.sess, v.member
    d = dash(request)
    lang, _ = lang_of(request)
    done = [r for r in d.data.rounds() if r.status == "complete"]
    by = None
    if done:
        by = await run_in_threadpool(_by, request, d, done[0].name)
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
    by = await run_in_threadpool(_by, request, d, done[0].name)
    if isinstance(by, Response):
        return by
    tr = await run_in_threadpool(build_trend, d.data.cat, by, None, lang=lang)
    return Response(trend_svg(tr, metric, lang), media_type="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


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


# ------------------------------------------------------------------------------------ rounds from the page

@router.get("/run")
async def run_page(request: Request, v: Editor) -> Response:
    from mailposture.web.survey_jobs import list_choices

    sess, member = v.sess, v.member
    d = dash(request)
    jobs = await run_in_threadpool(d.jobs.jobs)
    now = datetime.now(UTC)
    return render(request, "survey_run.html", member=member, sess=sess, jobs=jobs,
                  lists=list_choices(d.data.cat.dir), suggested=f"{now:%Y-%m}", schedule=d.jobs.schedule,
                  when=lambda ts: datetime.fromtimestamp(ts, UTC))


@router.post("/run")
async def run_submit(request: Request,
                     v: Annotated[Visit, access("editor", body_members=False, post=True)]) -> Response:
    from mailposture.web.survey_jobs import JobError

    sess, member, form = v.sess, v.member, v.form
    d = dash(request)
    try:
        job_id = await run_in_threadpool(d.jobs.submit, form.get("round", "").strip(), form.get("list", ""),
                                         member.name)
    except JobError as exc:
        return message(request, 400, "bad_param", member=member, sess=sess, what=str(exc))
    await audit(request, member, "start-round", f"{form.get('round', '')[:64]} list={form.get('list', '')[:60]}")
    return RedirectResponse(f"{PREFIX}/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}")
async def job_page(request: Request, job_id: int, v: Editor) -> Response:
    sess, member = v.sess, v.member
    job = await run_in_threadpool(dash(request).jobs.job, job_id)
    if job is None:
        return message(request, 404, "not_found", member=member, sess=sess)
    pct = f"{100.0 * job['done'] / job['total']:.1f}" if job["total"] else "0.0"
    return render(request, "survey_job.html", member=member, sess=sess, job=job, pct=pct,
                  live=job["status"] in ("queued", "running"))


# ---------------------------------------------------------------------------------------------- list editing

LIST_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.csv$")
MAX_LIST_BYTES = 4 * 1024 * 1024


def _lists_dir(d: DashContext) -> Path:
    return d.data.cat.dir / "lists"


@router.get("/lists")
async def lists_page(request: Request, v: Editor) -> Response:
    sess, member = v.sess, v.member
    d = dash(request)
    name = request.query_params.get("file", "")
    text = ""
    if name:
        if not LIST_FILE.match(name) or not (_lists_dir(d) / name).is_file():
            return message(request, 404, "not_found", member=member, sess=sess)
        text = (_lists_dir(d) / name).read_bytes().decode("utf-8-sig", "replace")
    files = sorted(p.name for p in _lists_dir(d).glob("*.csv")) if _lists_dir(d).is_dir() else []
    return render(request, "survey_lists.html", member=member, sess=sess, files=files, name=name, text=text)


@router.post("/lists")
async def lists_save(request: Request, v: Annotated[Visit, access("editor", body_members=False, post=True,
                                                                  form_limit=MAX_LIST_BYTES)]) -> Response:
    from mailposture.survey.lists import ListError, parse_list

    sess, member, form = v.sess, v.member, v.form
    d = dash(request)
    name = form.get("name", "").strip()
    if not name.endswith(".csv"):
        name += ".csv"
    text = form.get("text", "").replace("\r\n", "\n")
    files = sorted(p.name for p in _lists_dir(d).glob("*.csv")) if _lists_dir(d).is_dir() else []
    if not LIST_FILE.match(name):
        return render(request, "survey_lists.html", 400, member=member, sess=sess, files=files, name=name, text=text,
                      error=tt("bad_param", lang_of(request)[0], what="name: letters, digits, '.', '_', '-'"))
    try:
        lst = parse_list(text.encode("utf-8"), name)
    except ListError as exc:
        return render(request, "survey_lists.html", 400, member=member, sess=sess, files=files, name=name, text=text,
                      error=str(exc))
    _lists_dir(d).mkdir(parents=True, exist_ok=True)
    tmp = _lists_dir(d) / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(_lists_dir(d) / name)
    await audit(request, member, "edit-list", f"{name} {len(lst.bodies)} bodies sha256={lst.sha256[:12]}")
    return RedirectResponse(f"{PREFIX}/lists?" + urlencode({"file": name, "saved": "1"}), status_code=303)


# ------------------------------------------------------------------------------------------ admin, share links

@router.get("/admin")
async def admin_page(request: Request, v: Admin) -> Response:
    sess, member = v.sess, v.member
    d = dash(request)
    entries = await run_in_threadpool(d.state.audit_log, 300)
    shares = await run_in_threadpool(d.state.shares)
    for e in entries:
        e["when"] = datetime.fromtimestamp(e["at"], UTC)
    for s in shares:
        s["when"] = datetime.fromtimestamp(s["created"], UTC)
    return render(request, "survey_admin.html", member=member, sess=sess, entries=entries, shares=shares,
                  made=request.query_params.get("made"))


@router.post("/r/{name}/share")
async def share_make(request: Request,
                     v: Annotated[Visit, access("admin", body_members=False, post=True, round_tables=True)]
                     ) -> Response:
    sess, member, info = v.sess, v.member, v.info
    token = await run_in_threadpool(dash(request).state.share, info.name, member.name)
    await audit(request, member, "share", info.name)
    lang, _ = lang_of(request)
    return render(request, "survey_message.html", member=member, sess=sess,
                  message=tt("share_made", lang, url=f"{PREFIX}/share/{token}"), link=f"{PREFIX}/share/{token}")


@router.post("/shares/revoke")
async def share_revoke(request: Request, v: Annotated[Visit, access("admin", body_members=False, post=True)]
                       ) -> Response:
    sess, member, form = v.sess, v.member, v.form
    h = form.get("token_hash", "")[:64]
    ok = await run_in_threadpool(dash(request).state.revoke, h)
    await audit(request, member, "revoke-share", h[:12])
    return message(request, 200 if ok else 404, "share_revoked" if ok else "not_found", member=member, sess=sess)


async def shared_round(request: Request, token: str) -> Any:
    """The round a share link (no login) shows, or 404 for an unknown, revoked or expired link."""
    d = dash(request)
    name = await run_in_threadpool(d.state.shared_round, token)
    if name is None:
        raise Refused(message(request, 404, "not_found"))
    try:
        return d.data.info(name)
    except CatalogError:
        raise Refused(message(request, 404, "not_found")) from None


SharedRound = Annotated[Any, Depends(shared_round)]


@router.get("/share/{token}")
async def share_page(request: Request, token: str, info: SharedRound) -> Response:
    return await _tables(request, dash(request), info, None, None, share=token)


@router.get("/share/{token}/chart.svg")
async def share_chart(request: Request, info: SharedRound) -> Response:
    return await _chart(request, dash(request), info, shared=True)


# ------------------------------------------------------------------------------------------------------ install

ROUTERS = (router,)


def install(app: FastAPI, ctx: DashContext) -> None:
    """Mount the dashboard at /survey on an app that already serves /static and adds the security headers."""
    app.state.survey = ctx
    app.add_exception_handler(Refused, _refused)
    for r in ROUTERS:
        app.include_router(r, prefix=PREFIX)


def create_dashboard_app(ctx: DashContext) -> FastAPI:
    """The quick start: the dashboard alone (``mailposture web serve --data-dir DIR --users FILE``)."""
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from mailposture.web.app import SecurityHeaders
    from mailposture.web.security import security_headers

    app = FastAPI(title="mailposture survey", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders, https=ctx.https)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    install(app, ctx)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(PREFIX + "/", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response("ok\n", media_type="text/plain")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return message(request, 404, "not_found")
        return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s", request.method, request.url.path[:200], type(exc).__name__,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return Response("Internal Server Error / 内部エラー\n", status_code=500, media_type="text/plain",
                        headers=security_headers(https=ctx.https, no_store=True))

    return app


def serve_dashboard(ctx: DashContext, host: str = "127.0.0.1", port: int = 8080, cfg: Any = None) -> None:
    """Run the dashboard with uvicorn: alone (quick start), or beside /abroad and /admin when a guard config is
    given (one app, one deployment)."""
    import uvicorn

    if cfg is not None:
        from mailposture.guard.store import StoreError, open_store
        from mailposture.web.app import create_app
        from mailposture.web.security import SetupError

        try:
            store = open_store(cfg.store_url)
        except StoreError as exc:
            raise SetupError(str(exc)) from None
        app = create_app(cfg, store)
        install(app, ctx)
    else:
        app = create_dashboard_app(ctx)
    if ctx.jobs is not None:
        ctx.jobs.start()

    def prewarm() -> None:
        try:
            ctx.data.prewarm()
        except Exception:  # the pages build what they need on demand anyway
            log.exception("survey dashboard: prewarm failed")

    import threading

    threading.Thread(target=prewarm, name="survey-prewarm", daemon=True).start()
    uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False, access_log=False,
                limit_concurrency=1000, timeout_keep_alive=5)
