"""`mailposture guard …` admin commands: changes land in the store, errors are one clear line (no traceback)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mailposture.guard.cli import register
from mailposture.guard.store import AuditEntry, Store, UserState

app = typer.Typer()
register(app)


@app.callback()
def _root() -> None:
    """root"""


runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["guard", *args])
    out = res.output + (res.stderr if res.stderr_bytes is not None else "")
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in out
    return res.exit_code, out


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/g.db"


def test_user_lifecycle(url: str) -> None:
    code, out = run("user", "allow-abroad", "Bob@X.test", "--days", "3", "--store", url)
    assert code == 0 and "abroad_until" in out
    rec = Store(url).get_user("bob@x.test")
    assert rec.state is UserState.ABROAD_UNTIL and rec.updated_by == "admin-cli"
    code, out = run("user", "show", "bob@x.test", "--store", url, "--json")
    assert code == 0 and json.loads(out)["effective_state"] == "abroad_until"
    assert run("user", "allow-abroad", "bob@x.test", "--always", "--store", url)[0] == 0
    assert Store(url).get_user("bob@x.test").state is UserState.ABROAD_ALWAYS
    assert run("user", "lock", "bob@x.test", "--note", "spam run", "--store", url)[0] == 0
    assert Store(url).get_user("bob@x.test").note == "spam run"
    assert run("user", "unlock", "bob@x.test", "--store", url)[0] == 0
    assert Store(url).get_user("bob@x.test").state is UserState.RESTRICTED
    run("user", "allow-abroad", "bob@x.test", "--store", url)
    assert run("user", "restrict", "bob@x.test", "--store", url)[0] == 0
    assert Store(url).get_user("bob@x.test").state is UserState.RESTRICTED
    code, out = run("user", "list", "--store", url)
    assert code == 0 and "bob@x.test" in out


@pytest.mark.parametrize("days", ["0", "31", "-2"])
def test_bad_days_is_a_clear_error(url: str, days: str) -> None:
    code, out = run("user", "allow-abroad", "bob@x.test", "--days", days, "--store", url)
    assert code == 2 and "--days must be between 1 and 30" in out
    assert Store(url).get_user("bob@x.test").state is UserState.RESTRICTED


def test_days_and_always_together_is_an_error(url: str) -> None:
    code, out = run("user", "allow-abroad", "bob@x.test", "--days", "3", "--always", "--store", url)
    assert code == 2 and "either" in out


@pytest.mark.parametrize("bad, msg", [("nonsense", "bad store URL"), ("nosuchdb://h/x", "driver not available"),
                                      ("sqlite:////proc/nope/g.db", "cannot")])
def test_bad_store_url_is_a_clear_error(bad: str, msg: str) -> None:
    code, out = run("status", "--store", bad)
    assert code == 2 and msg in out


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text('on_store_error = "sometimes"\n')
    code, out = run("status", "--config", str(cfg))
    assert code == 2 and "on_store_error" in out
    code, out = run("status", "--config", str(tmp_path / "missing.toml"))
    assert code == 2 and "cannot read config file" in out


def test_allowlist_commands(url: str) -> None:
    assert run("allowlist", "add", "google.com", "--note", "send-as", "--store", url)[0] == 0
    assert run("allowlist", "add", "203.0.113.7/24", "--store", url)[0] == 0
    code, out = run("allowlist", "add", "0.0.0.0/0", "--store", url)
    assert code == 2 and "too broad" in out
    code, out = run("allowlist", "list", "--store", url, "--json")
    assert json.loads(out) == [{"entry": "203.0.113.0/24", "note": None}, {"entry": "google.com", "note": "send-as"}]
    assert run("allowlist", "remove", "google.com", "--store", url)[0] == 0
    code, out = run("allowlist", "remove", "google.com", "--store", url)
    assert code == 1 and "not in the allow-list" in out


def test_status_shows_counts_geo_and_refusals(url: str) -> None:
    from datetime import UTC, datetime

    s = Store(url)
    s.lock("a@x", by="t")
    s.allow_always("b@x", by="t")
    s.allowlist_add("google.com")
    now = datetime.now(UTC)
    s.add_audit([AuditEntry(now, "c@x", "8.8.8.8", "US", "refused", "restricted"),
                 AuditEntry(now, "c@x", "8.8.4.4", "US", "refused", "restricted"),
                 AuditEntry(now, "c@x", "81.2.69.142", "GB", "refused", "restricted")])
    code, out = run("status", "--store", url, "--json")
    assert code == 0
    info = json.loads(out)
    assert info["users"]["locked"] == 1 and info["users"]["abroad_always"] == 1
    assert info["geo"]["source"] == "iptocc" and info["geo"]["data_date"]
    assert info["allowlist_size"] == 1
    assert info["refusals_24h_by_country"] == [["US", 2], ["GB", 1]]
    code, out = run("status", "--store", url)
    assert code == 0 and "US 2, GB 1" in out and "iptocc" in out


def test_check_command(url: str) -> None:
    code, out = run("check", "alice@x", "8.8.8.8", "--store", url)
    assert code == 0 and "refused" in out and "action=REJECT" in out
    code, out = run("check", "alice@x", "133.1.1.1", "--store", url)
    assert code == 0 and "reason: home" in out


def test_serve_rejects_bad_listen(url: str) -> None:
    code, out = run("serve", "--listen", "nowhere", "--store", url)
    assert code == 2 and "bad listen address" in out


def test_notify_sends_the_owner_a_notice_through_the_relay(url: str, tmp_path: Path) -> None:
    """--notify: the web module's send_notice mails the owner via smtp_relay (a loopback SMTP sink here)."""
    import asyncio
    import contextlib
    import threading

    from conftest import free_port

    port = free_port()
    got: list[bytes] = []
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"220 sink\r\n")
        data = False
        while line := await r.readline():
            if data:
                if line == b".\r\n":
                    data = False
                    w.write(b"250 ok\r\n")
                else:
                    got.append(line)
                continue
            cmd = line[:4].upper()
            if cmd == b"DATA":
                data = True
                w.write(b"354 go\r\n")
            elif cmd == b"QUIT":
                w.write(b"221 bye\r\n")
                await w.drain()
                break
            elif cmd == b"EHLO":
                w.write(b"250 sink\r\n")
            else:
                w.write(b"250 ok\r\n")
            await w.drain()
        w.close()

    async def serve() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", port)
        ready.set()
        async with srv:
            await srv.serve_forever()

    def run_sink() -> None:
        with contextlib.suppress(BaseException):  # cancelled at the end of the test
            loop.run_until_complete(serve())

    t = threading.Thread(target=run_sink, daemon=True)
    t.start()
    ready.wait(5)
    cfg = tmp_path / "g.toml"
    cfg.write_text(f'store_url = "{url}"\nsmtp_relay = "127.0.0.1:{port}"\n')
    try:
        code, out = run("user", "lock", "dave@example.jp", "--notify", "--config", str(cfg))
        assert code == 0 and "warning" not in out
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(b"dave@example.jp" in line for line in got)
    finally:
        loop.call_soon_threadsafe(lambda: [task.cancel() for task in asyncio.all_tasks(loop)])
        t.join(5)


