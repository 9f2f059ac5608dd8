"""DNS proof for one registrable domain, through the project's resolver (every lookup honours --nameserver).

The question that separates a spam operation from a CDN with hashed names: does a label that nobody has ever
seen get an SPF record? A zone that answers ``v=spf1 …`` at ``<fresh random label>.<parent>`` publishes a
wildcard TXT (RFC 4592) — every name it will ever invent can pass SPF. We also ask the names that were seen,
evaluate SPF (RFC 7208 check_host()) for the client addresses seen with them, and look for wildcard A and MX,
the delegation (NS) and the SOA serial (a date-shaped serial, RFC 1912 §2.2, tells when the zone last changed).

A DNS failure is kept apart from "no record": each probe is ``True``/``False``/``None`` (unknown).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailposture.checks.spf.parse import is_spf_record, parse_record
from mailposture.dns.types import Answer, Resolver


def fresh_label() -> str:
    """A label no sender can have used: 20 random base-32 characters behind a fixed marker."""
    return "mp-" + secrets.token_hex(10)


def authorizes_something(record: str) -> bool:
    """True when the SPF record can give ``pass`` to some address (a ``+`` mechanism other than a lone
    ``-all``/``~all``/``?all``, or a redirect): ``v=spf1 -all`` authorizes nothing (RFC 7208 §5, §6.1)."""
    rec = parse_record(record)
    if rec.redirect is not None:
        return True
    return any(t.qualifier in ("", "+") for t in rec.mechanisms)


def _spf(ans: Answer) -> tuple[bool | None, str | None]:
    if ans.status == "error":
        return None, None
    recs = [t for t in ans.txt_strings() if is_spf_record(t)]
    return (bool(recs), recs[0] if recs else None)


@dataclass(slots=True)
class Proof:
    parent: str
    probe_name: str
    wildcard_spf: bool | None = None
    wildcard_record: str | None = None
    wildcard_authorizes: bool = False
    seen_spf: bool | None = None
    seen_authorizes: bool = False
    seen_record: str | None = None
    seen_name: str | None = None
    spf_pass_ips: list[str] = field(default_factory=list)
    spf_results: dict[str, str] = field(default_factory=dict)
    wildcard_a: bool | None = None
    wildcard_mx: bool | None = None
    ns: list[str] = field(default_factory=list)
    soa_serial: int | None = None
    soa_serial_date: str | None = None
    errors: list[str] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)


def serial_date(serial: int) -> str | None:
    """``YYYYMMDDnn`` serials (RFC 1912 §2.2) as an ISO date; None for other serials."""
    text = str(serial)
    if len(text) != 10:
        return None
    try:
        d = datetime.strptime(text[:8], "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return d.date().isoformat() if 1990 <= d.year <= 2100 else None


def _soa_serial(rdata: Any) -> int | None:
    """The serial of an SOA record: the engine gives ``(mname, rname, serial, …)``; raw rdata ends with the five
    32-bit fields (RFC 1035 §3.3.13)."""
    if isinstance(rdata, tuple) and len(rdata) >= 3 and isinstance(rdata[2], int):
        return rdata[2]
    if isinstance(rdata, bytes) and len(rdata) >= 20:
        return int.from_bytes(rdata[-20:-16], "big")
    if isinstance(rdata, str) and len(parts := rdata.split()) >= 3 and parts[2].isdigit():
        return int(parts[2])   # presentation form (the test resolver)
    return None


async def prove(domain: str, parent: str, seen_names: list[str], ips: dict[str, str], resolver: Resolver, *,
                max_spf_checks: int = 3) -> Proof:
    from mailposture.checks.spf.evaluate import check_host

    probe = f"{fresh_label()}.{parent}"
    pr = Proof(parent=parent, probe_name=probe)

    async def ask(name: str, rdtype: str) -> Answer:
        ans = await resolver.query(name, rdtype)
        pr.answers.append(ans.to_json())
        if ans.status == "error":
            pr.errors.append(f"{name} {rdtype}: {ans.error or ans.rcode or 'error'}")
        return ans

    pr.wildcard_spf, pr.wildcard_record = _spf(await ask(probe, "TXT"))
    if pr.wildcard_record:
        pr.wildcard_authorizes = authorizes_something(pr.wildcard_record)
    for name in seen_names[:3]:
        found, rec = _spf(await ask(name, "TXT"))
        if found and rec:
            pr.seen_spf, pr.seen_record, pr.seen_name = True, rec, name
            pr.seen_authorizes = authorizes_something(rec)
            break
        if found is False and pr.seen_spf is None:
            pr.seen_spf = False
    a = await ask(probe, "A")
    pr.wildcard_a = None if a.status == "error" else a.ok
    mx = await ask(probe, "MX")
    pr.wildcard_mx = None if mx.status == "error" else mx.ok
    ns = await ask(domain, "NS")
    pr.ns = sorted(str(r) for r in ns.records) if ns.ok else []
    soa = await ask(domain, "SOA")
    if soa.ok and soa.records:
        pr.soa_serial = _soa_serial(soa.records[0])
        if pr.soa_serial is not None:
            pr.soa_serial_date = serial_date(pr.soa_serial)
    # SPF for the client addresses seen with the domain's names (check_host, RFC 7208 §4)
    for ip, name in list(ips.items())[:max_spf_checks]:
        try:
            res = await check_host(ip, name, f"postmaster@{name}", resolver=resolver)
        except ValueError:
            continue
        pr.spf_results[ip] = res.result
        if res.result == "pass":
            pr.spf_pass_ips.append(ip)
    return pr
