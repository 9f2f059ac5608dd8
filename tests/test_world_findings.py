"""Every finding code that DNS can trigger, produced end to end: one generated world served by NSD on 127.0.0.1,
a fault-injecting proxy in front of it, and the real ``mailposture scan`` command (a subprocess of the CLI:
real Engine over UDP and TCP, check_domain with every section) reading the JSON Lines it writes.

The world (tests/worlds/findings_world.py) has one domain per code, named after it. Codes that no DNS world can
produce are listed with a reason in ``NOT_FROM_DNS``; the catalogue must equal covered ∪ NOT_FROM_DNS, so a new
code added without a world entry fails here. Codes the pipeline is known not to produce are xfail(strict).

Chain: scan -> FaultyProxy (SERVFAIL / drop / drop the first try) -> AdRelay (AD bit for "secure" names, as a
validating resolver would) -> NSD.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import require_program
from mailposture.findings import CATALOG, render
from worlds import findings_world
from worlds.findings_world import NOT_FROM_DNS, FindingsWorld
from worlds.relays import AdRelay, LoopThread

pytestmark = pytest.mark.system

TIMEOUT, RETRIES = 0.5, 2
MAX_CORE_PACKETS_PER_DOMAIN = 8
WORLD = findings_world.build()


def _scan(tmp: Path, name: str, proxy_address: str, inputs: Path, *extra: str) -> dict[str, Any]:
    out, summary = tmp / f"{name}.jsonl", tmp / f"{name}-summary.json"
    cmd = [sys.executable, "-m", "mailposture.cli", "scan", str(inputs), "-o", str(out), "--summary-json",
           str(summary), "--no-progress", "--lang", "en", "-n", proxy_address, "--timeout", str(TIMEOUT),
           "--retries", str(RETRIES), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"scan exited {proc.returncode}\n{proc.stderr[-4000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {"results": {r["domain"]: r for r in results}, "count": len(results),
            "summary": json.loads(summary.read_text(encoding="utf-8")), "stderr": proc.stderr}


def _run(loop: LoopThread, upstream: str, world: FindingsWorld, tmp: Path, name: str, inputs: Path,
         *extra: str) -> dict[str, Any]:
    """One scan through a fresh FaultyProxy (so its try counters belong to this scan alone)."""
    from mailposture.dns.server import FaultyProxy

    async def start() -> FaultyProxy:
        proxy = FaultyProxy(upstream, timeout=2.0)
        for key, pred in findings_world.faulty_predicates(world, proxy.tries).items():
            setattr(proxy, key, pred)
        return await proxy.start()

    proxy = loop.run(start())
    try:
        got = _scan(tmp, name, proxy.address, inputs, *extra)
    finally:
        loop.run(proxy.stop())
    got.update(tries=dict(proxy.tries), dropped=proxy.dropped, servfailed=proxy.servfailed)
    return got


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_program("nsd")
    from mailposture.dns.nsd import NsdServer

    world = WORLD
    tmp = tmp_path_factory.mktemp("world")
    inputs = tmp / "domains.txt"
    inputs.write_text("".join(f"{d}\n" for d in world.inputs), encoding="utf-8")
    selectors = tmp / "selectors.txt"
    selectors.write_text("".join(f"{s}\n" for s in findings_world.SELECTORS), encoding="utf-8")
    with NsdServer.from_records(world.records, world.origins) as nsd, LoopThread() as loop:
        relay = loop.run(AdRelay(nsd.address, world.secure).start())
        try:
            full = _run(loop, relay.address, world, tmp, "full", inputs, "--checks", "all", "--mx-hosts",
                        "--fetch", "--validating-resolver", "--dkim-selectors", str(selectors))
            core = _run(loop, relay.address, world, tmp, "core", inputs, "--checks", "spf,dmarc,mx")
        finally:
            loop.run(relay.stop())
        yield {"world": world, "full": full, "core": core, "ad_stamped": relay.stamped}


def _codes(result: dict[str, Any], section: str) -> list[str]:
    holder = result if section == "top" else result.get(section) or {}
    return [f["code"] for f in holder.get("findings", [])]


# ------------------------------------------------------------------------------------------------ coverage

def test_catalog_is_covered_or_excluded():
    """A code added to findings.py without a world entry (or an exclusion with a reason) fails here."""
    world = WORLD
    covered = world.covered
    assert not covered & set(NOT_FROM_DNS), f"both covered and excluded: {sorted(covered & set(NOT_FROM_DNS))}"
    missing = sorted(set(CATALOG) - covered - set(NOT_FROM_DNS))
    unknown = sorted((covered | set(NOT_FROM_DNS)) - set(CATALOG))
    assert not missing, f"codes with neither a world domain nor a NOT_FROM_DNS reason: {missing}"
    assert not unknown, f"codes not in the catalogue: {unknown}"
    assert all(reason.strip() for reason in NOT_FROM_DNS.values())
    assert set(world.xfail) <= covered
    assert len({c.code for c in world.cases}) == len(world.cases), "one case per code"


def test_every_code_appears_on_its_domain(scans):
    world, results = scans["world"], scans["full"]["results"]
    failures = []
    for case in world.cases:
        if case.code in world.xfail:
            continue
        result = results.get(case.domain)
        if result is None:
            failures.append(f"{case.code}: no result for {case.domain}")
            continue
        got = _codes(result, case.section)
        if case.code not in got:
            failures.append(f"{case.code}: not in {case.domain} [{case.section}] (got {got})")
    produced = len(world.cases) - len(world.xfail) - len(failures)
    assert not failures, (f"the world failed to produce {len(failures)} code(s) "
                          f"({produced} produced):\n  " + "\n  ".join(failures))


@pytest.mark.parametrize("code", [pytest.param(code, marks=pytest.mark.xfail(strict=True, reason=why))
                                  for code, why in sorted(WORLD.xfail.items())])
def test_known_unreachable_codes(scans, code):
    """Codes with a world entry that the pipeline does not produce (a gap reported to the owners): strict, so
    the day one is produced this test fails and the entry moves to the covered codes."""
    case = next(c for c in scans["world"].cases if c.code == code)
    assert code in _codes(scans["full"]["results"][case.domain], case.section)


# ------------------------------------------------------------------------------------------------ failures

def test_injected_failures_are_unknown_never_absent(scans):
    world, results = scans["world"], scans["full"]["results"]
    for domain, sections in world.failed.items():
        r = results[domain]
        assert r["status"] == "error", (domain, r["status"])
        for entry in sections:  # "section" (its presence is unknown) or "section.key" (that key is unknown)
            section, _, key = entry.partition(".")
            key = key or "present"
            sec = r[section]
            assert sec["status"] == "error", (domain, section, sec["status"])
            assert key in sec and sec[key] is None, (domain, section, key, sec.get(key))
        assert r["dns"]["errors"], domain
    # a dropped MX query is a timeout, a SERVFAIL stays a SERVFAIL
    mx_err = results[findings_world.code_domain("MX_DNS_ERROR")]["dns"]["errors"]
    assert {e["error"] for e in mx_err} == {"timeout"}
    spf_err = results[findings_world.code_domain("DNS_ERROR")]["dns"]["errors"]
    assert {e["error"] for e in spf_err} == {"servfail"}
    # a failed include leaves the SPF analysis incomplete (the record itself is known)
    spf = results[findings_world.code_domain("SPF_DNS_ERROR")]["spf"]
    assert spf["present"] is True and spf["complete"] is False
    # a failed report-authorization lookup leaves "authorized" unknown, not False
    auth = results[findings_world.code_domain("DMARC_REPORT_DNS_ERROR")]["dmarc"]["report_auth"]
    assert [a["authorized"] for a in auth] == [None]


def test_spf_validity_is_unknown_when_an_include_fails(scans):
    # the include may be missing or broken (a permerror): validity is unknown, like 'present' after a failed apex
    spf = scans["full"]["results"][findings_world.code_domain("SPF_DNS_ERROR")]["spf"]
    assert spf["valid"] is None and spf["status"] == "error"


def test_dmarc_record_with_duplicate_policy_does_not_protect(scans):
    # a duplicate makes the whole tag-list invalid (RFC 7489 §6.3 -> RFC 6376 §3.2): no policy applies
    r = scans["full"]["results"][findings_world.code_domain("DMARC_DUPLICATE_TAG")]
    assert r["dmarc"]["protected"] is False


def test_dmarc_record_with_duplicate_policy_is_invalid(scans):
    r = scans["full"]["results"][findings_world.code_domain("DMARC_DUPLICATE_TAG")]
    assert r["dmarc"]["valid"] is False and r["dmarc"]["present"] is True


def test_only_the_injected_failures_fail(scans):
    """No domain without an injected fault reports a DNS error: nothing was REFUSED or timed out by accident."""
    world, results = scans["world"], scans["full"]["results"]
    faulty = {n for n, _ in world.servfail | world.drop}
    for domain, r in results.items():
        if "input_error" in r:
            continue
        unexpected = [e for e in r["dns"]["errors"] if e["name"] not in faulty]
        assert not unexpected, (domain, unexpected)


def test_dropped_first_tries_are_retried_and_succeed(scans):
    world = scans["world"]
    for name in ("full", "core"):
        scan = scans[name]
        for domain in world.retried:
            r = scan["results"][domain]
            assert r["status"] == "ok" and not r["dns"]["errors"], (name, domain, r["dns"]["errors"])
            assert r["spf"]["present"] is True and r["dmarc"]["present"] is True and r["mx"]["present"] is True
        for key in world.drop_first:
            assert scan["tries"].get(key) == 2, (name, key, scan["tries"].get(key))
        assert scan["summary"]["engine"]["retries"] >= len(world.drop_first)
        # a name dropped on every try was asked 1 + RETRIES times, then given up
        for key in world.drop:
            if key in scan["tries"]:
                assert scan["tries"][key] == 1 + RETRIES, (name, key)


def test_summary_counts_the_errors(scans):
    world, summary = scans["world"], scans["full"]["summary"]
    assert summary["domains"] == len(world.inputs) == scans["full"]["count"]
    assert summary["invalid"] == 1
    assert summary["errors"] == len(world.failed)    # status "error": exactly the domains with a failed section
    tries = scans["full"]["tries"]
    for key in sorted(world.servfail | world.drop):   # every fault was hit, and each lookup gave up after the retries
        n = tries.get(key, 0)
        assert n >= 1 + RETRIES and n % (1 + RETRIES) == 0, (key, n)
    assert summary["engine"]["servfails"] == sum(tries[key] for key in world.servfail)
    assert summary["engine"]["refused"] == 0           # every name asked lies in a zone NSD serves


def test_every_finding_renders_in_both_languages(scans):
    """The params each finding carries fill every placeholder of its Japanese and English texts."""
    placeholder = re.compile(r"(?<!%)\{[A-Za-z_]+\}")   # %{p} is SPF macro text, not a placeholder
    seen = set()
    for r in scans["full"]["results"].values():
        for holder in (r, *(v for v in r.values() if isinstance(v, dict))):
            for f in holder.get("findings", ()):
                seen.add(f["code"])
                for lang in ("ja", "en"):
                    shown = render(f, lang)
                    for key in ("message", "fix"):
                        assert not placeholder.search(shown.get(key, "")), (f["code"], lang, key, shown.get(key))
    assert seen >= WORLD.covered - set(WORLD.xfail)


# ------------------------------------------------------------------------------------------------ DNS shapes

def test_truncated_answer_falls_back_to_tcp(scans):
    world = scans["world"]
    for domain, text in world.expected_records.items():
        for name in ("full", "core"):
            spf = scans[name]["results"][domain]["spf"]
            assert spf["record"] == text and spf["present"] is True, (name, domain)
        assert scans["full"]["summary"]["engine"]["tcp_fallbacks"] >= 1


def test_nxdomain_versus_nodata(scans):
    results = scans["full"]["results"]
    gone = results[findings_world.code_domain("DOMAIN_NXDOMAIN")]
    assert gone["spf"]["present"] is False and gone["mx"]["present"] is False
    assert gone["posture"]["verdict"] == "nonexistent"
    for domain in (findings_world.code_domain("MX_NONE"), "empty-non-terminal.world.test"):
        r = results[domain]
        assert "DOMAIN_NXDOMAIN" not in _codes(r, "top"), domain       # NODATA: the name exists (RFC 8020)
        assert r["spf"]["present"] is False and r["spf"]["status"] == "none", domain
        assert r["status"] == "ok", domain


def test_cname_chain_across_zones(scans):
    r = scans["full"]["results"][findings_world.code_domain("DMARC_CNAME")]
    assert r["dmarc"]["policy"] == "reject" and r["dmarc"]["present"] is True
    chain = next(a for a in r["dns"]["answers"] if a["name"].startswith("_dmarc."))["cname_chain"]
    assert chain == ["dmarc.alias.test", "dmarc-final.provider.test"]


def test_dnssec_secure_comes_from_the_ad_bit(scans):
    assert scans["ad_stamped"] >= 1
    results = scans["full"]["results"]
    assert results[findings_world.code_domain("DNSSEC_SECURE")]["dnssec"]["state"] == "secure"
    assert results[findings_world.code_domain("DNSSEC_INSECURE")]["dnssec"]["state"] == "insecure"
    secure = {d for d, r in results.items() if (r.get("dnssec") or {}).get("state") == "secure"}
    assert secure == scans["world"].secure


def test_core_sections_stay_within_the_query_budget(scans):
    """The survey core (spf, dmarc, mx) costs at most 8 packets a domain on average over this whole world,
    retries, TCP fallbacks and the pathological domains included (the engine caches shared names)."""
    core = scans["core"]
    sent, domains = core["summary"]["engine"]["sent"], core["summary"]["domains"]
    assert f"{sent:,} packets sent" in core["stderr"]
    assert sent / domains <= MAX_CORE_PACKETS_PER_DOMAIN, f"{sent} packets for {domains} domains"
    for domain, r in core["results"].items():
        if "input_error" not in r:
            assert set(r) >= {"spf", "dmarc", "mx"} and "dkim" not in r, domain
