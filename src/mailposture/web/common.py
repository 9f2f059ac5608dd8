"""What the web pages share: the app's context, rendering, language choice, cookies, the client's address and
the checks of a logged-in form post. The owner's and admin's pages (owner.py, admin.py), the login routes
(login.py) and the app (app.py) build on it; it imports none of them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool

from mailposture.web import i18n
from mailposture.web.auth import Authenticator
from mailposture.web.security import (
    FormError,
    RateLimiter,
    Session,
    SessionStore,
    csrf_ok,
    read_form,
    resolve_client,
)

log = logging.getLogger("mailposture.web.app")
_DAYS = re.compile(r"[0-9]{1,3}")

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
    extra = ctx_of(request).extra
    trusted = extra.get("trusted_proxies", [])
    if not trusted:
        return peer
    forwarded = request.headers.getlist("x-forwarded-for")
    if not forwarded and not extra.get("warned_no_xff") and resolve_client(peer, [], trusted) == peer \
            and _is_trusted(peer, trusted):
        # A proxy in trusted_proxies that does not set the header makes every client look like the proxy: one
        # login budget for everybody (a stranger's failures lock all owners out), and the home check of
        # abroad_gate sees the proxy's address. Said once per process (docs/guard.md shows the proxy setup).
        extra["warned_no_xff"] = True
        log.warning("a request came from the trusted proxy %s without X-Forwarded-For: configure the proxy "
                    "to set it (docs/guard.md), or remove the proxy from trusted_proxies", peer)
    return resolve_client(peer, forwarded, trusted)


def vouched_client_ip(request: Request) -> str | None:
    """The client's address for security decisions (the home check of abroad_gate), or None when no trusted
    proxy said who the client is: the address resolved is then a trusted proxy's own (no X-Forwarded-For, or
    garbage where the proxy's entry should be), and must not pass as an internal address."""
    ip = client_ip(request)
    return None if _is_trusted(ip, ctx_of(request).extra.get("trusted_proxies", [])) else ip


def _is_trusted(peer: str, trusted: list) -> bool:
    import ipaddress

    try:
        addr = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(addr.version == n.version and addr in n for n in trusted)


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


# ------------------------------------------------------------------------------------------ owner values

def parse_days(raw: str | None, max_days: int) -> int | None:
    """1..max_days from a form field, else None (0, 31, '7.5', '１', '' and '-1' are all refused)."""
    raw = (raw or "").strip()
    if not _DAYS.fullmatch(raw):
        return None
    n = int(raw)
    return n if 1 <= n <= max_days else None


def state_of(rec, now) -> str:
    return str(getattr(rec.effective_state(now), "value", rec.effective_state(now)))
