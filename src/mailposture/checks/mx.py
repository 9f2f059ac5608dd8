"""MX check (RFC 5321 §5.1, RFC 7505): where a domain's mail goes, or that it accepts none.

``analyze()`` makes one MX query; with ``resolve_hosts`` also A and AAAA per MX host (at most ``max_hosts``
hosts), or of the domain itself when it has no MX (implicit MX, RFC 5321 §5.1). A DNS failure is never
reported as "no record": it gives ``status="error"`` / ``classification="unknown"``.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from mailposture.dns.types import Answer, Resolver
from mailposture.findings import Finding, finding


def is_null_host(host: str) -> bool:
    """The zero-length label of a null MX (RFC 7505 §3), written "." in master files."""
    return host.strip() in ("", ".")


# every character an IPv4 or IPv6 address text can hold, but for an IPv6 zone after "%"
_ADDRESS_CHARS = frozenset("0123456789abcdefABCDEF.:")


def is_ip_literal(host: str) -> bool:
    text = host.strip().strip("[]").rstrip(".")
    if text.lower().startswith("ipv6:"):
        text = text[5:]
    if "%" not in text and not _ADDRESS_CHARS.issuperset(text):
        return False  # an ordinary host name: no need to try (and fail) to parse it
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _err(ans: Answer) -> str:
    return ans.error or ans.rcode or "error"


async def _addresses(name: str, resolver: Resolver) -> tuple[Answer, Answer]:
    a, aaaa = await asyncio.gather(resolver.query(name, "A"), resolver.query(name, "AAAA"))
    return a, aaaa


def _host_status(a: Answer, aaaa: Answer) -> str:
    if a.ok or aaaa.ok:
        return "ok"
    if a.status == "error" or aaaa.status == "error":
        return "error"  # unknown: one family failed and the other had nothing
    return "no-address"


async def accepts_mail(domain: str, resolver: Resolver) -> tuple[bool | None, str]:
    """Whether ``domain`` can receive mail: an MX with a host, or an implicit MX (A/AAAA); a null MX or neither
    means no (RFC 5321 §5.1, RFC 7505 §3). None when DNS errors leave it unknown. Hosts are not resolved."""
    mx = await resolver.query(domain, "MX")
    if mx.status == "error":
        return None, f"DNS error for {domain} MX: {_err(mx)}"
    if mx.status == "nxdomain":
        return False, "the domain does not exist (NXDOMAIN)"
    if mx.ok:
        hosts = [h for _, h in mx.records if not is_null_host(h)]
        if hosts:
            return True, "MX"
        return False, "null MX (RFC 7505)"
    a, aaaa = await _addresses(domain, resolver)
    status = _host_status(a, aaaa)
    if status == "ok":
        return True, "implicit MX (A/AAAA)"
    if status == "error":
        bad = a if a.status == "error" else aaaa
        return None, f"DNS error for {domain} {bad.rdtype}: {_err(bad)}"
    return False, "no MX and no A/AAAA record"


async def analyze(domain: str, resolver: Resolver, *, resolve_hosts: bool = True, max_hosts: int = 10) -> dict:
    """MX section of a domain's result. ``findings`` holds Finding objects; the rest is JSON-ready.

    ``present``: MX records published (None on DNS error); ``status``: "ok" | "none" (no MX) | "error";
    ``classification``: "receives" | "null-mx" | "implicit" | "no-mail" | "unknown"; ``records``: sorted
    ``{preference, host}`` ("." for a null MX); ``hosts``: one per distinct host in preference order with
    ``addresses``, ``cname`` (None when not resolved), ``ip_literal`` and ``status`` ("ok" | "no-address" |
    "error" | "invalid" (IP literal) | "unresolved" (resolve_hosts=False) | "skipped" (beyond max_hosts));
    with no MX and resolve_hosts, the domain itself as an implicit host (``implicit: True``, preference 0).
    Fast path (resolve_hosts=False): one MX query; "implicit" then means "no MX" (A/AAAA not checked)."""
    domain = domain.strip().rstrip(".").lower()
    findings: list[Finding] = []
    out: dict[str, Any] = {"present": None, "status": "error", "classification": "unknown", "records": [],
                           "hosts": [], "findings": findings}
    mx = await resolver.query(domain, "MX")
    if mx.status == "error":
        findings.append(finding("MX_DNS_ERROR", name=domain, type="MX", error=_err(mx)))
        return out
    if mx.status == "nxdomain":
        out.update(present=False, status="none", classification="no-mail")
        findings.append(finding("DOMAIN_NXDOMAIN", domain=domain))
        return out
    if mx.status == "nodata":
        out.update(present=False, status="none")
        await _implicit(domain, resolver, out, findings, resolve_hosts)
        return out

    records = sorted({(int(p), str(h).rstrip(".").lower()) for p, h in mx.records})
    out.update(present=True, status="ok",
               records=[{"preference": p, "host": h or "."} for p, h in records])
    nulls = [(p, h) for p, h in records if is_null_host(h)]
    real = [(p, h) for p, h in records if not is_null_host(h)]
    if nulls and not real:
        out["classification"] = "null-mx"
        findings.append(finding("MX_NULL"))
        if nulls[0][0] != 0:  # RFC 7505 §3: preference 0 and a zero-length label
            findings.append(finding("MX_NULL_PREFERENCE", preference=nulls[0][0]))
        return out
    if nulls:
        # RFC 7505 §3: a domain that advertises a null MX MUST NOT advertise any other MX RR
        findings.append(finding("MX_NULL_MIXED"))

    # one entry per host (lowest preference kept), in preference order
    seen: dict[str, int] = {}
    for p, h in real:
        seen.setdefault(h, p)
    hosts = [{"host": h, "preference": p, "addresses": [], "cname": None, "ip_literal": is_ip_literal(h),
              "status": "unresolved"} for h, p in seen.items()]
    out["hosts"] = hosts
    to_resolve = []
    skipped = 0
    for host in hosts:
        if host["ip_literal"]:
            host["status"] = "invalid"  # RFC 5321 §5.1: an MX names a host, never an address
            findings.append(finding("MX_IP_LITERAL", host=host["host"]))
        elif not resolve_hosts:
            continue
        elif len(to_resolve) >= max_hosts:
            host["status"] = "skipped"  # bounded: at most max_hosts hosts cost A+AAAA queries
            skipped += 1
        else:
            to_resolve.append(host)
    if skipped:
        findings.append(finding("MX_HOSTS_LIMIT", checked=len(to_resolve), count=len(to_resolve) + skipped))
    if to_resolve:  # the survey default resolves no host
        results = await asyncio.gather(*(_addresses(h["host"], resolver) for h in to_resolve))
        for host, (a, aaaa) in zip(to_resolve, results, strict=True):
            _fill_host(host, a, aaaa, findings)
    out["classification"] = _classify_hosts(hosts)
    return out


def _fill_host(host: dict[str, Any], a: Answer, aaaa: Answer, findings: list[Finding]) -> None:
    host["addresses"] = [*a.records, *aaaa.records]  # answers other than "ok" carry no records
    host["cname"] = bool(a.cname_chain or aaaa.cname_chain)
    if host["cname"]:
        # RFC 2181 §10.3: an MX target must not be an alias
        findings.append(finding("MX_CNAME", host=host["host"]))
    host["status"] = _host_status(a, aaaa)
    if host["status"] == "no-address":
        findings.append(finding("MX_NO_ADDRESS", host=host["host"]))
    for ans in (a, aaaa):
        if ans.status == "error":
            sev = "warning" if host["status"] == "ok" else None
            findings.append(finding("MX_DNS_ERROR", sev, name=host["host"], type=ans.rdtype, error=_err(ans)))


def _classify_hosts(hosts: list[dict[str, Any]]) -> str:
    statuses = {h["status"] for h in hosts}
    if statuses & {"ok", "unresolved", "skipped"}:
        return "receives"
    if "error" in statuses:
        return "unknown"
    return "no-mail"  # every host is known to have no address (or is an IP literal)


async def _implicit(domain: str, resolver: Resolver, out: dict[str, Any], findings: list[Finding],
                    resolve_hosts: bool) -> None:
    """No MX: mail goes to the domain's own A/AAAA as an implicit MX of preference 0 (RFC 5321 §5.1)."""
    if not resolve_hosts:
        # survey fast path: only the MX query is made, so whether the A/AAAA fallback exists is not checked
        out["classification"] = "implicit"
        findings.append(finding("MX_NONE"))
        return
    a, aaaa = await _addresses(domain, resolver)
    status = _host_status(a, aaaa)
    host = {"host": domain, "preference": 0, "addresses": [*a.records, *aaaa.records], "cname": None,
            "ip_literal": False, "status": status, "implicit": True}
    if status == "ok":
        host["cname"] = bool(a.cname_chain or aaaa.cname_chain)
        out["hosts"] = [host]
        out["classification"] = "implicit"
        findings.append(finding("MX_NONE"))
    elif status == "no-address":
        out["classification"] = "no-mail"
        findings.append(finding("MX_NO_MAIL", domain=domain))
    else:
        out["classification"] = "unknown"
        out["status"] = "error"
        out["hosts"] = [host]
    for ans in (a, aaaa):
        if ans.status == "error":
            sev = "warning" if status == "ok" else None
            findings.append(finding("MX_DNS_ERROR", sev, name=domain, type=ans.rdtype, error=_err(ans)))
