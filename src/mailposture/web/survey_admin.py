"""The dashboard's work pages: rounds started from the page (editors), list editing (editors), the audit log and
share links (admins)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mailposture.web.survey_access import Admin, Editor, Visit, access
from mailposture.web.survey_context import PREFIX, DashContext, audit, dash, lang_of, message, render
from mailposture.web.survey_text import t as tt

router = APIRouter()

LIST_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.csv$")
MAX_LIST_BYTES = 4 * 1024 * 1024


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
