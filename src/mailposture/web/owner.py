"""The mailbox owner's page (/abroad): see the state, allow sending from abroad for N days, switch it off.

Switching on (or extending) passes the gate of web/abroad_gate.py first: by default only from a home address,
optionally with a second factor (TOTP code, or a confirmation link mailed to the alternate contact).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response

from mailposture.guard import totp
from mailposture.guard.store import UserLocked
from mailposture.web import i18n
from mailposture.web.abroad_gate import (
    REASON_ABROAD,
    REASON_BAD_CODE,
    ChangeGate,
    confirm_link,
    mask_address,
)
from mailposture.web.common import (
    authorised_post,
    client_ip,
    ctx_of,
    lang_of,
    message_page,
    parse_days,
    redirect,
    render,
    state_of,
    vouched_client_ip,
)
from mailposture.web.login import add_realm_routes
from mailposture.web.security import FormError, Session, read_form

log = logging.getLogger(__name__)
router = APIRouter()


def _gate(request: Request) -> ChangeGate:
    return ctx_of(request).extra["gate"]


async def _at_home(request: Request) -> tuple[bool, str, str | None]:
    """(may sending from abroad be switched on from this client address?, address, country)."""
    ctx = ctx_of(request)
    if ctx.cfg.web_change_from == "anywhere":
        return True, client_ip(request), None
    ip = vouched_client_ip(request)
    if ip is None:  # a trusted proxy that does not say who the client is: never "home" (docs/guard.md)
        return False, client_ip(request) + " (X-Forwarded-For missing or unusable)", None
    try:
        reason, cc = await ctx.call(_gate(request).home_reason, ip)
    except Exception as exc:  # geo data or allow-list unreadable: not "home" (switching off still works)
        log.error("cannot tell whether %s is at home: %s: %s", ip, type(exc).__name__, exc)
        return False, ip, None
    return reason is not None, ip, cc


async def _page(request: Request, sess: Session, status: int = 200, error: str | None = None) -> Response:
    ctx = ctx_of(request)
    realm = ctx.realms["owner"]
    now = ctx.now()
    factor = ctx.cfg.web_second_factor
    try:
        rec = await ctx.call(ctx.store.get_user, sess.username)
        refusals = await ctx.call(ctx.store.recent_refusals, sess.username, ctx.settings.refusals_shown)
        contact = await ctx.call(ctx.store.get_contact, sess.username) if factor != "none" else None
        home, _ip, _cc = await _at_home(request)
    except Exception:
        log.exception("store error on the owner page")
        return message_page(request, 503, "store_error", session=sess)
    totp_key = None
    if factor == "totp" and contact is not None and not contact.totp_secret and home:
        totp_key = sess.data.setdefault("totp_key", totp.new_secret())  # shown until confirmed with a code
    return render(request, "owner.html", status, session=sess, realm=realm.name, rec=rec,
                  state=state_of(rec, now), refusals=refusals, error=error,
                  default_days=ctx.cfg.default_days, max_days=ctx.cfg.max_days, factor=factor, home=home,
                  contact=contact, totp_key=totp_key,
                  totp_uri=totp.provisioning_uri(totp_key, sess.username) if totp_key else None)


def _also(contact) -> tuple[str, ...]:
    return (contact.alt_contact,) if contact is not None and contact.alt_contact else ()


async def _refuse(request: Request, background: BackgroundTasks, sess: Session, ip: str, cc: str | None,
                  reason: str, event: str, lang: str) -> None:
    """Audit a refused attempt and notify the mailbox and the alternate contact."""
    ctx = ctx_of(request)
    now = ctx.now()
    log.warning("owner %r: switching on sending from abroad refused (%s) ip=%s country=%s", sess.username,
                reason, ip, cc or "-")
    await ctx.call(_gate(request).audit_refusal, sess.username, ip, cc, reason, now)
    if not _gate(request).should_notify(sess.username):
        return  # audited; the owner was notified of an attempt a few minutes ago
    try:
        rec = await ctx.call(ctx.store.get_user, sess.username)
        contact = await ctx.call(ctx.store.get_contact, sess.username)
    except Exception:
        log.exception("store error while notifying a refused change")
        return
    background.add_task(ctx.notifier, ctx.cfg, rec, event, lang, also=_also(contact),
                        detail={"ip": ip, "country": cc or "??"})


async def _apply(request: Request, background: BackgroundTasks, username: str, days: int, lang: str) -> Any:
    """Store the change and notify; returns the record, or an error Response."""
    ctx = ctx_of(request)
    now = ctx.now()
    until = (now + timedelta(days=days)).replace(microsecond=0)
    rec = await ctx.call(ctx.store.allow_abroad, username, until, f"web:{username}", unless_locked=True)
    contact = await ctx.call(ctx.store.get_contact, username)
    log.info("owner %r allowed sending from abroad for %d days", username, days)
    background.add_task(ctx.notifier, ctx.cfg, rec, "abroad_allowed", lang, also=_also(contact))
    return rec


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
    factor = ctx.cfg.web_second_factor
    try:
        rec = await ctx.call(ctx.store.get_user, sess.username)
        if state_of(rec, now) == "locked":
            return await _page(request, sess, 409, i18n.t("locked_no_change", lang))
        home, ip, cc = await _at_home(request)
        if not home:
            await _refuse(request, background, sess, ip, cc, REASON_ABROAD, "change_refused", lang)
            return render(request, "change_refused.html", 403, session=sess, realm="owner", ip=ip,
                          country=cc or i18n.t("unknown", lang))
        contact = await ctx.call(ctx.store.get_contact, sess.username) if factor != "none" else None
        if factor == "totp":
            if contact is None or not contact.totp_secret:
                return await _page(request, sess, 403, i18n.t("totp_needed", lang))
            limit = _gate(request).code_limit
            if limit.blocked(sess.username):
                return await _page(request, sess, 429, i18n.t("code_try_later", lang))
            step = totp.match(contact.totp_secret, form.get("code", ""), now.timestamp())
            if step is None or not await ctx.call(ctx.store.use_totp_step, sess.username, step):
                limit.fail(sess.username)
                await _refuse(request, background, sess, ip, cc, REASON_BAD_CODE, "code_refused", lang)
                return await _page(request, sess, 403, i18n.t("code_wrong", lang))
        elif factor == "contact":
            if contact is None or not contact.alt_contact:
                return await _page(request, sess, 403, i18n.t("contact_needed", lang))
            if _gate(request).recent_pending(sess.username):   # one link a minute at most
                sess.flash.append(("ok", i18n.t("contact_sent", lang, contact=mask_address(contact.alt_contact))))
                return redirect("/abroad")
            token = _gate(request).add_pending(sess.username, days, ip, cc, lang)
            from mailposture.guard.notices import send_confirmation

            background.add_task(ctx.extra.get("confirmer", send_confirmation), ctx.cfg, sess.username,
                                contact.alt_contact, confirm_link(ctx.cfg, token), days, ip, cc, lang)
            log.info("owner %r: confirmation link for %d days sent to the alternate contact", sess.username, days)
            sess.flash.append(("ok", i18n.t("contact_sent", lang, contact=mask_address(contact.alt_contact))))
            return redirect("/abroad")
        rec = await _apply(request, background, sess.username, days, lang)
    except UserLocked:  # locked by an admin between our read and the write
        return await _page(request, sess, 409, i18n.t("locked_no_change", lang))
    except Exception:
        log.exception("store error while allowing abroad")
        return message_page(request, 503, "store_error", session=sess, back="/abroad")
    sess.flash.append(("ok", i18n.t("done_allowed", lang, until=i18n.fmt_time(rec.abroad_until, lang))))
    return redirect("/abroad")


@router.get("/confirm")
async def confirm_get(request: Request) -> Response:
    """The page behind the link mailed to the alternate contact: it shows what will change and a button (a
    GET never changes anything: mail scanners open links)."""
    token = request.query_params.get("t", "")[:100]
    pending = _gate(request).peek(token)
    if pending is None:
        return message_page(request, 404, "confirm_invalid")
    return render(request, "confirm.html", session=None, realm="owner", pending=pending, token=token)


@router.post("/confirm")
async def confirm_post(request: Request, background: BackgroundTasks) -> Response:
    lang, _ = lang_of(request)
    try:
        form = await read_form(request)
    except FormError as exc:
        return message_page(request, exc.status, "form_error")
    pending = _gate(request).take(form.get("t", "")[:100])   # the unguessable token is the authorisation
    if pending is None:
        return message_page(request, 404, "confirm_invalid")
    try:
        rec = await _apply(request, background, pending.username, pending.days, pending.lang)
    except UserLocked:
        return message_page(request, 409, "locked_no_change")
    except Exception:
        log.exception("store error while confirming")
        return message_page(request, 503, "store_error")
    return render(request, "message_ok.html", session=None, realm="owner",
                  message=i18n.t("done_allowed", lang, until=i18n.fmt_time(rec.abroad_until, lang)))


@router.post("/totp")
async def totp_enrol(request: Request) -> Response:
    """Register the authenticator app shown on the page: only from a home address, only once (an admin
    resets it with `guard user totp-reset`)."""
    ctx = ctx_of(request)
    got = await authorised_post(request, ctx.realms["owner"])
    if isinstance(got, Response):
        return got
    sess, form = got
    lang, _ = lang_of(request)
    if ctx.cfg.web_second_factor != "totp":
        return message_page(request, 404, "not_found", back="/abroad", session=sess)
    key = sess.data.get("totp_key")
    try:
        home, _ip, _cc = await _at_home(request)
        if not home:
            return await _page(request, sess, 403, i18n.t("totp_home_only", lang))
        contact = await ctx.call(ctx.store.get_contact, sess.username)
        if contact.totp_secret:
            return await _page(request, sess, 409, i18n.t("totp_enrolled", lang))
        step = totp.match(key, form.get("code", ""), ctx.now().timestamp()) if key else None
        if step is None:
            return await _page(request, sess, 400, i18n.t("totp_bad", lang))
        await ctx.call(ctx.store.set_totp, sess.username, key)
        await ctx.call(ctx.store.use_totp_step, sess.username, step)
    except Exception:
        log.exception("store error while registering TOTP")
        return message_page(request, 503, "store_error", session=sess, back="/abroad")
    sess.data.pop("totp_key", None)
    log.info("owner %r registered an authenticator app", sess.username)
    sess.flash.append(("ok", i18n.t("totp_done", lang)))
    return redirect("/abroad")


@router.post("/off")
async def off(request: Request, background: BackgroundTasks) -> Response:
    """Switching off is always accepted, from anywhere, without a second factor."""
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
        contact = await ctx.call(ctx.store.get_contact, sess.username)
    except UserLocked:
        return await _page(request, sess, 409, i18n.t("locked_no_change", lang))
    except Exception:
        log.exception("store error while restricting")
        return message_page(request, 503, "store_error", session=sess, back="/abroad")
    log.info("owner %r switched off sending from abroad", sess.username)
    background.add_task(ctx.notifier, ctx.cfg, rec, "restricted", lang, also=_also(contact))
    sess.flash.append(("ok", i18n.t("done_off", lang)))
    return redirect("/abroad")


add_realm_routes(router, "owner", _page)  # the page behind a login, login, logout
