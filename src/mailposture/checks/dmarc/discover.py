"""DMARC record discovery: ``_dmarc.<name>`` lookups, the RFC 7489 organizational domain (Public Suffix List)
and the RFC 9989 DNS tree walk.

Every ``_dmarc`` name is queried at most once per :class:`Discovery` (both methods share one memo), and the
outcome of each lookup keeps a DNS failure (``error``) apart from "no record" (``none``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from mailposture.checks.dmarc.parse import DmarcRecord, is_dmarc_text, parse_record_cached
from mailposture.dns.types import Answer, Resolver

LookupStatus = Literal["found", "none", "multiple", "error"]
WALK_MAX_LABELS = 7  # RFC 9989 §4.10 step 5: a name of 8 or more labels is cut straight to 7

_PSL: Any = None


def default_psl() -> Any:
    """The bundled Public Suffix List of the ``publicsuffixlist`` package (loaded once, never downloaded)."""
    global _PSL
    if _PSL is None:
        from publicsuffixlist import PublicSuffixList

        _PSL = PublicSuffixList()
    return _PSL


def psl_org_domain(domain: str, psl: Any = None) -> str:
    """RFC 7489 §3.2: the public suffix plus one label; a name that is itself a public suffix is its own."""
    if psl is None or psl is _PSL:
        return _default_org_domain(domain)  # the bundled list never changes: remember its answers
    return _org_domain(domain, psl)


@lru_cache(maxsize=4096)
def _default_org_domain(domain: str) -> str:
    return _org_domain(domain, default_psl())


def _org_domain(domain: str, psl: Any) -> str:
    try:
        org = psl.privatesuffix(domain)
    except Exception:  # a malformed name: treat it as its own organizational domain
        org = None
    return (org or domain).lower()


@dataclass(slots=True)
class Lookup:
    """The outcome of one ``_dmarc.<domain>`` TXT lookup."""

    domain: str
    status: LookupStatus
    dmarc: list[str] = field(default_factory=list)     # v=DMARC1 texts (RFC 7489 §6.6.3 step 2)
    other: list[str] = field(default_factory=list)     # every other TXT string
    record: DmarcRecord | None = None                  # parsed, when exactly one DMARC record
    error: str | None = None
    cname_chain: tuple[str, ...] = ()
    answer: Answer | None = None

    @property
    def name(self) -> str:
        return "_dmarc." + self.domain

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "status": self.status}
        if self.dmarc:
            d["records"] = list(self.dmarc)
        if self.error:
            d["error"] = self.error
        if self.cname_chain:
            d["cname_chain"] = list(self.cname_chain)
        return d


def classify(domain: str, ans: Answer) -> Lookup:
    if ans.status == "error":
        return Lookup(domain, "error", error=ans.error or ans.rcode or "error", answer=ans,
                      cname_chain=ans.cname_chain)
    texts = ans.txt_strings() if ans.status == "ok" else []
    dmarc = [t for t in texts if is_dmarc_text(t)]
    other = [t for t in texts if not is_dmarc_text(t)]
    if len(dmarc) == 1:
        status: LookupStatus = "found"
    elif dmarc:
        status = "multiple"  # RFC 7489 §6.6.3 step 5 / RFC 9989 §4.10 step 2: all are discarded
    else:
        status = "none"
    return Lookup(domain, status, dmarc, other, parse_record_cached(dmarc[0]) if len(dmarc) == 1 else None,
                  cname_chain=ans.cname_chain, answer=ans)


def walk_targets(domain: str) -> list[str]:
    """Names a full RFC 9989 §4.10 tree walk visits, starting with ``domain`` itself (at most 8)."""
    labels = domain.split(".")
    out = [domain]
    labels = labels[-WALK_MAX_LABELS:] if len(labels) > WALK_MAX_LABELS else labels[1:]
    while labels:
        out.append(".".join(labels))
        labels = labels[1:]
    return out


@dataclass(slots=True)
class WalkResult:
    """RFC 9989 §4.10 tree walk: the records found, the organizational domain and the policy record."""

    queried: list[Lookup] = field(default_factory=list)
    found: list[Lookup] = field(default_factory=list)      # longest name first
    error: Lookup | None = None                            # the lookup that stopped the walk
    org_domain: str | None = None
    policy: Lookup | None = None                           # the record that applies (§4.10.1)

    def to_json(self) -> dict[str, Any]:
        return {"queried": [lk.to_json() for lk in self.queried], "found": [lk.domain for lk in self.found],
                "org_domain": self.org_domain, "record_domain": self.policy.domain if self.policy else None,
                "error": self.error.name if self.error else None}


class Discovery:
    """DMARC lookups for one domain with a memo, so both discovery methods query each name once."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.memo: dict[str, Lookup] = {}

    async def lookup(self, domain: str) -> Lookup:
        if domain not in self.memo:
            if len(domain) + 7 > 253:  # "_dmarc.<domain>" cannot exist (RFC 1035 §2.3.4): no query
                self.memo[domain] = Lookup(domain, "none")
            else:
                ans = await self.resolver.query("_dmarc." + domain, "TXT")
                self.memo[domain] = classify(domain, ans)
        return self.memo[domain]

    async def tree_walk(self, domain: str) -> WalkResult:
        """Walk from ``domain`` towards the root (RFC 9989 §4.10), stopping at psd=y/psd=n or an error."""
        res = WalkResult()
        for i, target in enumerate(walk_targets(domain)):
            lk = await self.lookup(target)
            res.queried.append(lk)
            if lk.status == "error":
                res.error = lk  # the rest of the walk is unknown
                return res
            if lk.status != "found" or lk.record is None or not lk.record.dmarc:
                continue
            res.found.append(lk)
            # step 2: psd=n stops at the start domain; step 7: psd=y or psd=n stops above it
            if lk.record.psd == "n" or (i > 0 and lk.record.psd == "y"):
                break
        res.org_domain = select_org_domain(domain, res.found)
        res.policy = select_policy(domain, res.org_domain, res.found)
        return res


def select_org_domain(domain: str, found: list[Lookup]) -> str:
    """RFC 9989 §4.10.2, over the records found from the longest name to the shortest."""
    for lk in found:
        assert lk.record is not None
        if lk.record.psd == "n":
            return lk.domain
        if lk.record.psd == "y" and lk.domain != domain:
            # the domain one label below the PSD, on the way to the start domain
            depth = lk.domain.count(".") + 2
            return ".".join(domain.split(".")[-depth:])
    if found:
        return min(found, key=lambda lk: lk.domain.count(".")).domain
    return domain  # "If this process does not determine the Organizational Domain, ... the initial target"


def select_policy(domain: str, org_domain: str, found: list[Lookup]) -> Lookup | None:
    """RFC 9989 §4.10.1: the record of the domain itself, else of its organizational domain, else of the PSD."""
    for lk in found:
        if lk.domain == domain:
            return lk
    for lk in found:
        if lk.domain == org_domain:
            return lk
    if found and found[-1].record is not None and found[-1].record.psd == "y":
        return found[-1]
    return None
