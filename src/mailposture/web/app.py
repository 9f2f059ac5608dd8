"""The web application: one FastAPI app, server-rendered (Jinja2), Japanese and English.

Routers: the mailbox owner's page at ``/abroad`` and the administrator's page at ``/admin`` (web/owner.py and
web/admin.py); the survey dashboard can be mounted beside them later. Everything is served from this package
(templates/, static/): no CDN, no script at all.

    app = create_app(cfg, store)            # cfg: GuardConfig, store: guard.store.Store
    serve(cfg, "127.0.0.1", 8080)           # what `mailposture web serve` runs
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailposture.web import i18n
from mailposture.web.auth import (
    Authenticator,
    AuthResult,
    AuthUnavailable,
    admin_authenticator,
    clean_username,
    owner_authenticator,
    password_acceptable,
)
from mailposture.web.security import (
    FormError,
    RateLimiter,
    Session,
    SessionStore,
    SetupError,
    csrf_ok,
    limit_key,
    load_or_create_secret,
    parse_networks,
    read_form,
    resolve_client,
    security_headers,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
LANG_COOKIE = "mp_lang"


@dataclass
class WebSettings:
    session_idle: float = 900.0          # 15 min without a request ends a session
    session_absolute: float = 8 * 3600.0
    account_failures: int = 5            # per account …
    ip_failures: int = 20                # … and per client address …
    failure_window: float = 900.0        # … within 15 minutes
    refusals_shown: int = 10
    stats_days: int = 30


@dataclass
class Realm:
    name: str                  # "owner" / "admin"
    prefix: str                # "/abroad" / "/admin"
    authenticator: Authenticator
    account_limit: RateLimiter
    ip_limit: RateLimiter
    cookie: str


@dataclass
class WebContext:
    cfg: Any
    store: Any
    clock: Callable[[], datetime]
    settings: WebSettings
    sessions: SessionStore
    realms: dict[str, Realm]
    env: Environment
    notifier: Callable[..., Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a (blocking, SQLAlchemy) store call off the event loop."""
        return await run_in_threadpool(fn, *args, **kwargs)


def ctx_of(request: Request) -> WebContext:
    return request.app.state.web


# ------------------------------------------------------------------------------------------------- render

def lang_of(request: Request) -> tuple[str, bool]:
    """(language, remember it in the cookie?)."""
    q = request.query_params.get("lang")
    lang = i18n.pick_lang(q, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    return lang, q in i18n.LANGS and q != request.cookies.get(LANG_COOKIE)


def render(request: Request, template: str, status: int = 200, *, session: Session | None = None,
           **values: Any) -> HTMLResponse:
    ctx = ctx_of(request)
    lang, remember = lang_of(request)
    other = "en" if lang == "ja" else "ja"
    flash = []
    if session is not None and session.flash:
        flash, session.flash = session.flash, []
    html = ctx.env.get_template(template).render(
        lang=lang,
        t=lambda key, **kw: i18n.t(key, lang, **kw),
        fmt_time=lambda dt: i18n.fmt_time(dt, lang),
        fmt_short=lambda dt: i18n.fmt_short(dt, lang),
        fmt_left=lambda dt: i18n.fmt_remaining(dt, ctx.now(), lang),
        other_lang=other,
        other_lang_url=_relative(request, other),
        session=session,
        flash=flash,
        cfg=ctx.cfg,
        **values,
    )
    resp = HTMLResponse(html, status_code=status)
    if remember:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="strict",
                        secure=bool(ctx.cfg.cookie_secure), httponly=True)
    return resp


def _relative(request: Request, lang: str) -> str:
    """This page's path and query with lang= replaced (relative: never an absolute URL from the Host header)."""
    if request.method != "GET":   # an answer to a form: switch language on the section's main page
        return ("/admin" if request.url.path.startswith("/admin") else "/abroad") + "?lang=" + lang
    path = request.url.path
    if not path.startswith("/") or path.startswith("//") or "\\" in path:   # never a link off this site
        path = "/abroad"
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
    return path + "?" + urlencode(params)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def set_session_cookie(resp: Response, realm: Realm, ctx: WebContext, sess: Session) -> None:
    resp.set_cookie(realm.cookie, ctx.sessions.cookie_value(sess), path="/", httponly=True, samesite="strict",
                    secure=bool(ctx.cfg.cookie_secure))


def clear_session_cookie(resp: Response, realm: Realm, ctx: WebContext) -> None:
    resp.delete_cookie(realm.cookie, path="/", httponly=True, samesite="strict",
                       secure=bool(ctx.cfg.cookie_secure))


def current_session(request: Request, realm: Realm) -> Session | None:
    return ctx_of(request).sessions.get(request.cookies.get(realm.cookie), realm.name)


DEFAULT_TRUSTED_PROXIES = ["127.0.0.1/32", "::1/128"]


def client_ip(request: Request) -> str:
    """The client's address; X-Forwarded-For is believed only from cfg.trusted_proxies (see resolve_client)."""
    peer = request.client.host if request.client else ""
    trusted = ctx_of(request).extra.get("trusted_proxies", [])
    if not trusted:
        return peer
    return resolve_client(peer, request.headers.getlist("x-forwarded-for"), trusted)


def account_key(raw: str, name: str | None) -> str:
    """The per-account rate-limit key: compatibility forms and case folded (NFKC + casefold), so that
    "ａｌｉｃｅ@…", "ALICE@…" and "alice@…" — which some password back-ends treat as one account — share one
    failure counter."""
    base = name if name is not None else raw[:256]
    return unicodedata.normalize("NFKC", base).casefold().strip()[:256]


