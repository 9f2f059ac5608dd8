"""External report destinations (RFC 7489 §7.1): authorization records incl. wildcards, mail capability, bounds."""

from __future__ import annotations

from mailposture.checks.dmarc import analyze
from mailposture.checks.dmarc.parse import parse_record
from mailposture.checks.dmarc.report_auth import check_report_destinations, external_destinations
from mailposture.dns.fake import FakeResolver


def test_only_destinations_outside_the_organizational_domain_are_external():
    rec = parse_record("v=DMARC1; p=reject; rua=mailto:a@example.com,mailto:b@reports.example.com,"
                       "mailto:c@vendor.example,mailto:d@vendor.example!10m; ruf=mailto:e@other.example.co.jp")
    assert external_destinations("example.com", rec) == {
        "vendor.example": ["mailto:c@vendor.example", "mailto:d@vendor.example!10m"],
        "other.example.co.jp": ["mailto:e@other.example.co.jp"]}
    # a subdomain publishing its own record: same organizational domain, still internal
    assert external_destinations("mail.example.com", rec).keys() == {"vendor.example", "other.example.co.jp"}


async def test_wildcard_authorization_record():
    zone = {"*._report._dmarc.vendor.example": [("TXT", "v=DMARC1")],
            "vendor.example": [("MX", (10, "mx.vendor.example"))]}
    r = FakeResolver(zone)
    rec = parse_record("v=DMARC1; p=reject; rua=mailto:agg@vendor.example")
    entries, findings = await check_report_destinations("example.com", rec, r)
    assert entries == [{"destination": "vendor.example", "uris": ["mailto:agg@vendor.example"],
                        "auth_name": "example.com._report._dmarc.vendor.example", "authorized": True,
                        "receives_mail": True, "mail_reason": "MX", "checked": True}]
    assert [f.code for f in findings] == ["DMARC_EXTERNAL_AUTHORIZED"]
    # the exact name was asked; the wildcard answered it (no separate "*." query)
    assert ("example.com._report._dmarc.vendor.example", "TXT") in r.log
    assert not any(n.startswith("*") for n, _ in r.log)


async def test_wildcard_for_another_domain_does_not_match_a_non_dmarc_answer():
    zone = {"*._report._dmarc.vendor.example": [("TXT", "something else")],
            "vendor.example": [("A", "192.0.2.9")]}
    entries, findings = await check_report_destinations(
        "example.com", parse_record("v=DMARC1; p=reject; rua=mailto:agg@vendor.example"), FakeResolver(zone))
    assert entries[0]["authorized"] is False and entries[0]["receives_mail"] is True
    assert entries[0]["mail_reason"] == "implicit MX (A/AAAA)"
    assert [f.code for f in findings] == ["DMARC_EXTERNAL_UNAUTHORIZED"]


async def test_destination_without_mail():
    zone = {"example.com._report._dmarc.nomx.example": [("TXT", "v=DMARC1")],
            "nomx.example": [("TXT", "hello")],                      # exists, no MX, no A/AAAA
            "example.com._report._dmarc.null.example": [("TXT", "v=DMARC1")],
            "null.example": [("MX", (0, "."))]}
    rec = parse_record("v=DMARC1; p=reject; rua=mailto:a@nomx.example,mailto:b@null.example,mailto:c@gone.example")
    entries, findings = await check_report_destinations("example.com", rec, FakeResolver(zone))
    by = {e["destination"]: e for e in entries}
    assert by["nomx.example"]["receives_mail"] is False
    assert by["null.example"]["receives_mail"] is False and "null MX" in by["null.example"]["mail_reason"]
    assert by["gone.example"]["receives_mail"] is False and by["gone.example"]["authorized"] is False
    assert [f.code for f in findings].count("DMARC_REPORT_DOMAIN_NO_MAIL") == 3


async def test_dns_errors_leave_authorization_unknown():
    zone = {"example.com._report._dmarc.vendor.example": [("SERVFAIL", None)],
            "vendor.example": [("TIMEOUT", None)]}
    entries, findings = await check_report_destinations(
        "example.com", parse_record("v=DMARC1; p=reject; rua=mailto:agg@vendor.example"), FakeResolver(zone))
    assert entries[0]["authorized"] is None and entries[0]["receives_mail"] is None
    assert [f.code for f in findings] == ["DMARC_REPORT_DNS_ERROR", "DMARC_REPORT_DNS_ERROR"]
    assert {f.severity for f in findings} == {"warning"}


async def test_bounded_number_of_destinations():
    uris = ",".join(f"mailto:r@v{i}.example" for i in range(6))
    r = FakeResolver({})
    entries, _ = await check_report_destinations("example.com", parse_record(f"v=DMARC1; p=reject; rua={uris}"), r,
                                                 max_destinations=2)
    assert [e["checked"] for e in entries] == [True, True, False, False, False, False]
    assert [e["destination"] for e in entries] == [f"v{i}.example" for i in range(6)]
    assert len([1 for _, t in r.log if t == "TXT"]) == 2
    assert {n for n, _ in r.log} <= {"example.com._report._dmarc.v0.example", "example.com._report._dmarc.v1.example",
                                     "v0.example", "v1.example"}


async def test_analyze_uses_the_policy_domain_for_the_auth_name_and_can_skip_the_check():
    zone = {"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; rua=mailto:agg@vendor.example")],
            "*._report._dmarc.vendor.example": [("TXT", "v=DMARC1")],
            "vendor.example": [("MX", (10, "mx.vendor.example"))],
            "www.example.com": [("A", "192.0.2.1")]}
    r = FakeResolver(zone)
    res = await analyze("www.example.com", r)
    assert res["report_auth"][0]["auth_name"] == "example.com._report._dmarc.vendor.example"
    assert res["report_auth"][0]["authorized"] is True
    r = FakeResolver(zone)
    res = await analyze("example.com", r, check_report_auth=False)
    assert res["report_auth"] == [] and r.log == [("_dmarc.example.com", "TXT")]


async def test_internal_destinations_cost_no_query():
    r = FakeResolver({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; rua=mailto:a@example.com,"
                                                     "mailto:b@reports.example.com")]})
    res = await analyze("example.com", r)
    assert res["report_auth"] == [] and len(r.log) == 1
