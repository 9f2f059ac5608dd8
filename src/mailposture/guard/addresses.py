"""Client addresses for the guard: parse Postfix's ``client_address``, tell the operator's own (internal)
addresses from global ones, and find the IPv4 address inside an IPv6 transition address. Pure, no I/O.

Internal (never geolocated, allowed for every user who is not locked):

* IPv4: every address that is not globally routable (RFC 6890 registry): RFC 1918 private, RFC 6598 shared
  address space 100.64.0.0/10, loopback, link-local, documentation (RFC 5737), benchmarking, multicast,
  reserved and unspecified — as before;
* IPv6: only loopback ``::1``, link-local ``fe80::/10`` (RFC 4291 §2.5.6) and unique local ``fc00::/7``
  (RFC 4193); ``::ffff:a.b.c.d`` is judged as the IPv4 address it maps (RFC 4291 §2.5.5.2);
* plus the operator's ``internal_networks``.

Translation addresses carry an IPv4 address and are judged by its country (never as internal, whatever IPv4
address they embed: the sender chooses it):

* NAT64 ``64:ff9b::/96`` (RFC 6052 §2.1) and the local-use ``64:ff9b:1::/48`` (RFC 8215; the /96 layout of
  RFC 6052 §2.2, the IPv4 address in the last 32 bits);
* Teredo ``2001::/32`` (RFC 4380 §4: the client's public IPv4 address, bit-inverted, in the last 32 bits);
* 6to4 ``2002::/16`` (RFC 3056 §2: the site's IPv4 address in bits 16–47).

Every other IPv6 address (documentation ``2001:db8::/32``, benchmarking ``2001:2::/48``, ORCHID, discard-only
``100::/64`` …) is global: geolocated, normally to no country, and so refused for a restricted user.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from socket import inet_aton

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

INTERNAL_V6 = tuple(ipaddress.IPv6Network(n) for n in ("::1/128", "fe80::/10", "fc00::/7"))
NAT64 = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48"))
TEREDO = ipaddress.IPv6Network("2001::/32")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
# What "internal" means by default, for documentation and the status output.
DEFAULT_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
                    "169.254.0.0/16", "::1/128", "fe80::/10", "fc00::/7")


def parse_client_address(value: str) -> IPAddress | None:
    """Postfix's ``client_address`` (``IPV6:`` prefix allowed); an IPv4-mapped IPv6 address becomes IPv4."""
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
    """Internal by the built-in rule (see the module text): non-global IPv4; IPv6 loopback, link-local, ULA."""
    if addr.version == 4:
        return (not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_unspecified
                or addr.is_loopback or addr.is_link_local)
    return any(addr in n for n in INTERNAL_V6)


def internal_networks(specs: list[str]) -> list[Network]:
    """The operator's extra internal networks (config ``internal_networks``)."""
    return [ipaddress.ip_network(n, strict=False) for n in specs]


def is_internal(addr: IPAddress, extra: list[Network]) -> bool:
    return is_non_global(addr) or any(addr.version == n.version and addr in n for n in extra)


def translated_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a NAT64, Teredo or 6to4 address, else None."""
    if addr.version != 6:
        return None
    assert isinstance(addr, ipaddress.IPv6Address)
    if any(addr in n for n in NAT64):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in TEREDO:
        return addr.teredo[1] if addr.teredo else None
    if addr in SIX_TO_FOUR:
        return addr.sixtofour
    return None


def geo_address(addr: IPAddress) -> str | None:
    """The address whose country is the client's, or None when there is none to look up (a translation
    address embedding a non-global IPv4 address has no country)."""
    v4 = translated_ipv4(addr)
    if v4 is None:
        return str(addr)
    return None if is_non_global(v4) else str(v4)


# -- fast path for IPv4 text (the policy server and `guard analyze` classify every new client address) ---------
# ipaddress's is_global & co. test membership in a dozen networks one by one (about 10 µs per address); the
# same answer comes from one bisection in a table built here from ipaddress's own networks: between two
# consecutive network boundaries every membership, hence is_non_global, is constant, so evaluating the real
# predicate once per segment gives a table equal to it for every address (tests compare both).

def _v4_boundaries() -> list[int]:
    nets: list[ipaddress.IPv4Network] = []
    for v in vars(ipaddress._IPv4Constants).values():  # the networks behind is_private, is_global …
        for x in (v if isinstance(v, list | tuple) else (v,)):
            if isinstance(x, ipaddress.IPv4Network):
                nets.append(x)
            elif isinstance(x, ipaddress.IPv4Address):
                nets.append(ipaddress.IPv4Network(x))
    cuts = {0}
    for n in nets:
        cuts.add(int(n.network_address))
        if int(n.broadcast_address) < 0xFFFFFFFF:
            cuts.add(int(n.broadcast_address) + 1)
    return sorted(cuts)


_V4_CUTS = _v4_boundaries()
_V4_NON_GLOBAL = [is_non_global(ipaddress.IPv4Address(c)) for c in _V4_CUTS]


_DOTTED_QUAD = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                          r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")


def v4_int(text: str) -> int | None:
    """The integer of a canonical dotted-quad IPv4 address (what Postfix logs and sends: no leading zeros, no
    short forms), else None (the caller then takes the general path: IPv6, ``IPV6:`` prefixes, odd forms)."""
    if _DOTTED_QUAD.fullmatch(text) is None:
        return None
    return int.from_bytes(inet_aton(text), "big")


def is_non_global_v4(n: int) -> bool:
    """``is_non_global`` for an IPv4 address given as an integer."""
    return _V4_NON_GLOBAL[bisect_right(_V4_CUTS, n) - 1]


class V4Ranges:
    """IPv4 networks as sorted, merged integer ranges: membership by bisection."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, nets: list[Network]) -> None:
        spans = sorted((int(n.network_address), int(n.broadcast_address)) for n in nets if n.version == 4)
        starts: list[int] = []
        ends: list[int] = []
        for s, e in spans:
            if ends and s <= ends[-1] + 1:
                ends[-1] = max(ends[-1], e)
            else:
                starts.append(s)
                ends.append(e)
        self._starts, self._ends = starts, ends

    def __contains__(self, n: int) -> bool:
        i = bisect_right(self._starts, n) - 1
        return i >= 0 and n <= self._ends[i]

    def __bool__(self) -> bool:
        return bool(self._starts)
