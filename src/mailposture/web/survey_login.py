"""The dashboard's login and logout (members file accounts, login limits in the shared store, audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mailposture.web.auth import AuthUnavailable, clean_username, password_acceptable
from mailposture.web.security import FormError, limit_key, read_form
from mailposture.web.survey_access import Visit, access, csrf_ok, safe_next
from mailposture.web.survey_context import (
    COOKIE,
    PREFIX,
    audit,
    client_ip,
    dash,
    lang_of,
    log,
    message,
    render,
    session_cookie,
    set_session_cookie,
)
from mailposture.web.survey_text import t as tt

router = APIRouter()


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
                  next=safe_next(nxt or request.query_params.get("next")))
    set_session_cookie(resp, d, d.state.cookie_value(sess))
    return resp


@router.post("/login")
async def login_post(request: Request) -> Response:
    d = dash(request)
    lang, _ = lang_of(request)
    try:
        form = await read_form(request)
    except FormError as exc:
        return message(request, exc.status, "form_error")
    sess = await run_in_threadpool(d.state.get, session_cookie(request))
    if sess is None or sess.username or not csrf_ok(sess.csrf, form.get("csrf")):
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
    resp = RedirectResponse(safe_next(form.get("next")), status_code=303)
    set_session_cookie(resp, d, d.state.cookie_value(new))
    return resp


@router.post("/logout")
async def logout(request: Request, v: Annotated[Visit, access(post=True)]) -> Response:
    sess, member = v.sess, v.member
    await run_in_threadpool(dash(request).state.logout, sess)
    await audit(request, member, "logout", "")
    resp = RedirectResponse(PREFIX + "/login?out=1", status_code=303)
    resp.delete_cookie(("__Host-" if dash(request).https else "") + COOKIE, path="/")
    return resp
