"""The RFC 7208 suite over real DNS messages: the project's Engine asking an in-process server on 127.0.0.1.

This proves check_host() against the network resolver (wire decoding of TXT strings, MX, PTR, CNAME chains,
NXDOMAIN vs NODATA, timeouts), not only against FakeResolver. Scenarios whose zone data a real zone cannot
express are left out, each with its reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from mailposture.checks.spf.evaluate import check_spf
from mailposture.dns.engine import Engine
from mailposture.dns.server import LocalDnsServer
from test_spf_suite import RFC7208, accepted  # tests/ is on sys.path (pytest rootdir-relative import)

SKIP_SCENARIOS = {
    # the suite's TIMEOUT there times out only the types a name has no records of; a server times out a name
    "Record lookup": "per-type timeouts cannot be served by a real zone",
    # owner names with spaces ("macro%percent  space%20url-space.example.com") cannot be written in a zone file
    "Macro expansion rules": "owner names with spaces are not expressible in a zone file",
}
SKIP_CASES = {
    # a:foobar.com is outside every zone the server is authoritative for: REFUSED (an error), not NXDOMAIN
    "exp-void": "foobar.com is outside the served zones",
}


def _zone(zonedata: dict[str, list[Any]]) -> dict[str, list[tuple[str, Any]]]:
    zone: dict[str, list[tuple[str, Any]]] = {}
    for name, entries in zonedata.items():
        out: list[tuple[str, Any]] = []
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        for e in entries:
            if e == "TIMEOUT":
                out.append(("TIMEOUT", None))
                continue
            ((rdtype, value),) = e.items()
            if rdtype == "TXT" and value == "NONE":
                continue
            if rdtype in ("TXT", "SPF"):
                parts = value if isinstance(value, list) else [value]
                value = tuple(str(p).encode("latin-1", "replace") for p in parts)
            if rdtype == "MX":
                value = (int(value[0]), str(value[1]))
            out.append((rdtype, value))
            if rdtype == "SPF" and not has_txt:
                out.append(("TXT", value))
        zone[name] = out
    return zone


SCENARIOS: dict[str, tuple[dict, list]] = {}
for _scenario, _name, _test, _zonedata in RFC7208:
    if _scenario in SKIP_SCENARIOS or _name in SKIP_CASES:
        continue
    SCENARIOS.setdefault(_scenario, (_zonedata, []))[1].append((_name, _test))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_rfc7208_over_the_wire(scenario):
    zonedata, tests = SCENARIOS[scenario]
    wrong = []
    async with LocalDnsServer(_zone(zonedata)) as srv:
        async with Engine([srv.address], timeout=0.3, retries=0) as eng:
            for name, test in tests:
                res = await check_spf(str(test["host"]), test["mailfrom"], test.get("helo", ""), resolver=eng)
                if res.result not in accepted(test):
                    wrong.append((name, res.result, accepted(test), res.reason))
    assert not wrong
    assert tests


def test_most_of_the_suite_runs_over_the_wire():
    assert sum(len(t) for _, t in SCENARIOS.values()) >= 160


async def test_analysis_is_the_same_over_the_wire():
    from mailposture.checks.spf import analyze
    from mailposture.dns.fake import FakeResolver

    world = {
        "example.com": [("TXT", ("v=spf1 ip4:192.0.2.0/24 a mx include:_spf.example.net ",
                                 "include:gone.example.org ~all")), ("A", "192.0.2.10"),
                        ("MX", (10, "mx1.example.com")), ("MX", (20, "mx2.example.com"))],
        "mx1.example.com": [("A", "198.51.100.1"), ("AAAA", "2001:db8::1")],
        "mx2.example.com": [("CNAME", "mx1.example.com")],
        "_spf.example.net": [("TXT", "v=spf1 ip4:203.0.113.0/25 ip6:2001:db8:100::/56 a:none.example.net -all")],
        "gone.example.org": [("A", "192.0.2.99")],
    }
    fake = await analyze("example.com", FakeResolver(world))
    async with LocalDnsServer(world) as srv, Engine([srv.address], timeout=0.5, retries=1) as eng:
        wire = await analyze("example.com", eng)
    assert wire["status"] == "ok" and wire["record"] == fake["record"]
    for key in ("dns_lookups", "void_lookups", "authorized_ipv4", "authorized_ipv6_64", "includes", "all", "valid"):
        assert wire[key] == fake[key], key
    assert [f.code for f in wire["findings"]] == [f.code for f in fake["findings"]]
    assert fake["authorized_ipv4"] == 256 + 128 + 1 and fake["authorized_ipv6_64"] == 256 + 1
