"""SPF survey analysis: each finding proven by a FakeResolver world, the counts, and bounded work."""

from __future__ import annotations

import pytest

from mailposture.checks.spf import analyze
from mailposture.dns.fake import FakeResolver


async def run(zone: dict, domain: str = "example.com", **kw):
    res = FakeResolver(zone)
    out = await analyze(domain, res, **kw)
    return out, {f.code for f in out["findings"]}, res


def txt(text):
    return [("TXT", text)]


async def test_present_pass_record_basics():
    out, codes, _ = await run({"example.com": [*txt("v=spf1 ip4:192.0.2.0/24 -all"), ("TXT", "other")]})
    assert out["present"] is True and out["valid"] is True and out["status"] == "ok"
    assert out["record"] == "v=spf1 ip4:192.0.2.0/24 -all" and out["records"] == [out["record"]]
    assert out["all"] == "-all" and out["dns_lookups"] == 0 and out["authorized_ipv4"] == 256
    assert codes == set()


@pytest.mark.parametrize("zone", [{}, {"example.com": [("A", "192.0.2.1")]}, {"example.com": txt("hello")},
                                  {"example.com": txt("v=spf10 -all")}])
async def test_none_when_dns_says_so(zone):
    out, codes, _ = await run(zone)
    assert out["present"] is False and out["status"] == "none" and out["valid"] is None
    assert codes == {"SPF_NONE"}


async def test_dns_error_is_unknown_not_absent():
    out, codes, _ = await run({"example.com": [("TIMEOUT", None)]})
    assert out["present"] is None and out["status"] == "error" and out["valid"] is None
    assert codes == {"DNS_ERROR"}


async def test_multiple_records():
    out, codes, _ = await run({"example.com": txt("v=spf1 -all") + txt("v=spf1 a:x -all")})
    assert out["present"] is True and out["valid"] is False and out["record"] is None
    assert len(out["records"]) == 2
    assert {"SPF_MULTIPLE_RECORDS", "SPF_SYNTAX"} <= codes


async def test_syntax_errors_are_all_reported_and_analysis_continues():
    out, codes, _ = await run({"example.com": txt("v=spf1 ip4:1.2.3.4/33 include:_spf.example.net moo -all "
                                                 "exp=a.example.com exp=b.example.com \u00e9"),
                               "_spf.example.net": txt("v=spf1 ip4:198.51.100.0/24 -all")})
    syntax = [f for f in out["findings"] if f.code == "SPF_SYNTAX"]
    assert [f.params["term"] for f in syntax] == ["ip4:1.2.3.4/33", "moo", "\u00e9"]
    assert syntax[0].params["position"] == out["record"].index("33") + 1
    assert {"SPF_DUPLICATE_MODIFIER", "SPF_NON_ASCII"} <= codes
    assert out["valid"] is False
    assert out["dns_lookups"] == 1 and out["authorized_ipv4"] == 256  # the valid include was still expanded


async def test_lookup_limit_over_tree_with_breakdown():
    zone = {"example.com": txt("v=spf1 a mx include:a.example.net include:b.example.net -all"),
            "a.example.net": txt("v=spf1 a:h1.example.net a:h2.example.net include:c.example.net -all"),
            "b.example.net": txt("v=spf1 exists:%{i}.b.example.net ptr -all"),
            "c.example.net": txt("v=spf1 mx:m.example.net mx:m.example.net ip4:203.0.113.1 -all"),
            "h1.example.net": [("A", "198.51.100.1")], "h2.example.net": [("A", "198.51.100.2")],
            "m.example.net": [("MX", (10, "h1.example.net"))]}
    out, codes, _ = await run(zone)
    # a, mx, include(1+2+include(1+2)), include(1+2) = 1+1+6+3 = 11
    assert out["dns_lookups"] == 11
    assert "SPF_LOOKUP_LIMIT" in codes and out["valid"] is False
    f = next(f for f in out["findings"] if f.code == "SPF_LOOKUP_LIMIT")
    assert f.params["count"] == 11
    assert f.params["breakdown"] == [{"term": "a", "lookups": 1}, {"term": "mx", "lookups": 1},
                                     {"term": "include:a.example.net", "lookups": 6},
                                     {"term": "include:b.example.net", "lookups": 3}]
    assert out["includes"] == ["a.example.net", "c.example.net", "b.example.net"]
    assert {"SPF_PTR", "SPF_VOID_LOOKUP"} <= codes  # a and mx of example.com have nothing
    assert out["complete"] is False  # the macro and ptr terms could not be expanded


