"""Campaigns: messages grouped by the same template (numbers, links and phone numbers normalised away), the same
landing domain, or the same hosting address (with --resolve); counts over time, brands, domains.

A campaign's id is the template key (``campaign`` in ``sms check`` output) most frequent among its messages, so
a campaign of one template keeps the id ``sms check`` gives each of its messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mailposture.sms.brands import by_id
from mailposture.sms.verdict import Result


@dataclass(slots=True)
class Campaign:
    id: str
    messages: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    brands: Counter[str] = field(default_factory=Counter)
    domains: Counter[str] = field(default_factory=Counter)
    addresses: Counter[str] = field(default_factory=Counter)
    days: Counter[str] = field(default_factory=Counter)
    templates: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    example: str = ""
    senders: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {"campaign": self.id, "messages": self.messages, "verdicts": dict(self.verdicts.most_common()),
                "brands": [b for b, _ in self.brands.most_common()], "domains": dict(self.domains.most_common()),
                "addresses": dict(self.addresses.most_common()), "templates": self.templates,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "by_day": dict(sorted(self.days.items())),
                "senders": len(self.senders), "example": self.example}


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def link_keys(r: Result) -> list[str]:
    """What ties a message to others: its template, its link domains (the landing's for a followed shortener;
    the full link for an unfollowed one, since everybody shares the shortener), its landing addresses."""
    keys = ["t:" + r.campaign]
    for u in r.urls:
        if u.brand:            # genuine brand links tie nothing together
            continue
        if u.shortener:
            if u.landing and u.landing.host:
                from mailposture.sms.normalize import registrable

                keys.append("d:" + registrable(u.landing.host))
                keys.extend("a:" + a for a in u.landing.addresses)
            else:
                keys.append("u:" + u.url)
        else:
            keys.append("d:" + u.domain)
    return keys


def _day(ts: str | None) -> str | None:
    if not ts:
        return None
    return ts.strip()[:10] or None


def group(results: Sequence[Result], include_ham: bool = False) -> list[Campaign]:
    """Campaigns, largest first (ties: first seen in input order)."""
    idx = [i for i, r in enumerate(results) if include_ham or r.verdict != "ham"]
    uf = _UnionFind(len(idx))
    owner: dict[str, int] = {}
    for j, i in enumerate(idx):
        for k in link_keys(results[i]):
            if k in owner:
                uf.union(owner[k], j)
            else:
                owner[k] = j
    members: dict[int, list[int]] = {}
    for j, i in enumerate(idx):
        members.setdefault(uf.find(j), []).append(i)
    out: list[tuple[int, Campaign]] = []
    for root, ms in members.items():
        keys = Counter(results[i].campaign for i in ms)
        best = min(keys.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        c = Campaign(best, templates=len(keys), example=results[ms[0]].text)
        for i in ms:
            r = results[i]
            c.messages += 1
            c.verdicts[r.verdict] += 1
            c.brands.update(set(r.brands))
            for u in r.urls:
                if not u.brand:
                    c.domains[u.landing.host if u.landing and u.landing.host else u.domain] += 1
                    if u.landing:
                        c.addresses.update(u.landing.addresses)
            d = _day(r.received_at)
            if d:
                c.days[d] += 1
            ts = (r.received_at or "").strip() or None
            if ts:
                c.first_seen = min(c.first_seen or ts, ts)
                c.last_seen = max(c.last_seen or ts, ts)
            if r.sender:
                c.senders[r.sender] += 1
        out.append((root, c))
    out.sort(key=lambda rc: (-rc[1].messages, rc[0]))
    return [c for _, c in out]


def brand_table(results: Sequence[Result]) -> list[dict[str, Any]]:
    """Per brand named or imitated: messages, smishing, genuine-domain links, look-alike domains seen."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        for b in set(r.brands):
            row = rows.setdefault(b, {"brand": b, "name": by_id()[b].label, "category": by_id()[b].category,
                                      "messages": 0, "smishing": 0, "lookalikes": Counter()})
            row["messages"] += 1
            row["smishing"] += r.verdict == "smishing"
            for u in r.urls:
                if u.lookalike_of == b:
                    row["lookalikes"][u.landing.host if u.landing and u.landing.host else u.host] += 1
    out = sorted(rows.values(), key=lambda x: (-x["smishing"], -x["messages"], x["brand"]))
    for row in out:
        row["lookalikes"] = [h for h, _ in row["lookalikes"].most_common(10)]
    return out


def domain_table(results: Sequence[Result]) -> list[dict[str, Any]]:
    """Per registrable domain linked from a spam/smishing message (not the brands' genuine ones)."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.verdict == "ham":
            continue
        for u in r.urls:
            if u.brand:
                continue
            row = rows.setdefault(u.domain, {"domain": u.domain, "messages": 0, "lookalike_of": u.lookalike_of,
                                             "shortener": u.shortener, "campaigns": set()})
            row["messages"] += 1
            row["campaigns"].add(r.campaign)
            row["lookalike_of"] = row["lookalike_of"] or u.lookalike_of
    out = sorted(rows.values(), key=lambda x: (-x["messages"], x["domain"]))
    for row in out:
        row["campaigns"] = len(row["campaigns"])
    return out
