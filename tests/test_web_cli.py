"""`mailposture web passwd` and `mailposture web serve` (start-up errors only; serving is tested elsewhere)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from mailposture.web import cli as web_cli
from mailposture.web.auth import UsersFileAuthenticator

runner = CliRunner()


def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """root"""

    web_cli.register(root)
    return root


def test_passwd_from_stdin_creates_a_working_entry(tmp_path):
    path = tmp_path / "admins"
    r = runner.invoke(app(), ["web", "passwd", str(path), "Root-Admin", "--password-stdin"], input="s3cret pw\n")
    assert r.exit_code == 0, r.output
    assert "root-admin" in r.output and "s3cret" not in r.output
    assert path.stat().st_mode & 0o777 == 0o600
    assert UsersFileAuthenticator(path).check("root-admin", "s3cret pw").ok


def test_passwd_prompt_and_bad_input(tmp_path):
    path = tmp_path / "users"
    r = runner.invoke(app(), ["web", "passwd", str(path), "a@b.jp"], input="pw1\npw1\n")
    assert r.exit_code == 0, r.output
    assert UsersFileAuthenticator(path).check("a@b.jp", "pw1").ok
    r = runner.invoke(app(), ["web", "passwd", str(path), "bad name", "--password-stdin"], input="x\n")
    assert r.exit_code == 2 and "user name" in r.output
    r = runner.invoke(app(), ["web", "passwd", str(path), "c@b.jp", "--password-stdin"], input="\n")
    assert r.exit_code == 2 and "password" in r.output
    r = runner.invoke(app(), ["web", "passwd", str(tmp_path / "no/such/dir/users"), "c@b.jp", "--password-stdin"],
                      input="x\n")
    assert r.exit_code == 2 and "cannot write" in r.output


def test_serve_start_up_errors_are_clear(tmp_path):
    r = runner.invoke(app(), ["web", "serve", "--config", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "cannot read config file" in r.output
    cfg = tmp_path / "guard.toml"
    cfg.write_text(f'store_url = "sqlite:///{tmp_path}/g.db"\nweb_secret_file = "{tmp_path}/k"\n')
    r = runner.invoke(app(), ["web", "serve", "--config", str(cfg)])
    assert r.exit_code == 2 and "dovecot_auth_socket or users_file" in r.output
    cfg.write_text(cfg.read_text() + "bogus_key = 1\n")
    r = runner.invoke(app(), ["web", "serve", "--config", str(cfg)])
    assert r.exit_code == 2 and "bogus_key" in r.output
