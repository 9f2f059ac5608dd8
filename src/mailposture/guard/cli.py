"""`mailposture guard …`: the policy server and its administration (users, allow-list, status).

Every command takes ``--config FILE`` and ``--store URL`` (the URL wins over the file's ``store_url``).
Problems (bad config, bad URL, unreachable database, bad --days) print one clear line and exit 2, never a
traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import typer

T = TypeVar("T")

ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", help="Guard config file (TOML). 設定ファイル")]
StoreOpt = Annotated[str | None, typer.Option(
    "--store", help="Store URL (overrides the config): sqlite:///path/guard.db or postgresql+psycopg://…")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ByOpt = Annotated[str, typer.Option("--by", help="Who makes the change (recorded with it).")]
NotifyOpt = Annotated[bool, typer.Option("--notify/--no-notify",
                                         help="Mail the owner a bilingual notice (needs the web module's notices).")]

guard_app = typer.Typer(help="Overseas-submission guard for Postfix. 国外からの踏み台送信対策 (policy server).",
                        no_args_is_help=True)
user_app = typer.Typer(help="Show or change one user's sending-abroad state. 利用者ごとの海外送信設定", no_args_is_help=True)
allow_app = typer.Typer(help="Operator allow-list: CIDRs and verified host-name suffixes. 許可リスト",
                        no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of decisions about foreign addresses. 監査ログ", no_args_is_help=True)
guard_app.add_typer(user_app, name="user")
guard_app.add_typer(allow_app, name="allowlist")
guard_app.add_typer(audit_app, name="audit")


def register(app: typer.Typer) -> None:
    """Add the ``guard`` sub-app to the root app."""
    app.add_typer(guard_app, name="guard")


# -- helpers ---------------------------------------------------------------------------------------------------
def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def _guarded(fn: Callable[[], T]) -> T:
    from mailposture.guard.config import ConfigError
    from mailposture.guard.geo import GeoError
    from mailposture.guard.server import ListenError
    from mailposture.guard.store import StoreError

    try:
        return fn()
    except (ConfigError, StoreError, GeoError, ListenError, ValueError) as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"{e.strerror or e}" + (f": {e.filename}" if getattr(e, "filename", None) else ""))
    raise AssertionError("unreachable")


def _config(config: str | None, store: str | None):
    from mailposture.guard.config import load_config

    cfg = _guarded(lambda: load_config(config))
    if store:
        cfg.store_url = store
    cfg.implicit_store = not (config or store)  # type: ignore[attr-defined]
    return cfg


def _sqlite_path(url: str) -> str | None:
    import os

    if not url.startswith("sqlite:///"):
        return None
    path = os.path.expandvars(os.path.expanduser(url[len("sqlite:///"):]))
    return None if not path or path == ":memory:" or path.startswith("file:") else path


def _store(cfg, *, may_create: bool = False):
    """Open the store. Without --config and --store an admin command uses the default store only if it exists
    and says so (it never creates ./mailposture-data/guard.db in the current directory by accident)."""
    import os

    from mailposture.guard.store import open_store

    if getattr(cfg, "implicit_store", False) and not may_create:
        path = _sqlite_path(cfg.store_url)
        if path is not None and not os.path.exists(path):
            _fail(f"no store given and the default store {cfg.store_url} does not exist: give --config FILE "
                  f"or --store URL / ストアが指定されていません (--config または --store を指定してください)")
        typer.echo(f"store: {cfg.store_url} (default; no --config/--store given)", err=True)
    return _guarded(lambda: open_store(cfg.store_url))


def _username(name: str) -> str:
    """The user argument, or exit 2 for an empty or unusable name."""
    from mailposture.guard.store import normalise_username

    n = normalise_username(name)
    if not n or len(n) > 320 or any(ord(c) < 32 or ord(c) == 127 for c in n) or any(c.isspace() for c in n):
        _fail(f"not a user name: {name[:80]!r} / 利用者名が正しくありません")
    return n


def _fmt_time(dt: datetime | None) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if dt else "-"


_STATE_JA = {"restricted": "海外送信不可", "abroad_until": "期間限定で海外送信可", "abroad_always": "常に海外送信可",
             "locked": "送信停止"}


def _user_dict(rec, now: datetime) -> dict[str, Any]:
    eff = rec.effective_state(now)
    return {"username": rec.username, "state": rec.state.value, "effective_state": eff.value,
            "abroad_until": rec.abroad_until.isoformat() if rec.abroad_until else None,
            "updated_at": rec.updated_at.isoformat() if rec.updated_at else None,
            "updated_by": rec.updated_by, "note": rec.note}


def _print_user(rec, as_json: bool) -> None:
    now = datetime.now(UTC)
    d = _user_dict(rec, now)
    if as_json:
        typer.echo(json.dumps(d, ensure_ascii=False))
        return
    eff = d["effective_state"]
    typer.echo(f"user:          {rec.username}")
    typer.echo(f"state:         {eff} ({_STATE_JA.get(eff, '')})"
               + (f"  [stored: {rec.state.value}, ended {_fmt_time(rec.abroad_until)}]" if eff != rec.state.value
                  else ""))
    if eff == "abroad_until":
        typer.echo(f"abroad until:  {_fmt_time(rec.abroad_until)}")
    typer.echo(f"updated:       {_fmt_time(rec.updated_at)} by {rec.updated_by or '-'}")
    if rec.note:
        typer.echo(f"note:          {rec.note}")


def _notify(cfg, rec, event: str, notify: bool, st=None) -> None:
    if not notify:
        return
    also: tuple[str, ...] = ()
    if st is not None:
        try:
            alt = st.get_contact(rec.username).alt_contact
            also = (alt,) if alt else ()
        except Exception:
            pass
    try:
        from mailposture.guard.notices import send_notice
    except ImportError:
        typer.echo("warning: notices are not available in this installation; no mail sent", err=True)
        return
    try:
        sent = send_notice(cfg, rec, event, also=also)
    except Exception as e:  # send_notice logs its own failures; never crash the admin command
        typer.echo(f"warning: notice not sent: {e}", err=True)
        return
    if sent is False:
        typer.echo(f"warning: notice not sent (relay {cfg.smtp_relay}); see the log", err=True)


# -- serve -----------------------------------------------------------------------------------------------------
@guard_app.command("serve")
def serve_cmd(
    listen: Annotated[list[str] | None, typer.Option(
        "--listen", "-l", help="HOST:PORT or unix:PATH; repeatable (default: the config's listen).")] = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    geo: Annotated[str | None, typer.Option("--geo", help="iptocc or a .mmdb path (overrides the config).")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning, error")] = "info",
    loop: Annotated[str, typer.Option("--loop", help="auto (uvloop when installed), asyncio or uvloop")] = "auto",
    log_decisions: Annotated[str | None, typer.Option(
        "--log-decisions", help="Log one line per decision: none (default: the audit log has them), refused, "
                                "all.")] = None,
) -> None:
    """Run the Postfix policy server (SMTPD_POLICY_README). ポリシーサーバを起動"""
    import asyncio

    from mailposture.guard.geo import open_geo
    from mailposture.guard.server import parse_listen, serve

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        _fail(f"unknown --log-level {log_level!r}")
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = _config(config, store)
    if geo:
        cfg.geo = geo
    if log_decisions is not None:
        if log_decisions not in ("none", "refused", "all"):
            _fail(f"unknown --log-decisions {log_decisions!r} (none, refused, all)")
        cfg.log_decisions = log_decisions
    specs = listen or [cfg.listen]
    for s in specs:
        _guarded(lambda s=s: parse_listen(s))
    geo_src = _guarded(lambda: open_geo(cfg.geo))
    st = _store(cfg, may_create=True)  # an unreachable store at start is an error: fix the URL before serving
    runner: Callable[..., Any] = asyncio.run
    if loop in ("auto", "uvloop"):
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            if loop == "uvloop":
                _fail("uvloop is not installed (pip install uvloop)")
    elif loop != "asyncio":
        _fail(f"unknown --loop {loop!r}")
    try:
        _guarded(lambda: runner(serve(cfg, specs, st, geo_src)))
    except KeyboardInterrupt:
        pass


# -- status ----------------------------------------------------------------------------------------------------
@guard_app.command("status")
def status_cmd(config: ConfigOpt = None, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Store, users per state, geo source and data date, allow-list size, refusals in the last 24 h, block-list
    listings of the outbound addresses. 保存先・状態ごとの利用者数・国判定データ・許可リスト・直近 24 時間の拒否数・
    送信元アドレスのブロックリスト掲載を表示します。"""
    from mailposture.guard.cli_dnsbl import listings_summary
    from mailposture.guard.geo import open_geo

    cfg = _config(config, store)
    st = _store(cfg)
    now = datetime.now(UTC)

    def collect() -> dict[str, Any]:
        counts = st.count_users()
        active = st.count_effective(now)
        expired = counts.get("abroad_until", 0) - active
        return {
            "store": st.safe_url,
            "change_counter": st.change_counter(),
            "users": {**counts, "abroad_until": active, "abroad_until_expired": expired},
            "geo": open_geo(cfg.geo).describe(),
            "home_countries": sorted(cfg.home_countries),
            "allowlist_size": len(st.allowlist()),
            "refusals_24h_by_country": st.refusals_by_country(now - timedelta(hours=24)),
            "counts_today": st.counts(now.strftime("%Y-%m-%d")),
            "dnsbl_listings": listings_summary(st),  # issue 12 (guard/cli_dnsbl.py)
        }

    info = _guarded(collect)
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, default=str))
        return
    u = info["users"]
    g = info["geo"]
    typer.echo(f"store:            {info['store']}  (change counter {info['change_counter']})")
    typer.echo(f"home countries:   {', '.join(info['home_countries'])}")
    typer.echo("users (stored; everyone else is restricted / 未登録の利用者は海外送信不可):")
    for k in ("restricted", "abroad_until", "abroad_always", "locked"):
        typer.echo(f"  {k:<15} {u.get(k, 0):>8}  {_STATE_JA[k]}")
    if u.get("abroad_until_expired"):
        typer.echo(f"  {'(period ended)':<15} {u['abroad_until_expired']:>8}  期間終了 (restricted)")
    typer.echo(f"geo:              {g.get('source')} {g.get('version') or ''} data {g.get('data_date') or 'unknown'}"
               + (f" ({g['path']})" if g.get("path") else ""))
    typer.echo(f"allow-list:       {info['allowlist_size']} entries")
    refusals = info["refusals_24h_by_country"]
    total = sum(n for _, n in refusals)
    typer.echo(f"refusals, 24 h:   {total}" + (" — " + ", ".join(f"{cc} {n}" for cc, n in refusals[:15])
                                                if refusals else ""))
    listed = info["dnsbl_listings"]
    typer.echo(f"DNSBL listings:   {len(listed)}" + ("".join(f"\n  {x['ip']} {x['list']} since {x['since']}"
                                                             for x in listed)))