async def test_at_limit_is_fine():
    zone = {"example.com": txt("v=spf1 " + " ".join(f"a:h{i}.example.com" for i in range(10)) + " -all")}
    zone.update({f"h{i}.example.com": [("A", f"192.0.2.{i}")] for i in range(10)})
    out, codes, _ = await run(zone)
    assert out["dns_lookups"] == 10 and "SPF_LOOKUP_LIMIT" not in codes and out["authorized_ipv4"] == 10


async def test_void_lookups():
    out, codes, _ = await run({"example.com": txt("v=spf1 a:gone1.example.com mx:gone2.example.com "
                                                 "exists:gone3.example.com -all"),
                               "gone2.example.com": [("A", "192.0.2.1")]})
    assert out["void_lookups"] == 3
    assert [f.params["name"] for f in out["findings"] if f.code == "SPF_VOID_LOOKUP"] == \
        ["gone1.example.com", "gone2.example.com", "gone3.example.com"]
    assert "SPF_VOID_LOOKUP_LIMIT" in codes and out["valid"] is False
    out, codes, _ = await run({"example.com": txt("v=spf1 a:gone1.example.com a:gone2.example.com -all")})
    assert out["void_lookups"] == 2 and "SPF_VOID_LOOKUP_LIMIT" not in codes and out["valid"] is True


async def test_include_and_redirect_loops():
    out, codes, _ = await run({"example.com": txt("v=spf1 include:a.example.net -all"),
                               "a.example.net": txt("v=spf1 include:b.example.net -all"),
                               "b.example.net": txt("v=spf1 include:a.example.net -all")})
    loop = next(f for f in out["findings"] if f.code == "SPF_INCLUDE_LOOP")
    assert loop.params["name"] == "a.example.net" and out["valid"] is False
    out, codes, _ = await run({"example.com": txt("v=spf1 ip4:192.0.2.1 redirect=example.com")})
    assert "SPF_INCLUDE_LOOP" in codes


async def test_missing_targets():
    out, codes, _ = await run({"example.com": txt("v=spf1 include:nothing.example.net redirect=x.example.net"),
                               "x.example.net": txt("not spf")})
    assert {"SPF_INCLUDE_MISSING", "SPF_REDIRECT_MISSING"} <= codes and out["valid"] is False
    assert out["all"] == "redirect"


async def test_broken_include():
    out, codes, _ = await run({"example.com": txt("v=spf1 include:a.example.net include:b.example.net -all"),
                               "a.example.net": txt("v=spf1 ip4:1.2.3.4/40 -all"),
                               "b.example.net": txt("v=spf1 -all") + txt("v=spf1 +all")})
    errs = [f for f in out["findings"] if f.code == "SPF_INCLUDE_ERROR"]
    assert [f.params["name"] for f in errs] == ["a.example.net", "b.example.net"]
    assert "SPF_SYNTAX" not in codes  # the included record's syntax error is reported as the include's
    assert out["valid"] is False


@pytest.mark.parametrize(("record", "code", "all_"), [
    ("v=spf1 +all", "SPF_PASS_ALL", "+all"), ("v=spf1 all", "SPF_PASS_ALL", "+all"),
    ("v=spf1 ?all", "SPF_NEUTRAL_ALL", "?all"), ("v=spf1 ~all", "SPF_SOFTFAIL_ALL", "~all"),
    ("v=spf1 ip4:192.0.2.1", "SPF_NO_ALL", None),
])
async def test_all_qualifiers(record, code, all_):
    out, codes, _ = await run({"example.com": txt(record)})
    assert code in codes and out["all"] == all_
    if all_ == "+all":
        assert out["authorized_ipv4"] == 2**32 and out["authorized_ipv6_64"] == 2**64
        assert "SPF_OVERPERMISSIVE" in codes


async def test_terms_after_all_and_redirect_with_all():
    out, codes, res = await run({"example.com": txt("v=spf1 -all a:x.example.com redirect=r.example.com")})
    f = next(f for f in out["findings"] if f.code == "SPF_TERMS_AFTER_ALL")
    assert f.params["terms"] == "a:x.example.com"
    assert "SPF_REDIRECT_WITH_ALL" in codes
    assert out["dns_lookups"] == 0 and out["all"] == "-all"  # never evaluated, never counted
    assert ("x.example.com", "A") not in res.log and ("r.example.com", "TXT") not in res.log


