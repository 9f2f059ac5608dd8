"""The Dovecot auth-client (protocol 1.2) client: against a real dovecot on a temp socket, and against a
scripted in-process server for the corner cases (CONT, temporary failure, garbage, silence)."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import require_program
from mailposture.web.auth import (
    AuthUnavailable,
    ChainAuthenticator,
    DovecotAuthenticator,
    UsersFileAuthenticator,
    auth_request,
    parse_reply,
    plain_response,
    set_user,
    tab_escape,
    tab_unescape,
)

# ------------------------------------------------------------------------------------------ real dovecot

CONF = """\
protocols =
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener {d}/auth-client {{
    mode = 0666
  }}
}}
"""


@pytest.fixture(scope="module")
def dovecot():
    progs = require_program("dovecot")
    d = Path(tempfile.mkdtemp(prefix="mp-dovecot-"))
    d.chmod(0o755)                       # the auth process runs as the dovecot user and reads the users file
    (d / "users").write_text("alice@example.test:{PLAIN}alice-pw\nbob@example.test:{PLAIN}pw with space, ü & %\n")
    (d / "users").chmod(0o644)
    (d / "dovecot.conf").write_text(CONF.format(d=d))
    proc = subprocess.Popen([progs["dovecot"], "-F", "-c", str(d / "dovecot.conf")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sock = d / "auth-client"
    deadline = time.monotonic() + 15
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
            log = (d / "dovecot.log").read_text(errors="replace") if (d / "dovecot.log").exists() else ""
            proc.kill()
            shutil.rmtree(d, ignore_errors=True)
            pytest.fail(f"dovecot did not start: {out} {log}")
        time.sleep(0.05)
    try:
        yield str(sock)
    finally:
        proc.terminate()                 # stop by PID (the master stops its children)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.system
async def test_real_dovecot_ok_and_fail(dovecot):
    auth = DovecotAuthenticator(dovecot, timeout=10)
    ok = await auth.authenticate("alice@example.test", "alice-pw", "203.0.113.5", secured=True)
    assert ok.ok and ok.username == "alice@example.test"
    bad = await auth.authenticate("alice@example.test", "wrong", "203.0.113.5", secured=True)
    assert not bad.ok
    unknown = await auth.authenticate("nobody@example.test", "alice-pw", "192.0.2.10", secured=False)
    assert not unknown.ok
    # any password travels inside base64 (UTF-8)
    assert (await auth.authenticate("bob@example.test", "pw with space, ü & %", "192.0.2.11", secured=True)).ok
    assert not (await auth.authenticate("bob@example.test", "pw with space, u & %", "192.0.2.12",
                                        secured=True)).ok


@pytest.mark.system
async def test_real_dovecot_concurrent_requests(dovecot):
    auth = DovecotAuthenticator(dovecot, timeout=10)
    results = await asyncio.gather(*[auth.authenticate("alice@example.test", "alice-pw" if i % 2 else "x",
                                                       f"198.51.100.{i}", secured=True) for i in range(10)])
    assert [r.ok for r in results] == [bool(i % 2) for i in range(10)]


@pytest.mark.system
async def test_real_dovecot_in_a_chain_with_a_users_file(dovecot, tmp_path):
    set_user(tmp_path / "users", "carol@example.test", "carol-pw")
    chain = ChainAuthenticator([DovecotAuthenticator(dovecot), UsersFileAuthenticator(tmp_path / "users")])
    # (a new client address for each failing call: Dovecot's auth penalty delays repeat failures)
    assert (await chain.authenticate("alice@example.test", "alice-pw", "192.0.2.30", secured=True)).ok
    assert (await chain.authenticate("carol@example.test", "carol-pw", "192.0.2.31", secured=True)).ok
    assert not (await chain.authenticate("carol@example.test", "alice-pw", "192.0.2.32", secured=True)).ok


# ------------------------------------------------------------------------------------------ clear errors

async def test_missing_socket_is_a_clear_error(tmp_path):
    auth = DovecotAuthenticator(str(tmp_path / "no-such-socket"))
    with pytest.raises(AuthUnavailable, match="does not exist"):
        await auth.authenticate("a@b.test", "pw", "127.0.0.1", secured=True)


async def test_not_a_socket_is_a_clear_error(tmp_path):
    (tmp_path / "plain-file").write_text("x")
    auth = DovecotAuthenticator(str(tmp_path / "plain-file"))
    with pytest.raises(AuthUnavailable, match=r"cannot connect|permission"):
        await auth.authenticate("a@b.test", "pw", "127.0.0.1", secured=True)


# ----------------------------------------------------------------------------- scripted protocol server

class Scripted:
    """A UNIX-socket server that plays a script: handshake lines, then a reply per AUTH line."""

    def __init__(self, path: str, handshake: list[str], reply) -> None:
        self.path, self.handshake, self.reply = path, handshake, reply
        self.seen: list[str] = []

    async def __aenter__(self):
        async def handle(reader, writer):
            try:
                for line in self.handshake:
                    writer.write((line + "\n").encode())
                await writer.drain()
                while True:
                    raw = await reader.readline()
                    if not raw:
                        break
                    line = raw.decode().rstrip("\n")
                    self.seen.append(line)
                    answer = self.reply(line)
                    if answer is None:
                        continue
                    if answer == "HANG":
                        await asyncio.sleep(30)
                    writer.write((answer + "\n").encode())
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_unix_server(handle, self.path)
        return self

    async def __aexit__(self, *exc):
        self.server.close()


HS = ["VERSION\t1\t2", "MECH\tPLAIN\tplaintext", "MECH\tLOGIN\tplaintext", "SPID\t123", "CUID\t7",
      "COOKIE\t" + "ab" * 16, "DONE"]


def _id(line: str) -> str:
    return line.split("\t")[1]


async def test_handshake_and_request_format(tmp_path):
    sock = str(tmp_path / "s")

    def reply(line):
        if line.startswith("AUTH"):
            return f"OK\t{_id(line)}\tuser=Alice@Example.test"
        return None

    async with Scripted(sock, HS, reply) as srv:
        res = await DovecotAuthenticator(sock, service="webmail").authenticate(
            "alice@example.test", "pw", "2001:db8::5", secured=True)
    assert res.ok and res.username == "Alice@Example.test"
    assert srv.seen[0] == "VERSION\t1\t2" and srv.seen[1] == f"CPID\t{os.getpid()}"
    auth = srv.seen[2].split("\t")
    assert auth[0] == "AUTH" and auth[2] == "PLAIN" and auth[3] == "service=webmail"
    assert "secured" in auth and "rip=2001:db8::5" in auth
    assert auth[-1].startswith("resp=")               # resp= must be the last parameter
    assert base64.b64decode(auth[-1][5:]) == b"\x00alice@example.test\x00pw"


async def test_bad_client_ip_is_left_out(tmp_path):
    sock = str(tmp_path / "s")
    async with Scripted(sock, HS, lambda ln: f"FAIL\t{_id(ln)}" if ln.startswith("AUTH") else None) as srv:
        res = await DovecotAuthenticator(sock).authenticate("a@b.test", "pw", "testclient\trip=1.2.3.4",
                                                            secured=False)
    assert not res.ok
    assert not any(f.startswith("rip=") for f in srv.seen[-1].split("\t")) and "secured" not in srv.seen[-1]


async def test_cont_is_answered_once(tmp_path):
    sock = str(tmp_path / "s")
    state = {"n": 0}

    def reply(line):
        if line.startswith("AUTH"):
            return f"CONT\t{_id(line)}\t"
        if line.startswith("CONT"):
            state["n"] += 1
            return f"OK\t{_id(line)}\tuser=x@y.test"
        return None

    async with Scripted(sock, HS, reply) as srv:
        res = await DovecotAuthenticator(sock).authenticate("x@y.test", "pw", "", secured=True)
    assert res.ok and state["n"] == 1
    assert srv.seen[-1].split("\t")[2] == plain_response("x@y.test", "pw")


@pytest.mark.parametrize("handshake,reply,match", [
    (["VERSION\t2\t0", "DONE"], None, "unsupported protocol version"),
    (["MECH\tLOGIN\tplaintext", "VERSION\t1\t2", "DONE"], None, "no PLAIN"),
    (["DONE"], None, "DONE before VERSION"),
    (HS, lambda ln: f"FAIL\t{_id(ln)}\ttemp\treason=db down", "temporary failure"),
    (HS, lambda ln: "OK\t999\tuser=x", "another request id"),
    (HS, lambda ln: "BOGUS\tline", "unexpected reply"),
    (HS, lambda ln: f"CONT\t{_id(ln)}\t", "second challenge"),
    (["VERSION\t1\t2"], None, "did not answer"),            # handshake never finishes
])
async def test_protocol_errors_are_clear(tmp_path, handshake, reply, match):
    sock = str(tmp_path / "s")

    def answer(line):
        if not line.startswith(("AUTH", "CONT")):
            return None
        return reply(line) if reply else None

    async with Scripted(sock, handshake, answer):
        with pytest.raises(AuthUnavailable, match=match):
            await DovecotAuthenticator(sock, timeout=1).authenticate("x@y.test", "pw", "", secured=True)


async def test_server_closing_mid_handshake(tmp_path):
    sock = str(tmp_path / "s")

    async def handle(reader, writer):
        writer.write(b"VERSION\t1\t2\nMECH\tPLA")
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(handle, sock)
    try:
        with pytest.raises(AuthUnavailable, match="closed the connection"):
            await DovecotAuthenticator(sock, timeout=2).authenticate("x@y.test", "pw", "", secured=True)
    finally:
        server.close()


async def test_silent_server_times_out(tmp_path):
    sock = str(tmp_path / "s")
    async with Scripted(sock, HS, lambda ln: "HANG" if ln.startswith("AUTH") else None):
        t0 = time.monotonic()
        with pytest.raises(AuthUnavailable, match=r"did not answer within 0\.3 s"):
            await DovecotAuthenticator(sock, timeout=0.3).authenticate("x@y.test", "pw", "", secured=True)
        assert time.monotonic() - t0 < 2


def test_escaping_round_trip_and_request_line():
    for s in ("plain", "a\tb", "x\ny\rz", "\x01t", "\x01\x01"):
        assert tab_unescape(tab_escape(s)) == s
        assert "\t" not in tab_escape(s) and "\n" not in tab_escape(s)
    line = auth_request(5, "PLAIN", "svc\tx", "192.0.2.1", "AAA=", secured=False)
    assert line == "AUTH\t5\tPLAIN\tservice=svc\x01tx\trip=192.0.2.1\tresp=AAA=\n"
    kind, params, bare = parse_reply("FAIL\t5\tuser=a\x01tb\ttemp", 5)
    assert kind == "FAIL" and params == {"user": "a\tb"} and bare == ["temp"]


# --------------------------------------------------------------------------------------------- users file

async def test_users_file_reload_bad_lines_and_missing_file(tmp_path, caplog):
    from argon2 import PasswordHasher

    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    path = tmp_path / "users"
    path.write_text(f"# comment\n\nAlice@Example.test:{quick.hash('pw1')}\nbroken line\nbob:{{PLAIN}}x\n")
    auth = UsersFileAuthenticator(path)
    assert (await auth.authenticate("alice@example.test", "pw1", "", secured=True)).ok
    assert not (await auth.authenticate("alice@example.test", "pw2", "", secured=True)).ok
    assert not (await auth.authenticate("bob", "x", "", secured=True)).ok       # not an argon2 hash
    assert "line 4" in caplog.text and "line 5" in caplog.text and "x\n" not in caplog.text
    path.write_text(f"alice@example.test:{quick.hash('pw2')}\n# changed\n")
    assert (await auth.authenticate("alice@example.test", "pw2", "", secured=True)).ok
    path.unlink()
    with pytest.raises(AuthUnavailable, match="does not exist"):
        await auth.authenticate("alice@example.test", "pw2", "", secured=True)


def test_set_user_replaces_and_keeps_mode(tmp_path):
    path = tmp_path / "users"
    set_user(path, "Alice@Example.test", "one")
    set_user(path, "bob@example.test", "two")
    set_user(path, "alice@example.test", "three")
    lines = path.read_text().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["bob@example.test", "alice@example.test"]
    assert path.stat().st_mode & 0o777 == 0o600
    auth = UsersFileAuthenticator(path)
    assert auth.check("alice@example.test", "three").ok and not auth.check("alice@example.test", "one").ok
    for bad in ("", "a b", "a:b", "x\x00"):
        with pytest.raises(ValueError):
            set_user(path, bad, "pw")
    with pytest.raises(ValueError):
        set_user(path, "ok@example.test", "")


async def test_chain_unavailable_unless_every_backend_answered(tmp_path):
    missing = DovecotAuthenticator(str(tmp_path / "nope"))
    with pytest.raises(AuthUnavailable, match="does not exist"):
        await ChainAuthenticator([missing]).authenticate("a@b.test", "pw", "", secured=True)
    with pytest.raises(AuthUnavailable, match="no authentication backend"):
        await ChainAuthenticator([]).authenticate("a@b.test", "pw", "", secured=True)
    set_user(tmp_path / "users", "a@b.test", "pw")
    chain = ChainAuthenticator([missing, UsersFileAuthenticator(tmp_path / "users")])
    assert (await chain.authenticate("a@b.test", "pw", "", secured=True)).ok
    # issue 17: Dovecot down, the fallback says no -> unavailable (503), not a wrong password (401, counted)
    with pytest.raises(AuthUnavailable, match="does not exist"):
        await chain.authenticate("a@b.test", "nope", "", secured=True)
    both = ChainAuthenticator([UsersFileAuthenticator(tmp_path / "users"), UsersFileAuthenticator(tmp_path / "users")])
    assert not (await both.authenticate("a@b.test", "nope", "", secured=True)).ok   # all answered: a real "no"


@pytest.mark.system
def test_web_login_through_real_dovecot(dovecot, tmp_path):
    from test_web_common import login, make_cfg, make_client

    cfg = make_cfg(tmp_path, dovecot_auth_socket=dovecot, users_file=None)
    from mailposture.web.auth import owner_authenticator

    client, _store, _ = make_client(cfg, authenticator=owner_authenticator(cfg))
    assert login(client, "alice@example.test", "wrong").status_code == 401
    assert login(client, "Alice@Example.test", "alice-pw").status_code == 303
    r = client.get("/abroad")
    assert r.status_code == 200 and "alice@example.test" in r.text
