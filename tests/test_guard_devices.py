"""The acceptance estimate's travel-like users split by the device of their IMAP sessions (Dovecot imap_id_log)
and by volume: an owner abroad with the phone used at home looks like travel; an unknown client abroad does not."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import free_port, require_program
from mailposture.guard.config import GuardConfig
from mailposture.guard.facts import Analyzer
from mailposture.guard.geo import IptoccGeo
from mailposture.logs.parse import parse_tz
from mailposture.logs.reader import LogReader
from worlds.maillog_gen import Pools

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+00:00")


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[datetime, str]] = []
        self.n = 0

    def add(self, t: datetime, msg: str) -> None:
        self.lines.append((t, f"{_stamp(t)} mx {msg}"))

    def session(self) -> str:
        self.n += 1
        return f"S{self.n:06d}"

    def login(self, t: datetime, user: str, ip: str, device: str | None, *, post_login: bool = False,
              after: bool = False) -> None:
        s = self.session()
        id_text = device and f"name={device.split('/')[0]}, version=1.{self.n}, os={device.split('/')[1]}"
        if device and not post_login:
            self.add(t, f"dovecot: imap-login: ID sent: {id_text}: user=<>, rip={ip}, lip=192.0.2.1, TLS, "
                        f"session=<{s}>")
        if device and post_login and not after:
            self.add(t, f"dovecot: imap({user})<{self.n}><{s}>: ID sent: {id_text}")
        self.add(t, f"dovecot: imap-login: Login: user=<{user}>, method=PLAIN, rip={ip}, lip=192.0.2.1, "
                    f"mpid={self.n}, TLS, session=<{s}>")
        if device and post_login and after:
            self.add(t + timedelta(seconds=1), f"dovecot: imap({user})<{self.n}><{s}>: ID sent: {id_text}")

    def submit(self, t: datetime, user: str, ip: str) -> None:
        self.n += 1
        q = f"{self.n:010X}"
        self.add(t, f"postfix/submission/smtpd[9]: {q}: client=unknown[{ip}], sasl_method=PLAIN, "
                    f"sasl_username={user}")
        self.add(t, f"postfix/qmgr[8]: {q}: from=<{user}>, size=900, nrcpt=1 (queue active)")
        self.add(t, f"postfix/smtp[7]: {q}: to=<x@example.net>, relay=r[192.0.2.9]:25, status=sent (250 ok)")
        self.add(t, f"postfix/qmgr[8]: {q}: removed")


def test_travel_split_by_device_and_volume(tmp_path) -> None:
    pools = Pools(random.Random(3))
    jp, us, fr, th = pools.pick("JP"), pools.pick("US"), pools.pick("FR"), pools.pick("TH")
    log = _Log()
    for day in range(3):  # at home
        t = T0 + timedelta(days=day)
        log.login(t, "alice", jp, "Thunderbird/Windows")
        log.login(t, "bob", jp, "iPhone Mail/iOS", post_login=True)
        log.login(t, "erin", jp, "K-9 Mail/Android", post_login=True, after=True)
        for u in ("alice", "bob", "carol", "dave", "erin"):
            log.submit(t + timedelta(minutes=5), u, jp)
    t = T0 + timedelta(days=4)
    log.login(t, "alice", us, "Thunderbird/Windows")          # the same client, abroad: travel
    log.submit(t + timedelta(minutes=1), "alice", us)
    log.login(t, "bob", fr, "python-imaplib/Linux")           # a client never seen at home
    log.submit(t + timedelta(minutes=1), "bob", fr)
    log.submit(t, "carol", th)                                # no IMAP session abroad: no device
    for k in range(40):                                       # a burst above the account's own hours
        log.submit(t + timedelta(seconds=10 * k), "dave", us)
    log.login(t, "erin", us, "K-9 Mail/Android", post_login=True, after=True)  # ID logged after the Login
    log.submit(t + timedelta(minutes=1), "erin", us)
    path = tmp_path / "maillog"
    path.write_text("".join(line + "\n" for _t, line in sorted(log.lines, key=lambda x: x[0])), "utf-8")

    reader = LogReader([str(path)], tz=parse_tz("UTC"))
    an = Analyzer(GuardConfig(), IptoccGeo())
    an.feed(reader.events())
    rep = an.report(reader.stats)
    acc = rep["acceptance"]
    assert reader.stats.unknown == 0
    assert acc["users_refused"] == 5 and acc["refused_breakdown"]["abuse"] == 0
    assert acc["refused_breakdown"]["travel_one_country"] == 5
    assert acc["travel_detail"] == {"same_device": 2, "new_device": 1, "device_unknown": 1, "unusual_volume": 1}
    assert acc["devices_logged_users"] == 3
    # dave: a burst (2) and a new country (1.5) stay under the flag score (4): refused, not flagged, not travel
    assert "GD_BURST" in an.det.accts["dave"].sig and "dave" not in an.det.flags
    assert an.devices["alice"] == (("Thunderbird / Windows",), ("Thunderbird / Windows",))
    assert an.devices["bob"] == (("iPhone Mail / iOS",), ("python-imaplib / Linux",))
    assert an.devices["erin"] == (("K-9 Mail / Android",), ("K-9 Mail / Android",))


def test_first_client_id_logged_after_its_login_is_joined(tmp_path) -> None:
    """An ID the imap process logs after the Login line, before any other ID was seen, still finds its login."""
    pools = Pools(random.Random(3))
    jp, us = pools.pick("JP"), pools.pick("US")
    log = _Log()
    for day in range(3):
        log.login(T0 + timedelta(days=day), "erin", jp, "K-9 Mail/Android", post_login=True, after=True)
        log.submit(T0 + timedelta(days=day, minutes=5), "erin", jp)
    log.login(T0 + timedelta(days=4), "erin", us, "K-9 Mail/Android", post_login=True, after=True)
    log.submit(T0 + timedelta(days=4, minutes=1), "erin", us)
    path = tmp_path / "maillog"
    path.write_text("".join(line + "\n" for _t, line in sorted(log.lines, key=lambda x: x[0])), "utf-8")
    reader = LogReader([str(path)], tz=parse_tz("UTC"))
    an = Analyzer(GuardConfig(), IptoccGeo())
    an.feed(reader.events())
    assert an.devices["erin"] == (("K-9 Mail / Android",), ("K-9 Mail / Android",))
    assert an.report(reader.stats)["acceptance"]["travel_detail"]["same_device"] == 1
    assert not an._sess_dev  # nothing left waiting


DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
imap_id_log = *
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:{d}/mail/%u
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
"""


