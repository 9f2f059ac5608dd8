"""check_host() (RFC 7208 §4): the SPF result for (ip, domain, sender), with the trace of every step."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from mailposture.checks.spf.macro import (
    EXP_LETTERS,
    MacroContext,
    expand,
    parse_macro_string,
    reverse_name,
    truncate_domain,
)
from mailposture.checks.spf.parse import SpfRecord, Term, is_spf_record, parse_record_cached
from mailposture.dns.types import Answer, Resolver

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")
MAX_LOOKUPS = 10       # §4.6.4: terms that cause DNS queries
MAX_VOID = 2           # §4.6.4: lookups answered with NXDOMAIN or no records
MAX_MX = 10            # §4.6.4: MX records of one mx mechanism
MAX_PTR = 10           # §4.6.4: PTR names examined by ptr / %{p}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(slots=True)
class Step:
    depth: int
    domain: str
    action: str   # "record", "term", "match", "lookup", "result", "error", "exp", ...
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"depth": self.depth, "domain": self.domain, "action": self.action, "detail": self.detail}


@dataclass(slots=True)
class SpfResult:
    result: str
    domain: str
    reason: str = ""
    mechanism: str | None = None         # the term that decided (top level), if any
    explanation: str | None = None       # from exp= (§6.2), only for fail; None when there is none
    record: str | None = None            # the record of `domain`
    dns_lookups: int = 0
    void_lookups: int = 0
    trace: list[Step] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"result": self.result, "domain": self.domain, "reason": self.reason,
                "mechanism": self.mechanism, "explanation": self.explanation, "record": self.record,
                "dns_lookups": self.dns_lookups, "void_lookups": self.void_lookups,
                "trace": [s.to_json() for s in self.trace]}


class _Abort(Exception):
    """permerror / temperror that ends the whole evaluation (limits, DNS errors)."""

    def __init__(self, result: str, reason: str) -> None:
        super().__init__(reason)
        self.result, self.reason = result, reason


@dataclass(slots=True)
class _Outcome:
    result: str
    reason: str
    term: str | None = None
    exp: tuple[Term, str] | None = None  # (exp modifier, domain of its record) for the §6.2 explanation
    record: str | None = None


def domain_problem(name: str, *, fqdn: bool = False) -> str | None:
    """§4.3: why ``name`` cannot be used as a domain (None if it can)."""
    if name.endswith("."):
        name = name[:-1]
    if not name:
        return "empty domain"
    if fqdn and name.startswith("["):
        return "domain literal"
    labels = name.split(".")
    if "" in labels:
        return "empty label"
    if name.isascii():  # one octet per character: no need to encode
        too_long = any(len(lab) > 63 for lab in labels)
    else:
        too_long = any(len(lab.encode("utf-8", "surrogateescape")) > 63 for lab in labels)
    if too_long:
        return "label longer than 63 octets"
    if len(name) > 253:
        return "name longer than 253 characters"
    if fqdn and len(labels) < 2:
        return "not a fully qualified (multi-label) domain"
    return None


def parse_ip(text: str) -> IPAddress:
    """The client address; an IPv4-mapped IPv6 address is treated as IPv4 (RFC 4291 §2.5.5.2, §5 of 7208)."""
    ip = ipaddress.ip_address(text.strip())
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class Evaluator:
    """One check_host() run; keeps the §4.6.4 counters shared by every nested include/redirect."""

    def __init__(self, resolver: Resolver, ip: IPAddress, sender: str, helo: str, *,
                 receiver: str = "unknown", max_lookups: int = MAX_LOOKUPS, max_void: int = MAX_VOID,
                 timestamp: int | None = None) -> None:
        self.resolver = resolver
        self.ip = ip
        self.sender = sender
        self.helo = helo
        self.receiver = receiver
        self.max_lookups, self.max_void = max_lookups, max_void
        self.timestamp = timestamp
        self.lookups = 0
        self.voids = 0
        self.trace: list[Step] = []
        self.stack: list[str] = []
        self._validated: dict[str, str] = {}

    # -- helpers ------------------------------------------------------------------------------------------
    def log(self, domain: str, action: str, detail: str) -> None:
        if len(self.trace) < 2000:  # bound the trace of hostile records
            self.trace.append(Step(max(len(self.stack) - 1, 0), domain, action, detail))

    def ctx(self, domain: str) -> MacroContext:
        return MacroContext(self.sender, domain, self.ip, self.helo, self.receiver, self.timestamp,
                            self.resolver, self._validated)

    async def query(self, domain: str, name: str, rdtype: str) -> Answer:
        ans = await self.resolver.query(name, rdtype)
        extra = f" ({ans.error})" if ans.error else ""
        self.log(domain, "lookup", f"{name} {rdtype} -> {ans.status}{extra} {len(ans.records)} record(s)")
        return ans

    def count_lookup(self, domain: str, term: str) -> None:
        self.lookups += 1  # §4.6.4: more than 10 DNS-querying terms -> permerror
        if self.lookups > self.max_lookups:
            raise _Abort("permerror", f"more than {self.max_lookups} DNS lookups ('{term}' in {domain})")

    def count_void(self, domain: str, name: str) -> None:
        self.voids += 1  # §4.6.4: more than 2 void lookups -> permerror
        self.log(domain, "void", f"{name}: void lookup {self.voids}")
        if self.voids > self.max_void:
            raise _Abort("permerror", f"more than {self.max_void} void lookups ({name})")

    async def target(self, term: Term, domain: str) -> str:
        """The domain a term points at: its expanded domain-spec (§7.3 truncation), else <domain>."""
        if term.macro is None:
            return domain
        # the expansion is raw text (a local part may hold "@", "$", " "…): the resolver compares names in one
        # canonical form, where only a backslash has to be written as an escape (RFC 1035 §5.1)
        return truncate_domain(await expand(term.macro, self.ctx(domain))).lower().replace("\\", "\\\\")

    # -- §4: check_host -----------------------------------------------------------------------------------
    async def check_host(self, domain: str) -> _Outcome:
        domain = domain.lower()
        self.stack.append(domain)  # the domains being evaluated: loop detection and trace depth
        try:
            return await self._check_host(domain)
        finally:
            self.stack.pop()

    async def _check_host(self, domain: str) -> _Outcome:
        why = domain_problem(domain, fqdn=True)
        if why:  # §4.3: a malformed domain gives "none"
            self.log(domain, "result", f"none: {why}")
            return _Outcome("none", f"'{domain}' is not a valid domain ({why})")
        ans = await self.query(domain, domain, "TXT")
        if ans.status == "error":  # §4.4: DNS error -> temperror
            raise _Abort("temperror", f"DNS error looking up TXT of {domain}: {ans.error}")
        texts = [t for t in ans.txt_strings() if is_spf_record(t)] if ans.ok else []
        if not texts:  # §4.5: no record -> none
            self.log(domain, "result", "none: no SPF record")
            return _Outcome("none", f"no SPF record at {domain}")
        if len(texts) > 1:  # §4.5: more than one -> permerror
            raise _Abort("permerror", f"{len(texts)} SPF records at {domain}")
        self.log(domain, "record", texts[0])
        rec = parse_record_cached(texts[0])  # shared, read-only: the same records recur message after message
        if not rec.valid:  # §4.6: a syntax error anywhere -> permerror, before evaluating anything
            p = rec.problems[0]
            raise _Abort("permerror", f"syntax error in the record of {domain} at {p.offset} "
                                      f"('{p.term}'): {p.reason}")
        out = await self.evaluate(rec, domain)
        out.record = texts[0]  # the record of this domain, even when a redirect decided
        return out

    async def evaluate(self, rec: SpfRecord, domain: str) -> _Outcome:
        """§4.6.2 / §4.7: mechanisms left to right; then redirect; then neutral."""
        exp = rec.exp
        for term in rec.mechanisms:
            if await self.matches(term, domain):
                self.log(domain, "match", f"'{term.text}' matched -> {term.result}")
                return _Outcome(term.result, f"'{term.text}' matched in {domain}", term.text,
                                (exp, domain) if exp else None)
            self.log(domain, "term", f"'{term.text}' did not match")
        redirect = rec.redirect
        if redirect is not None:  # §6.1: only when no mechanism matched (so never when "all" is present)
            self.count_lookup(domain, redirect.text)
            target = await self.target(redirect, domain)
            self.log(domain, "redirect", target)
            if target in self.stack:
                raise _Abort("permerror", f"redirect loop: {domain} -> {target}")
            out = await self.check_host(target)
            if out.result == "none":  # §6.1: a redirect target without a record -> permerror
                raise _Abort("permerror", f"redirect={target}: {out.reason}")
            return out  # the target's exp (if any) replaces ours (§6.2)
        self.log(domain, "default", "no mechanism matched -> neutral")
        return _Outcome("neutral", f"no mechanism matched in {domain}", None, None)

    async def matches(self, term: Term, domain: str) -> bool:
        name = term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            net = term.network
            return net is not None and net.version == self.ip.version and self.ip in net
        self.count_lookup(domain, term.text)
        target = await self.target(term, domain)
        if name == "include":
            return await self.include(term, domain, target)
        if domain_problem(target):
            # an expanded target that is not a usable domain name is treated as non-existent (no match)
            self.log(domain, "term", f"'{term.text}': '{target}' is not a valid domain name, no match")
            return False
        if name == "a":
            return await self.address_match(domain, target, term, count_void=True)
        if name == "mx":
            return await self.mx(term, domain, target)
        if name == "ptr":
            return await self.ptr(domain, target)
        if name == "exists":  # §5.7: an A query, whatever the IP version of the client
            ans = await self.query(domain, target, "A")
            if ans.status == "error":
                raise _Abort("temperror", f"DNS error on exists:{target}: {ans.error}")
            if not ans.ok or not ans.records:
                self.count_void(domain, target)
                return False
            return True
        raise _Abort("permerror", f"unknown mechanism {name}")  # unreachable: the parser rejects it

    async def include(self, term: Term, domain: str, target: str) -> bool:
        # §5.2: the result table of include
        if target in self.stack:
            raise _Abort("permerror", f"include loop: {domain} -> {target}")
        self.log(domain, "include", target)
        out = await self.check_host(target)
        self.log(domain, "include-result", f"{target} -> {out.result}")
        if out.result == "pass":
            return True
        if out.result in ("fail", "softfail", "neutral"):
            return False
        if out.result == "none":
            raise _Abort("permerror", f"include:{target} has no SPF record")
        raise _Abort(out.result, out.reason)

    async def address_match(self, domain: str, name: str, term: Term, *, count_void: bool) -> bool:
        """§5.3: A or AAAA of `name` (by client IP version) compared with the dual cidr lengths."""
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        ans = await self.query(domain, name, rdtype)
        if ans.status == "error":
            raise _Abort("temperror", f"DNS error on {name} {rdtype}: {ans.error}")
        if not ans.ok or not ans.records:
            if count_void:
                self.count_void(domain, name)
            return False
        prefix = (term.cidr4 if self.ip.version == 4 else term.cidr6)
        prefix = prefix if prefix is not None else (32 if self.ip.version == 4 else 128)
        for addr in ans.records:
            try:
                net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
            except ValueError:
                continue
            if net.version == self.ip.version and self.ip in net:
                return True
        return False

    async def mx(self, term: Term, domain: str, target: str) -> bool:
        ans = await self.query(domain, target, "MX")
        if ans.status == "error":
            raise _Abort("temperror", f"DNS error on {target} MX: {ans.error}")
        if not ans.ok or not ans.records:
            self.count_void(domain, target)  # §5.4: no implicit MX here
            return False
        if len(ans.records) > MAX_MX:  # §4.6.4
            raise _Abort("permerror", f"{target} has {len(ans.records)} MX records (limit {MAX_MX})")
        for _pref, host in sorted(ans.records):
            host = str(host).rstrip(".").lower()
            if not host or domain_problem(host):  # null MX (RFC 7505) has no address
                continue
            if await self.address_match(domain, host, term, count_void=False):
                return True
        return False

    async def ptr(self, domain: str, target: str) -> bool:
        # §5.5: validated PTR names (at most 10) equal to or under the target
        rname = reverse_name(self.ip)
        ans = await self.query(domain, rname, "PTR")
        if ans.status == "error":
            return False  # §5.5: a DNS error on the PTR lookup means no match
        if not ans.ok or not ans.records:
            self.count_void(domain, rname)
            return False
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        for host in list(ans.records)[:MAX_PTR]:
            host = str(host).rstrip(".").lower()
            if not (host == target or host.endswith("." + target)):
                continue
            fwd = await self.query(domain, host, rdtype)
            if not fwd.ok:
                continue  # §5.5: errors on the forward lookup skip the name
            for addr in fwd.records:
                try:
                    if ipaddress.ip_address(str(addr)) == self.ip:
                        return True
                except ValueError:
                    continue
        return False

    async def explain(self, exp: Term, domain: str) -> str | None:
        """§6.2: the explanation string, or None when anything goes wrong (errors are ignored)."""
        try:
            name = await self.target(exp, domain)
        except Exception:  # any trouble here only means "no explanation" (§6.2)
            return None
        if domain_problem(name):
            return None
        ans = await self.query(domain, name, "TXT")
        if not ans.ok or len(ans.records) != 1:
            self.log(domain, "exp", f"{name}: no single TXT record, explanation ignored")
            return None
        text = ans.txt_strings()[0]
        tokens, problems = parse_macro_string(text, letters=EXP_LETTERS, spaces=True)
        if problems or not text.isascii():
            self.log(domain, "exp", f"{name}: explanation text is invalid, ignored")
            return None
        return await expand(tokens, self.ctx(domain))


async def check_host(ip: str | IPAddress, domain: str, sender: str, *, resolver: Resolver,
                     helo: str = "", receiver: str = "unknown", max_lookups: int = MAX_LOOKUPS,
                     max_void: int = MAX_VOID, timestamp: int | None = None) -> SpfResult:
    """RFC 7208 §4 check_host(<ip>, <domain>, <sender>) with the trace of every step.

    ``sender`` without a local part gets "postmaster" (§4.3). Raises ValueError only for an invalid ``ip``.
    """
    addr = parse_ip(ip) if isinstance(ip, str) else ip
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if "@" not in sender:
        sender = f"postmaster@{sender}" if sender else f"postmaster@{domain}"
    elif sender.startswith("@"):
        sender = "postmaster" + sender
    ev = Evaluator(resolver, addr, sender, helo, receiver=receiver, max_lookups=max_lookups,
                   max_void=max_void, timestamp=timestamp)
    dom = domain.rstrip(".").lower()
    try:
        out = await ev.check_host(dom)
    except _Abort as e:
        ev.log(dom, "result", f"{e.result}: {e.reason}")
        return SpfResult(e.result, dom, e.reason, None, None, None, ev.lookups, ev.voids, ev.trace)
    explanation = None
    if out.result == "fail" and out.exp is not None:  # §6.2: only for fail; failures ignored
        explanation = await ev.explain(*out.exp)
        ev.log(dom, "exp", f"explanation: {explanation!r}")
    ev.log(dom, "result", f"{out.result}: {out.reason}")
    return SpfResult(out.result, dom, out.reason, out.term, explanation, out.record, ev.lookups,
                     ev.voids, ev.trace)


async def check_spf(ip: str | IPAddress, sender: str, helo: str, *, resolver: Resolver,
                    receiver: str = "unknown", timestamp: int | None = None) -> SpfResult:
    """The MAIL FROM check of §2.4, falling back to the HELO identity (postmaster@helo) for a null sender."""
    sender = sender.strip().strip("<>")
    if not sender:
        sender = f"postmaster@{helo}"
    domain = sender.rpartition("@")[2] if "@" in sender else sender
    return await check_host(ip, domain, sender, resolver=resolver, helo=helo, receiver=receiver,
                            timestamp=timestamp)
