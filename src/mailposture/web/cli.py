"""Commands of mailposture.web: `mailposture web serve` and `mailposture web passwd`.

Wiring: `from mailposture.web import cli as web_cli; web_cli.register(app)` in mailposture/cli.py.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

web_app = typer.Typer(name="web", help="Web pages: the owner's page (/abroad) and the admin page (/admin). "
                      "利用者ページと管理ページ", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(web_app, name="web")


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


@web_app.command("serve")
def serve_cmd(
    config: Annotated[str | None, typer.Option("--config", "-c", help="Guard config (TOML). / 設定ファイル (TOML)。")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (a TLS proxy goes in "
                                            "front). / 待ち受けアドレス (前段に TLS プロキシを置く)。")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on. / 待ち受けポート。")] = 8080,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Survey data directory: serve the members' "
                                                 "dashboard at /survey/ (docs/dashboard.md). / 調査データの "
                                                 "ディレクトリ (会員向けダッシュボード)。")] = None,
    users: Annotated[str | None, typer.Option("--users", help="Dashboard members file (mailposture web user add). "
                                              "/ ダッシュボード会員ファイル。")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Dashboard sessions/audit store URL (default: sqlite "
                                              "in the data directory). / セッション・監査の保存先。")] = None,
) -> None:
    """Serve /abroad and /admin, and/or the survey dashboard /survey/ (one process). ページ・調査ダッシュボードを起動"""
    import logging

    from mailposture.guard.config import ConfigError, load_config
    from mailposture.web.app import serve
    from mailposture.web.security import SetupError

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if data_dir or users:
        from mailposture.web.dashboard_cli import serve_dashboard_cmd

        serve_dashboard_cmd(config, host, port, data_dir, users, store, _fail)
        return
    try:
        cfg = load_config(config)
        serve(cfg, host, port)
    except (ConfigError, SetupError) as exc:
        _fail(str(exc))
    except OSError as exc:   # e.g. the port is taken
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@web_app.command("passwd")
def passwd_cmd(
    users_file: Annotated[str, typer.Argument(help="Users file (created 0600 when missing). / "
                                                            "利用者ファイル (なければ 0600 で作成)。")],
    username: Annotated[str, typer.Argument(help="User (mail address, or an admin name). / "
                                                          "利用者 (メールアドレスまたは管理者名)。")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input. / "
                                                 "パスワードを標準入力から読む。")] = False,
) -> None:
    """Add or change a users-file entry (argon2). パスワードの登録・変更"""
    from mailposture.web.auth import set_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password / パスワード", hide_input=True, confirmation_prompt=True)
    try:
        set_user(users_file, username, password)
    except ValueError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write {users_file}: {exc.strerror or exc}")
    typer.echo(f"{username.strip().lower()}: saved in {users_file}")


from mailposture.web.dashboard_cli import user_app  # noqa: E402  (the dashboard's members: web user add|remove|list)

web_app.add_typer(user_app, name="user")
