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
