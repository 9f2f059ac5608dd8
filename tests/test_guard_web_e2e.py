"""End to end with the web page in the loop: real Postfix + Dovecot SASL + the guard's policy server (the rig of
tests/test_guard_e2e_postfix.py), and the owner's page logging in through the SAME Dovecot auth socket.

Bob is refused from abroad; he logs in on /abroad with his mail password (checked by Dovecot), allows sending
from abroad for one day, and Postfix accepts his mail from abroad within a poll; he switches it off and is
refused again. His refused attempt shows on his page; each change reaches the notice sink. Every daemon is
stopped by PID; no mail is queued.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conftest import require_program
from mailposture.guard.store import UserState
from mailposture.web.auth import owner_authenticator
from test_guard_e2e_postfix import ABROAD_V4, ALICE, BOB, Rig, _need_root
from test_web_common import SmtpSink, csrf_of, login, make_cfg, make_client

pytestmark = [pytest.mark.system, pytest.mark.slow]


@pytest.fixture
def rig():
    progs = require_program("postfix", "dovecot", "swaks")
    _need_root()
    root = Path(tempfile.mkdtemp(prefix="guard-web-e2e-"))
    r = Rig(root, progs["swaks"])
    try:
        r.render()
        yield r
    finally:
        r.stop_all()
        queued = [p for d in ("maildrop", "incoming", "active", "deferred", "hold")
                  for p in (root / "spool" / d).rglob("*") if p.is_file()]
        shutil.rmtree(root, ignore_errors=True)
        assert not queued, f"mail was queued: {queued}"


def _until(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_owner_opts_in_on_the_web_page_and_postfix_follows(rig: Rig, tmp_path: Path) -> None:
    rig.start_guard()
    rig.start_mail()
    assert rig.rcpt(BOB, ABROAD_V4).startswith("554 5.7.1")

    with SmtpSink() as sink:
        # The web page shares the policy server's store and Postfix's Dovecot (root may use its 0660 socket).
        cfg = make_cfg(tmp_path, sink.port, store_url=rig.store_url, users_file=None,
                       dovecot_auth_socket=str(rig.root / "spool/private/auth"))
        client, store, _ = make_client(cfg, clock=_real_now, authenticator=owner_authenticator(cfg))
        assert login(client, ALICE[0], "not-" + ALICE[1]).status_code == 401
        assert login(client, BOB[0], BOB[1]).status_code == 303

        page = client.get("/abroad")
        assert 'data-state="restricted"' in page.text
        # Bob's refused attempt from abroad is on his page (the audit log is flushed within about a second).
        assert _until(lambda: "8.8.8.8" in client.get("/abroad").text), "refusal not shown"
        assert "US" in client.get("/abroad").text

        r = client.post("/abroad/allow", data={"csrf": csrf_of(page.text), "days": "1"})
        assert r.status_code == 303
        assert store.get_user(BOB[0]).state == UserState.ABROAD_UNTIL
        assert _until(lambda: rig.rcpt(BOB, ABROAD_V4).startswith("250"), 5), rig.log()
        assert rig.rcpt(ALICE, ABROAD_V4).startswith("554 5.7.1")        # only Bob opted in

        page = client.get("/abroad")
        assert client.post("/abroad/off", data={"csrf": csrf_of(page.text)}).status_code == 303
        assert _until(lambda: rig.rcpt(BOB, ABROAD_V4).startswith("554 5.7.1"), 5)
        assert [m[1] for m in sink.messages] == [[BOB[0]], [BOB[0]]]


def _real_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