async def test_style_findings():
    long_rec = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(40)) + " -all"
    out, codes, _ = await run({"example.com": txt(long_rec + " exp=why.example.com x-note=hi ip4:10.0.0.1/8")})
    assert {"SPF_RECORD_TOO_LONG", "SPF_EXP", "SPF_UNKNOWN_MODIFIER", "SPF_TERMS_AFTER_ALL"} <= codes
    out, codes, _ = await run({"example.com": txt("v=spf1 ip4:10.0.0.1/8 exists:%{p}.x.example.com -all")})
    assert {"SPF_IP_HOST_BITS", "SPF_MACRO_P"} <= codes
    hb = next(f for f in out["findings"] if f.code == "SPF_IP_HOST_BITS")
    assert hb.params["network"] == "10.0.0.0/8"


async def test_ptr():
    out, codes, _ = await run({"example.com": txt("v=spf1 ptr -all")})
    assert "SPF_PTR" in codes and out["dns_lookups"] == 1


async def test_mx_too_many():
    zone = {"example.com": txt("v=spf1 mx -all") + [("MX", (i, f"mx{i}.example.com")) for i in range(11)]}
    zone.update({f"mx{i}.example.com": [("A", f"192.0.2.{i}")] for i in range(11)})
    out, codes, _ = await run(zone)
    assert "SPF_MX_TOO_MANY" in codes and out["valid"] is False
    assert out["authorized_ipv4"] == 10  # only the first 10 exchanges are used


async def test_dns_error_in_tree():
    out, _codes, _ = await run({"example.com": txt("v=spf1 include:t.example.net a:s.example.net -all"),
                               "t.example.net": [("TIMEOUT", None)], "s.example.net": [("SERVFAIL", None)]})
    # published, but whether it is valid is unknown: the failed include may be missing (a permerror)
    assert out["status"] == "error" and out["present"] is True and out["valid"] is None
    errs = [(f.params["name"], f.params["type"]) for f in out["findings"] if f.code == "SPF_DNS_ERROR"]
    assert ("t.example.net", "TXT") in errs and ("s.example.net", "A") in errs
    assert out["complete"] is False


async def test_dns_error_does_not_hide_a_known_permerror():
    out, codes, _ = await run({"example.com": txt("v=spf1 include:t.example.net ip4:300.1.1.1 -all"),
                               "t.example.net": [("TIMEOUT", None)]})
    assert out["valid"] is False and out["status"] == "ok" and "SPF_SYNTAX" in codes


async def test_type99_is_optional():
    zone = {"example.com": [*txt("v=spf1 -all"), ("SPF", "v=spf1 -all")]}
    _, codes, res = await run(zone)
    assert "SPF_TYPE99" not in codes and ("example.com", "SPF") not in res.log
    out, codes, res = await run(zone, query_type99=True)
    assert "SPF_TYPE99" in codes and out["valid"] is True and ("example.com", "SPF") in res.log


async def test_overpermissive_counts_union_and_order():
    zone = {"example.com": [*txt("v=spf1 ip4:10.0.0.0/16 include:p.example.net -ip4:172.16.0.0/12 "
                                 "ip4:172.16.0.0/12 a ip6:2001:db8::/48 ip6:2001:db8::1 ~all"),
                            ("A", "10.0.0.5"), ("AAAA", "2001:db8:1::1")],
            "p.example.net": txt("v=spf1 ip4:10.0.128.0/17 ip4:10.1.0.0/16 ?ip4:192.0.2.0/24 -all")}
    out, codes, _ = await run(zone)
    # 10.0.0.0/16 ∪ 10.0.128.0/17 ∪ 10.1.0.0/16 = 2 * 65536; 172.16/12 excluded first; ?ip4 not authorized
    assert out["authorized_ipv4"] == 131072
    assert out["authorized_ipv6_64"] == 2**16 + 1  # the /48 and the a's /64
    assert "SPF_OVERPERMISSIVE" in codes
    out, codes, _ = await run(zone, overpermissive_ipv4=200_000)
    assert "SPF_OVERPERMISSIVE" not in codes


