"""The administrator's page (/admin): user look-up and actions, the allow-list, refusal statistics, geo data."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response

from mailposture.web import i18n
from mailposture.web.auth import clean_username
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

NOT_RESTRICTED = ("abroad_until", "abroad_always", "locked")
ACTIONS = {  # action -> (store method, notice event)
    "allow_days": ("allow_abroad", "abroad_allowed"),
    "allow_always": ("allow_always", "abroad_always"),
    "restrict": ("restrict", "restricted"),
    "lock": ("lock", "locked"),
    "unlock": ("unlock", "unlocked"),
}


def normalise_allowlist_entry(raw: str) -> tuple[str | None, str]:
    """(normalised entry, "") or (None, the problem), by the store's rule for additions (guard.store)."""
    from mailposture.guard.store import check_allow_entry

    if len(raw) > 300:
        return None, "entry too long"
    try:
        return check_allow_entry(raw), ""
    except ValueError as exc:
        return None, str(exc)


def _state_enum(value: str) -> Any:
    try:
        from mailposture.guard.store import UserState

        return UserState(value)
    except ImportError:   # pragma: no cover - the store lands with the guard core
        return value


def geo_info(cfg: Any) -> dict[str, str]:
    """What the guard's geo source says about its data (source, kind, version, data date, path)."""
    try:
        from mailposture.guard.geo import open_geo

        d = open_geo(cfg.geo).describe()
    except Exception as exc:   # the page must show even when the data cannot be opened
        return {"source": str(cfg.geo), "error": f"{type(exc).__name__}: {exc}"}
    return {str(k): str(v) for k, v in d.items() if v not in (None, "")}


def bars(rows: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """(label, count, width class 0..100 in steps of 5) for CSS bars (no inline style: the CSP forbids it)."""
    top = max((n for _, n in rows), default=0)
    return [(str(k), int(n), (round(n * 20 / top) * 5) if top else 0) for k, n in rows]


async def _dashboard(request: Request, sess: Session, status: int = 200, error: str | None = None) -> Response:
    ctx = ctx_of(request)
    now = ctx.now()
    since = now - timedelta(days=ctx.settings.stats_days)
    try:
        users = []
        for st in NOT_RESTRICTED:
            users += await ctx.call(ctx.store.list_users, _state_enum(st), 100, 0)
        allow = await ctx.call(ctx.store.allowlist)
        by_country = await ctx.call(ctx.store.refusals_by_country, since)
        by_day = await ctx.call(ctx.store.refusals_by_day, since)
    except Exception:
        log.exception("store error on the admin page")
        return message_page(request, 503, "store_error", session=sess)
    cached = ctx.extra.get("geo")
    if cached is None or (now - cached[0]).total_seconds() > 600:
        cached = ctx.extra["geo"] = (now, await ctx.call(geo_info, ctx.cfg))
    users = [(u, state_of(u, now)) for u in users]
    users = [(u, s) for u, s in users if s != "restricted"]
    by_country = sorted(by_country, key=lambda r: (-r[1], str(r[0])))
    return render(request, "admin.html", status, session=sess, realm="admin", users=users, allow=allow,
                  by_country=bars(by_country), by_day=bars(sorted(by_day)), geo=cached[1],
                  error=error)


async def _user_page(request: Request, sess: Session, username: str, status: int = 200,
                     error: str | None = None) -> Response:
    ctx = ctx_of(request)
    try:
        rec = await ctx.call(ctx.store.get_user, username)
        refusals = await ctx.call(ctx.store.recent_refusals, username, 20)
        contact = await ctx.call(ctx.store.get_contact, username)
    except Exception:
        log.exception("store error on the admin user page")
        return message_page(request, 503, "store_error", session=sess, back="/admin")
    return render(request, "admin_user.html", status, session=sess, realm="admin", rec=rec,
                  state=state_of(rec, ctx.now()), refusals=refusals, error=error, contact=contact,
                  default_days=ctx.cfg.default_days, max_days=ctx.cfg.max_days)


@router.get("/user")
async def user_get(request: Request) -> Response:
    ctx = ctx_of(request)
    realm = ctx.realms["admin"]
    sess = ctx.sessions.get(request.cookies.get(realm.cookie), realm.name)
    if sess is None or not sess.username:
        return redirect(realm.prefix + "/login")
    lang, _ = lang_of(request)
    name = clean_username(request.query_params.get("u", "")[:1000])
    if name is None:
        return await _dashboard(request, sess, 400, i18n.t("user_error", lang))
    return await _user_page(request, sess, name)


@router.post("/user")
async def user_post(request: Request, background: BackgroundTasks) -> Response:
    ctx = ctx_of(request)
    got = await authorised_post(request, ctx.realms["admin"])
    if isinstance(got, Response):
        return got
    sess, form = got
    lang, _ = lang_of(request)
    name = clean_username(form.get("u", ""))
    action = form.get("action", "")
    if name is None:
        return await _dashboard(request, sess, 400, i18n.t("user_error", lang))
    if action in ("contact", "totp_reset"):
        return await _second_factor(request, sess, name, action, form, lang)
    if action not in ACTIONS:
        return await _user_page(request, sess, name, 400, i18n.t("form_error", lang))
    method, event = ACTIONS[action]
    by = f"admin:{sess.username}"
    args: tuple[Any, ...] = (name,)
    if action == "allow_days":
        days = parse_days(form.get("days"), ctx.cfg.max_days)
        if days is None:
            return await _user_page(request, sess, name, 400, i18n.t("days_error", lang, max=ctx.cfg.max_days))
        args = (name, (ctx.now() + timedelta(days=days)).replace(microsecond=0))
    try:
        if action == "lock":
            note = form.get("note", "").strip()[:500] or None
            rec = await ctx.call(ctx.store.lock, name, by, note)
        else:
            rec = await ctx.call(getattr(ctx.store, method), *args, by)
    except Exception:
        log.exception("store error on admin action %s", action)
        return message_page(request, 503, "store_error", session=sess, back="/admin")
    log.info("admin %r: %s %r", sess.username, action, name)
    try:
        contact = await ctx.call(ctx.store.get_contact, name)
        also = (contact.alt_contact,) if contact.alt_contact else ()
    except Exception:
        also = ()
    background.add_task(ctx.notifier, ctx.cfg, rec, event, "ja", also=also)
    state = state_of(rec, ctx.now())
    sess.flash.append(("ok", i18n.t("admin_done", lang, user=name, state=i18n.t("short_" + state, lang))))
    return redirect("/admin/user?" + _q(name))


async def _second_factor(request: Request, sess: Session, name: str, action: str, form: dict[str, str],
                         lang: str) -> Response:
    """Register or remove the alternate contact (issue 17), or remove the authenticator app (lost phone)."""
    from mailposture.guard.notices import single_recipient

    ctx = ctx_of(request)
    try:
        if action == "contact":
            raw = form.get("contact", "").strip()[:254]
            address = None
            if raw:
                try:
                    address = single_recipient(raw)
                except ValueError:
                    address = None
                if address is None or "@" not in address or address.lower() == name:
                    return await _user_page(request, sess, name, 400, i18n.t("contact_error", lang))
            await ctx.call(ctx.store.set_alt_contact, name, address)
        else:
            await ctx.call(ctx.store.set_totp, name, None)
    except Exception:
        log.exception("store error on admin action %s", action)
        return message_page(request, 503, "store_error", session=sess, back="/admin")
    log.info("admin %r: %s %r", sess.username, action, name)
    sess.flash.append(("ok", i18n.t("admin_done", lang, user=name, state=i18n.t("done_" + action, lang))))
    return redirect("/admin/user?" + _q(name))


def _q(name: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"u": name})


