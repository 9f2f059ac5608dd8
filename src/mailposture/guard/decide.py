"""The guard's decision for one policy request: pure (request, rules, allow-list, geo, user state) -> action.

Order, for a request with ``sasl_username`` (anything else is ``DUNNO``: the guard only judges authenticated
submission; relay control stays with Postfix's own restrictions):

1. ``locked`` user -> REJECT, from everywhere (home, internal and allow-listed addresses too): a lock is the
   operator's emergency brake for a stolen password, and the thief may as well be at home or use webmail.
2. non-global client address (loopback, private, shared, link-local, documentation, …) or one of the
   configured ``internal_networks`` -> DUNNO ("internal": webmail, the provider's own relays).
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

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from mailposture.guard.config import GuardConfig
from mailposture.guard.geo import GeoSource
from mailposture.guard.store import UserRecord, UserState, normalise_username

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

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


# -- allow-list --------------------------------------------------------------------------------------------
# Allow-list bounds: one entry must never switch the guard off for a whole provider or country. An IPv4 /16 is
# 65,536 addresses; an IPv6 /32 is one provider's allocation. Registry second-level suffixes (co.jp, com.cn …)
# are refused: anyone can hold a host name under them. Stored entries beyond these bounds are ignored.
_MIN_PREFIX = {4: 16, 6: 32}
_REGISTRY_SLD = {"ac", "ad", "co", "com", "ed", "edu", "gen", "go", "gov", "gr", "lg", "ltd", "mil", "ne",
                 "net", "or", "org", "plc"}


def normalise_allow_entry(entry: str) -> str:
    """A CIDR (``192.0.2.0/24``, ``2001:db8::/32``, a bare address) or a host-name suffix
    (``google.com`` matches ``mail-a.google.com``). Raises ValueError naming the problem."""
    e = entry.strip().lower().rstrip(".")
    if not e:
        raise ValueError("empty allow-list entry")
    if "/" in e or ":" in e or e.replace(".", "").isdigit():
        try:
            net = ipaddress.ip_network(e, strict=False)
        except ValueError:
            raise ValueError(f"not a CIDR network or address: {entry!r}") from None
        if net.prefixlen < _MIN_PREFIX[net.version]:
            raise ValueError(f"network {net} is too broad for the allow-list (at least /{_MIN_PREFIX[net.version]})")
        return str(net)
    e = e.lstrip(".")
    labels = e.split(".")
    if len(labels) < 2 or not all(lab and len(lab) <= 63 and all(c.isalnum() or c == "-" for c in lab)
                                  and lab.isascii() for lab in labels):
        raise ValueError(f"not a host-name suffix with at least two labels (e.g. google.com): {entry!r}")
    if len(e) > 253:
        raise ValueError(f"host name too long: {entry!r}")
    if len(labels) == 2 and labels[0] in _REGISTRY_SLD and len(labels[1]) == 2:
        raise ValueError(f"{e} is a registry suffix (anyone can have a host name under it)")
    return e


@dataclass
class AllowList:
    nets: list[Network] = field(default_factory=list)
    suffixes: tuple[str, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AllowList:
        nets: list[Network] = []
        suffixes: list[str] = []
        for raw in entries:
            try:
                e = normalise_allow_entry(raw)
            except ValueError:
                continue  # a bad stored entry never widens the list
            if "/" in e:
                nets.append(ipaddress.ip_network(e))
            else:
                suffixes.append(e)
        return cls(nets, tuple(sorted(set(suffixes))))

    def __len__(self) -> int:
        return len(self.nets) + len(self.suffixes)

    def match_ip(self, addr: IPAddress) -> str | None:
        for net in self.nets:
            if net.version == addr.version and addr in net:
                return str(net)
        return None

    def match_name(self, name: str) -> str | None:
        # Postfix sends client_name "unknown" when the PTR name did not resolve back to the address
        # (postconf(5) "smtpd_client_restrictions", reject_unknown_client_hostname): never match that.
        n = name.strip().lower().rstrip(".")
        if not n or n == "unknown" or not self.suffixes:
            return None
        for s in self.suffixes:
            if n == s or n.endswith("." + s):
                return s
        return None


# -- addresses ---------------------------------------------------------------------------------------------
def parse_client_address(value: str) -> IPAddress | None:
    v = value.strip()
    if v[:5].upper() == "IPV6:":
        v = v[5:]
    try:
        addr = ipaddress.ip_address(v)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def is_non_global(addr: IPAddress) -> bool:
    """Loopback, private, shared (RFC 6598), link-local, documentation (RFC 5737, RFC 3849), multicast,
    reserved and unspecified addresses (RFC 6890 registries) are never geolocated."""
    return (not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_unspecified
            or addr.is_loopback or addr.is_link_local)


# -- the policy ----------------------------------------------------------------------------------------------
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
        self.home = frozenset(c.upper() for c in cfg.home_countries)
        self.internal: list[Network] = [ipaddress.ip_network(n, strict=False) for n in cfg.internal_networks]
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
        self._ip_cache = {}

    def clear_cache(self) -> None:
        """Forget cached address classifications (call after the geo data changed)."""
        self._ip_cache = {}

    def classify(self, ip_text: str) -> tuple[str, bool, bool, str | None] | None:
        """(normalised address, internal, allow-listed by CIDR, country) or None for an unusable address."""
        hit = self._ip_cache.get(ip_text)
        if hit is not None:
            return hit
        addr = parse_client_address(ip_text)
        if addr is None:
            return None
        norm = str(addr)
        if is_non_global(addr) or any(addr.version == n.version and addr in n for n in self.internal):
            res = (norm, True, False, None)
        elif self._allow.match_ip(addr):
            res = (norm, False, True, None)
        else:
            res = (norm, False, False, self.geo.lookup(norm))
        cache = self._ip_cache
        if len(cache) >= self._IP_CACHE_MAX:
            cache.clear()
        cache[ip_text] = res
        return res

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
                None if info[1] else self.geo.lookup(info[0]))
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
