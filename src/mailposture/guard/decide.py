"""The guard's decision for one policy request: pure (request, rules, allow-list, geo, user state) -> action.

Order, for a request with ``sasl_username`` (anything else is ``DUNNO``: the guard only judges authenticated
submission; relay control stays with Postfix's own restrictions):

1. ``locked`` user -> REJECT, from everywhere (home, internal and allow-listed addresses too): a lock is the
   operator's emergency brake for a stolen password, and the thief may as well be at home or use webmail.
2. internal client address (guard.addresses: non-global IPv4, IPv6 loopback/link-local/ULA) or one of the
   configured ``internal_networks`` -> DUNNO ("internal": webmail, the provider's own relays). NAT64, Teredo
   and 6to4 addresses are judged by the country of the IPv4 address inside them.
3. operator allow-list: a CIDR holding the address, or a host-name suffix matching ``client_name`` only when
   Postfix verified it (not ``unknown``) -> DUNNO.
4. country of the address; a home country -> DUNNO.
5. abroad (or unknown country when ``unknown_country_action = "refuse"``): the user's state decides.
   ``abroad_until`` in the future or ``abroad_always`` -> allowed (PREPEND a header when configured, else
   DUNNO); ``restricted`` (every user by default) -> REJECT with the bilingual text. When the user's state
   cannot be confirmed (store unreachable longer than ``cache_ttl``), ``on_store_error`` decides:
   ``fail-open`` -> DUNNO, ``fail-closed`` -> 451 4.3.0 (temporary: the client retries later).
   ``unknown_country_action = "allow"`` treats an address without a country like a home one.

Response syntax is Postfix's access(5) action in ``action=…`` (SMTPD_POLICY_README, "Protocol description").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple

from mailposture.guard.addresses import (
    Network,
    V4Ranges,
    geo_address,
    internal_networks,
    is_internal,
    is_non_global,
    is_non_global_v4,
    parse_client_address,
    translated_ipv4,
    v4_int,
)
from mailposture.guard.allowlist import AllowList, normalise_allow_entry
from mailposture.guard.config import GuardConfig
from mailposture.guard.geo import GeoSource
from mailposture.guard.model import UserRecord, UserState, normalise_username

__all__ = ["ALLOWED", "IGNORED", "REFUSED", "REQUEST_FIELDS", "TEMPFAIL", "AllowList", "Decision",
           "Policy", "is_non_global", "normalise_allow_entry", "parse_client_address", "translated_ipv4"]

# Verdicts recorded in the audit log / counters.
ALLOWED, REFUSED, TEMPFAIL, IGNORED = "allowed", "refused", "tempfail", "ignored"


# The request attributes the decision reads (the server's parser keeps only these, SMTPD_POLICY_README).
REQUEST_FIELDS = ("sasl_username", "client_address", "client_name", "recipient_count")


class Decision(NamedTuple):  # immutable; a NamedTuple is built several times faster than a frozen dataclass
    action: str  # text after "action=" (one line)
    verdict: str  # allowed | refused | tempfail | ignored
    reason: str  # stable reason code, see docs/guard.md
    username: str = ""
    ip: str = ""
    country: str | None = None
    audit: bool = False  # foreign address or refusal: goes to the audit log; others are only counted


# -- the policy ----------------------------------------------------------------------------------------------
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UserStateFn = Callable[[str], tuple[UserRecord, bool]]  # username -> (last known record, confirmed fresh)


class Policy:
    """Compiled rules. ``allow`` is replaced whole when the allow-list changes (atomic reference swap)."""

    _IP_CACHE_MAX = 65536

    def __init__(self, cfg: GuardConfig, geo: GeoSource, allow: AllowList | None = None) -> None:
        self.cfg = cfg
        self.geo = geo
        # client_address text -> (normalised text, internal?, allow-listed CIDR?, country): addresses repeat a
        # lot (the same users, the same relays); cleared when the allow-list or the geo data changes.
        self._ip_cache: dict[str, tuple[str, bool, bool, str | None]] = {}
        self._allow = allow or AllowList()
        self._allow_v4 = V4Ranges(self._allow.nets)
        self.home = frozenset(c.upper() for c in cfg.home_countries)
        self.internal: list[Network] = internal_networks(cfg.internal_networks)
        self._internal_v4 = V4Ranges(self.internal)
        self.reject_action = "REJECT " + cfg.reject_text()
        self.locked_action = "REJECT " + cfg.locked_text()
        # 4NN text: a temporary refusal (access(5)); enhanced code 4.3.0 "other or undefined mail system status"
        self.tempfail_action = "451 4.3.0 " + cfg.tempfail_text()
        self.header = cfg.prepend_header

    @property
    def allow(self) -> AllowList:
        return self._allow

    @allow.setter
    def allow(self, value: AllowList) -> None:
        self._allow = value
        self._allow_v4 = V4Ranges(value.nets)
        self._ip_cache = {}

    def clear_cache(self) -> None:
        """Forget cached address classifications (call after the geo data changed)."""
        self._ip_cache = {}

    def classify(self, ip_text: str) -> tuple[str, bool, bool, str | None] | None:
        """(normalised address, internal, allow-listed by CIDR, country) or None for an unusable address."""
        hit = self._ip_cache.get(ip_text)
        if hit is not None:
            return hit
        n = v4_int(ip_text)
        if n is not None:  # canonical IPv4 text (nearly every address): integer tables, same answers
            if is_non_global_v4(n) or n in self._internal_v4:
                res = (ip_text, True, False, None)
            elif n in self._allow_v4:
                res = (ip_text, False, True, None)
            else:
                res = (ip_text, False, False, self.geo.lookup(ip_text))
            return self._cached(ip_text, res)
        addr = parse_client_address(ip_text)
        if addr is None:
            return None
        norm = str(addr)
        if is_internal(addr, self.internal):
            res = (norm, True, False, None)
        elif self._allow.match_ip(addr):
            res = (norm, False, True, None)
        else:  # a NAT64/Teredo/6to4 address is judged by the IPv4 address inside it (guard.addresses)
            where = geo_address(addr)
            res = (norm, False, False, self.geo.lookup(where) if where else None)
        return self._cached(ip_text, res)

    def _cached(self, ip_text: str, res: tuple[str, bool, bool, str | None]) -> tuple[str, bool, bool, str | None]:
        cache = self._ip_cache
        if len(cache) >= self._IP_CACHE_MAX:
            cache.clear()
        cache[ip_text] = res
        return res

    def country_of(self, ip_text: str) -> str | None:
        addr = parse_client_address(ip_text)
        where = geo_address(addr) if addr is not None else None
        return self.geo.lookup(where) if where else None

    def home_reason(self, ip_text: str, client_name: str = "unknown") -> tuple[str | None, str | None]:
        """(reason, country): the reason the guard would allow a *restricted* user to send from this address
        (``internal``, ``allowlist``, ``home``, ``unknown-country-allowed``), or (None, country) when it would
        refuse. The web page uses it for "may the sending-from-abroad setting be changed from here?"."""
        d = self.decide({"sasl_username": "-", "client_address": ip_text, "client_name": client_name},
                        lambda u: (UserRecord(u, UserState.RESTRICTED), True), _EPOCH)
        return (d.reason if d.verdict == ALLOWED else None), d.country

    def _allowed_abroad(self, req: Mapping[str, str], user: str, ip: str, cc: str | None, reason: str) -> Decision:
        action = "DUNNO"
        # One header per message: only on the first accepted recipient (recipient_count counts accepted ones).
        if self.header and req.get("recipient_count", "0") in ("0", ""):
            action = f"PREPEND {self.header}: {cc or 'unknown'} ({reason})"
        return Decision(action, ALLOWED, reason, user, ip, cc, True)

    def decide(self, req: Mapping[str, str], user_state: UserStateFn, now: datetime) -> Decision:
        raw_user = req.get("sasl_username", "")
        if not raw_user.strip():
            return Decision("DUNNO", IGNORED, "unauthenticated")
        user = normalise_username(raw_user)
        ip_text = req.get("client_address", "").strip()
        rec, fresh = user_state(user)
        info = self.classify(ip_text)

        # 1. locked: refused from everywhere (last known state is enforced even when the store is unreachable)
        if rec.state is UserState.LOCKED:
            if info is None:
                return Decision(self.locked_action, REFUSED, "locked", user, ip_text, None, True)
            cc_locked = info[3] if not info[1] and not info[2] else (
                None if info[1] else self.country_of(info[0]))
            return Decision(self.locked_action, REFUSED, "locked", user, info[0], cc_locked, True)

        cc: str | None
        if info is None:
            cc = None  # no usable address: treated as an unknown country, never as internal
        else:
            ip_text, internal, allow_net, cc = info
            # 2. internal
            if internal:
                return Decision("DUNNO", ALLOWED, "internal", user, ip_text)
            # 3. operator allow-list
            if allow_net or self._allow.match_name(req.get("client_name", "")):
                return Decision("DUNNO", ALLOWED, "allowlist", user, ip_text)
        # 4. home country
        if cc is not None and cc in self.home:
            return Decision("DUNNO", ALLOWED, "home", user, ip_text, cc)
        if cc is None and self.cfg.unknown_country_action == "allow":
            return Decision("DUNNO", ALLOWED, "unknown-country-allowed", user, ip_text, None, True)
        # 5. abroad: the user's state decides
        if not fresh:
            if self.cfg.on_store_error == "fail-open":
                return Decision("DUNNO", ALLOWED, "store-unavailable", user, ip_text, cc, True)
            return Decision(self.tempfail_action, TEMPFAIL, "store-unavailable", user, ip_text, cc, True)
        state = rec.effective_state(now)
        if state is UserState.ABROAD_UNTIL:
            return self._allowed_abroad(req, user, ip_text, cc, "abroad-until")
        if state is UserState.ABROAD_ALWAYS:
            return self._allowed_abroad(req, user, ip_text, cc, "abroad-always")
        reason = "unknown-country" if cc is None else "restricted"
        return Decision(self.reject_action, REFUSED, reason, user, ip_text, cc, True)
