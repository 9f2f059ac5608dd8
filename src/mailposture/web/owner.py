"""The mailbox owner's page (/abroad): see the state, allow sending from abroad for N days, switch it off."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response

from mailposture.guard.store import UserLocked
from mailposture.web import i18n
from mailposture.web.common import (
    authorised_post,
    ctx_of,
    lang_of,
    message_page,
    parse_days,
    redirect,
    render,
    state_of,
)
from mailposture.web.login import add_realm_routes
from mailposture.web.security import Session

log = logging.getLogger(__name__)
router = APIRouter()

async def _page(request: Request, sess: Session, status: int = 200, error: str | None = None) -> Response:
    ctx = ctx_of(request)
    realm = ctx.realms["owner"]
    now = ctx.now()
    try:
        rec = await ctx.call(ctx.store.get_user, sess.username)
        refusals = await ctx.call(ctx.store.recent_refusals, sess.username, ctx.settings.refusals_shown)
    except Exception:
        log.exception("store error on the owner page")
        return message_page(request, 503, "store_error", session=sess)
    return render(request, "owner.html", status, session=sess, realm=realm.name, rec=rec,
                  state=state_of(rec, now), refusals=refusals, error=error,
                  default_days=ctx.cfg.default_days, max_days=ctx.cfg.max_days)


@router.post("/allow")
async def allow(request: Request, background: BackgroundTasks) -> Response:
    ctx = ctx_of(request)
    got = await authorised_post(request, ctx.realms["owner"])
    if isinstance(got, Response):
        return got
    sess, form = got
    lang, _ = lang_of(request)
    days = parse_days(form.get("days"), ctx.cfg.max_days)
    if days is None:
        return await _page(request, sess, 400, i18n.t("days_error", lang, max=ctx.cfg.max_days))
    now = ctx.now()
    try:
        rec = await ctx.call(ctx.store.get_user, sess.username)
        if state_of(rec, now) == "locked":
            return await _page(request, sess, 409, i18n.t("locked_no_change", lang))
        until = (now + timedelta(days=days)).replace(microsecond=0)
        rec = await ctx.call(ctx.store.allow_abroad, sess.username, until, f"web:{sess.username}",
                             unless_locked=True)
    except UserLocked:  # locked by an admin between our read and the write
        return await _page(request, sess, 409, i18n.t("locked_no_change", lang))
    except Exception:
        log.exception("store error while allowing abroad")
        return message_page(request, 503, "store_error", session=sess, back="/abroad")
    log.info("owner %r allowed sending from abroad for %d days", sess.username, days)
    background.add_task(ctx.notifier, ctx.cfg, rec, "abroad_allowed", lang)
    sess.flash.append(("ok", i18n.t("done_allowed", lang, until=i18n.fmt_time(rec.abroad_until, lang))))
    return redirect("/abroad")


@router.post("/off")
async def off(request: Request, background: BackgroundTasks) -> Response:
    ctx = ctx_of(request)
    got = await authorised_post(request, ctx.realms["owner"])
    if isinstance(got, Response):
        return got
    sess, _form = got
    lang, _ = lang_of(request)
    now = ctx.now()
    try:
        rec = await ctx.call(ctx.store.get_user, sess.username)
        state = state_of(rec, now)
        if state == "locked":
            return await _page(request, sess, 409, i18n.t("locked_no_change", lang))
        if state == "restricted":   # already off: nothing to store, nothing to mail
            sess.flash.append(("ok", i18n.t("done_off_already", lang)))
            return redirect("/abroad")
        rec = await ctx.call(ctx.store.restrict, sess.username, f"web:{sess.username}", unless_locked=True)
    except UserLocked:
        return await _page(request, sess, 409, i18n.t("locked_no_change", lang))
    except Exception:
        log.exception("store error while restricting")
        return message_page(request, 503, "store_error", session=sess, back="/abroad")
    log.info("owner %r switched off sending from abroad", sess.username)
    background.add_task(ctx.notifier, ctx.cfg, rec, "restricted", lang)
    sess.flash.append(("ok", i18n.t("done_off", lang)))
    return redirect("/abroad")


add_realm_routes(router, "owner", _page)  # the page behind a login, login, logout
