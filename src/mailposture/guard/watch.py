"""``guard watch``: the detectors of ``guard analyze`` applied to live logs; a confident detection locks the
account in the guard store (the state the policy server, the admin CLI and the web page share), with an audit
entry naming the reasons, and mails the notice to the owner and the admin address.

* Lines handled in an earlier run (before the saved positions) and lines present before the first run only
  rebuild the accounts' baselines: nothing is locked for them.
* ``dry_run``: detections are reported and recorded (``guard_watch_events``), nothing is locked or mailed.
* An admin unlock is never undone by the detector within ``unlock_grace_hours``: when an account the
  detector locked is found unlocked, its detection starts afresh, and a new detection inside the grace period
  is recorded as ``grace`` instead of locking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mailposture.guard.config import GuardConfig
from mailposture.guard.decide import AllowList
from mailposture.guard.detect import Flag, Thresholds
from mailposture.guard.facts import Analyzer
from mailposture.guard.facts_store import FactsStore
from mailposture.guard.geo import GeoSource
from mailposture.guard.mailer import lock_notice, send_text
from mailposture.guard.reasons import reason_text
from mailposture.guard.sections import WatchConfig
from mailposture.guard.store import AuditEntry, Store, UserState
from mailposture.logs.follow import Follower
from mailposture.logs.parse import Clock, LineParser

log = logging.getLogger("mailposture.guard.watch")
_ACTION_JA = {"locked": "ロック", "dry-run": "検知 (ドライラン)", "grace": "検知 (管理者の解除後の猶予期間中)",
              "already-locked": "検知 (ロック済み)"}


class Watcher:
    def __init__(self, cfg: GuardConfig, wcfg: WatchConfig, th: Thresholds, geo: GeoSource, store: Store,
                 paths: list[str], *, tz=None, allow: AllowList | None = None, locate=None, lang: str = "ja",
                 send: Callable[..., bool] = send_text, report: Callable[[str], None] | None = None) -> None:
        self.cfg, self.wcfg, self.store = cfg, wcfg, store
        self.facts = FactsStore(store)
        self.an = Analyzer(cfg, geo, allow, th, locate=locate)
        self.follower = Follower(paths, state_file=wcfg.state_file, from_start=False)
        self.parser = LineParser()
        self.tz = tz
        self.lang = lang
        self.send = send
        self.report = report or (lambda s: log.info("%s", s))
        self.live = False
        self.locked_by_us: dict[str, float] = {}  # user -> when we locked it (this run)
        self.actions: list[dict[str, Any]] = []

    # -- feeding ------------------------------------------------------------------------------------------------
    def _feed(self, lines, live: bool) -> int:
        clock = Clock(self.tz, time.time())
        n = 0
        for _path, line in lines:
            ev = self.parser.parse(line, clock)
            if ev is None or ev.kind == "ignored":
                continue
            n += 1
            flag = self.an.event(ev)
            if flag is not None and live:
                self.act(flag, ev)
        return n

    def warmup(self) -> int:
        n = self._feed(self.follower.warmup(), live=False)
        self.an.det.rearm()  # abuse still under way when the watch starts is acted on at its next line
        return n

    def poll(self) -> int:
        self._check_unlocks()
        n = self._feed(self.follower.poll(), live=True)
        self.follower.save()
        return n

    # -- acting -------------------------------------------------------------------------------------------------
    def _check_unlocks(self) -> None:
        """An account we locked that is no longer locked was unlocked by an admin: detection starts afresh."""
        for user in list(self.locked_by_us):
            rec = self.store.get_user(user)
            if rec.state is not UserState.LOCKED:
                self.an.det.forget(user)
                del self.locked_by_us[user]

    def _in_grace(self, user: str, now: float) -> bool:
        rec = self.store.get_user(user)
        if rec.state is UserState.LOCKED or rec.updated_at is None:
            return False
        if (rec.updated_by or "") == self.wcfg.lock_by:
            return False
        # the account was locked by the detector before and changed by someone else since: an admin unlock
        ours = [e for e in self.facts.watch_events(user, limit=20) if e["action"] == "locked"]
        if not ours:
            return False
        last_lock = datetime.fromisoformat(ours[0]["time"]).timestamp()
        changed = rec.updated_at.timestamp()
        return changed >= last_lock and now - changed < self.wcfg.unlock_grace_hours * 3600

    def act(self, flag: Flag, ev) -> None:
        user = flag.user
        now = time.time()
        reasons = [{"code": c, "detail": reason_text(c, p, "en")} for c, (_t, p) in sorted(flag.reasons.items())]
        reasons_ja = [{"code": c, "detail": reason_text(c, p, "ja")} for c, (_t, p) in sorted(flag.reasons.items())]
        codes = ",".join(r["code"] for r in reasons)
        rec = self.store.get_user(user)
        if self.wcfg.dry_run:
            action = "dry-run"
        elif rec.state is UserState.LOCKED:
            action = "already-locked"
        elif self._in_grace(user, now):
            action = "grace"
        else:
            action = "locked"
        self.facts.add_watch_event(user, action, flag.score, reasons, now)
        self.actions.append({"user": user, "action": action, "score": flag.score, "reasons": reasons})
        if self.lang == "ja":
            self.report(f"{_ACTION_JA[action]}: {user} スコア {flag.score} ({codes})")
        else:
            self.report(f"{action}: {user} score {flag.score} ({codes})")
        if action != "locked":
            return
        self.store.lock(user, by=self.wcfg.lock_by, note=("detector: " + codes)[:500])
        cc = self.an.where(ev.ip)[0] if ev.ip else None
        self.store.add_audit([AuditEntry(datetime.now(UTC), user, ev.ip or "-", cc if cc and len(cc) == 2 else None,
                                         "locked", ("detector:" + codes)[:64])])
        self.locked_by_us[user] = now
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        subject, body = lock_notice(user, reasons, reasons_ja, when, self.lang)
        to = [user] + ([self.wcfg.admin_address] if self.wcfg.admin_address else [])
        if not self.send(self.cfg, to, subject, body):
            self.report(f"警告: {user} へのロック通知を送信できませんでした (relay {self.cfg.smtp_relay})"
                        if self.lang == "ja" else
                        f"warning: lock notice for {user} not sent (relay {self.cfg.smtp_relay})")

    def run(self, rounds: int = 0, stop: Callable[[], bool] | None = None) -> None:
        self.warmup()
        n = 0
        while True:
            self.poll()
            n += 1
            if (rounds and n >= rounds) or (stop and stop()):
                break
            end = time.monotonic() + self.wcfg.poll_interval
            while not (stop and stop()) and (left := end - time.monotonic()) > 0:
                time.sleep(min(0.1, left))   # a stop asked for during the wait is seen within 0.1 s
        self.follower.close()
