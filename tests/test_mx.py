"""MX check (RFC 5321 §5.1, RFC 7505): classification, host resolution, bounds, and DNS errors kept apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks import mx
from mailposture.dns.fake import FakeResolver

SRC = Path(__file__).resolve().parents[1] / "src" / "mailposture" / "checks" / "mx.py"


def codes(res: dict) -> list[str]:
    return [f.code for f in res["findings"]]


async def run(zone: dict, domain: str = "example.com", **kw) -> tuple[dict, FakeResolver]:
    r = FakeResolver(zone)
    return await mx.analyze(domain, r, **kw), r


WORLDS: dict[str, dict] = {
    "MX_NONE": {"example.com": [("A", "192.0.2.1")]},
    "MX_NULL": {"example.com": [("MX", (0, "."))]},
    "MX_NULL_MIXED": {"example.com": [("MX", (0, ".")), ("MX", (10, "mx.example.com"))],
                      "mx.example.com": [("A", "192.0.2.1")]},
    "MX_NULL_PREFERENCE": {"example.com": [("MX", (10, "."))]},
    "MX_CNAME": {"example.com": [("MX", (10, "mail.example.com"))], "mail.example.com": [("CNAME", "host.example.net")],
                 "host.example.net": [("A", "192.0.2.1")]},
    "MX_IP_LITERAL": {"example.com": [("MX", (10, "192.0.2.1"))]},
    "MX_NO_ADDRESS": {"example.com": [("MX", (10, "mx.example.com"))], "mx.example.com": [("TXT", "no address")]},
    "MX_DNS_ERROR": {"example.com": [("MX", (10, "mx.example.com"))], "mx.example.com": [("TIMEOUT", None)]},
    "MX_NO_MAIL": {"example.com": [("TXT", "v=spf1 -all")]},
    "MX_HOSTS_LIMIT": {"example.com": [("MX", (i, f"mx{i}.example.com")) for i in range(12)]},
    "DOMAIN_NXDOMAIN": {"other.example": [("A", "192.0.2.1")]},
}


@pytest.mark.parametrize("code", sorted(WORLDS))
async def test_world_proves_code(code):
    res, _ = await run(WORLDS[code])
    assert code in codes(res), codes(res)
    for f in res["findings"]:  # every placeholder filled, in both languages
        for lang in ("en", "ja"):
            assert not re.search(r"\{[a-z_]+\}", f.message(lang) + f.fix(lang)), (f.code, f.message(lang))


def test_every_emitted_code_has_a_world():
    emitted = set(re.findall(r'finding\(\s*"([A-Z_]+)"', SRC.read_text()))
    assert emitted - set(WORLDS) == set()


async def test_receives_with_sorted_preferences_and_resolved_hosts():
    zone = {"example.com": [("MX", (20, "mx2.example.com")), ("MX", (10, "MX1.example.com."))],
            "mx1.example.com": [("A", "192.0.2.1"), ("AAAA", "2001:db8::1")],
            "mx2.example.com": [("AAAA", "2001:db8::2")]}
    res, r = await run(zone)
    assert res["present"] is True and res["status"] == "ok" and res["classification"] == "receives"
    assert res["records"] == [{"preference": 10, "host": "mx1.example.com"}, {"preference": 20, "host": "mx2.example.com"}]
    assert [(h["host"], h["addresses"], h["status"], h["cname"]) for h in res["hosts"]] == [
        ("mx1.example.com", ["192.0.2.1", "2001:db8::1"], "ok", False),
        ("mx2.example.com", ["2001:db8::2"], "ok", False)]
    assert codes(res) == []
    assert len(r.log) == 1 + 2 * 2


async def test_null_mx():
    res, r = await run(WORLDS["MX_NULL"])
    assert res["classification"] == "null-mx" and res["present"] is True and res["hosts"] == []
    assert res["records"] == [{"preference": 0, "host": "."}]
    assert codes(res) == ["MX_NULL"] and len(r.log) == 1


async def test_null_mx_mixed_still_lists_the_real_host():
    res, _ = await run(WORLDS["MX_NULL_MIXED"])
    assert res["classification"] == "receives" and [h["host"] for h in res["hosts"]] == ["mx.example.com"]


async def test_cname_host():
    res, _ = await run(WORLDS["MX_CNAME"])
    assert res["hosts"][0]["cname"] is True and res["hosts"][0]["addresses"] == ["192.0.2.1"]
    assert res["classification"] == "receives"


async def test_ip_literal_is_not_resolved():
    res, r = await run(WORLDS["MX_IP_LITERAL"])
    assert res["hosts"][0]["ip_literal"] is True and res["hosts"][0]["status"] == "invalid"
    assert res["classification"] == "no-mail" and len(r.log) == 1


async def test_host_without_address_vs_dns_error():
    res, _ = await run(WORLDS["MX_NO_ADDRESS"])
    assert res["hosts"][0]["status"] == "no-address" and res["classification"] == "no-mail"
    res, _ = await run(WORLDS["MX_DNS_ERROR"])
    assert res["hosts"][0]["status"] == "error" and res["classification"] == "unknown"
    assert "MX_NO_ADDRESS" not in codes(res)


async def test_one_family_failing_keeps_the_host_usable():
    zone = {"example.com": [("MX", (10, "mx.example.com"))], "mx.example.com": [("A", "192.0.2.1")]}
    r = FakeResolver(zone)
    inner = r.query

    async def flaky(name, rdtype):
        ans = await inner(name, rdtype)
        if rdtype == "AAAA":
            from mailposture.dns.types import Answer
            return Answer(ans.name, "AAAA", "error", error="timeout", rcode="")
        return ans

    r.query = flaky  # type: ignore[method-assign]
    res = await mx.analyze("example.com", r)
    assert res["hosts"][0]["status"] == "ok" and res["classification"] == "receives"
    errs = [f for f in res["findings"] if f.code == "MX_DNS_ERROR"]
    assert len(errs) == 1 and errs[0].severity == "warning"


async def test_implicit_mx():
    res, r = await run({"example.com": [("A", "192.0.2.1"), ("AAAA", "2001:db8::1")]})
    assert res["present"] is False and res["status"] == "none" and res["classification"] == "implicit"
    assert res["hosts"] == [{"host": "example.com", "preference": 0, "addresses": ["192.0.2.1", "2001:db8::1"],
                             "cname": False, "ip_literal": False, "status": "ok", "implicit": True}]
    assert len(r.log) == 3


async def test_no_mx_no_address_is_no_mail():
    res, _ = await run(WORLDS["MX_NO_MAIL"])
    assert res["present"] is False and res["classification"] == "no-mail" and res["status"] == "none"


async def test_implicit_lookup_error_is_unknown():
    zone = {"example.com": [("TXT", "x")]}
    r = FakeResolver(zone)
    inner = r.query

    async def failing_a(name, rdtype):
        if rdtype in ("A", "AAAA"):
            from mailposture.dns.types import Answer
            return Answer(name, rdtype, "error", error="servfail", rcode="SERVFAIL")
        return await inner(name, rdtype)

    r.query = failing_a  # type: ignore[method-assign]
    res = await mx.analyze("example.com", r)
    assert res["classification"] == "unknown" and res["status"] == "error" and res["present"] is False
    assert "MX_NO_MAIL" not in codes(res)


async def test_nxdomain():
    res, _ = await run(WORLDS["DOMAIN_NXDOMAIN"])
    assert res["present"] is False and res["status"] == "none" and res["classification"] == "no-mail"


@pytest.mark.parametrize("kind", ["TIMEOUT", "SERVFAIL"])
async def test_mx_query_error_is_unknown_not_absent(kind):
    res, _ = await run({"example.com": [(kind, None)]})
    assert res["present"] is None and res["status"] == "error" and res["classification"] == "unknown"
    assert codes(res) == ["MX_DNS_ERROR"]


async def test_fast_path_makes_only_the_mx_query():
    zone = {"example.com": [("MX", (10, "mx1.example.com")), ("MX", (20, "mx2.example.com"))]}
    res, r = await run(zone, resolve_hosts=False)
    assert r.log == [("example.com", "MX")]
    assert res["classification"] == "receives" and {h["status"] for h in res["hosts"]} == {"unresolved"}
    res, r = await run({"example.com": [("A", "192.0.2.1")]}, resolve_hosts=False)
    assert r.log == [("example.com", "MX")] and res["classification"] == "implicit"


async def test_max_hosts_bounds_the_queries():
    res, r = await run(WORLDS["MX_HOSTS_LIMIT"], max_hosts=3)
    assert len(r.log) == 1 + 2 * 3
    assert [h["status"] for h in res["hosts"]].count("skipped") == 9
    assert res["classification"] == "receives"  # the skipped hosts are unknown, not absent
    res, r = await run(WORLDS["MX_HOSTS_LIMIT"])
    assert len(r.log) == 1 + 2 * 10


async def test_duplicate_hosts_are_resolved_once():
    zone = {"example.com": [("MX", (10, "mx.example.com")), ("MX", (20, "mx.example.com"))],
            "mx.example.com": [("A", "192.0.2.1")]}
    res, r = await run(zone)
    assert len(res["records"]) == 2 and len(res["hosts"]) == 1 and res["hosts"][0]["preference"] == 10
    assert len(r.log) == 3


@pytest.mark.parametrize("host,literal", [("192.0.2.1", True), ("[192.0.2.1]", True), ("2001:db8::1", True),
                                          ("[IPv6:2001:db8::1]", True), ("mx.example.com", False),
                                          ("192.0.2.1.example.com", False)])
def test_ip_literal_detection(host, literal):
    assert mx.is_ip_literal(host) is literal


@pytest.mark.parametrize("zone,expected", [
    ({"d.example": [("MX", (10, "mx.d.example"))]}, True),
    ({"d.example": [("MX", (0, "."))]}, False),
    ({"d.example": [("A", "192.0.2.1")]}, True),
    ({"d.example": [("TXT", "x")]}, False),
    ({"other.example": [("A", "192.0.2.1")]}, False),
    ({"d.example": [("SERVFAIL", None)]}, None),
])
async def test_accepts_mail(zone, expected):
    ok, reason = await mx.accepts_mail("d.example", FakeResolver(zone))
    assert ok is expected and reason


# --- property: random MX worlds --------------------------------------------------------------------------------

_HOST_KINDS = ["a", "aaaa", "both", "none", "cname", "timeout", "nxdomain"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["mx1", "mx2", "mx3", "mx4", ".", "192.0.2.7"])),
                max_size=6),
       st.dictionaries(st.sampled_from(["mx1", "mx2", "mx3", "mx4"]), st.sampled_from(_HOST_KINDS)),
       st.sampled_from(["mx", "apex-a", "apex-none", "timeout"]),
       st.integers(1, 4), st.booleans())
async def test_random_mx_worlds(mxs, kinds, apex, max_hosts, resolve):
    zone: dict[str, list] = {"example.com": []}
    if apex == "timeout":
        zone["example.com"] = [("TIMEOUT", None)]
    elif apex == "apex-a":
        zone["example.com"] = [("A", "192.0.2.1")]
    elif apex == "apex-none":
        zone["example.com"] = [("TXT", "x")]
    else:
        zone["example.com"] = [("MX", (p, h if h in (".", "192.0.2.7") else f"{h}.example.net")) for p, h in mxs] \
            or [("TXT", "x")]
    for h, k in kinds.items():
        name = f"{h}.example.net"
        zone[name] = {"a": [("A", "192.0.2.2")], "aaaa": [("AAAA", "2001:db8::2")],
                      "both": [("A", "192.0.2.2"), ("AAAA", "2001:db8::2")], "none": [("TXT", "x")],
                      "cname": [("CNAME", "target.example.org")], "timeout": [("TIMEOUT", None)],
                      "nxdomain": []}[k]
    zone["target.example.org"] = [("A", "192.0.2.3")]
    zone = {k: v for k, v in zone.items() if v}
    r = FakeResolver(zone)
    res = await mx.analyze("example.com", r, resolve_hosts=resolve, max_hosts=max_hosts)

    assert len(r.log) == len(set(r.log))
    assert len(r.log) <= 1 + 2 * max(max_hosts, 1)
    if not resolve:
        assert r.log == [("example.com", "MX")]
    if apex == "timeout":
        assert res["present"] is None and res["status"] == "error" and res["classification"] == "unknown"
    assert res["classification"] in ("receives", "null-mx", "implicit", "no-mail", "unknown")
    prefs = [rec["preference"] for rec in res["records"]]
    assert prefs == sorted(prefs)
    for h in res["hosts"]:
        if h["status"] == "no-address":
            assert h["addresses"] == []
        if h["status"] == "ok":
            assert h["addresses"]
    if res["classification"] == "no-mail" and res["present"]:
        assert all(h["status"] in ("no-address", "invalid") for h in res["hosts"])
    if "MX_NO_ADDRESS" in codes(res):
        assert any(h["status"] == "no-address" for h in res["hosts"])
