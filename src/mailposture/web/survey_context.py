"""The survey dashboard's shared pieces: its context (data, members, shared store, templates), the language of a
request, page rendering and messages, the session cookie, the client's address and the audit log.

The pages are :mod:`~mailposture.web.survey_tables` (rounds, tables, charts, trend, diff),
:mod:`~mailposture.web.survey_bodies` (drill-down, a body's page, search), :mod:`~mailposture.web.survey_files`
(downloads, share links), :mod:`~mailposture.web.survey_admin` (rounds from the page, list editing, admin) and
:mod:`~mailposture.web.survey_login`; who may open which is :mod:`~mailposture.web.survey_access`;
:mod:`~mailposture.web.survey_pages` puts them together into an app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from mailposture.web import i18n
from mailposture.web.members import Member, MembersFile, SharedState
from mailposture.web.security import parse_networks, resolve_client
from mailposture.web.survey_data import SurveyData
from mailposture.web.survey_text import t as tt

log = logging.getLogger("mailposture.web.survey_pages")   # one logger for the whole dashboard, as before the split
HERE = Path(__file__).parent
PREFIX = "/survey"
COOKIE = "mp_survey"
LANG_COOKIE = "mp_lang"


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


def set_session_cookie(resp: Response, d: DashContext, value: str) -> None:
    resp.set_cookie(("__Host-" if d.https else "") + COOKIE, value, path="/", httponly=True, samesite="strict",
                    secure=d.https)


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(("__Host-" if dash(request).https else "") + COOKIE)


async def audit(request: Request, member: Member | None, action: str, detail: str) -> None:
    d = dash(request)
    await run_in_threadpool(d.state.audit, member.name if member else "-", action, detail, client_ip(request))
    log.info("survey %s by %s: %s", action, member.name if member else "-", detail)
