"""Dovecot auth-client corner cases an attacker could use: answers the pages must not take as a login."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import require_program
from mailposture.web.auth import DovecotAuthenticator, auth_request, plain_response
from test_guard_web_dovecot import CONF


@pytest.fixture(scope="module")
def dovecot_nologin():
    progs = require_program("dovecot")
    d = Path(tempfile.mkdtemp(prefix="mp-dovecot-sec-"))
    d.chmod(0o755)
    # passwd-file extra fields (7th field): a disabled account whose password still matches
    (d / "users").write_text("ok@example.test:{PLAIN}pw\n"
                             "off@example.test:{PLAIN}pw::::::nologin reason=disabled\n")
    (d / "users").chmod(0o644)
    (d / "dovecot.conf").write_text(CONF.format(d=d))
    proc = subprocess.Popen([progs["dovecot"], "-F", "-c", str(d / "dovecot.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = d / "auth-client"
    deadline = time.monotonic() + 15
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            shutil.rmtree(d, ignore_errors=True)
            pytest.fail("dovecot did not start")
        time.sleep(0.05)
    try:
        yield str(sock)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.system
async def test_nologin_account_cannot_log_in(dovecot_nologin):
    """A passdb entry with `nologin` (a disabled account) must not open the pages even with its password."""
    auth = DovecotAuthenticator(dovecot_nologin, timeout=10)
    assert (await auth.authenticate("ok@example.test", "pw", "192.0.2.1", secured=True)).ok
    assert not (await auth.authenticate("off@example.test", "pw", "192.0.2.2", secured=True)).ok


def test_username_with_tab_cannot_add_parameters():
    """User name and password travel only inside the base64 of resp=, the last field: a TAB, LF or
    "\\tresp=" in them can never become a parameter or a second request line."""
    evil_user = "a@example.test\tresp=AGFkbWluAHB3\nAUTH\t2\tPLAIN\tservice=x"
    resp = plain_response(evil_user, "p\tw\nx")
    line = auth_request(7, "PLAIN", "mailposture", "192.0.2.1", resp, secured=True)
    assert line.count("\n") == 1 and line.endswith("\n")
    fields = line[:-1].split("\t")
    assert [f for f in fields if f.startswith("resp=")] == [fields[-1]]
    assert base64.b64decode(fields[-1][5:]) == b"\x00" + evil_user.encode() + b"\x00p\tw\nx"


def test_users_file_readable_by_others_is_warned_about(tmp_path, caplog):
    from mailposture.web.auth import UsersFileAuthenticator, set_user

    p = tmp_path / "users"
    set_user(p, "a@example.test", "pw")
    UsersFileAuthenticator(p).check("a@example.test", "pw")
    assert "readable by other users" not in caplog.text
    p.chmod(0o644)
    UsersFileAuthenticator(p).check("a@example.test", "pw")
    assert "readable by other users" in caplog.text and "chmod 600" in caplog.text
