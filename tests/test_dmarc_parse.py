"""DMARC record parser: every tag of RFC 7489 and RFC 9989, leniency, and that ALL problems are collected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks.dmarc.parse import is_dmarc_text, looks_like_dmarc, parse_record, parse_uri
from mailposture.findings import CATALOG


def codes(text: str) -> list[str]:
    return [f.code for f in parse_record(text).findings]


def test_minimal_valid_record():
    rec = parse_record("v=DMARC1; p=reject; rua=mailto:dmarc@example.com")
    assert rec.dmarc and rec.valid
    assert rec.policy == "reject" and rec.policy_for("subdomain") == "reject"
    assert rec.adkim == "r" and rec.aspf == "r" and rec.pct is None and rec.psd == "u" and rec.t == "n"
    assert [u.domain for u in rec.rua] == ["example.com"]
    assert rec.findings == []


def test_every_tag_of_both_rfcs_is_understood():
    rec = parse_record("v=DMARC1; p=quarantine; sp=reject; np=reject; psd=n; t=n; adkim=s; aspf=s; fo=d:s; "
                       "rua=mailto:a@example.com; ruf=mailto:f@example.com!20k; pct=100; rf=afrf; ri=3600")
    assert rec.valid
    assert (rec.p, rec.sp, rec.np, rec.psd, rec.t) == ("quarantine", "reject", "reject", "n", "n")
    assert (rec.adkim, rec.aspf, rec.fo, rec.pct, rec.rf, rec.ri) == ("s", "s", ("d", "s"), 100, ("afrf",), 3600)
    assert rec.ruf[0].max_size == 20 * 1024
    # pct, rf and ri were removed by RFC 9989: info only
    assert sorted(f.params["tag"] for f in rec.findings if f.code == "DMARC_DEPRECATED_TAG") == ["pct", "rf", "ri"]
    assert {f.severity for f in rec.findings} == {"info"}


def test_grammar_allows_case_whitespace_trailing_semicolon():
    strict = parse_record("v=DMARC1; p=reject; sp=quarantine; adkim=s; rua=mailto:a@example.com,mailto:b@example.org")
    loose = parse_record("V = DMARC1 ;P=REJECT;  SP =Quarantine ;ADKIM= S; RUA = mailto:a@example.com , "
                         "mailto:b@example.org ;  ")
    assert loose.valid and strict.valid
    assert (loose.p, loose.sp, loose.adkim) == (strict.p, strict.sp, strict.adkim)
    assert [u.address for u in loose.rua] == [u.address for u in strict.rua]
    assert codes(loose.text) == codes(strict.text)


def test_three_problems_give_three_findings():
    rec = parse_record("v=DMARC1; p=rejekt; adkim=x; rua=dmarc@example.com")
    got = [f.code for f in rec.findings if f.severity == "error"]
    # each problem once, in record order, plus the consequence of having no usable p and no valid rua
    assert got == ["DMARC_INVALID_VALUE", "DMARC_INVALID_VALUE", "DMARC_BAD_URI", "DMARC_NOT_APPLIED"]
    assert [f.params.get("tag") for f in rec.findings[:3]] == ["p", "adkim", "rua"]
    assert not rec.valid and rec.policy is None


@pytest.mark.parametrize("text,found", [
    ("p=reject; v=DMARC1", "p=reject"),   # v must be first
    ("v=dmarc1; p=reject", "v=dmarc1"),   # the value is case-sensitive
    ("v=DMARC2; p=reject", "v=DMARC2"),
    ("", ""),
    ("p reject", "p reject"),
])
def test_version_must_be_first_and_exact(text, found):
    rec = parse_record(text)
    assert not rec.dmarc and not rec.valid and rec.policy is None
    versions = [f for f in rec.findings if f.code == "DMARC_VERSION"]
    assert len(versions) == 1 and versions[0].params["found"] == found


def test_invalid_values_name_the_expected_set():
    rec = parse_record("v=DMARC1; p=none; sp=maybe; np=x; adkim=q; aspf=1; t=maybe; psd=z; fo=2; pct=150; ri=-1")
    bad = {f.params["tag"]: f.params["expected"] for f in rec.findings if f.code == "DMARC_INVALID_VALUE"}
    assert set(bad) == {"sp", "np", "adkim", "aspf", "t", "psd", "fo"}
    # pct and ri were removed by RFC 9989: only RFC 7489 rejects their values
    old = {f.params["tag"]: f.params["expected"] for f in rec.findings if f.code == "DMARC_RFC7489_INVALID"}
    assert set(old) == {"pct", "ri"} and "0-100" in old["pct"]
    assert bad["sp"] == " (none | quarantine | reject)"
    assert bad["psd"] == " (y | n | u)"
    # sp/np invalid: no rua, so no DMARC processing (RFC 9989 §4.10.1)
    assert rec.fallback == "ignored" and rec.policy is None


def test_missing_p_is_valid_under_9989_with_policy_none():
    # RFC 9989 §4.7: p is optional, the effective policy is then none; RFC 7489 §6.3 requires it
    rec = parse_record("v=DMARC1; rua=mailto:d@example.com")
    assert [f.code for f in rec.findings] == ["DMARC_MISSING_P", "DMARC_POLICY_NONE"]
    assert rec.valid and not rec.valid_rfc7489 and rec.violations == {"7489": ["p-required"]}
    assert rec.policy == "none" and rec.policy_for("subdomain") == "none" and rec.fallback is None


def test_missing_p_without_rua_is_none_under_9989():
    rec = parse_record("v=DMARC1; adkim=s")
    assert "DMARC_MISSING_P" in codes(rec.text) and "DMARC_NOT_APPLIED" not in codes(rec.text)
    assert rec.policy == "none" and rec.valid and not rec.valid_rfc7489
    # sp still applies to subdomains when p is absent
    assert parse_record("v=DMARC1; sp=reject").policy_for("subdomain") == "reject"


def test_duplicate_and_unknown_tags():
    rec = parse_record("v=DMARC1; p=reject; p=none; foo=bar; p=quarantine")
    assert codes(rec.text).count("DMARC_DUPLICATE_TAG") == 1
    assert "DMARC_UNKNOWN_TAG" in codes(rec.text)
    assert rec.p == "reject"  # the first occurrence is kept
    assert not rec.valid      # a duplicate tag makes the tag-list invalid (RFC 6376 §3.2)


def test_syntax_errors():
    c = codes("v=DMARC1; p=reject; junk; =x; s p=none; rua=; ruf=mailto:a@example.com\x01")
    assert c.count("DMARC_SYNTAX") == 4 and c.count("DMARC_BAD_URI") == 1  # the control character: one bad URI


def test_policy_weakness_findings():
    assert "DMARC_POLICY_NONE" in codes("v=DMARC1; p=none")
    assert "DMARC_PCT_PARTIAL" in codes("v=DMARC1; p=reject; pct=50")
    weak = [f for f in parse_record("v=DMARC1; p=reject; sp=none; np=quarantine").findings
            if f.code == "DMARC_WEAK_SUBDOMAIN_POLICY"]
    assert [(f.params["tag"], f.params["sp"]) for f in weak] == [("sp", "none")]  # np=quarantine > sp=none
    assert "DMARC_TEST_MODE" in codes("v=DMARC1; p=reject; t=y")
    assert "DMARC_NO_RUA" in codes("v=DMARC1; p=reject")
    assert "DMARC_NO_RUA" not in codes("v=DMARC1; p=reject; rua=mailto:a@example.com")
    assert "DMARC_FO_WITHOUT_RUF" in codes("v=DMARC1; p=reject; fo=1")
    assert "DMARC_FO_WITHOUT_RUF" not in codes("v=DMARC1; p=reject; fo=1; ruf=mailto:a@example.com")


def test_np_and_sp_resolution():
    rec = parse_record("v=DMARC1; p=reject; sp=quarantine; np=none")
    assert rec.policy_for("domain") == "reject"
    assert rec.policy_for("subdomain") == "quarantine"
    assert rec.policy_for("nonexistent") == "none"
    rec = parse_record("v=DMARC1; p=reject; sp=quarantine")
    assert rec.policy_for("nonexistent") == "quarantine"  # np absent -> sp (RFC 9989 §4.7)
    assert parse_record("v=DMARC1; p=quarantine").policy_for("nonexistent") == "quarantine"


@pytest.mark.parametrize("uri,valid,domain,size", [
    ("mailto:a@example.com", True, "example.com", None),
    ("MAILTO:A@Example.COM", True, "example.com", None),
    ("mailto:a@example.com!10", True, "example.com", 10),
    ("mailto:a@example.com!10k", True, "example.com", 10240),
    ("mailto:a@example.com!1M", True, "example.com", 1 << 20),
    ("mailto:a@example.com!2g", True, "example.com", 2 << 30),
    ("mailto:a@example.com!1t", True, "example.com", 1 << 40),
    ("mailto:a%2Bdmarc@example.com", True, "example.com", None),
    ("mailto:a@example.com?subject=dmarc", True, "example.com", None),
    # a bad "!size" is outside RFC 7489 §6.2 only: RFC 9989 has no size limit (see test_bad_size_is_rfc7489_only)
    ("mailto:a@example.com!10x", True, "example.com", None),
    ("mailto:a@example.com!", True, "example.com", None),
    ("a@example.com", False, None, None),
    ("mailto:example.com", False, None, None),
    ("mailto:@example.com", False, None, None),
    ("mailto:a@-bad-.com", False, None, None),
    ("mailto:a b@example.com", False, None, None),
    ("https://reports.example/dmarc", True, None, None),
    ("", False, None, None),
])
def test_report_uris(uri, valid, domain, size):
    u = parse_uri(uri, "rua")
    assert u.valid is valid
    assert u.domain == domain
    assert u.max_size == size
    if not valid:
        assert u.reason


def test_uri_findings_per_element():
    rec = parse_record("v=DMARC1; p=reject; rua=mailto:a@example.com, dmarc@example.com ,https://x.example/r, "
                       "mailto:b@example.com!9q")
    assert [f.code for f in rec.findings] == ["DMARC_BAD_URI", "DMARC_URI_UNSUPPORTED", "DMARC_RFC7489_INVALID"]
    assert rec.findings[0].params["reason"] == "the 'mailto:' prefix is missing"
    assert len(rec.mailto()) == 2


def test_bad_size_is_rfc7489_only():
    rec = parse_record("v=DMARC1; p=reject; rua=mailto:b@example.com!9q")
    assert rec.valid and not rec.valid_rfc7489 and rec.violations == {"7489": ["uri"]}
    assert rec.rua[0].bad_size == "!9q" and rec.rua[0].max_size is None


def test_rf_unknown_format_is_a_warning():
    rec = parse_record("v=DMARC1; p=reject; rf=iodef")
    inv = [f for f in rec.findings if f.code == "DMARC_INVALID_VALUE"]
    assert len(inv) == 1 and inv[0].severity == "warning"
    assert rec.valid


def test_record_classifiers():
    assert is_dmarc_text("v=DMARC1; p=none") and is_dmarc_text("v = DMARC1") and is_dmarc_text("v=DMARC1")
    # RFC 7489 §6.6.3 step 2: a record that does not start with "v=" is discarded (whitespace included)
    assert not is_dmarc_text(" v=DMARC1; p=reject") and not is_dmarc_text("\tv=DMARC1")
    assert not is_dmarc_text("v=DMARC10; p=none") and not is_dmarc_text("v=dmarc1; p=none")
    assert looks_like_dmarc("v=dmarc1; p=none") and not looks_like_dmarc("v=DMARC1; p=none")
    assert not looks_like_dmarc("google-site-verification=abc")


def test_every_finding_has_rfc_and_both_languages():
    rec = parse_record("v=DMARC1; p=x; sp=y; rua=z; pct=5; foo=1; fo=1; t=y")
    for f in rec.findings:
        assert f.code in CATALOG and f.rfc.startswith("RFC")
        assert f.message("en") and f.message("ja") and "{" not in f.message("en") + f.message("ja")


# --- property tests -------------------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.text())
def test_random_text_never_crashes(text):
    rec = parse_record(text)
    assert isinstance(rec.valid, bool)
    rec.to_json()
    for f in rec.findings:
        f.message("ja")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([";", "=", " ", "v", "DMARC1", "p", "reject", "rua", "mailto:", "@", "!", ",",
                                 "x.example", "sp", "np", "psd", "y", "\t", "pct", "50", "é"]), max_size=30))
def test_dmarc_like_token_soup_never_crashes(tokens):
    text = "v=DMARC1;" + "".join(tokens)
    rec = parse_record(text)
    assert rec.dmarc
    if rec.valid:
        assert rec.policy in ("none", "quarantine", "reject")


GOOD = {"p": ["none", "quarantine", "reject"], "sp": ["none", "reject"], "np": ["quarantine"],
        "adkim": ["r", "s"], "aspf": ["s"], "t": ["y", "n"], "psd": ["y", "n", "u"], "fo": ["0", "1", "d:s"],
        "pct": ["0", "100", "42"]}
BAD = {"p": ["rejected", "0"], "sp": ["all"], "np": ["yes"], "adkim": ["strict"], "aspf": ["x"], "t": ["1"],
       "psd": ["yes"], "fo": ["2", "dx"], "pct": ["101", "abc", "1000"]}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_bad_value_is_reported(data):
    tags = data.draw(st.lists(st.sampled_from(sorted(GOOD)), unique=True, min_size=1))
    if "p" not in tags:
        tags = ["p", *tags]
    bad_tags = set(data.draw(st.lists(st.sampled_from(tags), unique=True)))
    parts = ["v=DMARC1"]
    for tag in tags:
        pool = BAD if tag in bad_tags else GOOD
        value = data.draw(st.sampled_from(pool[tag]))
        if data.draw(st.booleans()):  # random case and spacing must not matter
            value = value.upper()
        parts.append(f"{tag.upper() if data.draw(st.booleans()) else tag} = {value}")
    rec = parse_record("; ".join(parts) + data.draw(st.sampled_from(["", ";", "; "])))
    reported = {f.params["tag"] for f in rec.findings if f.code == "DMARC_INVALID_VALUE"}
    old = {f.params["tag"] for f in rec.findings
           if f.code == "DMARC_RFC7489_INVALID" and f.params["section"] != "RFC 7489 §6.4"}
    assert reported == bad_tags - {"pct"}  # pct is not an RFC 9989 tag: no value of it is invalid there
    assert old == bad_tags & {"pct"}
    assert rec.valid == (not bad_tags - {"pct"})
    # np, t and psd are not RFC 7489 tags: its receivers ignore them; RFC 7489 §6.4: p right after v
    assert rec.valid_rfc7489 == (not bad_tags - {"np", "t", "psd"} and tags[0] == "p")


def test_duplicate_version_tag_is_a_duplicate_and_the_policy_is_not_applied() -> None:
    """RFC 6376 §3.2 (used by RFC 7489 §6.4): a tag twice makes the tag-list invalid, v= included; the finding
    names the duplicate instead of saying the record does not start with v=DMARC1 (it does)."""
    rec = parse_record("v=DMARC1; p=reject; v=DMARC1")
    codes = [f.code for f in rec.findings]
    assert "DMARC_DUPLICATE_TAG" in codes and "DMARC_VERSION" not in codes
    assert next(f for f in rec.findings if f.code == "DMARC_DUPLICATE_TAG").params["tag"] == "v"
    assert not rec.valid and rec.policy is None and "DMARC_NOT_APPLIED" in codes
    rec = parse_record("v=DMARC1; p=reject; rua=mailto:d@example.jp; V=DMARC1")
    assert rec.policy == "none" and rec.fallback == "none"   # the valid rua: p=none (RFC 7489 §6.6.3)


def test_missing_separator_after_the_version_is_named() -> None:
    rec = parse_record("v=DMARC1 p=reject")
    assert not rec.dmarc and rec.policy is None
    syn = [f for f in rec.findings if f.code == "DMARC_SYNTAX"]
    assert syn and "';' is missing after 'v=DMARC1'" in syn[0].message("en")
    assert "';' がありません" in syn[0].message("ja")


ODD_RECORDS = ["v=DMARC1; p=REJECT;;", "v=DMARC1 p=reject", "v=DMARC1; p=reject; v=DMARC1",
               "v=DMARC1; p=reject; rua=d@example.jp", "v=DMARC1; p=reject; rua=mailto:a@example.jp,;",
               "v=DMARC1; p=reject; x", "v=DMARC1; p=rejected; rua=mailto:a@example.jp", "v=DMARC1; 9p=none",
               "v=DMARC1; p=reject; rua=mailto:\x01a@example.jp", "v=DMARC1; p=reject; sp=\x02none",
               "v=DMARC1; p=reject; p=none", "v=DMARC1; p="]


@pytest.mark.parametrize("text", ODD_RECORDS)
def test_odd_records_in_japanese_have_no_english_left_and_errors_have_a_fix(text: str) -> None:
    from tests.ja_check import english_leftovers

    from mailposture.checks.chars import visible

    rec = parse_record(text)
    assert rec.findings
    for f in rec.findings:
        shown = f.message("ja").replace(visible(text), " ") + " " + f.fix("ja")
        for value in f.params.values():   # quoted record parts are the user's own text
            shown = shown.replace(f"'{value}'", " ")
        left = english_leftovers(shown, {"tag", "value", "name", "local", "domain", "example", "DMARC1", "RFC",
                                         "U", "URI", "ASCII", "fo", "afrf", "np", "a", "d", "x", "REJECT",
                                         "rejected"})
        assert not left, (f.code, left, shown)
        if f.severity == "error":
            assert f.fix("en") and f.fix("ja"), f"{f.code} tells no fix"