def _imap_session(port: int, user: str, ip: str, client: tuple[str, str] | None, after_login: bool) -> None:
    """One IMAP session to the real Dovecot: the client's address is passed as x-originating-ip (a trusted
    network may set it, as a proxy does), the client's software as an IMAP ID before or after LOGIN."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rwb")
        f.readline()

        def cmd(tag: str, text: str) -> None:
            f.write(f"{tag} {text}\r\n".encode())
            f.flush()
            while True:
                line = f.readline()
                assert line, "dovecot closed the connection"
                if line.startswith(tag.encode()):
                    assert line.split()[1] == b"OK", line
                    return

        ident = f'"x-originating-ip" "{ip}"'
        if client and not after_login:
            ident = f'"name" "{client[0]}" "version" "3.1" "os" "{client[1]}" ' + ident
        cmd("a0", f"ID ({ident})")
        cmd("a1", f"LOGIN {user} pw")
        if client and after_login:
            cmd("a2", f'ID ("name" "{client[0]}" "version" "3.2" "os" "{client[1]}")')
        cmd("a3", "LOGOUT")


@pytest.mark.system
def test_real_dovecot_imap_id_log_gives_the_devices(tmp_path) -> None:
    """Dovecot 2.3/2.4 itself writes the ID lines (own log file): guard analyze joins them to the logins and to
    Postfix's submissions, so the owner abroad with the mail client used at home counts as travel."""
    import shutil
    import socket
    import subprocess
    import time

    from typer.testing import CliRunner

    from mailposture.cli import app

    progs = require_program("dovecot")
    if not any(Path(p, "imap").exists() for p in ("/usr/lib/dovecot", "/usr/libexec/dovecot")):
        require_program("dovecot-imapd")  # the imap binary of Debian's dovecot-imapd: skip (or fail in CI)
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="mp-dovecot-id-"))  # not under tmp_path: Dovecot's auth user must enter it
    d.chmod(0o755)
    for sub in ("mail", "home"):
        (d / sub).mkdir()
        (d / sub).chmod(0o777)
    (d / "users").write_text("".join(f"{u}:{{PLAIN}}pw\n" for u in ("alice", "bob", "carol")))
    (d / "users").chmod(0o644)
    port = free_port()
    (d / "dovecot.conf").write_text(DOVECOT_CONF.format(d=d, port=port))
    proc = subprocess.Popen([progs["dovecot"], "-F", "-c", str(d / "dovecot.conf")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"dovecot did not start: {(d / 'dovecot.log').read_text(errors='replace')}")
                time.sleep(0.05)
        pools = Pools(random.Random(5))
        jp, us, kr = pools.pick("JP"), pools.pick("US"), pools.pick("KR")
        _imap_session(port, "alice", jp, ("Thunderbird", "Windows"), after_login=False)
        _imap_session(port, "bob", jp, ("iPhone Mail", "iOS"), after_login=True)
        _imap_session(port, "alice", us, ("Thunderbird", "Windows"), after_login=False)
        _imap_session(port, "bob", kr, ("imapsync", "Linux"), after_login=True)
        log = d / "dovecot.log"
        deadline = time.monotonic() + 10
        while log.read_text(errors="replace").count("Disconnected: Logged out") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    finally:
        proc.terminate()                 # by PID: the master stops its children
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    dv_log = tmp_path / "dovecot.log"
    shutil.copy(log, dv_log)
    shutil.rmtree(d, ignore_errors=True)
    # six IDs (each session passes its address), four of them naming the client software
    assert text.count("ID sent:") == 6 and text.count("ID sent: name=") == 4 and text.count("Login: ") == 4, text
    # Postfix's lines of the same minutes: submissions from home and from abroad
    now = datetime.now().astimezone()
    stamp = f"{now:%b} {now.day:2d} {now:%H:%M:%S}"
    mx = []
    for i, (user, ip) in enumerate([("alice", jp), ("bob", jp), ("carol", jp), ("alice", us), ("bob", kr),
                                    ("carol", us)]):
        q = f"{i + 1:010X}"
        mx += [f"{stamp} mx postfix/submission/smtpd[9]: {q}: client=unknown[{ip}], sasl_method=PLAIN, "
               f"sasl_username={user}", f"{stamp} mx postfix/qmgr[8]: {q}: removed"]
    (tmp_path / "maillog").write_text("\n".join(mx) + "\n")
    r = CliRunner().invoke(app, ["guard", "analyze", str(dv_log), str(tmp_path / "maillog"), "-f", "json",
                                 "--no-progress", "--workers", "1"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["lines"]["unknown"] == 0
    acc = rep["acceptance"]
    assert acc["users_refused"] == 3 and acc["refused_breakdown"]["travel_one_country"] == 3
    assert acc["travel_detail"] == {"same_device": 1, "new_device": 1, "device_unknown": 1, "unusual_volume": 0}
    assert acc["devices_logged_users"] == 2
