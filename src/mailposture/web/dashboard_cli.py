"""Commands of the survey dashboard: ``mailposture web user add|remove|list`` and the ``--data-dir`` quick start of
``mailposture web serve`` (wired from mailposture/web/cli.py)."""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

user_app = typer.Typer(help="Members of the survey dashboard (/survey/). 調査ダッシュボードの会員管理",
                       no_args_is_help=True)

UsersOpt = Annotated[str, typer.Option("--users", help="Members file (created 0600 when missing).")]


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name or mail address.")],
    users: UsersOpt,
    role: Annotated[str, typer.Option("--role", help="viewer, editor or admin.")] = "viewer",
    body: Annotated[str, typer.Option("--body", help="Only this body (its code, or its primary domain).")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read one line from standard input "
                                                 "as the password.")] = False,
) -> None:
    """Add a member or change one (argon2id hash). 会員の追加・変更"""
    from mailposture.web.members import MembersError, add_member

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password / パスワード", hide_input=True, confirmation_prompt=True)
    try:
        m = add_member(users, name, password, role, body)
    except MembersError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write {users}: {exc.strerror or exc}")
    typer.echo(f"{m.name}: {m.role}{' (body ' + m.body + ')' if m.body else ''} saved in {users}")


@user_app.command("remove")
def user_remove(name: Annotated[str, typer.Argument(help="User name or mail address.")], users: UsersOpt) -> None:
    """Remove a member (their sessions end at their next request). 会員の削除"""
    from mailposture.web.members import MembersError, remove_member

    try:
        gone = remove_member(users, name)
    except MembersError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write {users}: {exc.strerror or exc}")
    if not gone:
        _fail(f"no member named {name!r} in {users}")
    typer.echo(f"{name.strip().lower()}: removed from {users}")


@user_app.command("list")
def user_list(users: UsersOpt) -> None:
    """List the members (name, role, body). 会員の一覧"""
    from mailposture.web.members import MembersError, list_members

    if not Path(users).exists():
        _fail(f"{users} does not exist")
    try:
        members, problems = list_members(users)
    except MembersError as exc:
        _fail(str(exc))
    for p in problems:
        typer.secho(f"warning: {p}", fg="yellow", err=True)
    for m in members:
        typer.echo(f"{m.name}\t{m.role}\t{m.body or '-'}")


def serve_dashboard_cmd(config: str | None, host: str, port: int, data_dir: str | None, users: str | None,
                        store: str | None, fail: Callable[[str], None]) -> None:
    """``mailposture web serve --data-dir DIR --users FILE [--config guard.toml]``."""
    import logging

    from mailposture.web.security import SetupError, load_or_create_secret
    from mailposture.web.survey_pages import DashContext, serve_dashboard

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not data_dir or not users:
        fail("the dashboard needs both --data-dir and --users")
        return
    ddir = Path(data_dir)
    if not ddir.is_dir():
        fail(f"--data-dir {ddir}: no such directory")
    if not Path(users).is_file():
        fail(f"--users {users}: no such file (make it with 'mailposture web user add NAME --users {users}')")
    cfg = None
    if config:
        from mailposture.guard.config import ConfigError, load_config

        try:
            cfg = load_config(config)
        except ConfigError as exc:
            fail(str(exc))
    else:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            fail("without --config the dashboard serves plain HTTP on the loopback address only "
                 "(put a TLS proxy in front and give --config for anything else)")
    try:
        conf = load_dashboard_config(ddir / "dashboard.toml")
    except ValueError as exc:
        fail(str(exc))
        return
    try:
        secret = load_or_create_secret(ddir / "web-secret")
        url = store or conf.get("store_url") or f"sqlite:///{(ddir / 'dashboard.sqlite').resolve()}"
        ns = conf.get("nameservers")

        def engine_factory():  # the DNS resolver of rounds started from the page
            from mailposture.cliopts import DnsOptions

            return DnsOptions(nameservers=ns or None).engine()

        ctx = DashContext.create(ddir, users, url, secret, https=bool(cfg and cfg.cookie_secure),
                                 engine_factory=engine_factory, schedule=conf.get("schedule"),
                                 schedule_list=conf.get("schedule_list"),
                                 trusted_proxies=conf.get("trusted_proxies"))
        typer.echo(f"survey dashboard: http://{host}:{port}/survey/", err=True)
        serve_dashboard(ctx, host, port, cfg)
    except SetupError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


CONFIG_KEYS = {"schedule": str, "schedule_list": str, "nameservers": list, "store_url": str, "trusted_proxies": list}


def load_dashboard_config(path: Path) -> dict:
    """``DATA_DIR/dashboard.toml`` (optional)::

        schedule = "monthly"            # queue round YYYY-MM at the start of each JST month
        schedule_list = "jp-localgov"   # the list it scans (bundled name or a file in DATA_DIR/lists/)
        nameservers = ["192.0.2.53"]    # the resolver of rounds started from the page (default: the system's)
        store_url = "postgresql+psycopg://…"   # sessions, limits, audit, jobs (default: sqlite in DATA_DIR)
        trusted_proxies = ["127.0.0.1/32"]

    A ValueError names what is wrong."""
    import tomllib

    if not path.exists():
        return {}
    try:
        conf = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    for key, value in conf.items():
        if key not in CONFIG_KEYS:
            raise ValueError(f"{path}: unknown setting {key!r} (known: {', '.join(CONFIG_KEYS)})")
        if not isinstance(value, CONFIG_KEYS[key]):
            raise ValueError(f"{path}: {key} must be a {CONFIG_KEYS[key].__name__}")
    if conf.get("schedule") not in (None, "monthly"):
        raise ValueError(f"{path}: schedule must be \"monthly\" (or left out)")
    if conf.get("schedule") and not conf.get("schedule_list"):
        raise ValueError(f"{path}: a schedule needs schedule_list (the list to scan)")
    return conf
