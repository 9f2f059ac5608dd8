"""`guard watch` then real Postfix: the account the detector locked is refused by Postfix through the guard
(the Postfix + Dovecot + swaks rig of test_guard_e2e_postfix.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailposture.guard.config import load_config
from mailposture.guard.detect import Thresholds
from mailposture.guard.geo import StaticGeo
from mailposture.guard.sections import WatchConfig
from mailposture.guard.store import Store
from mailposture.guard.watch import Watcher
from test_guard_e2e_postfix import ALICE, BOB, HOME_V4, Rig, rig  # noqa: F401 - the fixture
from test_guard_watch import append, stamp, submit

pytestmark = [pytest.mark.system, pytest.mark.slow]


def test_watch_lock_is_enforced_by_postfix(rig: Rig, tmp_path) -> None:  # noqa: F811
    rig.start_guard()
    rig.start_mail()
    assert rig.rcpt(ALICE, HOME_V4).startswith("250"), rig.log()
    now = datetime.now(UTC)
    log = tmp_path / "maillog"
    lines: list[str] = []
    for day in range(4, 0, -1):
        lines += submit(now - timedelta(days=day), ALICE[0], "126.10.20.30", 2, f"A{day:05X}")
    append(log, lines)
    cfg = load_config(str(rig.root / "guard.toml"))
    sent: list = []
    w = Watcher(cfg, WatchConfig(state_file=str(tmp_path / "s.json")), Thresholds(),
                StaticGeo({"126.10.20.30": "JP", "185.220.101.7": "DE"}), Store(rig.store_url), [str(log)],
                send=lambda *a: sent.append(a) or True)
    w.warmup()
    attack = [f"{stamp(now)} mx dovecot: imap-login: Login: user=<{ALICE[0]}>, method=PLAIN, rip=185.220.101.7, "
              "lip=192.0.2.1, mpid=5, TLS, session=<x>"]
    for i in range(120):
        attack += submit(now + timedelta(seconds=i), ALICE[0], "185.220.101.7", 30, f"B{i:05X}")
    append(log, attack)
    w.poll()
    assert [a["action"] for a in w.actions] == ["locked"] and sent
    # within one store poll of the policy server, Postfix refuses the account even from Japan
    import time
    time.sleep(0.5)
    reply = rig.rcpt(ALICE, HOME_V4)
    assert reply.startswith("554 5.7.1") and "locked" in reply, reply
    assert rig.rcpt(BOB, HOME_V4).startswith("250")  # others unaffected
