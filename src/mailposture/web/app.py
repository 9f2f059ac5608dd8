"""The web application: one FastAPI app, server-rendered (Jinja2), Japanese and English.

Routers: the mailbox owner's page at ``/abroad`` and the administrator's page at ``/admin`` (web/owner.py and
web/admin.py); the survey dashboard can be mounted beside them later. Everything is served from this package
(templates/, static/): no CDN, no script at all.

Module layers (each imports only those below it): app → owner, admin → login → common → security, auth, i18n.

    app = create_app(cfg, store)            # cfg: GuardConfig, store: guard.store.Store
    serve(cfg, "127.0.0.1", 8080)           # what `mailposture web serve` runs
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailposture.web import admin, owner
from mailposture.web.abroad_gate import ChangeGate
from mailposture.web.auth import Authenticator, admin_authenticator, owner_authenticator
from mailposture.web.common import (  # noqa: F401  (re-exported: the names the app's users import from here)
    DEFAULT_TRUSTED_PROXIES,
    HERE,
    LANG_COOKIE,
    Realm,
    WebContext,
    WebSettings,
    account_key,
    authorised_post,
    client_ip,
    ctx_of,
    lang_of,
    loggable_user,
    message_page,
    redirect,
    render,
)
from mailposture.web.login import add_realm_routes, login_form, login_submit, logout_submit  # noqa: F401
from mailposture.web.security import (
    RateLimiter,
    SessionStore,
    SetupError,
    load_or_create_secret,
    parse_networks,
    security_headers,
)

log = logging.getLogger(__name__)


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
        path = scope.get("path", "")
        no_store = not path.startswith("/static/")
        extra = [(k.lower().encode(), v.encode()) for k, v in
                 security_headers(https=self.https, no_store=no_store, scripts=path.startswith("/survey/")).items()]

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
               secret: bytes | None = None, geo: Any = None) -> FastAPI:
    """The web app for a GuardConfig and a guard Store.

    authenticator: the owners' password check (default: Dovecot then users_file, from cfg);
    admin_auth: the administrators' (default: admin_users_file); clock: aware-UTC "now" (tests);
    notifier: send_notice-like callable (default: guard.notices.send_notice); secret: the cookie-signing key
    (default: read or created at cfg.web_secret_file); geo: the guard's geo source for the home check of
    web/abroad_gate.py (default: opened from cfg.geo on first use).
    """
    from mailposture.guard.notices import send_notice

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
    app.state.web.extra["gate"] = ChangeGate(cfg, store, geo, clock=ts)
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
