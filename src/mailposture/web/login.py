"""The log-in routes every realm (owner, admin) has: the login form, login with rate limits, logout."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailposture.web import i18n
from mailposture.web.auth import AuthResult, AuthUnavailable, clean_username, password_acceptable
from mailposture.web.common import (
    Realm,
    account_key,
    clear_session_cookie,
    client_ip,
    ctx_of,
    current_session,
    lang_of,
    loggable_user,
    message_page,
    redirect,
    render,
    set_session_cookie,
)
from mailposture.web.security import FormError, Session, csrf_ok, limit_key, read_form

log = logging.getLogger("mailposture.web.app")

# -------------------------------------------------------------------------------------------------- login

async def login_form(request: Request, realm: Realm, *, status: int = 200, error: str | None = None,
                     username: str = "", info: str | None = None) -> Response:
    ctx = ctx_of(request)
    sess = current_session(request, realm)
    if sess is not None and sess.username and error is None:
        return redirect(realm.prefix)
    if sess is None:
        sess = ctx.sessions.new(realm.name)
    resp = render(request, "login.html", status, session=sess, realm=realm.name, action=realm.prefix + "/login",
                  error=error, username=username, info=info)
    set_session_cookie(resp, realm, ctx, sess)
    return resp


async def login_submit(request: Request, realm: Realm) -> Response:
    ctx = ctx_of(request)
    lang, _ = lang_of(request)
    try:
        form = await read_form(request)
    except FormError as exc:
        return message_page(request, exc.status, "form_error", back=realm.prefix + "/login")
    sess = current_session(request, realm)
    if not csrf_ok(sess, form.get("csrf")):
        return message_page(request, 403, "csrf_failed", back=realm.prefix + "/login")
    raw_user = form.get("username", "")
    password = form.get("password", "")
    ip = client_ip(request)
    ip_key = limit_key(ip)
    name = clean_username(raw_user)
    acct = account_key(raw_user, name)
    shown = raw_user[:254] if name is not None else ""
    # A browser that logged in to this account before (signed device cookie) has its own failure budget, so
    # a stranger's failures, which block the account for everybody else, do not lock its owner out.
    dev = request.cookies.get(realm.cookie + "_dev")
    acct_key = f"dev:{acct}:{dev}" if ctx.sessions.device_ok(dev, realm.name, acct) else acct
    # Count the attempt before the (slow) password check: simultaneous attempts cannot all pass the limit.
    if not realm.ip_limit.acquire(ip_key):
        blocked = True
    elif not realm.account_limit.acquire(acct_key):
        realm.ip_limit.refund(ip_key)
        blocked = True
    else:
        blocked = False
    if blocked:
        log.warning("%s login refused by rate limit: user=%s ip=%s", realm.name, loggable_user(acct), ip)
        return await login_form(request, realm, status=429, error=i18n.t("try_later", lang), username=shown)
    result: AuthResult | None = None
    if name is not None and password_acceptable(password):
        try:
            result = await realm.authenticator.authenticate(name, password, ip,
                                                            secured=bool(ctx.cfg.cookie_secure))
        except AuthUnavailable as exc:
            realm.ip_limit.refund(ip_key)          # no answer is not a failed guess
            realm.account_limit.refund(acct_key)
            log.error("%s login: authentication unavailable: %s", realm.name, exc)
            return await login_form(request, realm, status=503, error=i18n.t("auth_unavailable", lang),
                                    username=shown)
    del password
    if result is None or not result.ok:
        log.info("%s login failed: user=%s ip=%s", realm.name, loggable_user(acct), ip)
        return await login_form(request, realm, status=401, error=i18n.t("bad_login", lang), username=shown)
    realm.ip_limit.refund(ip_key)
    realm.account_limit.reset(acct_key)
    realm.account_limit.reset(acct)
    user = clean_username(result.username) or name
    new = ctx.sessions.rotate(sess, realm.name, user)
    log.info("%s login: user=%r ip=%s", realm.name, user, ip)
    resp = redirect(realm.prefix)
    set_session_cookie(resp, realm, ctx, new)
    resp.set_cookie(realm.cookie + "_dev", ctx.sessions.device_token(realm.name, acct),
                    max_age=int(ctx.sessions.DEVICE_LIFETIME), path="/", httponly=True, samesite="strict",
                    secure=bool(ctx.cfg.cookie_secure))
    return resp


async def logout_submit(request: Request, realm: Realm) -> Response:
    ctx = ctx_of(request)
    try:
        form = await read_form(request)
    except FormError as exc:
        return message_page(request, exc.status, "form_error", back=realm.prefix)
    sess = current_session(request, realm)
    if not csrf_ok(sess, form.get("csrf")):
        return message_page(request, 403, "csrf_failed", back=realm.prefix)
    ctx.sessions.drop(sess)
    resp = redirect(realm.prefix + "/login?out=1")
    clear_session_cookie(resp, realm, ctx)
    return resp


def add_realm_routes(router: APIRouter, realm_name: str,
                     page: Callable[[Request, Session], Awaitable[Response]]) -> None:
    """The routes every realm (owner, admin) has: its page behind a login, the login form, login and logout."""

    @router.get("")
    async def landing(request: Request) -> Response:
        realm = ctx_of(request).realms[realm_name]
        sess = current_session(request, realm)
        if sess is None or not sess.username:
            return redirect(realm.prefix + "/login")
        return await page(request, sess)

    @router.get("/login")
    async def login_get(request: Request) -> Response:
        lang, _ = lang_of(request)
        info = i18n.t("logged_out", lang) if request.query_params.get("out") == "1" else None
        return await login_form(request, ctx_of(request).realms[realm_name], info=info)

    @router.post("/login")
    async def login_post(request: Request) -> Response:
        return await login_submit(request, ctx_of(request).realms[realm_name])

    @router.post("/logout")
    async def logout_post(request: Request) -> Response:
        return await logout_submit(request, ctx_of(request).realms[realm_name])
