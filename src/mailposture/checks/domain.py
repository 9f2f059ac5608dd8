"""One domain, every section: the per-domain result that `check`, `scan`, `survey` and the web all share.

The sections run concurrently on one resolver wrapped in a :class:`TrackingResolver`, so the result keeps the
number of lookups, every DNS error and every raw answer (a survey round can be recomputed from them).

Result contract (keys kept stable; more may be added):
``domain, status ("ok" | "error"), attrs, spf{…}, dmarc{…}, mx{…}, dns{queries, cache_hits, errors[],
answers[]}, findings[]`` — each section has its own ``findings``; the top-level ``findings`` hold what concerns
the domain as a whole (existence, the spoofing verdict). ``status`` is "error" when a section could not be
determined because DNS failed: the parts that were determined are still reported.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailposture import __version__
from mailposture.checks import dmarc, mx, posture, spf  # the core; other sections are imported when asked
from mailposture.dns.types import Resolver, TrackingResolver
from mailposture.findings import Finding, finding

CORE_SECTIONS = ("spf", "dmarc", "mx")
EXTRA_SECTIONS = ("dkim", "bimi", "mta_sts", "tls_rpt", "dnssec")
ALL_SECTIONS = CORE_SECTIONS + EXTRA_SECTIONS
TOOL = f"mailposture {__version__}"


@dataclass(slots=True)
class CheckOptions:
    """What to check. `check` turns everything on; `scan` defaults to the survey core (spf, dmarc, mx)."""

    sections: tuple[str, ...] = CORE_SECTIONS
    mx_resolve_hosts: bool = False        # A/AAAA of each MX host (2 queries a host)
    dmarc_report_auth: bool = True        # RFC 7489 §7.1 external destination checks
    fetch: bool = False                   # HTTPS fetches (MTA-STS policy, BIMI SVG)
    keep_answers: bool = True             # raw DNS answers in result["dns"]["answers"]
    validating_resolver: bool = False     # DNSSEC: the configured resolver validates (AD bit meaningful)
    dkim_selectors: tuple[str, ...] | None = None
    ca_file: str | None = None            # extra CA for HTTPS fetches (tests, private PKI)
    spf_type99: bool = False              # also ask for the obsolete SPF RR type (RFC 7208 §3.1): one query more
    # sections side by side (a single check answers sooner); a scan, which runs hundreds of domains side by
    # side, runs them one after the other and saves a task per section
    concurrent_sections: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def everything(cls, **kw: Any) -> CheckOptions:
        kw.setdefault("spf_type99", True)
        return cls(sections=ALL_SECTIONS, mx_resolve_hosts=True, **kw)


_stamp: tuple[int, str] = (-1, "")


def _checked_at(second: int) -> str:
    """ISO 8601 UTC time of ``second`` (a Unix time), as datetime.isoformat(timespec="seconds") writes it.

    A scan checks thousands of domains per second: the text is made once per second."""
    global _stamp
    if _stamp[0] != second:
        _stamp = (second, datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds"))
    return _stamp[1]


def _json_findings(section: dict[str, Any], lang: str) -> dict[str, Any]:
    out = dict(section)
    out["findings"] = [f.to_json(lang) if isinstance(f, Finding) else f for f in section.get("findings", ())]
    return out


def _error_section(name: str, exc: BaseException) -> dict[str, Any]:
    # A bug in one section must not lose the others: report it as unknown, with the reason.
    return {"status": "error", "present": None, "error": f"{type(exc).__name__}: {exc}",
            "findings": [finding("DNS_ERROR", name=name, type="-", error=f"internal error: {exc}")]}


async def _run_sections(domain: str, res: Resolver, opts: CheckOptions) -> dict[str, dict[str, Any]]:
    want = set(opts.sections)
    first: dict[str, Any] = {}
    if "spf" in want:
        first["spf"] = spf.analyze(domain, res, query_type99=opts.spf_type99)
    if "dmarc" in want:
        first["dmarc"] = dmarc.analyze(domain, res, check_report_auth=opts.dmarc_report_auth)
    if "mx" in want or "mta_sts" in want:
        first["mx"] = mx.analyze(domain, res, resolve_hosts=opts.mx_resolve_hosts)
    if "dkim" in want:
        from mailposture.checks import dkim

        first["dkim"] = dkim.analyze(domain, res, selectors=opts.dkim_selectors)
    if "tls_rpt" in want:
        from mailposture.checks import tls_rpt

        first["tls_rpt"] = tls_rpt.analyze(domain, res)
    if "dnssec" in want:
        from mailposture.checks import dnssec

        first["dnssec"] = dnssec.analyze(domain, res, validating_resolver=opts.validating_resolver)
    sections = await _gather(first, opts.concurrent_sections)

    second: dict[str, Any] = {}
    if "bimi" in want:
        from mailposture.checks import bimi

        second["bimi"] = bimi.analyze(domain, res, dmarc=sections.get("dmarc"), fetch=opts.fetch,
                                      ca_file=opts.ca_file)
    if "mta_sts" in want:
        from mailposture.checks import mta_sts

        second["mta_sts"] = mta_sts.analyze(domain, res, mx=sections.get("mx"), fetch=opts.fetch,
                                            ca_file=opts.ca_file)
    if second:
        sections.update(await _gather(second, opts.concurrent_sections))
    return sections


async def _gather(coros: dict[str, Any], concurrent: bool = True) -> dict[str, dict[str, Any]]:
    """Run the sections side by side, as ``asyncio.gather(..., return_exceptions=True)`` would, with one task
    fewer: the first section runs in the caller's task, each other one in a task of its own (a task costs more
    CPU than a small section). A section that raises becomes an error section; cancellation stops them all.
    ``concurrent=False``: one after the other in the caller's task."""
    items = list(coros.items())
    if not items:
        return {}
    if not concurrent:
        seq: dict[str, dict[str, Any]] = {}
        try:
            for name, coro in items:
                seq[name] = await _section(name, coro)
        finally:
            for name, coro in items:
                if name not in seq:
                    coro.close()  # not started (cancelled before its turn): no "never awaited" warning
        return seq
    tasks = [(name, asyncio.ensure_future(coro)) for name, coro in items[1:]]
    out: dict[str, dict[str, Any]] = {}
    try:
        out[items[0][0]] = await _section(items[0][0], items[0][1])
        for name, task in tasks:
            out[name] = await _section(name, task)
    except BaseException:  # cancelled (or interrupted): the sections still running stop too
        for _, task in tasks:
            task.cancel()
        raise
    return out


