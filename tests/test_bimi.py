"""BIMI: record grammar, DMARC precondition, org-domain fallback, and the SVG Tiny PS checks on logos fetched
from a loopback HTTPS server with a test CA (bimi.example.test -> 127.0.0.1 through the FakeResolver)."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks import bimi
from mailposture.dns.fake import FakeResolver
from mailposture.findings import CATALOG
from test_fetch import LoopbackHttps, Pki, Route, loopback_resolver, make_pki

D = "example.com"
ENFORCING = {"status": "ok", "policy": "reject", "p": "reject", "pct": None, "t": None, "source": "domain",
             "org_domain": {"psl": D}}
GOOD = "v=BIMI1; l=https://brand.example.com/logo.svg; a=https://brand.example.com/vmc.pem"
SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100">\n'
       b'  <title>Example Brand</title>\n  <circle cx="50" cy="50" r="40" fill="#c00"/>\n</svg>\n')
SVG_TYPE = {"Content-Type": "image/svg+xml"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def codes(section: dict) -> list[str]:
    for f in section["findings"]:  # every parameter of the message templates is filled, in both languages
        assert "{" not in f.message("en") + f.message("ja") + f.fix("en") + f.fix("ja"), f.code
    return [f.code for f in section["findings"]]


async def run(record: str | list[str] | None, dmarc: dict | None = ENFORCING, domain: str = D,
              extra: dict | None = None, special: str | None = None) -> tuple[dict, FakeResolver]:
    zone: dict = {D: [("A", "192.0.2.1")]}
    name = f"default._bimi.{domain}"
    if special:
        zone[name] = [(special, None)]
    elif record is not None:
        zone[name] = [("TXT", r) for r in ([record] if isinstance(record, str) else record)]
    zone.update(extra or {})
    res = FakeResolver(zone)
    return await bimi.analyze(domain, res, dmarc=dmarc), res


def svg_variant(old: bytes, new: bytes) -> bytes:
    assert old in SVG
    return SVG.replace(old, new)


DNS_CASES: dict[str, dict] = {
    "BIMI_NONE": {"record": None},
    "BIMI_DNS_ERROR": {"record": None, "special": "TIMEOUT"},
    "BIMI_INHERITED": {"record": None, "domain": f"news.{D}",
                       "extra": {f"default._bimi.{D}": [("TXT", GOOD)]},
                       "dmarc": {**ENFORCING, "source": "organizational"}},
    "BIMI_MULTIPLE_RECORDS": {"record": [GOOD, GOOD + ";"]},
    "BIMI_SYNTAX": {"record": GOOD + "; nonsense"},
    "BIMI_VERSION": {"record": "v=BIMI2; l=https://brand.example.com/logo.svg"},
    "BIMI_DUPLICATE_TAG": {"record": GOOD + "; l=https://brand.example.com/other.svg"},
    "BIMI_UNKNOWN_TAG": {"record": GOOD + "; s=avatar"},
    "BIMI_DECLINED": {"record": "v=BIMI1; l=;"},
    "BIMI_NO_LOCATION": {"record": "v=BIMI1; a=https://brand.example.com/vmc.pem"},
    "BIMI_BAD_URL": {"record": "v=BIMI1; l=http://brand.example.com/logo.svg"},
    "BIMI_NO_EVIDENCE": {"record": "v=BIMI1; l=https://brand.example.com/logo.svg"},
    "BIMI_DMARC_NOT_ENFORCING": {"record": GOOD, "dmarc": {**ENFORCING, "policy": "none", "p": "none"}},
    "BIMI_DMARC_PCT": {"record": GOOD, "dmarc": {**ENFORCING, "pct": 50}},
    "BIMI_DMARC_ORG_NONE": {"record": GOOD, "domain": f"news.{D}",
                            "extra": {f"_dmarc.{D}": [("TXT", "v=DMARC1; p=none")]}},
    "BIMI_DMARC_UNKNOWN": {"record": GOOD, "dmarc": {"status": "error", "policy": None}},
}
SVG_CASES: dict[str, tuple[bytes, dict[str, str]] | Route] = {
    "BIMI_SVG_FETCH_FAILED": Route(404, b"no", {"Content-Type": "text/plain"}),
    "BIMI_SVG_CONTENT_TYPE": (SVG, {"Content-Type": "text/plain"}),
    "BIMI_SVG_TOO_LARGE": (svg_variant(b"</svg>", b"<!--" + b"x" * 40_000 + b"--></svg>"), SVG_TYPE),
    "BIMI_SVG_NOT_XML": (SVG[:-8], SVG_TYPE),
    "BIMI_SVG_PROFILE": (svg_variant(b'baseProfile="tiny-ps"', b'baseProfile="tiny"'), SVG_TYPE),
    "BIMI_SVG_NO_TITLE": (svg_variant(b"<title>Example Brand</title>", b""), SVG_TYPE),
    "BIMI_SVG_FORBIDDEN": (svg_variant(b"</svg>", b"<script>alert(1)</script></svg>"), SVG_TYPE),
    "BIMI_SVG_EXTERNAL_REF": (svg_variant(b"</svg>", b'<use xmlns:xlink="http://www.w3.org/1999/xlink" '
                                                     b'xlink:href="https://evil.example/x.svg#a"/></svg>'), SVG_TYPE),
    "BIMI_SVG_NOT_SQUARE": (svg_variant(b'viewBox="0 0 100 100"', b'viewBox="0 0 200 100"'), SVG_TYPE),
    "BIMI_SVG_VALID": (SVG, SVG_TYPE),
}


def test_cases_cover_every_bimi_code() -> None:
    ours = {c for c in CATALOG if c.startswith("BIMI_") and not c.startswith("BIMI_EVIDENCE_")}
    assert set(DNS_CASES) | set(SVG_CASES) == ours  # evidence codes: see test_evidence_cases_cover_…


@pytest.mark.parametrize("code", sorted(DNS_CASES))
async def test_dns_codes(code: str) -> None:
    section, _ = await run(**DNS_CASES[code])
    assert code in codes(section)


async def fetch_logo(pki: Pki, route: Route, record: str | None = None) -> dict:
    async with LoopbackHttps(pki) as srv:
        srv.routes["/logo.svg"] = route
        rec = record or f"v=BIMI1; l=https://bimi.example.test:{srv.port}/logo.svg; a="
        res = loopback_resolver((f"default._bimi.{D}", [("TXT", rec)]))
        return await bimi.analyze(D, res, dmarc=ENFORCING, fetch=True, ca_file=str(pki.ca_file),
                                  allow_private=True, fetch_timeout=5.0)


@pytest.mark.parametrize("code", sorted(SVG_CASES))
async def test_svg_codes(pki: Pki, code: str) -> None:
    case = SVG_CASES[code]
    route = case if isinstance(case, Route) else Route(body=case[0], headers=case[1])
    section = await fetch_logo(pki, route)
    assert section["fetched"] and code in codes(section)
    if code == "BIMI_SVG_VALID":
        assert section["logo_valid"] is True and section["logo"]["title"] == "Example Brand"
    else:  # warnings leave the logo usable; errors do not
        assert section["logo_valid"] is (code in ("BIMI_SVG_CONTENT_TYPE", "BIMI_SVG_NOT_SQUARE"))


async def test_logo_redirect_is_not_followed(pki: Pki) -> None:
    section = await fetch_logo(pki, Route(301, b"", {"Location": "/elsewhere.svg"}))
    f = next(f for f in section["findings"] if f.code == "BIMI_SVG_FETCH_FAILED")
    assert "301" in f.params["error"] and section["logo_valid"] is False


async def test_gzip_logo_is_checked_decompressed(pki: Pki) -> None:
    section = await fetch_logo(pki, Route(body=gzip.compress(SVG), headers=SVG_TYPE))
    assert section["logo"]["gzip"] is True and "BIMI_SVG_VALID" in codes(section)


async def test_no_fetch_by_default() -> None:
    section, res = await run(GOOD)
    assert section["fetched"] is False and all(t == "TXT" for _, t in res.log)
    assert section["status"] == "ok" and section["valid"] is True and section["dmarc_ok"] is True
    assert codes(section) == []
    assert section["location"] == "https://brand.example.com/logo.svg"


async def test_declination_needs_no_dmarc() -> None:
    section, _ = await run("v=BIMI1; l=; a=;", dmarc={**ENFORCING, "policy": "none"})
    assert codes(section) == ["BIMI_DECLINED"] and section["declined"] is True


async def test_dns_error_is_not_absence() -> None:
    section, _ = await run(None, special="SERVFAIL")
    assert section["status"] == "error" and section["present"] is None


async def test_org_domain_fallback_costs_one_query_and_is_skipped_at_org() -> None:
    _, res = await run(None)
    assert res.log == [(f"default._bimi.{D}", "TXT")]
    section, res = await run(**DNS_CASES["BIMI_INHERITED"])
    assert [n for n, _ in res.log] == [f"default._bimi.news.{D}", f"default._bimi.{D}"]
    assert section["source"] == "organizational" and section["present"] is True


async def test_with_the_real_dmarc_section() -> None:
    from mailposture.checks import dmarc as dmarc_check

    zone = {D: [("A", "192.0.2.1")], f"_dmarc.{D}": [("TXT", "v=DMARC1; p=quarantine; pct=20")],
            f"default._bimi.{D}": [("TXT", GOOD)]}
    res = FakeResolver(zone)
    d = await dmarc_check.analyze(D, res, check_report_auth=False)
    section = await bimi.analyze(D, res, dmarc=d)
    assert "BIMI_DMARC_PCT" in codes(section) and "BIMI_DMARC_NOT_ENFORCING" not in codes(section)
    assert section["dmarc_ok"] is False


def test_precondition_pure() -> None:
    assert bimi.dmarc_precondition(ENFORCING) == []
    assert [f.code for f in bimi.dmarc_precondition({**ENFORCING, "t": "y"})] == ["BIMI_DMARC_NOT_ENFORCING"]
    assert [f.code for f in bimi.dmarc_precondition(None)] == ["BIMI_DMARC_UNKNOWN"]
    inherited_none = {**ENFORCING, "source": "organizational", "p": "none", "policy": "quarantine"}
    assert [f.code for f in bimi.dmarc_precondition(inherited_none)] == ["BIMI_DMARC_ORG_NONE"]
    absent = {"status": "none", "policy": None}
    assert [f.code for f in bimi.dmarc_precondition(absent)] == ["BIMI_DMARC_NOT_ENFORCING"]


@pytest.mark.parametrize(("svg", "what"), [
    (svg_variant(b"</svg>", b"<animate attributeName='r' to='10'/></svg>"), "animation"),
    (svg_variant(b'viewBox="0 0 100 100"', b'viewBox="0 0 100 100" x="0" y="0"'), "x="),
    (svg_variant(b"</svg>", b"<image href='data:image/png;base64,AAAA'/></svg>"), "image"),
    (svg_variant(b"<circle", b"<circle onclick='x()'"), "onclick"),
    (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>', "entity"),
])
def test_svg_forbidden_content(svg: bytes, what: str) -> None:
    _, f = bimi.check_svg(svg, "image/svg+xml")
    hits = [x for x in f if x.code == "BIMI_SVG_FORBIDDEN"]
    assert hits and what in hits[0].params["what"]


def test_svg_external_reference_in_style() -> None:
    svg = svg_variant(b"</svg>", b"<rect width='1' height='1' style='fill:url(https://x.example/p)'/></svg>")
    _, f = bimi.check_svg(svg)
    assert "BIMI_SVG_EXTERNAL_REF" in [x.code for x in f]
    local = svg_variant(b"</svg>", b"<rect width='1' height='1' fill='url(#grad)'/></svg>")
    assert "BIMI_SVG_EXTERNAL_REF" not in [x.code for x in bimi.check_svg(local)[1]]


def test_svg_root_without_namespace_is_not_tiny_ps() -> None:
    _, f = bimi.check_svg(SVG.replace(b' xmlns="http://www.w3.org/2000/svg"', b""))
    assert any(x.code == "BIMI_SVG_PROFILE" and "namespace" in x.params["reason"] for x in f)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_record_parser_never_crashes(text: str) -> None:
    _, findings = bimi.parse_record(text)
    assert all(f.code in CATALOG for f in findings)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500))
def test_svg_checker_never_crashes(body: bytes) -> None:
    _, findings = bimi.check_svg(body, "image/svg+xml")
    assert findings and all(f.code in CATALOG for f in findings)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"<svg", b"<title>", b"</title>", b"<script>", b"</svg>", b">", b"'", b"&amp;",
                                 b" baseProfile='tiny-ps'", b"<![CDATA[", b"]]>", b"xlink:href='x'", b"<!--",
                                 b"-->", b"\x1f\x8b"]), max_size=20))
def test_svg_checker_never_crashes_on_near_svg(parts: list[bytes]) -> None:
    _, findings = bimi.check_svg(b"".join(parts))
    assert all(f.code in CATALOG for f in findings)


@pytest.mark.system
async def test_nsd_world_org_fallback_and_dmarc() -> None:
    from conftest import require_program

    require_program("nsd")
    from mailposture.checks import dmarc as dmarc_check
    from mailposture.dns.engine import Engine
    from mailposture.dns.nsd import NsdServer

    world = {"brand.test": [("A", "192.0.2.1")],
             "default._bimi.brand.test": [("TXT", "v=BIMI1; l=https://brand.test/logo.svg; a=https://brand.test/v.pem")],
             "_dmarc.brand.test": [("TXT", "v=DMARC1; p=reject; sp=quarantine")],
             "news.brand.test": [("A", "192.0.2.2")]}
    with NsdServer.from_records(world, ["brand.test"]) as ns:
        async with Engine([ns.address], timeout=1, retries=1) as engine:
            d = await dmarc_check.analyze("news.brand.test", engine, check_report_auth=False)
            s = await bimi.analyze("news.brand.test", engine, dmarc=d)
            top = await bimi.analyze("brand.test", engine,
                                     dmarc=await dmarc_check.analyze("brand.test", engine, check_report_auth=False))
    assert s["source"] == "organizational" and codes(s) == ["BIMI_INHERITED"] and s["dmarc_ok"] is True
    assert top["source"] == "domain" and codes(top) == [] and top["valid"]


# ------------------------------------------------------------------------------------------------ evidence (VMC)

def make_mark_cert(names: list[str], *, bimi_eku: bool = True, days: tuple[int, int] = (-1, 365)) -> bytes:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Mark CA")])
    eku = [ObjectIdentifier(bimi.BIMI_EKU)] if bimi_eku else [ObjectIdentifier("1.3.6.1.5.5.7.3.1")]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Brand")]))
            .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=days[0])).not_valid_after(now + dt.timedelta(days=days[1]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


EVIDENCE_CASES = {
    "BIMI_EVIDENCE_OK": lambda: make_mark_cert([D]),
    "BIMI_EVIDENCE_INVALID": lambda: b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    "BIMI_EVIDENCE_EXPIRED": lambda: make_mark_cert([D], days=(-400, -30)),
    "BIMI_EVIDENCE_NOT_BIMI": lambda: make_mark_cert([D], bimi_eku=False),
    "BIMI_EVIDENCE_DOMAIN": lambda: make_mark_cert(["other.example"]),
}


def test_evidence_cases_cover_every_evidence_code() -> None:
    assert set(EVIDENCE_CASES) | {"BIMI_EVIDENCE_FETCH_FAILED"} == {
        c for c in CATALOG if c.startswith("BIMI_EVIDENCE_")}


@pytest.mark.parametrize("code", sorted(EVIDENCE_CASES))
def test_evidence_codes(code: str) -> None:
    pytest.importorskip("cryptography")
    _, f = bimi.check_evidence(EVIDENCE_CASES[code](), D)
    assert [x.code for x in f] == [code]
    for x in f:
        assert "{" not in x.message("en") + x.message("ja")


def test_evidence_names_the_org_domain_or_bimi_name() -> None:
    pytest.importorskip("cryptography")
    _, f = bimi.check_evidence(make_mark_cert([D]), f"news.{D}", D)
    assert [x.code for x in f] == ["BIMI_EVIDENCE_OK"]
    _, f = bimi.check_evidence(make_mark_cert([f"default._bimi.{D}"]), D)
    assert [x.code for x in f] == ["BIMI_EVIDENCE_OK"]
    _, f = bimi.check_evidence(b"<html>not pem</html>", D)
    assert [x.code for x in f] == ["BIMI_EVIDENCE_INVALID"]


async def test_evidence_fetched_with_the_logo(pki: Pki) -> None:
    pytest.importorskip("cryptography")
    async with LoopbackHttps(pki) as srv:
        srv.routes["/logo.svg"] = Route(body=SVG, headers=SVG_TYPE)
        srv.routes["/vmc.pem"] = Route(body=make_mark_cert([D]), headers={"Content-Type": "application/pem-certificate-chain"})
        base = f"https://bimi.example.test:{srv.port}"
        rec = f"v=BIMI1; l={base}/logo.svg; a={base}/vmc.pem"
        res = loopback_resolver((f"default._bimi.{D}", [("TXT", rec)]))
        s = await bimi.analyze(D, res, dmarc=ENFORCING, fetch=True, ca_file=str(pki.ca_file), allow_private=True)
        rec404 = f"v=BIMI1; l={base}/logo.svg; a={base}/missing.pem"
        res = loopback_resolver((f"default._bimi.{D}", [("TXT", rec404)]))
        s404 = await bimi.analyze(D, res, dmarc=ENFORCING, fetch=True, ca_file=str(pki.ca_file), allow_private=True)
    assert codes(s) == ["BIMI_EVIDENCE_OK", "BIMI_SVG_VALID"]
    assert s["evidence_certificate"]["names"] == [D] and s["evidence_certificate"]["checked"]
    assert "BIMI_EVIDENCE_FETCH_FAILED" in codes(s404) and "BIMI_SVG_VALID" in codes(s404)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_evidence_checker_never_crashes(body: bytes) -> None:
    _, findings = bimi.check_evidence(b"-----BEGIN CERTIFICATE-----\n" + body, D)
    assert all(f.code in CATALOG for f in findings)


async def test_fetched_section_is_json_ready(pki: Pki) -> None:
    import json

    s = await fetch_logo(pki, Route(body=SVG, headers=SVG_TYPE))
    data = json.loads(json.dumps({k: v for k, v in s.items() if k != "findings"}))
    assert data["logo"]["title"] == "Example Brand" and data["fetch"]["content_type"] == "image/svg+xml"