async def test_include_fetched_once():
    zone = {"example.com": txt("v=spf1 include:a.example.net include:b.example.net include:shared.example.net "
                               "-all"),
            "a.example.net": txt("v=spf1 include:shared.example.net -all"),
            "b.example.net": txt("v=spf1 include:shared.example.net -all"),
            "shared.example.net": txt("v=spf1 ip4:192.0.2.0/24 a:h.example.net -all"),
            "h.example.net": [("A", "198.51.100.1")]}
    out, _codes, res = await run(zone)
    assert res.log.count(("shared.example.net", "TXT")) == 1
    assert res.log.count(("h.example.net", "A")) == 1
    # each include still costs its lookups: a and b cost 1 + (1 + 1) each, shared costs 1 + 1
    assert out["dns_lookups"] == 3 + 3 + 2
    assert out["authorized_ipv4"] == 257


async def test_hostile_deep_chain_is_bounded():
    zone = {"example.com": txt("v=spf1 include:d0.example.net -all")}
    zone.update({f"d{i}.example.net": txt(f"v=spf1 include:d{i + 1}.example.net -all") for i in range(500)})
    _out, codes, res = await run(zone)
    assert len(res.log) <= 20
    assert {"SPF_ANALYSIS_TRUNCATED", "SPF_LOOKUP_LIMIT"} <= codes


async def test_hostile_wide_tree_is_bounded():
    # every level includes the next two: 2^12 paths but 24 distinct records
    zone = {"example.com": txt("v=spf1 include:l0a.example.net include:l0b.example.net -all")}
    for i in range(12):
        for s in "ab":
            zone[f"l{i}{s}.example.net"] = txt(f"v=spf1 include:l{i + 1}a.example.net include:l{i + 1}b.example.net "
                                                f"a:h{i}{s}.example.net -all")
    out, codes, res = await run(zone, max_depth=20)
    assert len(res.log) < 100  # memoized: each record and host looked up once
    assert out["dns_lookups"] > 10 and "SPF_LOOKUP_LIMIT" in codes


async def test_hostile_thousands_of_terms():
    rec = "v=spf1 " + " ".join(f"a:h{i}.example.com ip4:10.{i // 256}.{i % 256}.0/24" for i in range(3000)) + " -all"
    out, codes, res = await run({"example.com": txt(rec)}, max_queries=100)
    assert len(res.log) <= 101  # the query budget (plus the record itself)
    assert out["dns_lookups"] == 3000
    assert out["authorized_ipv4"] == 3000 * 256
    assert "SPF_ANALYSIS_TRUNCATED" in codes


async def test_exists_without_macro_and_domain_macros():
    # an exists: that resolves matches every client: as open as +all
    out, codes, _ = await run({"example.com": txt("v=spf1 exists:always.example.com -all"),
                               "always.example.com": [("A", "127.0.0.2")]})
    assert out["authorized_ipv4"] == 2**32 and "SPF_OVERPERMISSIVE" in codes
    # %{d} needs no sender: it is expanded and resolved
    out, codes, _ = await run({"example.com": txt("v=spf1 a:mail.%{d} include:_s.%{d2} -all"),
                                 "mail.example.com": [("A", "192.0.2.1")],
                                 "_s.example.com": txt("v=spf1 ip4:198.51.100.0/30 -all")})
    assert out["authorized_ipv4"] == 5 and out["complete"] is True and out["includes"] == ["_s.example.com"]
    tree = out["tree"]["children"]
    assert [c.get("target") for c in tree[:2]] == ["mail.example.com", "_s.example.com"]


@pytest.mark.parametrize("domain", ["", "a..example.com", "[192.0.2.1]", "localhost"])
async def test_invalid_domain_argument(domain):
    out, codes, res = await run({}, domain=domain)
    assert out["status"] == "error" and out["present"] is None and codes == {"DOMAIN_INVALID"}
    assert res.log == []


async def test_include_of_invalid_domain():
    # "bad..example.net" is valid domain-spec syntax (§12) but not a domain name (§4.3)
    out, _, res = await run({"example.com": txt("v=spf1 include:bad..example.net -all")})
    errs = [f.params["reason"] for f in out["findings"] if f.code == "SPF_INCLUDE_ERROR"]
    assert errs == ["not a valid domain: empty label"]
    assert out["valid"] is False and ("bad..example.net", "TXT") not in res.log


