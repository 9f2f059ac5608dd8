"""DMARC analyze(): discovery (own record, PSL organizational domain, RFC 9989 tree walk), effective policy,
the protected verdict, DNS errors, query economy, and one FakeResolver world per finding code emitted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks.dmarc import analyze
from mailposture.checks.dmarc.discover import walk_targets
from mailposture.dns.fake import FakeResolver

SRC = Path(__file__).resolve().parents[1] / "src" / "mailposture" / "checks"


def codes(res: dict) -> list[str]:
    return [f.code for f in res["findings"]]


async def run(zone: dict, domain: str = "example.com", **kw) -> tuple[dict, FakeResolver]:
    r = FakeResolver(zone)
    res = await analyze(domain, r, **kw)
    return res, r


# --- one world per finding code -------------------------------------------------------------------------------
REC = "v=DMARC1; p=reject; rua=mailto:d@example.com"
WORLDS: dict[str, tuple[dict, str]] = {
    "DMARC_NONE": ({"example.com": [("A", "192.0.2.1")]}, "example.com"),
    "DMARC_MULTIPLE_RECORDS": ({"_dmarc.example.com": [("TXT", REC), ("TXT", "v=DMARC1; p=none")]}, "example.com"),
    "DMARC_SYNTAX": ({"_dmarc.example.com": [("TXT", REC + "; junk")]}, "example.com"),
    "DMARC_VERSION": ({"_dmarc.example.com": [("TXT", "v=dmarc1; p=reject")]}, "example.com"),
    "DMARC_MISSING_P": ({"_dmarc.example.com": [("TXT", "v=DMARC1; rua=mailto:d@example.com")]}, "example.com"),
    "DMARC_INVALID_VALUE": ({"_dmarc.example.com": [("TXT", REC + "; adkim=x")]}, "example.com"),
    "DMARC_DUPLICATE_TAG": ({"_dmarc.example.com": [("TXT", REC + "; p=none")]}, "example.com"),
    "DMARC_UNKNOWN_TAG": ({"_dmarc.example.com": [("TXT", REC + "; foo=bar")]}, "example.com"),
    "DMARC_DEPRECATED_TAG": ({"_dmarc.example.com": [("TXT", REC + "; ri=86400")]}, "example.com"),
    "DMARC_POLICY_NONE": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=none; rua=mailto:d@example.com")]},
                          "example.com"),
    "DMARC_PCT_PARTIAL": ({"_dmarc.example.com": [("TXT", REC + "; pct=10")]}, "example.com"),
    "DMARC_WEAK_SUBDOMAIN_POLICY": ({"_dmarc.example.com": [("TXT", REC + "; sp=none")]}, "example.com"),
    "DMARC_NO_RUA": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject")]}, "example.com"),
    "DMARC_BAD_URI": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; rua=d@example.com")]}, "example.com"),
    "DMARC_EXTERNAL_UNAUTHORIZED": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; rua=mailto:r@rep.example")],
                                     "rep.example": [("MX", (10, "mx.rep.example"))]}, "example.com"),
    "DMARC_EXTERNAL_AUTHORIZED": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; rua=mailto:r@rep.example")],
                                   "example.com._report._dmarc.rep.example": [("TXT", "v=DMARC1")],
                                   "rep.example": [("MX", (10, "mx.rep.example"))]}, "example.com"),
    "DMARC_REPORT_DOMAIN_NO_MAIL": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; rua=mailto:r@rep.example")],
                                     "example.com._report._dmarc.rep.example": [("TXT", "v=DMARC1")],
                                     "rep.example": [("MX", (0, "."))]}, "example.com"),
    "DMARC_REPORT_DNS_ERROR": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; rua=mailto:r@rep.example")],
                                "example.com._report._dmarc.rep.example": [("TIMEOUT", None)],
                                "rep.example": [("MX", (10, "mx.rep.example"))]}, "example.com"),
    "DMARC_SPF_AT_DMARC": ({"_dmarc.example.com": [("TXT", REC), ("TXT", "v=spf1 -all")]}, "example.com"),
    "DMARC_OTHER_TXT": ({"_dmarc.example.com": [("TXT", REC), ("TXT", "site-verification=abc")]}, "example.com"),
    "DMARC_INHERITED": ({"_dmarc.example.com": [("TXT", REC)], "www.example.com": [("A", "192.0.2.1")]},
                        "www.example.com"),
    "DMARC_CNAME": ({"_dmarc.example.com": [("CNAME", "example.com.dmarc.provider.example")],
                     "example.com.dmarc.provider.example": [("TXT", REC)]}, "example.com"),
    "DMARC_NOT_ENFORCING": ({"_dmarc.example.com": [("TXT", REC + "; sp=none")], "www.example.com": [("A", "192.0.2.1")]},
                            "www.example.com"),
    "DMARC_DNS_ERROR": ({"_dmarc.example.com": [("SERVFAIL", None)]}, "example.com"),
    "DMARC_PSD_MISUSE": ({"_dmarc.example.com": [("TXT", REC + "; psd=y")]}, "example.com"),
    "DMARC_TEST_MODE": ({"_dmarc.example.com": [("TXT", REC + "; t=y")]}, "example.com"),
    "DMARC_FALLBACK_NONE": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=bogus; rua=mailto:d@example.com")]},
                            "example.com"),
    "DMARC_NOT_APPLIED": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=bogus")]}, "example.com"),
    "DMARC_URI_UNSUPPORTED": ({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; rua=https://r.example/x")]},
                              "example.com"),
    "DMARC_FO_WITHOUT_RUF": ({"_dmarc.example.com": [("TXT", REC + "; fo=1")]}, "example.com"),
    "DMARC_ORG_DOMAIN_MISMATCH": ({"_dmarc.mail.example.com": [("TXT", REC + "; psd=n")]}, "a.mail.example.com"),
    "DOMAIN_INVALID": ({}, "bad..example"),
    "DMARC_LEADING_SPACE": ({"_dmarc.example.com": [("TXT", " " + REC)]}, "example.com"),
    "DMARC_QUOTED": ({"_dmarc.example.com": [("TXT", '"' + REC + '"')]}, "example.com"),
    "DMARC_RFC7489_INVALID": ({"_dmarc.example.com": [("TXT", REC + "; pct=200")]}, "example.com"),
}


async def test_leading_space_record_is_not_the_policy():
    # RFC 7489 §6.6.3 step 2: " v=DMARC1; p=reject" does not start with "v=": discarded, so no policy applies
    res, _ = await run({"_dmarc.example.com": [("TXT", " v=DMARC1; p=reject")]}, "example.com")
    assert res["policy"] is None and res["covered"] is False and res["status"] == "none"
    assert res["protected"] is False and "DMARC_LEADING_SPACE" in codes(res) and "DMARC_NONE" in codes(res)
    assert res["records"] == []


async def test_non_ascii_rua_is_one_bad_uri_not_a_missing_policy():
    rec = "v=DMARC1; p=reject; rua=mailto:dmarc@example.com,mailto:d\u00e9@example.com"
    res, _ = await run({"_dmarc.example.com": [("TXT", rec)]}, "example.com", check_report_auth=False)
    assert res["policy"] == "reject" and res["protected"] is True
    assert res["valid"] is False  # outside the grammar (RFC 3986: a URI is ASCII)
    assert codes(res).count("DMARC_BAD_URI") == 1 and "DMARC_NOT_APPLIED" not in codes(res)


@pytest.mark.parametrize("code", sorted(WORLDS))
async def test_world_proves_code(code):
    zone, domain = WORLDS[code]
    res, _ = await run(zone, domain)
    assert code in codes(res), codes(res)
    for f in res["findings"]:  # every placeholder filled, in both languages
        for lang in ("en", "ja"):
            assert not re.search(r"\{[a-z_]+\}", f.message(lang) + f.fix(lang)), (f.code, f.message(lang))


def test_every_emitted_code_has_a_world():
    emitted: set[str] = set()
    for path in [*(SRC / "dmarc").glob("*.py")]:
        emitted |= set(re.findall(r'finding\(\s*"([A-Z_]+)"', path.read_text()))
    assert emitted - set(WORLDS) == set()


# --- discovery --------------------------------------------------------------------------------------------------

async def test_own_record_costs_one_query():
    res, r = await run({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; rua=mailto:d@example.com")]})
    assert res["present"] is True and res["covered"] is True and res["source"] == "domain"
    assert res["policy"] == "reject" and res["protected"] is True and res["protected_reason"] == "enforcing"
    assert res["status"] == "ok" and res["valid"] is True
    assert res["org_domain"] == {"psl": "example.com", "tree_walk": None}
    assert r.log == [("_dmarc.example.com", "TXT")]


async def test_kushiro_lg_jp_shares_organizational_domain():
    # lg.jp is a public suffix: city.kushiro.lg.jp (釧路市) and town.kushiro.lg.jp (釧路町) both have the
    # organizational domain kushiro.lg.jp, so one record there covers both
    zone = {"_dmarc.kushiro.lg.jp": [("TXT", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@kushiro.lg.jp")],
            "city.kushiro.lg.jp": [("A", "192.0.2.1")], "town.kushiro.lg.jp": [("A", "192.0.2.2")]}
    for domain in ("city.kushiro.lg.jp", "town.kushiro.lg.jp"):
        res, r = await run(zone, domain)
        assert res["org_domain"] == {"psl": "kushiro.lg.jp", "tree_walk": "kushiro.lg.jp"}
        assert res["present"] is False and res["covered"] is True
        assert res["source"] == "organizational" and res["source_domain"] == "kushiro.lg.jp"
        assert res["policy"] == "quarantine" and res["p"] == "reject" and res["subdomain_policy"] == "quarantine"
        assert res["protected"] is True
        assert codes(res) == ["DMARC_INHERITED"]
        names = [n for n, _ in r.log]
        assert names == [f"_dmarc.{domain}", "_dmarc.kushiro.lg.jp", "_dmarc.lg.jp", "_dmarc.jp"]
    # the city's own record does not leak to the town
    zone["_dmarc.city.kushiro.lg.jp"] = [("TXT", "v=DMARC1; p=none")]
    res, _ = await run(zone, "town.kushiro.lg.jp")
    assert res["policy"] == "quarantine" and res["source_domain"] == "kushiro.lg.jp"


def test_walk_targets_of_a_deep_name():
    deep = "a.b.c.d.e.f.g.mail.example.com"  # 10 labels: cut straight to 7 (RFC 9989 §4.10 step 5)
    assert walk_targets(deep) == [deep, "d.e.f.g.mail.example.com", "e.f.g.mail.example.com",
                                  "f.g.mail.example.com", "g.mail.example.com", "mail.example.com",
                                  "example.com", "com"]
    assert walk_targets("example.com") == ["example.com", "com"]
    assert walk_targets("com") == ["com"]
    eight = "h.g.f.e.d.c.example.com"  # 8 labels -> 7: the ordinary one-label step
    assert walk_targets(eight)[1] == "g.f.e.d.c.example.com"
    assert max(len(walk_targets("x." * n + "com")) for n in range(30)) == 8


async def test_tree_walk_on_a_deep_name():
    deep = "a.b.c.d.e.f.g.mail.example.com"
    res, r = await run({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; sp=reject")], deep: [("A", "192.0.2.1")]},
                       deep, check_report_auth=False)
    assert [n for n, _ in r.log] == ["_dmarc." + t for t in walk_targets(deep)]
    assert len(r.log) == 8
    assert res["source"] == "organizational" and res["source_domain"] == "example.com"
    assert res["org_domain"]["tree_walk"] == "example.com" and res["policy"] == "reject"


async def test_fewest_labels_wins_for_the_organizational_domain():
    # records at mail.example.com and example.com: the org domain is example.com and ITS record applies
    zone = {"_dmarc.mail.example.com": [("TXT", "v=DMARC1; p=none")],
            "_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; sp=quarantine")],
            "a.mail.example.com": [("A", "192.0.2.1")]}
    res, _ = await run(zone, "a.mail.example.com")
    assert res["org_domain"]["tree_walk"] == "example.com"
    assert res["source_domain"] == "example.com" and res["policy"] == "quarantine"


async def test_psd_n_stops_the_walk():
    zone = {"_dmarc.mail.example.com": [("TXT", "v=DMARC1; p=reject; sp=none; psd=n")],
            "_dmarc.example.com": [("TXT", "v=DMARC1; p=quarantine")],
            "a.mail.example.com": [("A", "192.0.2.1")]}
    res, r = await run(zone, "a.mail.example.com")
    assert res["org_domain"] == {"psl": "example.com", "tree_walk": "mail.example.com"}
    assert res["source"] == "tree-walk" and res["source_domain"] == "mail.example.com" and res["policy"] == "none"
    walked = [q["name"] for q in res["lookups"]["tree_walk"]["queried"]]
    assert walked == ["_dmarc.a.mail.example.com", "_dmarc.mail.example.com"]
    # the PSL method is still reported: its own lookup of _dmarc.example.com
    assert res["lookups"]["organizational"]["status"] == "found"
    assert "DMARC_ORG_DOMAIN_MISMATCH" in codes(res)
    assert len(r.log) == len(set(r.log))  # no name queried twice


async def test_psd_y_record_applies_when_the_org_domain_has_none():
    zone = {"_dmarc.example": [("TXT", "v=DMARC1; p=reject; sp=quarantine; np=reject; psd=y")],
            "shop.brand.example": [("A", "192.0.2.1")]}
    res, _ = await run(zone, "shop.brand.example")
    assert res["org_domain"] == {"psl": "brand.example", "tree_walk": "brand.example"}
    assert res["source"] == "tree-walk" and res["source_domain"] == "example"
    assert res["policy"] == "quarantine" and res["relation"] == "subdomain"
    assert res["lookups"]["organizational"]["status"] == "none"  # the PSL method alone finds nothing


async def test_np_applies_to_a_nonexistent_subdomain():
    zone = {"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; sp=none; np=reject")],
            "real.example.com": [("A", "192.0.2.1")]}
    res, r = await run(zone, "ghost.example.com")
    assert res["relation"] == "nonexistent" and res["policy"] == "reject" and res["protected"] is True
    assert ("ghost.example.com", "MX") in r.log  # the existence test
    res, _ = await run(zone, "real.example.com")
    assert res["relation"] == "subdomain" and res["policy"] == "none" and res["protected"] is False
    # np equal to the subdomain policy: no existence query needed
    zone["_dmarc.example.com"] = [("TXT", "v=DMARC1; p=reject; np=reject")]
    res, r = await run(zone, "ghost.example.com")
    assert res["policy"] == "reject" and not any(t == "MX" for _, t in r.log)


async def test_np_existence_unknown_is_an_error_not_a_guess():
    zone = {"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; sp=none; np=reject")],
            "ghost.example.com": [("TIMEOUT", None)]}
    res, _ = await run(zone, "ghost.example.com")
    assert res["status"] == "error" and res["protected"] is None and res["policy"] is None
    assert res["covered"] is True


async def test_no_record_anywhere():
    res, r = await run({"www.example.co.jp": [("A", "192.0.2.1")]}, "www.example.co.jp")
    assert res["present"] is False and res["covered"] is False and res["status"] == "none"
    assert res["policy"] is None and res["protected"] is False and res["protected_reason"] == "no-record"
    assert res["org_domain"] == {"psl": "example.co.jp", "tree_walk": "www.example.co.jp"}
    assert [n for n, _ in r.log] == ["_dmarc.www.example.co.jp", "_dmarc.example.co.jp", "_dmarc.co.jp", "_dmarc.jp"]
    assert "DMARC_ORG_DOMAIN_MISMATCH" not in codes(res)


async def test_multiple_records_apply_no_policy():
    res, _ = await run(WORLDS["DMARC_MULTIPLE_RECORDS"][0])
    assert res["present"] is True and res["valid"] is False and res["policy"] is None
    assert res["protected"] is False and res["protected_reason"] == "multiple-records"
    assert len(res["records"]) == 2


async def test_multiple_records_at_the_org_domain_are_discarded():
    zone = {"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject"), ("TXT", "v=DMARC1; p=none")],
            "www.example.com": [("A", "192.0.2.1")]}
    res, _ = await run(zone, "www.example.com")
    assert res["covered"] is False and res["status"] == "none" and res["policy"] is None
    assert "DMARC_MULTIPLE_RECORDS" in codes(res) and "DMARC_NONE" in codes(res)


async def test_overlong_dmarc_name_is_not_queried():
    name = ".".join(["a" * 61] * 4) + ".jp"  # 250 characters: _dmarc.<name> would exceed 253
    res, r = await run({}, name)
    assert ("_dmarc." + name, "TXT") not in r.log
    assert res["present"] is False and res["status"] == "none"


async def test_spf_at_dmarc_alone_is_not_a_dmarc_record():
    res, _ = await run({"_dmarc.example.com": [("TXT", "v=spf1 -all")]})
    assert res["present"] is False and "DMARC_SPF_AT_DMARC" in codes(res) and "DMARC_NONE" in codes(res)


@pytest.mark.parametrize("record,protected,reason", [
    ("v=DMARC1; p=reject", True, "enforcing"),
    ("v=DMARC1; p=quarantine; pct=100", True, "enforcing"),
    ("v=DMARC1; p=quarantine; pct=99", False, "pct-partial"),
    ("v=DMARC1; p=reject; t=y", False, "test-mode"),
    ("v=DMARC1; p=none", False, "policy-none"),
    ("v=DMARC1; rua=mailto:d@example.com", False, "policy-none"),
    ("v=DMARC1; p=bogus", False, "not-applied"),
])
async def test_protected_verdict(record, protected, reason):
    res, _ = await run({"_dmarc.example.com": [("TXT", record)]})
    assert res["protected"] is protected and res["protected_reason"] == reason


# --- DNS errors are never "absent" ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["TIMEOUT", "SERVFAIL"])
async def test_dns_error_on_own_name(kind):
    res, r = await run({"_dmarc.example.com": [(kind, None)]})
    assert res["present"] is None and res["covered"] is None and res["status"] == "error"
    assert res["protected"] is None and res["policy"] is None
    assert "DMARC_DNS_ERROR" in codes(res) and "DMARC_NONE" not in codes(res)
    assert len(r.log) == 1


async def test_dns_error_during_walk_without_psl_record_is_unknown():
    zone = {"_dmarc.com": [("SERVFAIL", None)], "www.example.com": [("A", "192.0.2.1")]}
    res, _ = await run(zone, "www.example.com")
    assert res["present"] is False and res["covered"] is None and res["status"] == "error"
    assert res["protected"] is None and res["org_domain"]["tree_walk"] is None
    assert "DMARC_NONE" not in codes(res)


async def test_dns_error_during_walk_falls_back_to_the_psl_record():
    zone = {"_dmarc.com": [("TIMEOUT", None)], "_dmarc.example.com": [("TXT", "v=DMARC1; p=reject")],
            "www.example.com": [("A", "192.0.2.1")]}
    res, _ = await run(zone, "www.example.com")
    assert res["source"] == "organizational" and res["policy"] == "reject" and res["status"] == "ok"
    err = [f for f in res["findings"] if f.code == "DMARC_DNS_ERROR"]
    assert len(err) == 1 and err[0].severity == "warning"


async def test_idn_and_trailing_dot_are_normalised():
    res, r = await run({"_dmarc.xn--eckwd4c7c.jp": [("TXT", "v=DMARC1; p=reject")]}, "ドメイン.JP.")
    assert res["present"] is True and r.log == [("_dmarc.xn--eckwd4c7c.jp", "TXT")]


@pytest.mark.parametrize("bad", ["", "exa mple.com", "a..b", "-x.example", "x" * 64 + ".com"])
async def test_invalid_domain_is_a_clear_error(bad):
    res, r = await run({}, bad)
    assert res["status"] == "error" and codes(res) == ["DOMAIN_INVALID"] and r.log == []


async def test_result_is_json_ready_apart_from_findings():
    import json

    res, _ = await run(WORLDS["DMARC_EXTERNAL_AUTHORIZED"][0])
    body = {k: v for k, v in res.items() if k != "findings"}
    json.dumps(body)
    json.dumps([f.to_json("ja") for f in res["findings"]], ensure_ascii=False)


# --- property: random DNS worlds -------------------------------------------------------------------------------

_CHOICES = ["nothing", "reject", "none", "psd_y", "psd_n", "np", "two", "spf", "timeout", "bad"]
_TXT = {"reject": ["v=DMARC1; p=reject"], "none": ["v=DMARC1; p=none; sp=reject"],
        "psd_y": ["v=DMARC1; p=reject; psd=y"], "psd_n": ["v=DMARC1; p=quarantine; psd=n"],
        "np": ["v=DMARC1; p=reject; sp=quarantine; np=none"], "two": ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
        "spf": ["v=spf1 -all"], "bad": ["v=DMARC1; p=maybe"]}


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(["example.com", "www.example.com", "a.b.example.co.jp", "city.kushiro.lg.jp",
                        "a.b.c.d.e.f.g.h.example.com"]),
       st.data())
async def test_random_worlds_keep_unknown_apart_from_absent(domain, data):
    zone: dict[str, list] = {}
    targets = walk_targets(domain)
    choice = {t: data.draw(st.sampled_from(_CHOICES)) for t in targets}
    for t, c in choice.items():
        if c == "timeout":
            zone[f"_dmarc.{t}"] = [("TIMEOUT", None)]
        elif c != "nothing":
            zone[f"_dmarc.{t}"] = [("TXT", txt) for txt in _TXT[c]]
    if data.draw(st.booleans()):
        zone.setdefault(domain, []).append(("A", "192.0.2.1"))
    r = FakeResolver(zone)
    res = await analyze(domain, r, check_report_auth=False)

    assert len(r.log) == len(set(r.log)), "a name was queried twice"
    assert len(r.log) <= 10
    own = choice[domain]
    if own == "timeout":
        assert res["present"] is None and res["status"] == "error" and res["protected"] is None
    if res["present"] is False:
        assert res["lookups"]["domain"]["status"] == "none"
    if res["status"] == "none":
        assert res["covered"] is False and "DMARC_NONE" in codes(res)
        assert not any(q["status"] == "error" for q in res["lookups"]["tree_walk"]["queried"])
    if "timeout" not in choice.values():
        assert res["status"] != "error"
    if res["status"] == "error":
        assert res["protected"] is None
    if res["protected"]:
        assert res["policy"] in ("quarantine", "reject")
    if own in ("reject", "psd_y", "psd_n", "np"):
        assert res["source"] == "domain" and res["present"] is True and len(r.log) == 1


@pytest.mark.parametrize(("record", "fallback"), [
    ("v=DMARC1; p=reject; p=none", "ignored"),                           # duplicate tag (RFC 6376 §3.2)
    ("v=DMARC1; p=reject; stray", "ignored"),                            # malformed tag-list
    ("v=DMARC1; p=reject; p=reject; rua=mailto:d@example.com", "none"),  # §6.6.3: valid rua -> acts as p=none
])
async def test_invalid_tag_list_is_not_protected(record: str, fallback: str) -> None:
    res = FakeResolver({"_dmarc.example.com": [("TXT", record)]})
    out = await analyze("example.com", res, check_report_auth=False)
    assert out["valid"] is False and out["protected"] is False
    assert out["policy"] == (None if fallback == "ignored" else "none")


async def test_a_record_stored_with_its_quotes_is_named_not_just_absent() -> None:
    """'"v=DMARC1; p=reject"' (quotes pasted into a control panel that adds its own): receivers see no DMARC
    record, and the finding says why and how to fix it instead of only "no record"."""
    from mailposture.checks.spf import analyze as spf_analyze

    for quoted in ('"v=DMARC1; p=reject"', "\u201cv=DMARC1; p=reject\u201d"):
        r = FakeResolver({"_dmarc.example.jp": [("TXT", quoted)], "example.jp": [("TXT", '"v=spf1 -all"')]})
        sec = await analyze("example.jp", r, check_report_auth=False)
        codes = [f.code for f in sec["findings"]]
        assert sec["status"] == "none" and "DMARC_QUOTED" in codes and "DMARC_OTHER_TXT" not in codes
        f = next(f for f in sec["findings"] if f.code == "DMARC_QUOTED")
        assert "without the surrounding quotes" in f.fix("en") and "引用符" in f.message("ja")
    spf = await spf_analyze("example.jp", r)
    assert [f.code for f in spf["findings"]] == ["SPF_QUOTED", "SPF_NONE"]
    assert "dig TXT example.jp" in spf["findings"][0].fix("en")
