"""The dashboard's downloads (the files ``survey report`` writes) and share links (a round's group tables without
a login, made and revoked by an admin)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mailposture.web.survey_access import RoundAny, RoundTables, SharedRound, Visit, access
from mailposture.web.survey_context import PREFIX, audit, dash, lang_of, message, render
from mailposture.web.survey_tables import by_param, chart_response, table_param, tables_page
from mailposture.web.survey_text import t as tt

router = APIRouter()

DOWNLOADS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8", "json": "application/json", "png": "image/png"}


@router.get("/r/{name}/download/{fmt}")
async def download(request: Request, fmt: str, v: RoundTables) -> Response:
    sess, member, info = v.sess, v.member, v.info
    d = dash(request)
    if fmt not in DOWNLOADS:
        return message(request, 404, "not_found", member=member, sess=sess)
    lang, _ = lang_of(request)
    by = await run_in_threadpool(by_param, request, d, info.name)
    if isinstance(by, Response):
        return by
    table = table_param(request)
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


@router.get("/share/{token}")
async def share_page(request: Request, token: str, info: SharedRound) -> Response:
    return await tables_page(request, dash(request), info, None, None, share=token)


@router.get("/share/{token}/chart.svg")
async def share_chart(request: Request, info: SharedRound) -> Response:
    return await chart_response(request, dash(request), info, shared=True)