async def test_every_message_renders_and_result_is_json():
    import json
    import re

    zone = {"example.com": [*txt("v=spf1 +a mx:m.example.com ptr include:loop.example.net include:none.example.net "
                                 "include:two.example.net include:bad.example.net exists:%{p}.x.example.com "
                                 "ip4:10.0.0.1/8 a:gone.example.com a:gone2.example.com a:gone3.example.com "
                                 "redirect=r.example.com exp=e.example.com x=1 +all -all "
                                 + "ip4:192.0.2.1 " * 30 + "redirect=q.example.com exp=f.example.com"),
                            ("A", "192.0.2.1")],
            "m.example.com": [("MX", (i, f"h{i}.example.com")) for i in range(12)],
            "loop.example.net": txt("v=spf1 include:example.com -all"),
            "two.example.net": [*txt("v=spf1 -all"), *txt("v=spf1 ~all")],
            "bad.example.net": txt("v=spf1 ip4:1.2.3.4/99 -all")}
    out = await analyze("example.com", FakeResolver(zone))
    codes = {f.code for f in out["findings"]}
    assert len(codes) >= 18
    for f in out["findings"]:
        for lang in ("en", "ja"):
            msg = f.message(lang).replace("%{p}", "")
            assert not re.search(r"\{[a-z_0-9]+\}", msg), (f.code, msg)
        json.dumps(f.to_json())
    rest = {k: v for k, v in out.items() if k != "findings"}
    assert json.loads(json.dumps(rest)) == rest


async def test_own_space_apart_from_shared_providers():
    """Issue 10: a catalogued provider's include (even through the body's own _spf include) is the provider's
    space; only what the owner authorizes itself is judged over-permissive."""
    google = {"_spf.google.com": txt("v=spf1 include:_netblocks.google.com ~all"),
              "_netblocks.google.com": txt("v=spf1 ip4:35.190.0.0/15 ip4:64.233.160.0/19 ~all")}
    # through its own include, one customer of a large provider: correct, not over-permissive
    zone = {"example.com": txt("v=spf1 ip4:192.0.2.0/28 include:_spf.example.com -all"),
            "_spf.example.com": txt("v=spf1 include:_spf.google.com ip4:198.51.100.1 -all"), **google}
    out, codes, _ = await run(zone)
    assert out["authorized_ipv4"] == 16 + 1 + 131072 + 8192
    assert (out["own_ipv4"], out["provider_ipv4"], out["providers"]) == (17, 131072 + 8192, ["_spf.google.com"])
    assert "SPF_OVERPERMISSIVE" not in codes and "SPF_SHARED_PROVIDER_SPACE" in codes
    shared = next(f for f in out["findings"] if f.code == "SPF_SHARED_PROVIDER_SPACE")
    assert shared.params["ipv4"] == 139264 and shared.params["own_ipv4"] == 17
    # the owner's own /8 is still over-permissive, with the provider beside it
    zone["example.com"] = txt("v=spf1 ip4:10.0.0.0/8 include:_spf.google.com -all")
    out, codes, _ = await run(zone)
    assert out["own_ipv4"] == 1 << 24 and "SPF_OVERPERMISSIVE" in codes
    # IPv6 counts too: ip6:::/0 authorizes 2^64 /64s
    zone["example.com"] = txt("v=spf1 ip6:::/0 include:_spf.google.com -all")
    out, codes, _ = await run(zone)
    assert out["own_ipv6_64"] == 1 << 64 and out["own_ipv4"] == 0 and "SPF_OVERPERMISSIVE" in codes
    # an unknown include is the owner's choice: counted as its own
    zone = {"example.com": txt("v=spf1 include:relay.example.net -all"),
            "relay.example.net": txt("v=spf1 ip4:10.0.0.0/12 -all")}
    out, codes, _ = await run(zone)
    assert out["own_ipv4"] == out["authorized_ipv4"] == 1 << 20 and out["providers"] == []
    assert "SPF_OVERPERMISSIVE" in codes and "SPF_SHARED_PROVIDER_SPACE" not in codes


def test_provider_catalogue_is_sourced_and_matches_subdomains():
    from mailposture.checks.spf.providers import report_service, spf_catalogue, spf_provider

    assert spf_provider("spf.protection.outlook.com").name == "Microsoft 365"
    assert spf_provider("u123.wl.sendgrid.net").name == "SendGrid"
    assert spf_provider("sendgrid.net.evil.example") is None and spf_provider("notsendgrid.net") is None
    assert report_service("rua.ag.dmarcian.com").name == "dmarcian"
    assert all(p.source and p.name and p.name_ja for p in spf_catalogue().values())