@router.post("/allowlist/add")
async def allowlist_add(request: Request) -> Response:
    ctx = ctx_of(request)
    got = await authorised_post(request, ctx.realms["admin"])
    if isinstance(got, Response):
        return got
    sess, form = got
    lang, _ = lang_of(request)
    entry, problem = normalise_allowlist_entry(form.get("entry", ""))
    if entry is None:
        return await _dashboard(request, sess, 400, f"{i18n.t('entry_error', lang)} ({problem})")
    note = form.get("note", "").strip()[:200] or None
    try:
        await ctx.call(ctx.store.allowlist_add, entry, note)
    except Exception:
        log.exception("store error on allowlist add")
        return message_page(request, 503, "store_error", session=sess, back="/admin")
    log.info("admin %r: allow-list add %r", sess.username, entry)
    sess.flash.append(("ok", i18n.t("entry_added", lang, entry=entry)))
    return redirect("/admin#allowlist")


@router.post("/allowlist/remove")
async def allowlist_remove(request: Request) -> Response:
    ctx = ctx_of(request)
    got = await authorised_post(request, ctx.realms["admin"])
    if isinstance(got, Response):
        return got
    sess, form = got
    lang, _ = lang_of(request)
    entry = form.get("entry", "").strip()[:300]
    try:
        removed = await ctx.call(ctx.store.allowlist_remove, entry)
    except Exception:
        log.exception("store error on allowlist remove")
        return message_page(request, 503, "store_error", session=sess, back="/admin")
    log.info("admin %r: allow-list remove %r -> %s", sess.username, entry, removed)
    sess.flash.append(("ok" if removed else "error",
                       i18n.t("entry_removed" if removed else "entry_missing", lang, entry=entry)))
    return redirect("/admin#allowlist")


add_realm_routes(router, "admin", _dashboard)  # the page behind a login, login, logout
