"""The members' survey dashboard at /survey/: rounds, every table of the report, drill-down to a body's fix, trend,
diff, downloads, search, share links — server-rendered, no script, Japanese and English.

The numbers come from :mod:`mailposture.web.survey_data`, i.e. from the report's own functions
(:mod:`mailposture.survey.reporting`). Logins are the members file's (:mod:`mailposture.web.members`, argon2),
sessions / login limits / audit / share links live in the shared SQL store, every form carries a CSRF token, every
response the security headers of the guard's pages.

    install(app, DashContext.create(data_dir, users_file, store_url, secret))   # into any FastAPI app

The pages, by concern: survey_login, survey_tables (rounds, tables, charts, trend, diff), survey_bodies (drill-down,
a body, search), survey_files (downloads, share links), survey_admin (rounds from the page, lists, admin); the checks
in front of them: survey_access; what they share: survey_context.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from mailposture.web import survey_admin, survey_bodies, survey_files, survey_login, survey_tables
from mailposture.web.survey_access import Refused, refused
from mailposture.web.survey_context import HERE, PREFIX, DashContext, log, message

__all__ = ["ROUTERS", "DashContext", "create_dashboard_app", "install", "serve_dashboard"]

# every page of the dashboard (no two routes' paths overlap, so their order does not matter)
ROUTERS = (survey_login.router, survey_tables.router, survey_files.router, survey_bodies.router, survey_admin.router)


def install(app: FastAPI, ctx: DashContext) -> None:
    """Mount the dashboard at /survey on an app that already serves /static and adds the security headers."""
    app.state.survey = ctx
    app.add_exception_handler(Refused, refused)
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