# -- users -----------------------------------------------------------------------------------------------------
@user_app.command("show")
def user_show(username: str, config: ConfigOpt = None, store: StoreOpt = None, as_json: JsonOpt = False,
              refusals: Annotated[int, typer.Option("--refusals", min=0, max=1000,
                                                    help="Also list the N most recent refusals.")] = 5) -> None:
    """Show a user's state (unknown users are restricted). / 利用者の状態を表示します。"""
    username = _username(username)
    cfg = _config(config, store)
    st = _store(cfg)
    rec = _guarded(lambda: st.get_user(username))
    recent = _guarded(lambda: st.recent_refusals(username, refusals)) if refusals else []
    if as_json:
        d = _user_dict(rec, datetime.now(UTC))
        d["recent_refusals"] = [{"time": e.time.isoformat(), "ip": e.ip, "country": e.country,
                                 "reason": e.reason} for e in recent]
        typer.echo(json.dumps(d, ensure_ascii=False))
        return
    _print_user(rec, False)
    for e in recent:
        typer.echo(f"  refused {_fmt_time(e.time)} {e.ip} {e.country or '??'} ({e.reason})")


@user_app.command("allow-abroad")
def user_allow(
    username: str,
    days: Annotated[int | None, typer.Option("--days", help="Days to allow (1–max_days, default 7).")] = None,
    always: Annotated[bool, typer.Option("--always", help="Allow with no end (admin only).")] = False,
    config: ConfigOpt = None, store: StoreOpt = None, by: ByOpt = "admin-cli", notify: NotifyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Allow submission from abroad for N days (or --always). 海外からの送信を許可"""
    username = _username(username)
    cfg = _config(config, store)
    if always and days is not None:
        _fail("use either --days N or --always, not both")
    if not always:
        n = cfg.default_days if days is None else days
        if not 1 <= n <= cfg.max_days:
            _fail(f"--days must be between 1 and {cfg.max_days}, got {n}")
    st = _store(cfg)
    if always:
        rec = _guarded(lambda: st.allow_always(username, by=by))
    else:
        until = datetime.now(UTC) + timedelta(days=n)
        rec = _guarded(lambda: st.allow_abroad(username, until, by=by))
    _print_user(rec, as_json)
    _notify(cfg, rec, "abroad_always" if always else "abroad_allowed", notify, st)


def _simple(action: str, event: str) -> Callable[..., None]:
    def cmd(username: str, config: ConfigOpt = None, store: StoreOpt = None, by: ByOpt = "admin-cli",
            notify: NotifyOpt = False, as_json: JsonOpt = False) -> None:
        username = _username(username)
        cfg = _config(config, store)
        st = _store(cfg)
        rec = _guarded(lambda: getattr(st, action)(username, by=by))
        _print_user(rec, as_json)
        _notify(cfg, rec, event, notify, st)
    return cmd


user_app.command("restrict", help="Back to the default: no submission from abroad. 海外送信不可に戻す")(
    _simple("restrict", "restricted"))
user_app.command("unlock", help="Remove a lock (the user becomes restricted). 送信停止を解除")(
    _simple("unlock", "unlocked"))


@user_app.command("lock")
def user_lock(username: str, note: Annotated[str | None, typer.Option("--note", help="Why (shown to admins).")] = None,
              config: ConfigOpt = None, store: StoreOpt = None, by: ByOpt = "admin-cli",
              notify: NotifyOpt = False, as_json: JsonOpt = False) -> None:
    """Refuse all authenticated submission by this user, from everywhere. 送信停止"""
    username = _username(username)
    cfg = _config(config, store)
    st = _store(cfg)
    rec = _guarded(lambda: st.lock(username, by=by, note=note))
    _print_user(rec, as_json)
    _notify(cfg, rec, "locked", notify, st)


@user_app.command("list")
def user_list(state: Annotated[str | None, typer.Option("--state", help="restricted, abroad_until, "
                                                         "abroad_always or locked")] = None,
              limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 100,
              config: ConfigOpt = None, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List stored users. / 登録済みの利用者の一覧。"""
    from mailposture.guard.store import UserState

    cfg = _config(config, store)
    try:
        st_filter = UserState(state) if state else None
    except ValueError:
        _fail(f"unknown --state {state!r} (restricted, abroad_until, abroad_always, locked)")
    st = _store(cfg)
    recs = _guarded(lambda: st.list_users(st_filter, limit=limit))
    now = datetime.now(UTC)
    if as_json:
        typer.echo(json.dumps([_user_dict(r, now) for r in recs], ensure_ascii=False))
        return
    for r in recs:
        typer.echo(f"{r.username}\t{r.effective_state(now).value}\t{_fmt_time(r.abroad_until)}")


@user_app.command("contact")
def user_contact(username: str,
                 address: Annotated[str | None, typer.Argument(help="Alternate contact mail address.")] = None,
                 remove: Annotated[bool, typer.Option("--remove", help="Remove the alternate contact.")] = False,
                 config: ConfigOpt = None, store: StoreOpt = None) -> None:
    """Register the alternate contact of a user (notices and confirmation links go there too; the mailbox
    password does not open it). 代替連絡先の登録"""
    from mailposture.guard.notices import single_recipient

    username = _username(username)
    if remove == (address is not None):
        _fail("give either ADDRESS or --remove / 連絡先か --remove のどちらかを指定してください")
    if address is not None:
        address = _guarded(lambda: single_recipient(address))
        if "@" not in address:
            _fail(f"not a mail address: {address!r} / メールアドレスではありません")
        if address.lower() == username:
            _fail("the alternate contact must not be the mailbox itself / 代替連絡先はメールボックス自身以外にしてください")
    cfg = _config(config, store)
    st = _store(cfg)
    c = _guarded(lambda: st.set_alt_contact(username, address))
    typer.echo(f"{username}: alternate contact {c.alt_contact or '-'} / 代替連絡先 {c.alt_contact or 'なし'}")


@user_app.command("totp-reset")
def user_totp_reset(username: str, config: ConfigOpt = None, store: StoreOpt = None) -> None:
    """Remove a user's authenticator app (lost phone): the owner enrols a new one from a home address.
    認証アプリの登録解除"""
    username = _username(username)
    cfg = _config(config, store)
    st = _store(cfg)
    _guarded(lambda: st.set_totp(username, None))
    typer.echo(f"{username}: authenticator app removed / 認証アプリの登録を解除しました")


# -- audit -----------------------------------------------------------------------------------------------------
@audit_app.command("prune")
def audit_prune(older_than: Annotated[int, typer.Option("--older-than", metavar="DAYS", min=1, max=36500,
                                                        help="Delete audit rows older than DAYS days.")],
                config: ConfigOpt = None, store: StoreOpt = None) -> None:
    """Delete old audit rows (about 190 bytes per decision). 古い監査ログの削除"""
    cfg = _config(config, store)
    st = _store(cfg)
    before = datetime.now(UTC) - timedelta(days=older_than)
    n = _guarded(lambda: st.prune_audit(before))
    typer.echo(f"deleted {n} audit rows older than {_fmt_time(before)} / {n} 件削除しました")


# -- allow-list ------------------------------------------------------------------------------------------------
@allow_app.command("add")
def allow_add(entry: str, note: Annotated[str | None, typer.Option("--note")] = None,
              config: ConfigOpt = None, store: StoreOpt = None) -> None:
    """Add a CIDR (203.0.113.0/24) or a verified host-name suffix (google.com). / 許可リストに追加します。"""
    from mailposture.guard.decide import normalise_allow_entry

    cfg = _config(config, store)
    key = _guarded(lambda: normalise_allow_entry(entry))
    st = _store(cfg)
    _guarded(lambda: st.allowlist_add(key, note))
    typer.echo(f"added {key}")


@allow_app.command("remove")
def allow_remove(entry: str, config: ConfigOpt = None, store: StoreOpt = None) -> None:
    """Remove an entry. / 許可リストから削除します。"""
    cfg = _config(config, store)
    st = _store(cfg)
    if not _guarded(lambda: st.allowlist_remove(entry)):
        _fail(f"not in the allow-list: {entry}", code=1)
    typer.echo(f"removed {entry}")


@allow_app.command("list")
def allow_list(config: ConfigOpt = None, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List entries. / 許可リストの一覧。"""
    cfg = _config(config, store)
    st = _store(cfg)
    rows = _guarded(st.allowlist)
    if as_json:
        typer.echo(json.dumps([{"entry": e, "note": n} for e, n in rows], ensure_ascii=False))
        return
    for e, n in rows:
        typer.echo(f"{e}\t{n or ''}")


# -- check (what would the server answer?) -------------------------------------------------------------------
@guard_app.command("check")
def check_cmd(username: str, ip: str,
              client_name: Annotated[str, typer.Option("--client-name", help="Verified client host name.")]
              = "unknown",
              config: ConfigOpt = None, store: StoreOpt = None) -> None:
    """Show the decision the policy server would take for USER submitting from IP (reads the store).
    USER が IP から送信したときのポリシーサーバの判定を表示します。"""
    from mailposture.guard.decide import AllowList, Policy, parse_client_address
    from mailposture.guard.geo import open_geo

    username = _username(username)
    if parse_client_address(ip) is None:
        _fail(f"not an IP address: {ip!r} (e.g. 203.0.113.5 or 2001:db8::1) / IP アドレスではありません")
    cfg = _config(config, store)
    st = _store(cfg)
    geo_src = _guarded(lambda: open_geo(cfg.geo))
    allow = AllowList.from_entries(e for e, _ in _guarded(st.allowlist))
    rec = _guarded(lambda: st.get_user(username))
    policy = Policy(cfg, geo_src, allow)
    d = policy.decide({"request": "smtpd_access_policy", "sasl_username": username, "client_address": ip,
                       "client_name": client_name}, lambda _u: (rec, True), datetime.now(UTC))
    typer.echo(f"verdict: {d.verdict}  reason: {d.reason}  country: {d.country or '-'}")
    typer.echo(f"action={d.action}")


# -- issue 12: analyze / watch / dnsbl live in their own modules ------------------------------------------------
from mailposture.guard.cli_dnsbl import dnsbl_app as _dnsbl_app  # noqa: E402
from mailposture.guard.cli_facts import register as _register_facts  # noqa: E402

_register_facts(guard_app)
guard_app.add_typer(_dnsbl_app, name="dnsbl")
