"""The caches behind the survey checks: shared parsed records are never modified, custom PSLs bypass the cache,
rendered findings never alias the (possibly shared) Finding, and MX IP-literal detection is unchanged."""

from __future__ import annotations

import asyncio
import importlib
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks import dmarc, mx, spf
from mailposture.checks.dmarc.discover import psl_org_domain
from mailposture.checks.dmarc.parse import parse_record as parse_dmarc
from mailposture.checks.dmarc.parse import parse_record_cached as parse_dmarc_cached
from mailposture.checks.domain import check_domain
from mailposture.checks.spf.parse import parse_record, parse_record_cached
from mailposture.dns.fake import FakeResolver
from mailposture.findings import finding

spf_parse = importlib.import_module("mailposture.checks.spf.parse")
spf_analyze = importlib.import_module("mailposture.checks.spf.analyze")  # the package re-exports analyze()

PROVIDER = "v=spf1 ip4:198.51.100.0/24 include:_b.prov.test a:relay.prov.test ~all"
WORLD = {
    "_spf.prov.test": [("TXT", PROVIDER)],
    "_b.prov.test": [("TXT", "v=spf1 ip6:2001:db8::/48 -all")],
    "relay.prov.test": [("A", "192.0.2.9")],
    "org.test": [("TXT", "v=spf1 include:_spf.prov.test -all")],
    "_dmarc.org.test": [("TXT", "v=DMARC1; p=reject; rua=mailto:r@org.test; fo=1; pct=50")],
    "a.org.test": [("TXT", "v=spf1 include:_spf.prov.test mx -all"), ("MX", (10, "mx.a.org.test"))],
    "mx.a.org.test": [("A", "192.0.2.25")],
    "b.org.test": [("TXT", "v=spf1 include:_spf.prov.test ?all")],
}
TEXTS = [PROVIDER, "v=spf1 ip6:2001:db8::/48 -all", "v=spf1 include:_spf.prov.test -all",
         "v=spf1 include:_spf.prov.test mx -all", "v=spf1 include:_spf.prov.test ?all"]


def test_shared_records_are_left_as_parsed() -> None:
    res = FakeResolver(WORLD)
    first = [asyncio.run(check_domain(d, res)) for d in ("org.test", "a.org.test", "b.org.test")]
    again = [asyncio.run(check_domain(d, res)) for d in ("org.test", "a.org.test", "b.org.test")]
    for r in first + again:
        r.pop("checked_at")
    assert first == again
    for text in TEXTS:
        assert parse_record_cached(text) == parse_record(text)
    text = WORLD["_dmarc.org.test"][0][1]
    assert parse_dmarc_cached(text) == parse_dmarc(text)
    # the inherited record gives the subdomains their own findings lists, not the cached one
    assert first[1]["dmarc"]["findings"] is not first[2]["dmarc"]["findings"]


def test_spf_analysis_of_a_cached_record_matches_a_cold_one() -> None:
    res = FakeResolver(WORLD)
    warm = asyncio.run(spf.analyze("a.org.test", res))
    spf_parse._parse_record_lru.cache_clear()
    spf_analyze._cached_plan.cache_clear()
    cold = asyncio.run(spf.analyze("a.org.test", res))
    assert warm == cold and warm["dns_lookups"] == 4 and warm["authorized_ipv4"] == 256 + 1 + 1


def test_custom_psl_is_not_cached() -> None:
    class Psl:
        def __init__(self, org: str) -> None:
            self.org = org

        def privatesuffix(self, name: str) -> str:
            return self.org

        def is_public(self, name: str) -> bool:
            return False

    assert psl_org_domain("x.y.example.jp") == "example.jp"  # bundled list (and now cached)
    assert psl_org_domain("x.y.example.jp", Psl("y.example.jp")) == "y.example.jp"
    assert psl_org_domain("x.y.example.jp", Psl("x.y.example.jp")) == "x.y.example.jp"
    assert psl_org_domain("x.y.example.jp") == "example.jp"
    out = asyncio.run(dmarc.analyze("a.org.test", FakeResolver(WORLD), psl=Psl("a.org.test")))
    assert out["org_domain"]["psl"] == "a.org.test"


def test_rendered_params_are_a_copy() -> None:
    f = finding("SPF_LOOKUP_LIMIT", count=12)
    out = f.to_json()
    out["params"]["count"] = 99
    assert f.params == {"count": 12} and f.to_json()["params"] == {"count": 12}
    assert f.to_json("ja")["message"] == f.message("ja") and f.to_json()["fix"] == f.fix()
    assert "params" not in finding("SPF_PASS_ALL").to_json()


def _reference_ip_literal(host: str) -> bool:
    text = host.strip().strip("[]").rstrip(".")
    if text.lower().startswith("ipv6:"):
        text = text[5:]
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(alphabet="0123456789abcdefxyzABCDEF.:%[]- I6Pv", max_size=24),
                 st.ip_addresses().map(str), st.ip_addresses(v=6).map(lambda a: f"[IPv6:{a}]")))
def test_ip_literal_detection_unchanged(host: str) -> None:
    assert mx.is_ip_literal(host) == _reference_ip_literal(host)


def test_long_records_are_parsed_but_not_kept() -> None:
    long_spf = "v=spf1 " + " ".join(f"ip4:10.0.{i}.0/24" for i in range(120)) + " -all"
    assert len(long_spf) > spf_parse.CACHED_TEXT_MAX
    assert parse_record_cached(long_spf) is not parse_record_cached(long_spf)
    assert parse_record_cached(long_spf) == parse_record(long_spf)
    short = "v=spf1 ip4:10.0.0.0/24 -all"
    assert parse_record_cached(short) is parse_record_cached(short)
    out = asyncio.run(spf.analyze("long.test", FakeResolver({"long.test": [("TXT", long_spf)]})))
    assert out["authorized_ipv4"] == 120 * 256 and out["valid"] is True
    long_dmarc = "v=DMARC1; p=reject; rua=" + ",".join(f"mailto:r{i}@org.test" for i in range(60))
    assert len(long_dmarc) > 1024 and parse_dmarc_cached(long_dmarc) is not parse_dmarc_cached(long_dmarc)
    assert parse_dmarc_cached(long_dmarc) == parse_dmarc(long_dmarc)
