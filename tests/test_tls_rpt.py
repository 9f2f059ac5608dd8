"""TLS-RPT (RFC 8460 §3): grammar, rua URIs, several records, DNS failures; one case per finding code."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks import tls_rpt
from mailposture.dns.fake import FakeResolver
from mailposture.findings import CATALOG

D = "example.com"
N = f"_smtp._tls.{D}"


async def run(*records: str, special: str | None = None) -> dict:
    zone = {D: [("MX", (10, "mx.example.com"))]}
    if special:
        zone[N] = [(special, None)]
    elif records:
        zone[N] = [("TXT", r) for r in records]
    return await tls_rpt.analyze(D, FakeResolver(zone))


def codes(section: dict) -> list[str]:
    for f in section["findings"]:  # every parameter of the message templates is filled, in both languages
        assert "{" not in f.message("en") + f.message("ja") + f.fix("en") + f.fix("ja"), f.code
    return [f.code for f in section["findings"]]


# one world per finding code the module emits
CASES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "TLSRPT_NONE": ((), None),
    "TLSRPT_DNS_ERROR": ((), "TIMEOUT"),
    "TLSRPT_MULTIPLE_RECORDS": (("v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"),
                                None),
    "TLSRPT_SYNTAX": (("v=TLSRPTv1;; rua=mailto:a@example.com",), None),
    "TLSRPT_NO_RUA": (("v=TLSRPTv1;",), None),
    "TLSRPT_BAD_URI": (("v=TLSRPTv1; rua=http://example.com/report",), None),
}


def test_cases_cover_every_tlsrpt_code() -> None:
    assert set(CASES) == {c for c in CATALOG if c.startswith("TLSRPT_")}


@pytest.mark.parametrize("code", sorted(CASES))
async def test_each_code(code: str) -> None:
    records, special = CASES[code]
    assert code in codes(await run(*records, special=special))


async def test_valid_record() -> None:
    s = await run("v=TLSRPTv1; rua=mailto:tls@example.com, https://reports.example.net/tlsrpt")
    assert s["status"] == "ok" and s["present"] and s["valid"]
    assert s["rua"] == ["mailto:tls@example.com", "https://reports.example.net/tlsrpt"]
    assert codes(s) == []


async def test_dns_error_is_not_absence() -> None:
    s = await run(special="SERVFAIL")
    assert s["status"] == "error" and s["present"] is None and "TLSRPT_NONE" not in codes(s)


async def test_other_txt_records_are_ignored() -> None:
    s = await run("google-site-verification=abc", "v=TLSRPTv1; rua=mailto:t@example.com")
    assert s["valid"] and s["record"] == "v=TLSRPTv1; rua=mailto:t@example.com"


async def test_wrong_case_version_is_discarded_and_reported() -> None:
    s = await run("v=tlsrptv1; rua=mailto:t@example.com")
    assert s["status"] == "none" and s["present"] is False
    assert codes(s) == ["TLSRPT_SYNTAX", "TLSRPT_NONE"]


async def test_every_problem_is_collected() -> None:
    s = await run("v=TLSRPTv1; rua=ftp://x.example.com/,mailto:nobody; rua=mailto:a@example.com; bad name=x")
    c = codes(s)
    assert c.count("TLSRPT_BAD_URI") == 2 and c.count("TLSRPT_SYNTAX") >= 2
    assert s["valid"] is False


@pytest.mark.parametrize(("uri", "ok"), [
    ("mailto:tls@example.com", True), ("mailto:tls@example.com?subject=x", True), ("https://a.example.com/", True),
    ("https://a.example.com:8443/p", True), ("mailto:tls@", False), ("mailto:@example.com", False),
    ("http://a.example.com/", False), ("tls@example.com", False), ("https://localhost/", False),
    ("https://a.example.com:99999/", False), ("mailto:a b@example.com", False), ("", False),
])
def test_check_uri(uri: str, ok: bool) -> None:
    assert (tls_rpt.check_uri(uri) is None) is ok


def test_extensions_are_kept() -> None:
    data, findings = tls_rpt.parse("v=TLSRPTv1; rua=mailto:a@example.com; ext.x=1")
    assert data["extensions"] == {"ext.x": "1"} and findings == []


def test_version_must_be_first() -> None:
    _, findings = tls_rpt.parse("rua=mailto:a@example.com; v=TLSRPTv1")
    assert [f.code for f in findings] == ["TLSRPT_SYNTAX", "TLSRPT_SYNTAX"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parser_never_crashes(text: str) -> None:
    data, findings = tls_rpt.parse(text)
    assert isinstance(data["rua"], list) and all(f.code in CATALOG for f in findings)
    tls_rpt.select([text])


@pytest.mark.system
async def test_nsd_world() -> None:
    from conftest import require_program

    require_program("nsd")
    from mailposture.dns.engine import Engine
    from mailposture.dns.nsd import NsdServer

    world = {
        "good.test": [("A", "192.0.2.1")],
        "_smtp._tls.good.test": [("TXT", ["v=TLSRPTv1; rua=mailto:tls@good.test,", "https://r.good.test/x"])],
        "two.test": [("A", "192.0.2.2")],
        "_smtp._tls.two.test": [("TXT", "v=TLSRPTv1; rua=mailto:a@two.test"), ("TXT", "v=TLSRPTv1; rua=mailto:b@two.test")],
        "none.test": [("A", "192.0.2.3")],
    }
    with NsdServer.from_records(world, ["good.test", "two.test", "none.test"]) as ns:
        async with Engine([ns.address], timeout=1, retries=1) as engine:
            good = await tls_rpt.analyze("good.test", engine)
            two = await tls_rpt.analyze("two.test", engine)
            none = await tls_rpt.analyze("none.test", engine)
    assert good["valid"] and good["rua"] == ["mailto:tls@good.test", "https://r.good.test/x"]  # strings joined
    assert codes(two) == ["TLSRPT_MULTIPLE_RECORDS"] and two["valid"] is False
    assert none["status"] == "none" and codes(none) == ["TLSRPT_NONE"]
