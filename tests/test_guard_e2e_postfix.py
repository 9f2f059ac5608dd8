"""End to end: real Postfix + Dovecot SASL + swaks on loopback, with the guard as Postfix's policy server.

A private Postfix instance (``postfix -c <tmp>/etc`` with its own config, queue and data directories) and a
SASL-only Dovecot are started under a temporary directory; /etc/postfix is never read for configuration or
modified. XCLIENT sets the client address Postfix (and so the guard) sees; the addresses are global ones
(8.8.8.8 abroad, 133.1.1.1 in Japan) but no packet goes to them. Every daemon is stopped by PID at the end.
Needs root (Postfix and Dovecot drop privileges to their own users).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import free_port, require_program
from mailposture.guard.store import Store

pytestmark = [pytest.mark.system, pytest.mark.slow]

TEMPLATES = Path(__file__).parent / "e2e_postfix"
ALICE = ("alice@example.test", "alicepw")  # never opted in
BOB = ("bob@example.test", "bobpw")  # opts in during the test
EVE = ("eve@example.test", "evepw")  # locked by the admin
ABROAD_V4, HOME_V4, ABROAD_V6 = "8.8.8.8", "133.1.1.1", "IPV6:2001:4860:4860::8888"
OWNER_URL = "https://mail.example.jp/abroad"


def _need_root() -> None:
    if os.geteuid() != 0:
        msg = "the Postfix end-to-end test needs root (Postfix/Dovecot switch users)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone once reaped
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _stop_pid(pid: int, timeout: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not _alive(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _wait_port(port: int, timeout: float = 10.0) -> None:
    import socket

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


class Rig:
    def __init__(self, root: Path, swaks: str) -> None:
        self.root = root
        self.swaks = swaks
        self.guard_port = free_port()
        self.ports = {"dunno": free_port(), "default": free_port(), "reject": free_port()}
        self.store_url = f"sqlite:///{root}/guard.db"
        self.guard: subprocess.Popen | None = None
        self.dovecot: subprocess.Popen | None = None
        self.postfix_pid: int | None = None

    def render(self) -> None:
        r = self.root
        for d in ("etc", "spool", "data", "run/dovecot", "run/dovecot-state"):
            (r / d).mkdir(parents=True, exist_ok=True)
        subst = {"@RIG@": str(r), "@GUARD_PORT@": str(self.guard_port), "@PORT_DUNNO@": str(self.ports["dunno"]),
                 "@PORT_DEFAULT@": str(self.ports["default"]), "@PORT_REJECT@": str(self.ports["reject"])}
        for src, dst in (("main.cf.in", "etc/main.cf"), ("master.cf.in", "etc/master.cf"),
                         ("dovecot.conf.in", "dovecot.conf")):
            text = (TEMPLATES / src).read_text()
            for k, v in subst.items():
                text = text.replace(k, v)
            (r / dst).write_text(text)
        (r / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in (ALICE, BOB, EVE)))
        (r / "guard.toml").write_text(
            f'store_url = "{self.store_url}"\nowner_page_url = "{OWNER_URL}"\npoll_interval = 0.1\n'
            'home_countries = ["JP"]\n')
        shutil.chown(r / "data", user="postfix")
        # Postfix's users must be able to reach the queue directory under the temporary root.
        for p in (r, r / "spool"):
            p.chmod(0o755)

    def start_guard(self) -> None:
        with open(self.root / "guard.log", "ab") as log:  # the child keeps its own copy of the descriptor
            self.guard = subprocess.Popen(
                [sys.executable, "-c", "from mailposture.guard.cli import guard_app; guard_app()", "serve",
                 "--listen", f"127.0.0.1:{self.guard_port}", "--config", str(self.root / "guard.toml"),
                 "--loop", "asyncio"], stdout=log, stderr=subprocess.STDOUT)
        _wait_port(self.guard_port)

    def stop_guard(self) -> None:
        if self.guard is not None:
            self.guard.terminate()
            try:
                self.guard.wait(10)
            except subprocess.TimeoutExpired:
                self.guard.kill()
                self.guard.wait()
            self.guard = None

    def start_mail(self) -> None:
        # Postfix first: its start-up check creates the queue's private/ directory for Dovecot's socket.
        out = subprocess.run(["postfix", "-c", str(self.root / "etc"), "start"], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr + self.log()
        pidfile = self.root / "spool/pid/master.pid"
        end = time.monotonic() + 10
        while not pidfile.exists() or not pidfile.read_text().strip():
            assert time.monotonic() < end, "postfix master did not write its pid"
            time.sleep(0.05)
        self.postfix_pid = int(pidfile.read_text().strip())
        self.dovecot = subprocess.Popen(["dovecot", "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while not (self.root / "spool/private/auth").exists():
            assert self.dovecot.poll() is None, (self.root / "dovecot.log").read_text(errors="replace")
            assert time.monotonic() < end, "dovecot did not create its auth socket"
            time.sleep(0.05)
        for port in self.ports.values():
            _wait_port(port)

    def stop_all(self) -> None:
        self.stop_guard()
        if self.postfix_pid is not None:
            _stop_pid(self.postfix_pid)
            self.postfix_pid = None
        if self.dovecot is not None:
            self.dovecot.terminate()
            try:
                self.dovecot.wait(10)
            except subprocess.TimeoutExpired:
                self.dovecot.kill()
                self.dovecot.wait()
            self.dovecot = None

    def log(self) -> str:
        p = self.root / "postfix.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""

    def rcpt(self, user: tuple[str, str], addr: str, listener: str = "dunno") -> str:
        """Submit as ``user`` from XCLIENT address ``addr``; return Postfix's reply to RCPT TO."""
        out = subprocess.run(
            [self.swaks, "--server", f"127.0.0.1:{self.ports[listener]}", "--helo", "client.example",
             "--from", user[0], "--to", "postmaster@localhost", "--auth", "PLAIN", "--auth-user", user[0],
             "--auth-password", user[1], "--quit-after", "RCPT", "--xclient", f"ADDR={addr}",
             "--timeout", "20"], capture_output=True, text=True, timeout=30)
        lines = out.stdout.splitlines()
        for i, line in enumerate(lines):
            if line.lstrip().startswith("-> RCPT TO:"):
                for reply in lines[i + 1:]:
                    m = re.match(r"^<[*~-]*\s+(\d{3}\s.*)$", reply)
                    if m:
                        return m.group(1)
        raise AssertionError(f"no RCPT reply in swaks output:\n{out.stdout}\n{out.stderr}\n{self.log()}")


