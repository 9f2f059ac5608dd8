"""Who may open which dashboard page: one FastAPI dependency (:func:`access`) in front of every page instead of a
check at the top of each. A request that fails a check is answered by it (:class:`Refused`: the login form, 403, a
form error) and never reaches the page; :func:`mailposture.web.survey_pages.install` registers the handler.

    @router.get("/admin")
    async def admin_page(request: Request, v: Admin) -> Response:   # v.member, v.sess
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mailposture.survey.catalog import CatalogError
from mailposture.web.members import Member
from mailposture.web.security import FormError, read_form
from mailposture.web.survey_context import PREFIX, dash, message, session_cookie

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


async def who(request: Request) -> tuple[Any, Member] | Response:
    """The logged-in session and its account as the members file says now, or the redirect to the login form."""
    d = dash(request)
    sess = await run_in_threadpool(d.state.get, session_cookie(request))
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
    instead of its page. :func:`mailposture.web.survey_pages.install` registers the handler that sends it."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def refused(request: Request, exc: Exception) -> Response:
    """The exception handler for Refused."""
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


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode("utf-8", "replace"), expected.encode())


def round_name_ok(name: str) -> str | None:
    return name if _NAME_RE.match(name) else None


def round_or_error(request: Request, name: str, member: Member, sess: Any, *, tables: bool = True) -> Any:
    """The round ``name`` (complete or failed), or the answer instead: 404 (bad or unknown name), 403 (``tables``
    and a body login), 409 (still being scanned)."""
    d = dash(request)
    if round_name_ok(name) is None:
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
            if not csrf_ok(sess.csrf, form.get("csrf")):
                raise Refused(message(request, 403, "csrf_failed", member=member, sess=sess))
        info = None
        if round_tables is not None:
            info = round_or_error(request, request.path_params.get("name", ""), member, sess, tables=round_tables)
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


def safe_next(nxt: str | None) -> str:
    if nxt and nxt.startswith(PREFIX + "/") and not nxt.startswith("//") and "\\" not in nxt and len(nxt) < 1000:
        return nxt
    return PREFIX + "/"


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
