"""Who may switch on sending from abroad on the owner's page (issue 17: "the thief can opt in").

A thief who holds the mailbox password would otherwise log in from abroad and allow it. So, by default
(``web_change_from = "home"``), switching on or extending is accepted only from a web client address the
policy server itself would allow for a restricted user — a home country, an internal network, an allow-listed
CIDR — decided by the same code (``guard.decide.Policy``) with the same geo data and allow-list. Switching off
is always accepted. A refused attempt is audited (reason ``web-change-abroad``) and notified to the mailbox and
to the alternate contact.

Optional second factor (``web_second_factor``): ``"totp"`` — an RFC 6238 code from an authenticator app that
was enrolled from a home address; ``"contact"`` — a confirmation link mailed to the alternate contact the
administrator registered (``guard user contact``), which the mailbox password does not open.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailposture.guard.allowlist import AllowList
from mailposture.guard.decide import Policy
from mailposture.guard.model import AuditEntry
from mailposture.web.security import RateLimiter

log = logging.getLogger("mailposture.web.abroad")

REASON_ABROAD = "web-change-abroad"      # audit reason: a change attempted from a foreign address
REASON_BAD_CODE = "web-change-bad-code"  # audit reason: a wrong or replayed second-factor code
CONFIRM_SECONDS = 30 * 60


@dataclass(frozen=True)
class Pending:
    username: str
    days: int
    ip: str
    country: str | None
    lang: str
    created: float


class ChangeGate:
    """The home check (blocking: reads the allow-list; call it in a worker thread) and the pending
    confirmation links (in memory: the web pages run as one process)."""

    def __init__(self, cfg: Any, store: Any, geo: Any = None, *, max_pending: int = 10000,
                 clock: Any = time.time) -> None:
        self.cfg = cfg
        self.store = store
        self._geo = geo
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self.max_pending = max_pending
        self.clock = clock
        # Wrong second-factor codes: 5 per account in 15 minutes, then none are checked (a 6-digit code must
        # not be guessed by trying); refusal notices: one per account in 10 minutes (no mail flood).
        self.code_limit = RateLimiter(5, 900.0, lambda: self.clock())
        self._notified: OrderedDict[str, float] = OrderedDict()

    @property
    def geo(self) -> Any:
        if self._geo is None:  # opened on first use: the pages start without loading the geo data
            from mailposture.guard.geo import open_geo

            self._geo = open_geo(self.cfg.geo)
        return self._geo

    def home_reason(self, ip: str) -> tuple[str | None, str | None]:
        """(why the policy server would allow a restricted user here, or None; country)."""
        allow = AllowList.from_entries(e for e, _ in self.store.allowlist())
        return Policy(self.cfg, self.geo, allow).home_reason(ip)

    def audit_refusal(self, username: str, ip: str, country: str | None, reason: str, now: datetime) -> None:
        try:
            self.store.add_audit([AuditEntry(now, username, ip[:64], country, "refused", reason)])
        except Exception as exc:  # the refusal stands even if it cannot be recorded
            log.error("cannot audit the refused change for %r: %s", username, exc)

    def should_notify(self, username: str, every: float = 600.0) -> bool:
        """True at most once per ``every`` seconds per account (every attempt is audited all the same)."""
        now = self.clock()
        with self._lock:
            last = self._notified.get(username)
            if last is not None and now - last < every:
                return False
            self._notified[username] = now
            self._notified.move_to_end(username)
            while len(self._notified) > self.max_pending:
                self._notified.popitem(last=False)
        return True

    # -- confirmation links ("contact") -----------------------------------------------------------------------
    def add_pending(self, username: str, days: int, ip: str, country: str | None, lang: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._prune()
            for t, p in list(self._pending.items()):  # one open link per user: a new request replaces it
                if p.username == username:
                    del self._pending[t]
            self._pending[token] = Pending(username, days, ip, country, lang, self.clock())
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
        return token

    def recent_pending(self, username: str, within: float = 60.0) -> bool:
        """A link for this account was sent less than ``within`` seconds ago (no mail flood to the contact)."""
        now = self.clock()
        with self._lock:
            return any(p.username == username and now - p.created < within for p in self._pending.values())

    def peek(self, token: str) -> Pending | None:
        with self._lock:
            self._prune()
            return self._pending.get(token or "")

    def take(self, token: str) -> Pending | None:
        with self._lock:
            self._prune()
            return self._pending.pop(token or "", None)

    def _prune(self) -> None:
        now = self.clock()
        while self._pending:
            t, p = next(iter(self._pending.items()))
            if now - p.created <= CONFIRM_SECONDS:
                break
            del self._pending[t]


def confirm_link(cfg: Any, token: str) -> str:
    """The confirmation URL, built from the configured page URL (never from the request's Host header)."""
    return cfg.owner_page_url.rstrip("/") + "/confirm?t=" + token


def mask_address(address: str) -> str:
    """"hanako.yamada@example.jp" -> "ha***@example.jp" (shown on the page: the thief sees only a hint)."""
    local, at, domain = address.partition("@")
    return (local[:2] + "***" + at + domain) if at else address[:2] + "***"