@pytest.fixture
def rig():
    progs = require_program("postfix", "dovecot", "swaks")
    _need_root()
    root = Path(tempfile.mkdtemp(prefix="guard-e2e-"))
    r = Rig(root, progs["swaks"])
    try:
        r.render()
        yield r
    finally:
        r.stop_all()
        # Nothing may stay queued: the test only goes as far as RCPT.
        queued = [p for d in ("maildrop", "incoming", "active", "deferred", "hold")
                  for p in (root / "spool" / d).rglob("*") if p.is_file()]
        shutil.rmtree(root, ignore_errors=True)
        assert not queued, f"mail was queued: {queued}"


def test_guard_with_real_postfix(rig: Rig) -> None:
    store = Store(rig.store_url)
    store.lock(EVE[0], by="e2e", note="password stolen")
    rig.start_guard()
    rig.start_mail()

    # Refused from abroad, with the bilingual text naming the owner page (IPv4 and IPv6).
    reply = rig.rcpt(ALICE, ABROAD_V4)
    assert reply.startswith("554 5.7.1"), reply
    assert OWNER_URL in reply and "outside Japan" in reply and "海外からの送信" in reply, reply
    assert rig.rcpt(ALICE, ABROAD_V6).startswith("554 5.7.1")
    # Allowed at home.
    assert rig.rcpt(ALICE, HOME_V4).startswith("250"), rig.log()
    # Locked: refused even at home.
    locked = rig.rcpt(EVE, HOME_V4)
    assert locked.startswith("554 5.7.1") and "locked" in locked, locked

    # The owner opts in (Store API, as the web page does): allowed from abroad within one poll…
    assert rig.rcpt(BOB, ABROAD_V4).startswith("554 5.7.1")
    until = datetime.now(UTC) + timedelta(seconds=3)
    store.allow_abroad(BOB[0], until, by="owner")
    time.sleep(0.5)
    assert rig.rcpt(BOB, ABROAD_V4).startswith("250"), rig.log()
    # …and refused again once the period has ended (no store change needed: expiry is evaluated per request).
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.2)
    assert rig.rcpt(BOB, ABROAD_V4).startswith("554 5.7.1")

    # The audit log holds the foreign decisions (written off the hot path, flushed within ~1 s).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        refusals = store.recent_refusals(ALICE[0], limit=10)
        if len(refusals) >= 2:
            break
        time.sleep(0.2)
    assert {(e.ip, e.country) for e in refusals} >= {("8.8.8.8", "US"), ("2001:4860:4860::8888", "US")}

    # Policy server stopped: Postfix's default_action decides (SMTPD_POLICY_README; postconf(5)).
    rig.stop_guard()
    assert rig.rcpt(ALICE, ABROAD_V4, "dunno").startswith("250")  # default_action=DUNNO: fail-open
    assert rig.rcpt(ALICE, ABROAD_V4, "default").startswith("451 4.3.5")  # Postfix default: temporary
    closed = rig.rcpt(ALICE, ABROAD_V4, "reject")  # explicit 554: fail-closed
    assert closed.startswith("554 5.7.1") and "policy unavailable" in closed, closed