# -- issue 10 "Bad input" and issue 17 additions ------------------------------------------------------------
@pytest.mark.parametrize("ip", ["not-an-ip", "", "8.8.8.8/32", "999.1.1.1"])
def test_check_refuses_a_non_address(url: str, ip: str) -> None:
    code, out = run("check", "alice@x", ip, "--store", url)
    assert code == 2 and "not an IP address" in out and "verdict" not in out


@pytest.mark.parametrize("name", ["", "   ", "a b@x", "a\tb@x"])
def test_user_commands_refuse_an_empty_or_odd_name(url: str, name: str) -> None:
    for cmd in (["user", "show", name], ["user", "lock", name], ["user", "allow-abroad", name],
                ["user", "restrict", name], ["check", name, "8.8.8.8"]):
        code, out = run(*cmd, "--store", url)
        assert code == 2 and "not a user name" in out, (cmd, out)
    assert Store(url).list_users() == []


def test_no_config_no_store_never_creates_a_store_in_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for cmd in (["user", "lock", "bob@x.test"], ["user", "show", "bob@x.test"], ["status"],
                ["allowlist", "list"], ["audit", "prune", "--older-than", "30"]):
        code, out = run(*cmd)
        assert code == 2 and "no store given" in out and "--config" in out, (cmd, out)
    assert not (tmp_path / "mailposture-data").exists()
    # when the default store exists, it is used and named
    Store("sqlite:///./mailposture-data/guard.db").lock("bob@x.test", by="t")
    code, out = run("user", "show", "bob@x.test")
    assert code == 0 and "store: sqlite:///./mailposture-data/guard.db (default" in out and "locked" in out


def test_status_names_an_unreachable_database_as_a_connection_failure() -> None:
    pytest.importorskip("psycopg")
    code, out = run("status", "--store", "postgresql+psycopg://guard@127.0.0.1:1/guard")
    assert code == 2 and "cannot connect" in out and "create the tables" not in out


def test_alternate_contact_and_totp_reset(url: str) -> None:
    assert run("user", "contact", "bob@x.test", "bob.home@example.net", "--store", url)[0] == 0
    assert Store(url).get_contact("bob@x.test").alt_contact == "bob.home@example.net"
    for bad in (["bob@x.test", "a@x,b@y"], ["bob@x.test", "bob@x.test"], ["bob@x.test"]):
        code, out = run("user", "contact", *bad, "--store", url)
        assert code == 2, (bad, out)
    Store(url).set_totp("bob@x.test", "JBSWY3DPEHPK3PXP")
    assert run("user", "totp-reset", "bob@x.test", "--store", url)[0] == 0
    c = Store(url).get_contact("bob@x.test")
    assert c.totp_secret is None and c.alt_contact == "bob.home@example.net"
    assert run("user", "contact", "bob@x.test", "--remove", "--store", url)[0] == 0
    assert Store(url).get_contact("bob@x.test").alt_contact is None


def test_audit_prune(url: str) -> None:
    from datetime import UTC, datetime, timedelta

    s = Store(url)
    now = datetime.now(UTC)
    s.add_audit([AuditEntry(now - timedelta(days=d), "c@x", "8.8.8.8", "US", "refused", "restricted")
                 for d in (1, 10, 40, 400)])
    code, out = run("audit", "prune", "--older-than", "30", "--store", url)
    assert code == 0 and "deleted 2" in out
    assert len(s.recent_audit()) == 2
    code, out = run("audit", "prune", "--older-than", "0", "--store", url)
    assert code == 2


def test_notify_also_mails_the_alternate_contact(url: str, tmp_path: Path) -> None:
    from test_web_common import SmtpSink

    Store(url).set_alt_contact("dave@example.jp", "dave.home@example.net")
    with SmtpSink() as sink:
        cfg = tmp_path / "g.toml"
        cfg.write_text(f'store_url = "{url}"\nsmtp_relay = "127.0.0.1:{sink.port}"\n')
        code, out = run("user", "lock", "dave@example.jp", "--notify", "--config", str(cfg))
        assert code == 0 and "warning" not in out
        deadline = time.monotonic() + 5
        while len(sink.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sorted(r for _, rs, _ in sink.messages for r in rs) == ["dave.home@example.net", "dave@example.jp"]
