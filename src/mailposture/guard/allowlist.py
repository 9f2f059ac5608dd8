"""The operator allow-list: CIDRs and verified host-name suffixes, with the bounds one entry may not exceed.

Pure (no I/O); shared by the policy server (decide.py), the store (additions are checked with the same rule)
and the web pages.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# -- entries --------------------------------------------------------------------------------------------
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
