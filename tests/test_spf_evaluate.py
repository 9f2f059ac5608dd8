"""check_host() beyond the conformance suite: trace, identities, limits, explanations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks.spf import check_host, check_spf
from mailposture.checks.spf.evaluate import RESULTS
from mailposture.dns.fake import FakeResolver

ZONE = {
    "example.com": [("TXT", "v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all exp=why.example.com")],
    "_spf.example.net": [("TXT", "v=spf1 a:out.example.net ~all")],
    "out.example.net": [("A", "198.51.100.9"), ("AAAA", "2001:db8::9")],
    "why.example.com": [("TXT", "%{i} may not send for %{d} (%{s}, helo %{h}, via %{r} at %{t})")],
    "helo.example.org": [("TXT", "v=spf1 ip6:2001:db8:1::/48 -all")],
}


@pytest.mark.parametrize(("ip", "result"), [
    ("192.0.2.77", "pass"), ("198.51.100.9", "pass"), ("2001:db8::9", "pass"), ("203.0.113.1", "fail"),
    ("::ffff:192.0.2.1", "pass"),  # IPv4-mapped IPv6 is evaluated as IPv4
])
async def test_results(ip, result):
    res = await check_host(ip, "example.com", "user@example.com", resolver=FakeResolver(ZONE))
    assert res.result == result


async def test_trace_and_counts():
    res = await check_host("198.51.100.9", "example.com", "user@example.com", resolver=FakeResolver(ZONE))
    assert res.mechanism == "include:_spf.example.net" and res.dns_lookups == 2 and res.void_lookups == 0
    actions = [(s.depth, s.domain, s.action) for s in res.trace]
    assert (0, "example.com", "record") in actions and (1, "_spf.example.net", "match") in actions
    assert actions[-1] == (0, "example.com", "result")
    assert res.record == ZONE["example.com"][0][1]
    js = res.to_json()
    assert js["result"] == "pass" and js["trace"][0]["action"] == "lookup"


async def test_explanation_macros():
    res = await check_host("203.0.113.1", "example.com", "user@example.com", resolver=FakeResolver(ZONE),
                           helo="mx.example.org", receiver="mx.example.jp", timestamp=1234)
    assert res.result == "fail"
    assert res.explanation == ("203.0.113.1 may not send for example.com (user@example.com, helo mx.example.org,"
                               " via mx.example.jp at 1234)")
    soft = await check_host("2001:db8::1", "example.com", "u@example.com", resolver=FakeResolver(ZONE))
    assert soft.result == "fail" and soft.explanation is not None
    other = dict(ZONE, **{"example.com": [("TXT", "v=spf1 ~all exp=why.example.com")]})
    res = await check_host("203.0.113.1", "example.com", "u@example.com", resolver=FakeResolver(other))
    assert res.result == "softfail" and res.explanation is None  # §6.2: only for fail


async def test_null_sender_uses_helo():
    res = await check_spf("2001:db8:1::5", "", "helo.example.org", resolver=FakeResolver(ZONE))
    assert res.result == "pass" and res.domain == "helo.example.org"
    res = await check_spf("2001:db8:2::5", "<>", "helo.example.org", resolver=FakeResolver(ZONE))
    assert res.result == "fail"


@pytest.mark.parametrize("domain", ["localhost", "a..example.com", "[192.0.2.1]", "x" * 64 + ".example.com", ""])
async def test_invalid_domains_give_none(domain):
    res = await check_host("192.0.2.1", domain, "u@" + domain, resolver=FakeResolver(ZONE))
    assert res.result == "none" and res.dns_lookups == 0


async def test_lookup_limit_is_configurable_and_counted():
    zone = {"example.com": [("TXT", "v=spf1 " + " ".join(f"a:h{i}.example.com" for i in range(5)) + " -all")]}
    zone.update({f"h{i}.example.com": [("A", "192.0.2.1")] for i in range(5)})
    res = await check_host("203.0.113.1", "example.com", "u@example.com", resolver=FakeResolver(zone),
                           max_lookups=3)
    assert res.result == "permerror" and "more than 3 DNS lookups" in res.reason and res.dns_lookups == 4


async def test_temperror_on_dns_error_and_invalid_ip():
    res = await check_host("192.0.2.1", "example.com", "u@example.com",
                           resolver=FakeResolver({"example.com": [("SERVFAIL", None)]}))
    assert res.result == "temperror"
    with pytest.raises(ValueError):
        await check_host("192.0.2.300", "example.com", "u@example.com", resolver=FakeResolver({}))


async def test_include_loop_is_permerror_quickly():
    zone = {"example.com": [("TXT", "v=spf1 include:example.com -all")]}
    res = await check_host("192.0.2.1", "example.com", "u@example.com", resolver=FakeResolver(zone))
    assert res.result == "permerror" and "loop" in res.reason and res.dns_lookups == 1


_piece = st.sampled_from(["a", "mx", "ptr", "-all", "~all", "include:x.example.com", "include:example.com",
                          "exists:%{i}.%{d}", "a:%{l}.x.example.com", "redirect=x.example.com", "exp=%{d}",
                          "ip4:192.0.2.0/24", "ip6:2001:db8::/32", "mx:%{d2}/24//64", "%{", "a:", "+", "=",
                          "x=%{p}", "ptr:%{h}"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_piece, max_size=10), st.lists(_piece, max_size=6), st.text(max_size=20))
async def test_random_records_always_give_a_result(root, other, junk):
    zone = {"example.com": [("TXT", " ".join(["v=spf1", *root]))],
            "x.example.com": [("TXT", " ".join(["v=spf1", *other, junk])), ("A", "192.0.2.1")],
            "1.2.0.192.in-addr.arpa": [("PTR", "x.example.com")]}
    res = await check_host("192.0.2.1", "example.com", "a b@example.com", resolver=FakeResolver(zone),
                           helo=junk)
    assert res.result in RESULTS
    assert res.dns_lookups <= 11 and res.void_lookups <= 3
