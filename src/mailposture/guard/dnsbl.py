"""DNS block-list monitor for the operator's own outbound addresses (``guard dnsbl check|watch``).

Query rules (RFC 5782, and what other tools got wrong):

* A list is asked for ``<reversed address>.<zone>`` type A (RFC 5782 §2.1 IPv4: octets reversed; §2.4 IPv6:
  32 nibbles reversed, only for lists declared IPv6-capable). NXDOMAIN means not listed (§2.3).
* Only answers inside 127.0.0.0/8 that are one of the list's documented "listed" codes count as listed
  (§2.3: "A records in 127/8"). ``127.255.255.x`` (Spamhaus: query through a public/open resolver, rate
  limited, typo'd zone) and any answer outside 127/8 (a resolver rewriting NXDOMAIN to an advertising
  server) make the list *unusable from this resolver* — never "listed". A 127/8 code the list does not
  document is reported as such, not as listed.
* Before any answer of a list is trusted, its RFC 5782 §5 test entries are checked: 127.0.0.2 must be listed,
  127.0.0.1 must not. A list failing that (dead, rewritten, wildcarded) is unusable for this round.
* A DNS failure (timeout, SERVFAIL, REFUSED) is an error, never "not listed".
* One query per address per list per TTL: results are cached for the answer's TTL (negative TTL for
  NXDOMAIN, RFC 2308 §5), at least ``min_ttl`` seconds; the TXT record (the list's reason) is kept with a
  listing (§2.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mailposture.dns.types import Answer, Resolver

LISTED, NOT_LISTED, UNUSABLE, ERROR, UNKNOWN_CODE = "listed", "not-listed", "unusable", "error", "unknown-code"


@dataclass(frozen=True)
class BlockList:
    zone: str
    listed: frozenset[str]  # documented "listed" A answers
    v6: bool = False
    name: str = ""

    def query_name(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        if ip.version == 4:
            return ".".join(reversed(str(ip).split("."))) + "." + self.zone
        if not self.v6:
            return None
        nibbles = ip.exploded.replace(":", "")
        return ".".join(reversed(nibbles)) + "." + self.zone


def _codes(*last: int) -> frozenset[str]:
    return frozenset(f"127.0.0.{n}" for n in last)


# The well-known public IP lists and their documented "listed" return codes (each list's usage page).
DEFAULT_LISTS: tuple[BlockList, ...] = (
    BlockList("zen.spamhaus.org", _codes(2, 3, 4, 5, 6, 7, 9, 10, 11), v6=True, name="Spamhaus ZEN"),
    BlockList("bl.spamcop.net", _codes(2), name="SpamCop"),
    BlockList("b.barracudacentral.org", _codes(2), name="Barracuda"),
    BlockList("psbl.surriel.com", _codes(2), name="PSBL"),
    BlockList("ix.dnsbl.manitu.net", _codes(2), name="NiX Spam"),
    BlockList("bl.mailspike.net", _codes(2), name="Mailspike"),
)


def parse_list(spec: str) -> BlockList:
    """``zone`` (a known list's codes, else 127.0.0.2), ``zone=127.0.0.2,127.0.0.4-127.0.0.7``, optional
    ``;v6`` suffix for IPv6-capable lists. Raises ValueError naming the problem."""
    s = spec.strip().lower()
    v6 = s.endswith(";v6")
    if v6:
        s = s[:-3]
    zone, _, codes = s.partition("=")
    zone = zone.strip().rstrip(".")
    if not zone or "." not in zone or not all(lab and all(c.isalnum() or c in "-_" for c in lab)
                                              for lab in zone.split(".")):
        raise ValueError(f"not a block-list zone: {spec!r}")
    known = {b.zone: b for b in DEFAULT_LISTS}
    if not codes:
        b = known.get(zone)
        return BlockList(zone, b.listed if b else _codes(2), v6 or (b.v6 if b else False), b.name if b else zone)
    out: set[str] = set()
    for part in codes.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            a = ipaddress.IPv4Address(lo)
            z = ipaddress.IPv4Address(hi) if hi else a
        except ValueError:
            raise ValueError(f"{spec!r}: not a return code (127.0.0.x): {part!r}") from None
        if a not in _LOOP or z not in _LOOP or int(z) < int(a) or int(z) - int(a) > 255:
            raise ValueError(f"{spec!r}: return codes must be in 127.0.0.0/8: {part!r}")
        out.update(str(ipaddress.IPv4Address(n)) for n in range(int(a), int(z) + 1))
    return BlockList(zone, frozenset(out), v6, zone)


_LOOP = ipaddress.IPv4Network("127.0.0.0/8")
_POLICY = ipaddress.IPv4Network("127.255.255.0/24")


@dataclass
class Result:
    ip: str
    zone: str
    status: str
    codes: list[str] = field(default_factory=list)
    reason: str | None = None  # TXT
    detail: str = ""
    ttl: int = 0
    checked_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"ip": self.ip, "list": self.zone, "status": self.status, "codes": self.codes,
                "reason": self.reason, "detail": self.detail, "ttl": self.ttl, "checked_at": self.checked_at}


def classify(bl: BlockList, ans: Answer) -> tuple[str, list[str], str]:
    """(status, codes, detail) of one A answer; pure."""
    if ans.status == "nxdomain":
        return NOT_LISTED, [], ""
    if ans.status == "error":
        return ERROR, [], ans.error or "error"
    if ans.status == "nodata":  # a name that exists without an A record: not a listing (RFC 5782 §2.3)
        return NOT_LISTED, [], "nodata"
    codes = sorted(str(r) for r in ans.records)
    outside, policy, undocumented = [], [], []
    for c in codes:
        try:
            a = ipaddress.IPv4Address(c)
        except ValueError:
            outside.append(c)
            continue
        if a not in _LOOP:
            outside.append(c)
        elif a in _POLICY:
            policy.append(c)
        elif c not in bl.listed:
            undocumented.append(c)
    if outside:
        return UNUSABLE, codes, f"answer outside 127.0.0.0/8 ({', '.join(outside)}): the resolver rewrites NXDOMAIN"
    if policy:
        return UNUSABLE, codes, (f"list refuses this resolver ({', '.join(policy)}): public/open resolver, "
                                 "rate limit or wrong zone")
    if undocumented and len(undocumented) == len(codes):
        return UNKNOWN_CODE, codes, f"return code(s) not documented for this list: {', '.join(undocumented)}"
    return LISTED, [c for c in codes if c in bl.listed], ""


class Checker:
    """Checks addresses against lists through any Resolver (the project's DNS engine in production)."""

    def __init__(self, resolver: Resolver, lists: Iterable[BlockList], *, min_ttl: int = 60,
                 max_ttl: int = 86400, clock=time.time) -> None:
        self.resolver = resolver
        self.lists = list(lists)
        self.min_ttl, self.max_ttl = min_ttl, max_ttl
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Result]] = {}
        self._health: dict[str, tuple[float, str | None]] = {}  # zone -> (expires, problem or None)
        self.queries = 0

    async def _q(self, name: str, rdtype: str) -> Answer:
        self.queries += 1
        return await self.resolver.query(name, rdtype)

    async def health(self, bl: BlockList) -> str | None:
        """None when the list answers its RFC 5782 §5 test entries correctly, else the problem."""
        now = self.clock()
        hit = self._health.get(bl.zone)
        if hit and hit[0] > now:
            return hit[1]
        pos_name = "2.0.0.127." + bl.zone
        neg_name = "1.0.0.127." + bl.zone
        pos, neg = await asyncio.gather(self._q(pos_name, "A"), self._q(neg_name, "A"))
        problem: str | None = None
        st_pos, _, d_pos = classify(BlockList(bl.zone, bl.listed | _codes(2), bl.v6), pos)
        st_neg, _, d_neg = classify(bl, neg)
        if st_pos == ERROR:
            problem = f"no answer for the test entry 127.0.0.2 ({d_pos}): list dead or unreachable"
        elif st_pos == UNUSABLE:
            problem = d_pos
        elif st_pos != LISTED:
            problem = "test entry 127.0.0.2 is not listed (RFC 5782 §5): list dead or answers nothing"
        elif st_neg == UNUSABLE:
            problem = d_neg
        elif st_neg == ERROR:
            problem = f"no answer for the test entry 127.0.0.1 ({d_neg})"
        elif st_neg != NOT_LISTED:
            problem = "test entry 127.0.0.1 is listed (RFC 5782 §5): the list (or resolver) answers for everything"
        ttl = max(self.min_ttl, min(self.max_ttl, pos.ttl or self.min_ttl))
        self._health[bl.zone] = (now + (ttl if problem is None else self.min_ttl), problem)
        return problem

    async def check_one(self, ip: str, bl: BlockList) -> Result:
        now = self.clock()
        hit = self._cache.get((ip, bl.zone))
        if hit and hit[0] > now:
            return hit[1]
        addr = ipaddress.ip_address(ip)
        name = bl.query_name(addr)
        if name is None:
            res = Result(ip, bl.zone, UNUSABLE, detail="list does not serve IPv6", checked_at=now)
            self._cache[(ip, bl.zone)] = (now + self.max_ttl, res)
            return res
        problem = await self.health(bl)
        if problem is not None:
            return Result(ip, bl.zone, UNUSABLE, detail=problem, checked_at=now)
        ans = await self._q(name, "A")
        status, codes, detail = classify(bl, ans)
        reason = None
        if status == LISTED:
            txt = await self._q(name, "TXT")
            if txt.ok:
                reason = " ".join(txt.txt_strings())[:500]
        ttl = max(self.min_ttl, min(self.max_ttl, ans.ttl or self.min_ttl))
        res = Result(ip, bl.zone, status, codes, reason, detail, ttl, now)
        if status != ERROR:
            self._cache[(ip, bl.zone)] = (now + ttl, res)
        return res

    async def check(self, ips: Iterable[str]) -> list[Result]:
        ips = list(ips)
        tasks = [self.check_one(ip, bl) for ip in ips for bl in self.lists]
        return list(await asyncio.gather(*tasks))


def expand_targets(specs: Iterable[str], limit: int = 4096) -> list[str]:
    """Addresses and CIDRs -> addresses (at most ``limit``; an IPv4 /20 is 4,096). ValueError on bad input."""
    out: list[str] = []
    for s in specs:
        s = s.strip()
        try:
            net = ipaddress.ip_network(s, strict=False)
        except ValueError:
            raise ValueError(f"not an IP address or CIDR: {s!r}") from None
        if net.version == 6 and net.prefixlen < 120:
            raise ValueError(f"{s}: IPv6 networks are checked per address; give at most a /120")
        if net.num_addresses > limit - len(out):
            raise ValueError(f"{s}: too many addresses (at most {limit} in one run)")
        hosts = [net.network_address] if net.num_addresses == 1 else list(net)
        out += [str(h) for h in hosts]
    return list(dict.fromkeys(out))