def loggable_user(name: str) -> str:
    """A failed attempt's name for the log: people type their password into the name field, so a name that
    is not a mail address (no '@') is not written out."""
    return repr(name[:64]) if "@" in name else "<not a mail address>"


def message_page(request: Request, status: int, key: str, *, back: str | None = None,
                 session: Session | None = None) -> HTMLResponse:
    lang, _ = lang_of(request)
    return render(request, "message.html", status, session=session, message=i18n.t(key, lang), back=back)


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


async def authorised_post(request: Request, realm: Realm) -> tuple[Session, dict[str, str]] | Response:
    """A logged-in session and its form with a valid CSRF token, or the error page to return."""
    try:
        form = await read_form(request)
    except FormError as exc:
        return message_page(request, exc.status, "form_error", back=realm.prefix)
    sess = current_session(request, realm)
    if sess is None or not sess.username:
        return message_page(request, 403, "session_expired", back=realm.prefix + "/login")
    if not csrf_ok(sess, form.get("csrf")):
        return message_page(request, 403, "csrf_failed", back=realm.prefix, session=sess)
    del sess.flash[:-4]   # a client that never follows the redirects cannot grow its session (≤ 5 with this one)
    return sess, form


# ---------------------------------------------------------------------------------------------- middleware

class SecurityHeaders:
    """Adds the security headers to every response; no-store on everything but static files."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = not scope.get("path", "").startswith("/static/")
        extra = [(k.lower().encode(), v.encode()) for k, v in
                 security_headers(https=self.https, no_store=no_store).items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in have]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -------------------------------------------------------------------------------------------------- create

def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(cfg: Any, store: Any, *, authenticator: Authenticator | None = None,
               clock: Callable[[], datetime] | None = None, admin_auth: Authenticator | None = None,
               notifier: Callable[..., Any] | None = None, settings: WebSettings | None = None,
               secret: bytes | None = None) -> FastAPI:
    """The web app for a GuardConfig and a guard Store.

    authenticator: the owners' password check (default: Dovecot then users_file, from cfg);
    admin_auth: the administrators' (default: admin_users_file); clock: aware-UTC "now" (tests);
    notifier: send_notice-like callable (default: guard.notices.send_notice); secret: the cookie-signing key
    (default: read or created at cfg.web_secret_file).
    """
    from mailposture.guard.notices import send_notice
    from mailposture.web import admin, owner

    clock = clock or _utcnow
    settings = settings or WebSettings()
    ts = lambda: clock().timestamp()  # noqa: E731
    if secret is None:
        secret = load_or_create_secret(cfg.web_secret_file)
    sessions = SessionStore(secret, ts, idle=settings.session_idle, absolute=settings.session_absolute)
    prefix = "__Host-" if cfg.cookie_secure else ""

    def realm(name: str, path: str, auth: Authenticator) -> Realm:
        return Realm(name, path, auth,
                     RateLimiter(settings.account_failures, settings.failure_window, ts),
                     RateLimiter(settings.ip_failures, settings.failure_window, ts),
                     f"{prefix}mp_{name}")

    realms = {
        "owner": realm("owner", "/abroad", authenticator or owner_authenticator(cfg)),
        "admin": realm("admin", "/admin", admin_auth or admin_authenticator(cfg)),
    }
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    app = FastAPI(title="mailposture", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = WebContext(cfg, store, clock, settings, sessions, realms, env, notifier or send_notice)
    try:
        proxies = getattr(cfg, "trusted_proxies", None)
        app.state.web.extra["trusted_proxies"] = parse_networks(
            DEFAULT_TRUSTED_PROXIES if proxies is None else proxies)
    except ValueError as exc:
        raise SetupError(f"trusted_proxies: {exc}") from None
    app.add_middleware(SecurityHeaders, https=bool(cfg.cookie_secure))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(owner.router, prefix="/abroad")
    app.include_router(admin.router, prefix="/admin")

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return redirect("/abroad")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response("ok\n", media_type="text/plain")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return message_page(request, 404, "not_found", back="/abroad")
        return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Runs outside the middleware stack (Starlette's ServerErrorMiddleware): add the headers here. The
        # details go to the log only, never to the client.
        log.error("internal error on %s %s: %s", request.method, request.url.path[:200], type(exc).__name__,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return Response("Internal Server Error / 内部エラー\n", status_code=500, media_type="text/plain",
                        headers=security_headers(https=bool(cfg.cookie_secure), no_store=True))

    return app


def serve(cfg: Any, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the pages with uvicorn (one process: sessions live in memory). X-Forwarded-For is believed only
    from the reverse proxies in cfg.trusted_proxies (default: this host), by the app itself (client_ip).

    Raises SetupError with a clear message when the pages cannot work (store, secret file, no password check).
    """
    import uvicorn

    from mailposture.guard.store import StoreError, open_store

    if not (cfg.dovecot_auth_socket or cfg.users_file):
        raise SetupError("no password check for mailbox owners: set dovecot_auth_socket or users_file")
    if not cfg.admin_users_file:
        log.warning("admin_users_file is not set: the admin page (/admin) accepts no login")
    try:
        store = open_store(cfg.store_url)
    except StoreError as exc:
        raise SetupError(str(exc)) from None
    app = create_app(cfg, store)
    uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False, access_log=False,
                limit_concurrency=1000, timeout_keep_alive=5)