async def _section(name: str, section: Any) -> dict[str, Any]:
    try:
        return await section
    except Exception as exc:  # CancelledError and KeyboardInterrupt are not Exceptions: they propagate
        return _error_section(name, exc)


def _verdict(sections: dict[str, dict[str, Any]]) -> list[Finding]:
    """One plain verdict: is the domain protected against spoofing of its From: domain? (RFC 7489 §6.3)"""
    dmarc = sections.get("dmarc")
    if not dmarc:
        return []
    if dmarc.get("protected"):
        return [finding("POSTURE_PROTECTED", policy=dmarc.get("policy"))]
    if dmarc.get("protected") is None and dmarc.get("status") == "error":
        return []  # unknown: the DMARC section already says why
    policy = dmarc.get("policy")
    reason = ("no DMARC policy" if not policy else f"DMARC policy is {policy}")
    return [finding("POSTURE_SPOOFABLE", reason=reason)]


async def check_domain(domain: str, resolver: Resolver, *, attrs: dict[str, Any] | None = None, lang: str = "en",
                       options: CheckOptions | None = None) -> dict[str, Any]:
    """Check one (already normalised, A-label) domain. Never raises for DNS problems."""
    opts = options or CheckOptions()
    tracker = TrackingResolver(resolver)
    started = int(time.time())  # whole seconds, as datetime.now(UTC).isoformat(timespec="seconds") truncates
    sections = await _run_sections(domain, tracker, opts)

    top: list[Finding] = []
    spf_sec = sections.get("spf", {})
    apex = next((a for a in tracker.stats.answers if a.name == domain and a.rdtype == "TXT"), None)
    if apex is not None and apex.status == "nxdomain" and spf_sec.get("present") is False:
        top.append(finding("DOMAIN_NXDOMAIN", domain=domain))  # RFC 8020: nothing exists below it either
    top.extend(_verdict(sections))
    if {"spf", "dmarc", "mx"} <= sections.keys():  # pure, no query: parked-and-protected or not
        sections["posture"] = posture.assess(sections["spf"], sections["dmarc"], sections["mx"])

    status = "error" if any(s.get("status") == "error" for s in sections.values()) else "ok"
    result: dict[str, Any] = {"domain": domain, "status": status, "attrs": attrs or {}}
    for name in (*ALL_SECTIONS, "posture"):
        if name in sections:
            result[name] = _json_findings(sections[name], lang)
    dns: dict[str, Any] = tracker.stats.to_json()
    if opts.keep_answers:
        seen: set[tuple[str, str]] = set()
        answers = []
        for a in tracker.stats.answers:
            key = (a.name, a.rdtype)
            if key not in seen:
                seen.add(key)
                answers.append(a.to_json())
        dns["answers"] = answers
    result["dns"] = dns
    result["findings"] = [f.to_json(lang) for f in top]
    result["checked_at"] = _checked_at(started)
    result["tool"] = TOOL
    return result
