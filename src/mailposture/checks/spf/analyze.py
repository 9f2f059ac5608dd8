"""Survey analysis of a domain's SPF (RFC 7208): the whole include/redirect tree, its costs and its reach.

Unlike check_host() (evaluate.py), analysis has no client IP or sender: it expands every reachable term,
counts the DNS-querying terms (§4.6.4) over the whole tree, counts void lookups, and measures the address space
the record authorizes (ipspace.py). It keeps going after problems and bounds its work on hostile trees:
each record is fetched once per analysis, each subtree is expanded once (memoized), depth and queries are capped.
Terms whose target holds a macro cannot be expanded without a sender: they count as lookups, nothing more.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mailposture.checks.chars import unquoted, visible
from mailposture.checks.spf.evaluate import domain_problem
from mailposture.checks.spf.ipspace import Space, first_match_space
from mailposture.checks.spf.macro import MacroContext, MacroExpand, expand, truncate_domain
from mailposture.checks.spf.parse import (
    CACHED_TEXT_MAX,
    SpfRecord,
    Term,
    is_spf_record,
    looks_like_spf,
    parse_record_cached,
    uses_letter,
)
from mailposture.checks.spf.providers import spf_provider
from mailposture.dns.types import Answer, Resolver
from mailposture.findings import Finding, finding

LOOKUP_LIMIT = 10      # §4.6.4
VOID_LIMIT = 2         # §4.6.4
MX_LIMIT = 10          # §4.6.4
LONG_RECORD = 450      # §3.4: keep the answer under 512 octets
ALL_NAMES = {"+": "+all", "-": "-all", "~": "~all", "?": "?all"}
# findings that make a record invalid: a permerror for receivers (§4.6, §4.6.4, §5.2, §6.1)
INVALID_CODES = frozenset({"SPF_SYNTAX", "SPF_NON_ASCII", "SPF_DUPLICATE_MODIFIER", "SPF_LOOKUP_LIMIT",
                           "SPF_VOID_LOOKUP_LIMIT", "SPF_INCLUDE_LOOP", "SPF_INCLUDE_MISSING", "SPF_REDIRECT_MISSING",
                           "SPF_INCLUDE_ERROR", "SPF_MX_TOO_MANY"})


@dataclass(slots=True)
class _Fetched:
    status: str                 # "ok", "none", "multiple", "error"
    texts: list[str] = field(default_factory=list)
    record: SpfRecord | None = None
    error: str | None = None


@dataclass(slots=True)
class _Sub:
    """What one record (with its subtree) contributes: lookups, voids, the addresses it passes."""

    lookups: int = 0
    voids: int = 0
    space: Space = field(default_factory=Space)
    node: dict[str, Any] = field(default_factory=dict)
    # the space authorized without the catalogued shared providers' includes (issue 10: what the owner controls),
    # and those providers (include domain -> space their include authorizes)
    own: Space = field(default_factory=Space)
    providers: dict[str, Space] = field(default_factory=dict)


class _Analyzer:
    def __init__(self, resolver: Resolver, *, max_queries: int, max_depth: int) -> None:
        self.resolver = resolver
        self.max_queries, self.max_depth = max_queries, max_depth
        self.queries = 0
        self.fetched: dict[str, _Fetched] = {}
        self.memo: dict[str, _Sub] = {}
        self.findings: list[Finding] = []
        self.includes: list[str] = []
        self.truncated: set[str] = set()
        self.dns_errors: set[tuple[str, str]] = set()

    # -- DNS ----------------------------------------------------------------------------------------------
    async def query(self, name: str, rdtype: str) -> Answer | None:
        """None when the analysis budget is spent (the caller records that the tree was cut)."""
        if self.queries >= self.max_queries:
            self.truncated.add(f"more than {self.max_queries} DNS queries")
            return None
        self.queries += 1
        ans = await self.resolver.query(name, rdtype)
        if ans.status == "error" and (name, rdtype) not in self.dns_errors:
            self.dns_errors.add((name, rdtype))
            self.findings.append(finding("SPF_DNS_ERROR", name=name, type=rdtype, error=ans.error or "error"))
        return ans

    async def fetch(self, domain: str) -> _Fetched:
        """The SPF record of a domain, fetched once per analysis even when several branches include it."""
        if domain not in self.fetched:
            self.fetched[domain] = await self._fetch(domain)
        return self.fetched[domain]

    async def _fetch(self, domain: str) -> _Fetched:
        ans = await self.query(domain, "TXT")
        if ans is None:
            return _Fetched("error", error="analysis budget exhausted")
        if ans.status == "error":
            return _Fetched("error", error=ans.error or "error")
        texts = [t for t in ans.txt_strings() if is_spf_record(t)] if ans.ok else []
        if not texts:
            return _Fetched("none")  # §4.5: NXDOMAIN, NODATA or no v=spf1 TXT
        if len(texts) > 1:
            return _Fetched("multiple", texts)
        return _Fetched("ok", texts, parse_record_cached(texts[0]))

    async def addresses(self, name: str) -> tuple[list[str], bool]:
        """(addresses, void) for A and AAAA of ``name``: void when neither exists (§4.6.4)."""
        answers = await asyncio.gather(self.query(name, "A"), self.query(name, "AAAA"))
        addrs = [str(r) for a in answers if a is not None and a.ok for r in a.records]
        void = all(a is not None and a.status in ("nxdomain", "nodata") for a in answers)
        return addrs, void

    # -- the tree -----------------------------------------------------------------------------------------
    async def subtree(self, domain: str, path: tuple[str, ...], term: Term, node: dict[str, Any]) -> _Sub:
        """Expand the record of an include/redirect target into ``node`` (once per analysis)."""
        if domain in self.memo:
            sub = self.memo[domain]
            node.update(record=sub.node.get("record"), repeated=True)
            node["errors"].extend(sub.node.get("errors", []))
            return sub
        if len(path) > self.max_depth:
            self.truncated.add(f"include depth over {self.max_depth}")
            node["errors"].append("too deep: not expanded")
            return _Sub()
        sub = await self._subtree(domain, path, term, node)
        sub.node = node
        self.memo[domain] = sub
        return sub

    async def _subtree(self, domain: str, path: tuple[str, ...], term: Term, node: dict[str, Any]) -> _Sub:
        kind = "redirect" if term.kind == "modifier" else "include"
        got = await self.fetch(domain)
        label = term.text
        if got.status == "error":
            node["errors"].append(f"DNS error: {got.error}")
            return _Sub()
        if got.status == "none":
            code = "SPF_REDIRECT_MISSING" if kind == "redirect" else "SPF_INCLUDE_MISSING"
            self.findings.append(finding(code, term=label, name=domain))
            node["errors"].append("no SPF record (permerror)")
            return _Sub()
        if got.status == "multiple":
            self.findings.append(finding("SPF_INCLUDE_ERROR", term=label, name=domain,
                                         reason=f"{len(got.texts)} SPF records"))
            node["errors"].append(f"{len(got.texts)} SPF records (permerror)")
            node["records"] = got.texts
            return _Sub()
        rec = got.record
        assert rec is not None
        node["record"] = rec.text
        if not rec.valid:
            p = rec.problems[0]
            self.findings.append(finding("SPF_INCLUDE_ERROR", term=label, name=domain,
                                         reason=f"position {p.offset + 1} '{p.term}': {p.reason}"))
            node["errors"].extend(f"position {q.offset + 1} '{q.term}': {q.reason}" for q in rec.problems)
        return await self.record(domain, rec, (*path, domain), node)

    async def record(self, domain: str, rec: SpfRecord, path: tuple[str, ...], node: dict[str, Any]) -> _Sub:
        """Every reachable term of one record, in evaluation order (§4.6.2)."""
        sub = _Sub(node=node)
        entries: list[tuple[bool, Space]] = []
        own_entries: list[tuple[bool, Space]] = []  # the same with shared providers' includes matching nothing
        children: list[dict[str, Any]] = node.setdefault("children", [])
        for term, static in _plan(rec.text).terms:  # §5.1: nothing after "all"; §6.1: redirect only without "all"
            child: dict[str, Any] = {"term": term.text, "lookups": 0, "errors": []}
            children.append(child)
            passes = term.qualifier == "+"
            if static is not None:  # all, ip4, ip6: no DNS
                entries.append((passes, static))
                own_entries.append((passes, static))
                continue
            child["lookups"] = 1
            sub.lookups += 1
            if uses_letter(term, "p"):
                self.findings.append(finding("SPF_MACRO_P", term=term.text, domain=domain))
            if term.has_macro and not _only_domain_macros(term):
                child["unresolved"] = "macro"  # needs a sender or client IP: counted, not resolved
                continue
            target = _literal_target(term, domain) if not term.has_macro else await _static_target(term, domain)
            child["target"] = target
            space, voids, lookups = await self.term(term, domain, target, path, child)
            child["lookups"] += lookups
            sub.lookups += lookups
            sub.voids += voids
            if term.name == "redirect":
                passes = True  # the target's own qualifiers decide
            entries.append((passes, space))
            own = space
            if term.name in ("include", "redirect"):
                inner = self.memo.get(target)
                prov = spf_provider(target)
                if prov is not None:
                    own = Space()
                    if passes:
                        sub.providers[prov.domain] = sub.providers.get(prov.domain, Space()).union(space)
                elif inner is not None and target not in path:
                    own = inner.own
                    for k, v in inner.providers.items():
                        sub.providers[k] = sub.providers.get(k, Space()).union(v)
            own_entries.append((passes, own))
        sub.space = first_match_space(entries)
        sub.own = first_match_space(own_entries)
        return sub

    async def term(self, term: Term, domain: str, target: str, path: tuple[str, ...],
                   child: dict[str, Any]) -> tuple[Space, int, int]:
        """(space matched, void lookups, nested lookups) of a DNS-querying term."""
        name = term.name
        if name == "ptr":
            self.findings.append(finding("SPF_PTR", term=term.text, domain=domain))
            child["unresolved"] = "ptr"
            return Space(), 0, 0
        if name in ("include", "redirect"):
            bad = domain_problem(target, fqdn=True)
            if bad:  # §4.3: check_host() of such a name is "none", which include/redirect turn into permerror
                self.findings.append(finding("SPF_INCLUDE_ERROR", term=term.text, name=target,
                                             reason=f"not a valid domain: {bad}"))
                child["errors"].append(f"invalid domain: {bad}")
                return Space(), 0, 0
            if target not in self.includes:
                self.includes.append(target)
            if target in path:
                self.findings.append(finding("SPF_INCLUDE_LOOP", term=term.text, name=target))
                child["errors"].append("loop")
                return Space(), 0, 0
            sub = await self.subtree(target, path, term, child)
            child["void_lookups"] = sub.voids
            child.update(sub.space.to_json())
            return sub.space, sub.voids, sub.lookups
        if domain_problem(target):
            child["errors"].append(f"invalid domain: {domain_problem(target)}")
            return Space(), 0, 0
        if name == "exists":
            ans = await self.query(target, "A")
            void = ans is not None and ans.status in ("nxdomain", "nodata")
            if void:
                self.void(term, target, child)
            # without macros, exists matches every client or none (§5.7)
            matches = ans is not None and ans.ok and bool(ans.records)
            return (Space.everything() if matches else Space()), int(void), 0
        hosts = [target]
        voids = 0
        if name == "mx":
            ans = await self.query(target, "MX")
            if ans is None or ans.status == "error":
                child["errors"].append("MX lookup failed" if ans is not None else "not expanded (budget)")
                return Space(), 0, 0
            if not ans.ok or not ans.records:
                self.void(term, target, child)
                return Space(), 1, 0
            if len(ans.records) > MX_LIMIT:
                self.findings.append(finding("SPF_MX_TOO_MANY", term=term.text, name=target,
                                             count=len(ans.records)))
                child["errors"].append(f"{len(ans.records)} MX records (limit {MX_LIMIT})")
            hosts = [str(h).rstrip(".").lower() for _p, h in sorted(ans.records)[:MX_LIMIT]]
            hosts = [h for h in hosts if h and not domain_problem(h)]
            child["mx"] = hosts
        if len(hosts) == 1:  # "a", or an MX with one host: nothing to run side by side
            results = [await self.addresses(hosts[0])]
        else:
            results = await asyncio.gather(*(self.addresses(h) for h in hosts))
        addrs = [a for r in results for a in r[0]]
        if name == "a" and results[0][1]:
            self.void(term, target, child)
            voids = 1
        nets = []
        for a in addrs:
            net = _address_network(a, term.cidr6 if ":" in a else term.cidr4)  # §5.6 dual-cidr-length
            if net is not None:
                nets.append(net)
        child["addresses"] = addrs[:50]
        space = Space.of_networks(nets, outward=term.qualifier == "+")
        child.update(space.to_json())
        return space, voids, 0

    def void(self, term: Term, name: str, child: dict[str, Any]) -> None:
        child["void"] = True
        self.findings.append(finding("SPF_VOID_LOOKUP", term=term.text, name=name))


def _only_domain_macros(term: Term) -> bool:
    """True when every macro of the target is %{d} (the record's own domain): expandable without a sender."""
    return all(not isinstance(t, MacroExpand) or t.letter == "d" for t in term.macro or ())


def _literal_target(term: Term, domain: str) -> str:
    """The target of a term without macro-expands: its literal text (with %%, %_, %- decoded, §7.1)."""
    if not term.macro:
        return (term.value or domain).rstrip(".").lower()
    return truncate_domain("".join(t for t in term.macro if isinstance(t, str))).lower()  # §7.3


async def _static_target(term: Term, domain: str) -> str:
    if not term.macro:
        return (term.value or domain).rstrip(".").lower()
    ctx = MacroContext(f"postmaster@{domain}", domain, ipaddress.ip_address("0.0.0.0"))
    return truncate_domain(await expand(term.macro, ctx)).lower()  # §7.3


def record_findings(rec: SpfRecord, *, offline: bool = True) -> list[Finding]:
    """Findings about the text of one record: syntax (with positions), all/redirect, style.

    ``offline`` adds what the tree walk of :func:`analyze` would otherwise report (ptr, %{p}, and the lookup
    count of the record's own terms, a lower bound without its includes).
    """
    out: list[Finding] = []
    for p in rec.problems:
        if p.code == "SPF_DUPLICATE_MODIFIER":
            out.append(finding(p.code, modifier=p.term.split("=", 1)[0].lower(), position=p.offset + 1))
        elif p.code == "SPF_NON_ASCII":
            out.append(finding(p.code, position=p.offset + 1, char=p.term))
        else:
            out.append(finding("SPF_SYNTAX", position=p.offset + 1, offset=p.offset, term=visible(p.term, 60),
                               reason=p.reason))
    all_term = rec.all_term
    if all_term is not None:
        code = {"+": "SPF_PASS_ALL", "?": "SPF_NEUTRAL_ALL", "~": "SPF_SOFTFAIL_ALL"}.get(all_term.qualifier)
        if code:
            out.append(finding(code))
        after = [t.text for t in rec.mechanisms if t.offset > all_term.offset]
        if after:
            shown = " ".join(after[:10]) + (f" … (+{len(after) - 10})" if len(after) > 10 else "")
            out.append(finding("SPF_TERMS_AFTER_ALL", terms=shown, count=len(after)))
        if rec.redirect is not None:
            out.append(finding("SPF_REDIRECT_WITH_ALL"))
    elif rec.redirect is None:
        out.append(finding("SPF_NO_ALL"))
    if rec.exp is not None:
        out.append(finding("SPF_EXP", name=rec.exp.value or ""))
    for t in rec.unknown_modifiers:
        out.append(finding("SPF_UNKNOWN_MODIFIER", modifier=t.name))
    for t in rec.mechanisms:
        if t.host_bits and t.network is not None:
            out.append(finding("SPF_IP_HOST_BITS", term=t.text, network=str(t.network)))
    length = len(rec.text.encode("utf-8"))
    if length > LONG_RECORD:
        out.append(finding("SPF_RECORD_TOO_LONG", length=length))
    if offline:
        for t in reachable_terms(rec):
            if t.name == "ptr":
                out.append(finding("SPF_PTR", term=t.text))
            if uses_letter(t, "p"):
                out.append(finding("SPF_MACRO_P", term=t.text))
        lookups = own_lookups(rec)
        if lookups > LOOKUP_LIMIT:
            out.append(finding("SPF_LOOKUP_LIMIT", count=lookups))
    return out


def reachable_terms(rec: SpfRecord) -> list[Term]:
    """The valid terms an evaluation can reach: mechanisms up to "all", then redirect if there is no "all"."""
    out: list[Term] = []
    for t in rec.mechanisms:
        if t.valid:
            out.append(t)
            if t.name == "all":
                return out
    if rec.redirect is not None and rec.redirect.valid:
        out.append(rec.redirect)
    return out


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a record text gives whatever the domain: its parse, its reachable terms, each with the Space it matches
    when that needs no DNS ("all" §5.1, ip4/ip6 §5.6; None for the others), and the findings about the text."""

    record: SpfRecord
    terms: tuple[tuple[Term, Space | None], ...]
    findings: tuple[Finding, ...]  # record_findings(offline=False)


def _plan(text: str) -> _Plan:
    """The plan of a record text: cached (the same provider records recur domain after domain) unless long."""
    return _make_plan(text) if len(text) > CACHED_TEXT_MAX else _cached_plan(text)


def _make_plan(text: str) -> _Plan:
    rec = parse_record_cached(text)
    terms: list[tuple[Term, Space | None]] = []
    for term in reachable_terms(rec):
        space: Space | None = None
        if term.name == "all":
            space = Space.everything()
        elif term.name in ("ip4", "ip6"):
            assert term.network is not None
            space = Space.of_networks([term.network], outward=term.qualifier == "+")
        terms.append((term, space))
    return _Plan(rec, tuple(terms), tuple(record_findings(rec, offline=False)))


_cached_plan = lru_cache(maxsize=1024)(_make_plan)


@lru_cache(maxsize=1024)
def _address_network(address: str, prefix: int | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network of an a/mx address with the term's prefix length (None for unusable address text).
    Cached: shared mail hosts answer for domain after domain."""
    try:
        return ipaddress.ip_network(address if prefix is None else f"{address}/{prefix}", strict=False)
    except ValueError:
        return None


def own_lookups(rec: SpfRecord) -> int:
    """DNS-querying terms of this record alone (§4.6.4), not counting what its includes cost."""
    return sum(1 for t in reachable_terms(rec) if t.counts_lookup)


def _empty(domain: str, status: str, present: bool | None, records: list[str], findings: list[Finding]
           ) -> dict[str, Any]:
    return {"present": present, "valid": None if present is not True else False, "record": None,
            "records": records, "all": None, "dns_lookups": 0, "void_lookups": 0, "authorized_ipv4": 0,
            "authorized_ipv6_64": 0, "own_ipv4": 0, "own_ipv6_64": 0, "provider_ipv4": 0, "providers": [],
            "includes": [], "tree": {"domain": domain, "children": []},
            "status": status, "findings": findings, "complete": status != "error"}


async def analyze(domain: str, resolver: Resolver, *, overpermissive_ipv4: int = 100_000,
                  overpermissive_ipv6_64: int = 1 << 32,
                  query_type99: bool = False, max_queries: int = 300, max_depth: int = 10) -> dict[str, Any]:
    """The SPF section of a domain's survey result (see the module doc). Never raises on DNS data."""
    domain = domain.rstrip(".").lower()
    why = domain_problem(domain, fqdn=True)
    if why:  # §4.3: nothing to look up
        return _empty(domain, "error", None, [], [finding("DOMAIN_INVALID", domain=domain, reason=why)])
    az = _Analyzer(resolver, max_queries=max_queries, max_depth=max_depth)
    findings: list[Finding] = []
    if query_type99:  # §3.1 / §14.1: the SPF RR type is obsolete; costs one query, hence optional
        ans99 = await resolver.query(domain, "SPF")
        if ans99.ok and any(is_spf_record(t) for t in ans99.txt_strings()):
            findings.append(finding("SPF_TYPE99"))
    ans = await resolver.query(domain, "TXT")
    if ans.status == "error":
        findings.append(finding("DNS_ERROR", name=domain, type="TXT", error=ans.error or "error"))
        return _empty(domain, "error", None, [], findings)
    texts = [t for t in ans.txt_strings() if is_spf_record(t)] if ans.ok else []
    if not texts:
        for t in ans.txt_strings() if ans.ok else []:
            if (inner := unquoted(t)) is not None and (is_spf_record(inner) or looks_like_spf(inner)):
                findings.append(finding("SPF_QUOTED", found=visible(t.strip(), 60), domain=domain))
            elif looks_like_spf(t):  # §4.5: discarded; receivers that trim it may still apply it
                findings.append(finding("SPF_MALFORMED_VERSION", found=visible(t, 40)))
        findings.append(finding("SPF_NONE", domain=domain))
        return _empty(domain, "none", False, [], findings)
    if len(texts) > 1:  # §4.5: permerror for every check
        findings.append(finding("SPF_MULTIPLE_RECORDS", domain=domain, count=len(texts)))
        for t in texts:
            findings.extend(f for f in record_findings(parse_record_cached(t))
                            if f.code in ("SPF_SYNTAX", "SPF_NON_ASCII", "SPF_DUPLICATE_MODIFIER"))
        return _empty(domain, "ok", True, texts, findings)
    plan = _plan(texts[0])
    rec = plan.record
    findings.extend(plan.findings)
    tree: dict[str, Any] = {"domain": domain, "record": rec.text, "errors": []}
    az.fetched[domain] = _Fetched("ok", texts, rec)
    sub = await az.record(domain, rec, (domain,), tree)
    tree.update(lookups=sub.lookups, void_lookups=sub.voids, **sub.space.to_json())
    findings.extend(az.findings)
    if sub.lookups > LOOKUP_LIMIT:
        breakdown = [{"term": c["term"], "lookups": c["lookups"]} for c in tree["children"] if c["lookups"]]
        findings.append(finding("SPF_LOOKUP_LIMIT", count=sub.lookups, breakdown=breakdown))
    if sub.voids > VOID_LIMIT:
        findings.append(finding("SPF_VOID_LOOKUP_LIMIT", count=sub.voids))
    # issue 10: warn on the space the owner can change (its own ip4/ip6/a/mx/exists/all and its own includes),
    # not on what a catalogued shared provider authorizes for all its customers (reported apart, as info)
    provider_space = Space()
    for v in sub.providers.values():
        provider_space = provider_space.union(v)
    if sub.own.ipv4 > overpermissive_ipv4 or sub.own.ipv6_64 > overpermissive_ipv6_64:
        findings.append(finding("SPF_OVERPERMISSIVE", ipv4=sub.own.ipv4, limit=overpermissive_ipv4,
                                ipv6_64=sub.own.ipv6_64, limit6=overpermissive_ipv6_64))
    if sub.providers and sub.space.ipv4 > overpermissive_ipv4:
        names = ", ".join(sorted(sub.providers))
        findings.append(finding("SPF_SHARED_PROVIDER_SPACE", ipv4=provider_space.ipv4, providers=names,
                                own_ipv4=sub.own.ipv4))
    if az.truncated:
        findings.append(finding("SPF_ANALYSIS_TRUNCATED", reason="; ".join(sorted(az.truncated))))
    all_term = rec.all_term
    invalid = any(f.code in INVALID_CODES for f in findings)
    return {
        "present": True,
        # a lookup that failed inside the tree may hide a permerror (a missing include, the limits): unknown
        "valid": False if invalid else (None if az.dns_errors else True),
        "record": rec.text,
        "records": texts,
        "all": (ALL_NAMES[all_term.qualifier] if all_term is not None
                else "redirect" if rec.redirect is not None and rec.redirect.valid else None),
        "dns_lookups": sub.lookups,
        "void_lookups": sub.voids,
        "authorized_ipv4": sub.space.ipv4,
        "authorized_ipv6_64": sub.space.ipv6_64,
        "own_ipv4": sub.own.ipv4,
        "own_ipv6_64": sub.own.ipv6_64,
        "provider_ipv4": provider_space.ipv4,
        "providers": sorted(sub.providers),
        "includes": az.includes,
        "tree": tree,
        "status": "error" if az.dns_errors and not invalid else "ok",
        "findings": findings,
        "complete": not az.truncated and not az.dns_errors and not _has_unresolved(tree),
    }


def _has_unresolved(node: dict[str, Any]) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.get("unresolved"):
            return True
        stack.extend(n.get("children", []))
    return False
