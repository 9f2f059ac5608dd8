"""Observations grouped by registrable domain, with the child labels that rotate under each parent name.

The registrable domain is the Public Suffix List's, private section included (RFC-less but universal: a random
label under a ``blogspot``-style private suffix belongs to another owner, so it is a different registrable
domain, not a rotating subdomain). A name that is itself a public suffix (wildcard rules included) gives no
group at all.

Memory is bounded: at most ``max_labels`` labels are kept per parent name (the counts go on past it), and at
most ``max_ips`` client addresses per domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from mailposture.domains.observe import Observation


@lru_cache(maxsize=1)
def _psl():
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()   # the bundled list (ICANN and private sections); never downloaded


@lru_cache(maxsize=200_000)
def _registrable_psl(name: str) -> str | None:
    return _psl().privatesuffix(name)


@lru_cache(maxsize=1)
def _rule_parents() -> frozenset[str] | None:
    """Every PSL rule without its first label (``*.kawasaki.jp``, ``!city.kawasaki.jp`` -> ``kawasaki.jp``;
    ``s3.amazonaws.com`` -> ``amazonaws.com``) and, for wildcard and exception rules, without its first two
    (``*.foo.crm.dev`` makes ``foo.crm.dev`` public: its parent ``crm.dev``), or None if the library's rule set cannot be read (then every name
    takes the library's own path)."""
    rules = getattr(_psl(), "_publicsuffix", None)
    if not isinstance(rules, frozenset | set) or not rules:
        return None
    out: set[str] = set()
    for r in rules:
        if not isinstance(r, str) or "." not in r:
            continue
        parent = r.lstrip("!").split(".", 1)[1]
        out.add(parent)
        if r[0] in "*!" and "." in parent:  # *.X and !a.X make X a public suffix too (the PSL's implicit rule)
            out.add(parent.split(".", 1)[1])
    return frozenset(out)


def registrable(name: str) -> str | None:
    """The registrable domain of ``name`` (None for a public suffix or a name under none).

    Rotating labels make nearly every name new, so the answer is taken from the parent name (cached) when it
    cannot differ: a PSL rule matching ``label.parent`` but not ``parent`` must have one more label than
    ``parent`` and end with it, i.e. ``parent`` is a rule's parent. Otherwise both names match the same rules,
    have the same public suffix and, when ``parent`` has a registrable domain, the same one (tested against the
    library on every rule)."""
    label, _dot, parent = name.partition(".")
    if label and parent and name[-1] != "." and name.islower():   # as the library normalises: else its own path
        parents = _rule_parents()
        if parents is not None and parent not in parents:
            reg = _registrable_psl(parent)
            if reg is not None:
                return reg
    return _registrable_psl(name)


@dataclass(slots=True)
class LabelSeen:
    first: datetime | None
    count: int


@dataclass(slots=True)
class ParentStats:
    labels: dict[str, LabelSeen] = field(default_factory=dict)
    distinct_beyond_cap: int = 0       # labels not kept once the cap was reached


@dataclass(slots=True)
class DomainStats:
    domain: str
    observations: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    parents: dict[str, ParentStats] = field(default_factory=dict)
    ips: dict[str, str] = field(default_factory=dict)     # client address -> a name seen with it
    sources: dict[str, int] = field(default_factory=dict)

    def rotation(self) -> tuple[str, ParentStats] | None:
        """The parent under which the most distinct labels were seen (the level where labels rotate)."""
        if len(self.parents) < 2:
            return next(iter(self.parents.items()), None)
        return max(self.parents.items(), key=lambda kv: (len(kv[1].labels) + kv[1].distinct_beyond_cap, kv[0]))


class Aggregator:
    def __init__(self, *, max_labels: int = 5000, max_ips: int = 64, max_parents: int = 256) -> None:
        self.max_labels = max_labels
        self.max_ips = max_ips
        self.max_parents = max_parents
        self.domains: dict[str, DomainStats] = {}
        self.public_suffixes = 0

    def add(self, obs: Observation) -> None:
        reg = registrable(obs.name)
        if reg is None:
            self.public_suffixes += 1
            return
        d = self.domains.get(reg)
        if d is None:
            d = self.domains[reg] = DomainStats(reg)
        d.observations += obs.count
        d.sources[obs.source] = d.sources.get(obs.source, 0) + obs.count
        if obs.time is not None:
            if d.first_seen is None or obs.time < d.first_seen:
                d.first_seen = obs.time
            if d.last_seen is None or obs.time > d.last_seen:
                d.last_seen = obs.time
        if obs.ip and len(d.ips) < self.max_ips and obs.ip not in d.ips:
            d.ips[obs.ip] = obs.name
        if obs.name == reg:
            return
        label, _, parent = obs.name.partition(".")
        p = d.parents.get(parent)
        if p is None:
            if len(d.parents) >= self.max_parents:
                return
            p = d.parents[parent] = ParentStats()
        seen = p.labels.get(label)
        if seen is not None:
            seen.count += obs.count
            if obs.time is not None and (seen.first is None or obs.time < seen.first):
                seen.first = obs.time
        elif len(p.labels) < self.max_labels:
            p.labels[label] = LabelSeen(obs.time, obs.count)
        else:
            p.distinct_beyond_cap += 1

    def add_all(self, observations: Iterable[Observation]) -> None:
        for obs in observations:
            self.add(obs)


def max_in_window(times: list[datetime], window: timedelta) -> int:
    """The largest number of first sightings inside any window of the given length (two pointers)."""
    times = sorted(times)
    best = lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
