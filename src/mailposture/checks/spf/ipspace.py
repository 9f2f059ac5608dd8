"""Counting the address space an SPF record authorizes, without double counting (pure, integer intervals).

IPv4 is counted in addresses; IPv6 in /64 networks (the unit a site or a cloud customer usually gets), so an
``ip6:…/128`` counts as the one /64 that holds it when it authorizes, and nothing when it only excludes.

An SPF record is evaluated left to right and the first matching mechanism decides (RFC 7208 §4.6.2). The
authorized space is therefore every address whose *first* matching mechanism has the ``+`` qualifier:
:func:`first_match` computes it with one sweep over interval endpoints (O(n log n) for n ranges).
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

Interval = tuple[int, int]  # [start, end): half-open
V4_SIZE = 1 << 32
V6_64_SIZE = 1 << 64


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-adjacent intervals covering the same points."""
    out: list[Interval] = []
    for s, e in sorted(i for i in intervals if i[0] < i[1]):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def size(intervals: Iterable[Interval]) -> int:
    return sum(e - s for s, e in merge(intervals))


def network_interval(net: ipaddress.IPv4Network | ipaddress.IPv6Network, *, outward: bool = True
                     ) -> tuple[int, Interval | None]:
    """(family, interval) of a network: IPv4 in addresses, IPv6 in /64 units.

    ``outward`` rounds a network smaller than a /64 up to its /64; otherwise it is dropped (None).
    """
    start = int(net.network_address)
    if net.version == 4:
        return 4, (start, start + net.num_addresses)
    if net.prefixlen <= 64:
        s = start >> 64
        return 6, (s, s + (1 << (64 - net.prefixlen)))
    return 6, ((start >> 64, (start >> 64) + 1) if outward else None)


@dataclass(slots=True)
class Space:
    """A set of IPv4 addresses and IPv6 /64s as merged intervals (the output of :func:`merge`: sorted, disjoint,
    non-adjacent). Every constructor below keeps that form; values are never modified in place."""

    v4: list[Interval] = field(default_factory=list)
    v6: list[Interval] = field(default_factory=list)

    @classmethod
    def everything(cls) -> Space:
        return cls([(0, V4_SIZE)], [(0, V6_64_SIZE)])

    @classmethod
    def of_networks(cls, nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network], *,
                    outward: bool = True) -> Space:
        v4: list[Interval] = []
        v6: list[Interval] = []
        for net in nets:
            fam, iv = network_interval(net, outward=outward)
            if iv is not None:
                (v4 if fam == 4 else v6).append(iv)
        return cls(merge(v4), merge(v6))

    def union(self, other: Space) -> Space:
        return Space(merge(self.v4 + other.v4), merge(self.v6 + other.v6))

    @property
    def ipv4(self) -> int:
        return sum(e - s for s, e in self.v4)  # merged: no overlap to discount

    @property
    def ipv6_64(self) -> int:
        return sum(e - s for s, e in self.v6)

    def to_json(self) -> dict[str, int]:
        return {"ipv4": self.ipv4, "ipv6_64": self.ipv6_64}


def first_match(entries: list[tuple[bool, list[Interval]]]) -> list[Interval]:
    """``entries`` in evaluation order: (authorizes, intervals). Return the points whose first entry authorizes.

    Sweep over endpoints keeping a heap of the entries covering the current point; the lowest index decides.
    """
    # Exact shortcuts first: trailing entries that do not authorize change nothing (they only hide what comes
    # after them), and when every remaining entry authorizes the answer is their union. Most records are
    # "ip4:… include:… -all" and never need the sweep.
    end = len(entries)
    while end and not entries[end - 1][0]:
        end -= 1
    if all(ok for ok, _ in entries[:end]):
        return merge(iv for _, ivs in entries[:end] for iv in ivs)
    events: list[tuple[int, int, int]] = []  # (point, kind 0=end 1=start, index)
    for idx, (_, ivs) in enumerate(entries):
        for s, e in merge(ivs):
            events.append((s, 1, idx))
            events.append((e, 0, idx))
    events.sort()
    active: list[int] = []
    ended: dict[int, int] = {}
    out: list[Interval] = []
    prev = None
    k = 0
    while k < len(events):
        point = events[k][0]
        if prev is not None and active and point > prev:
            if entries[active[0]][0]:
                out.append((prev, point))
        while k < len(events) and events[k][0] == point:
            _, kind, idx = events[k]
            if kind == 1:
                heapq.heappush(active, idx)
            else:
                ended[idx] = ended.get(idx, 0) + 1
            k += 1
        while active and ended.get(active[0], 0):
            ended[active[0]] -= 1
            heapq.heappop(active)
        prev = point
    return merge(out)


def first_match_space(entries: list[tuple[bool, Space]]) -> Space:
    end = len(entries)
    while end and not entries[end - 1][0]:  # as in first_match: trailing refusals change nothing
        end -= 1
    if all(ok for ok, _ in entries[:end]):  # the union: the Space itself when there is just one (merged already)
        if end == 1:
            return entries[0][1]
        return Space(merge(iv for _, s in entries[:end] for iv in s.v4), merge(iv for _, s in entries[:end] for iv in s.v6))
    return Space(first_match([(ok, s.v4) for ok, s in entries]), first_match([(ok, s.v6) for ok, s in entries]))
