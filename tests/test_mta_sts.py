"""MTA-STS (RFC 8461): TXT grammar, policy grammar, MX matching, and policy fetches from a loopback HTTPS server
with a test CA (names resolved through the FakeResolver: mta-sts.example.test -> 127.0.0.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks import mta_sts
from mailposture.dns.fake import FakeResolver
from mailposture.findings import CATALOG
from test_fetch import LoopbackHttps, Pki, Route, loopback_resolver, make_pki

D = "example.test"
POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.mail.example.test\r\nmax_age: 604800\r\n"
MX = {"records": [{"preference": 10, "host": "mx1.example.test"}, {"preference": 20, "host": "a.mail.example.test"}]}
TEXT = {"Content-Type": "text/plain"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def codes(section: dict) -> list[str]:
    for f in section["findings"]:  # every parameter of the message templates is filled, in both languages
        assert "{" not in f.message("en") + f.message("ja") + f.fix("en") + f.fix("ja"), f.code
    return [f.code for f in section["findings"]]


async def dns_only(*records: str, special: str | None = None) -> dict:
    zone: dict = {D: [("MX", (10, "mx1.example.test"))]}
    if special:
        zone[f"_mta-sts.{D}"] = [(special, None)]
    elif records:
        zone[f"_mta-sts.{D}"] = [("TXT", r) for r in records]
    return await mta_sts.analyze(D, FakeResolver(zone), mx=MX)


async def fetched(pki: Pki, route: Route | None, mx: dict | None = None, record: str = "v=STSv1; id=abc123",
                  **kw: object) -> dict:
    async with LoopbackHttps(pki) as srv:
        if route is not None:
            srv.routes[mta_sts.POLICY_PATH] = route
        res = loopback_resolver((f"_mta-sts.{D}", [("TXT", record)]))
        opts: dict = {"mx": MX if mx is None else mx, "fetch": True, "ca_file": str(pki.ca_file),
                      "https_port": srv.port, "allow_private": True, "fetch_timeout": 5.0}
        opts.update(kw)
        return await mta_sts.analyze(D, res, **opts)


# ------------------------------------------------------------------------------------------------ DNS only

DNS_CASES = {
    "MTASTS_NONE": ((), None),
    "MTASTS_DNS_ERROR": ((), "TIMEOUT"),
    "MTASTS_MULTIPLE_RECORDS": (("v=STSv1; id=1", "v=STSv1; id=2"), None),
    "MTASTS_SYNTAX": (("v=STSv1; id=has-dash",), None),
}
# policy-body cases: the body served as text/plain
POLICY_CASES = {
    "MTASTS_POLICY_SYNTAX": b"version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\nno colon here\n",
    "MTASTS_POLICY_FIELD_MISSING": b"version: STSv1\nmx: mx1.example.test\nmax_age: 86400\n",
    "MTASTS_POLICY_BAD_VALUE": b"version: STSv1\nmode: strict\nmx: mx1.example.test\nmax_age: 86400\n",
    "MTASTS_POLICY_DUPLICATE_FIELD": b"version: STSv1\nmode: enforce\nmode: none\nmx: mx1.example.test\n"
                                     b"max_age: 86400\n",
    "MTASTS_MAX_AGE_SHORT": b"version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 3600\n",
    "MTASTS_MODE_TESTING": b"version: STSv1\nmode: testing\nmx: mx1.example.test\nmx: *.mail.example.test\n"
                           b"max_age: 86400\n",
    "MTASTS_MODE_NONE": b"version: STSv1\nmode: none\nmax_age: 86400\n",
    "MTASTS_NO_MX_PATTERN": b"version: STSv1\nmode: enforce\nmax_age: 86400\n",
    "MTASTS_MX_NOT_COVERED": b"version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\n",
}
# HTTP-side cases
HTTP_CASES = {
    "MTASTS_POLICY_FETCH_FAILED": Route(body=POLICY, headers=TEXT, delay=3.0),
    "MTASTS_POLICY_REDIRECT": Route(302, b"", {"Location": "https://elsewhere.example.test/p.txt"}),
    "MTASTS_POLICY_HTTP_STATUS": Route(404, b"no", TEXT),
    "MTASTS_POLICY_CONTENT_TYPE": Route(body=POLICY, headers={"Content-Type": "text/html"}),
    "MTASTS_POLICY_TOO_LARGE": Route(body=POLICY + b"#" * 70_000 + b"\n", headers=TEXT),
}


def test_cases_cover_every_mtasts_code() -> None:
    assert set(DNS_CASES) | set(POLICY_CASES) | set(HTTP_CASES) == {c for c in CATALOG if c.startswith("MTASTS_")}


@pytest.mark.parametrize("code", sorted(DNS_CASES))
async def test_dns_codes(code: str) -> None:
    records, special = DNS_CASES[code]
    assert code in codes(await dns_only(*records, special=special))


@pytest.mark.parametrize("code", sorted(POLICY_CASES))
async def test_policy_codes(pki: Pki, code: str) -> None:
    s = await fetched(pki, Route(body=POLICY_CASES[code], headers=TEXT))
    assert s["fetched"] and code in codes(s)


@pytest.mark.parametrize("code", sorted(HTTP_CASES))
async def test_http_codes(pki: Pki, code: str) -> None:
    s = await fetched(pki, HTTP_CASES[code], fetch_timeout=0.5)
    assert code in codes(s) and s["valid"] is False


async def test_good_policy_over_https(pki: Pki) -> None:
    s = await fetched(pki, Route(body=POLICY, headers={"Content-Type": "text/plain; charset=utf-8"}))
    assert s["status"] == "ok" and s["valid"] is True and codes(s) == []
    assert s["mode"] == "enforce" and s["max_age"] == 604800 and s["id"] == "abc123"
    assert s["mx_covered"] == {"mx1.example.test": True, "a.mail.example.test": True}
    assert s["fetch"]["status"] == 200 and s["fetch"]["address"] == "127.0.0.1"


async def test_redirect_is_not_followed(pki: Pki) -> None:
    async with LoopbackHttps(pki) as srv:
        srv.routes[mta_sts.POLICY_PATH] = Route(301, b"", {"Location": "/policy2"})
        srv.routes["/policy2"] = Route(body=POLICY, headers=TEXT)
        res = loopback_resolver((f"_mta-sts.{D}", [("TXT", "v=STSv1; id=1")]))
        s = await mta_sts.analyze(D, res, mx=MX, fetch=True, ca_file=str(pki.ca_file), https_port=srv.port,
                                  allow_private=True)
    assert codes(s) == ["MTASTS_POLICY_REDIRECT"] and len(srv.requests) == 1 and s["mode"] is None


async def test_timeout_is_bounded(pki: Pki) -> None:
    s = await fetched(pki, Route(body=POLICY, headers=TEXT, delay=5.0), fetch_timeout=0.3)
    assert codes(s) == ["MTASTS_POLICY_FETCH_FAILED"] and "timeout" in s["fetch"]["error"]


async def test_testing_mode_uncovered_mx_is_a_warning(pki: Pki) -> None:
    body = b"version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n"
    s = await fetched(pki, Route(body=body, headers=TEXT))
    nc = [f for f in s["findings"] if f.code == "MTASTS_MX_NOT_COVERED"]
    assert len(nc) == 1 and nc[0].severity == "warning" and nc[0].params["host"] == "a.mail.example.test"


async def test_no_fetch_by_default() -> None:
    s = await dns_only("v=STSv1; id=20240101T000000")
    assert s["fetched"] is False and s["valid"] is True and s["id"] == "20240101T000000"


async def test_invalid_record_is_not_fetched(pki: Pki) -> None:
    s = await fetched(pki, Route(body=POLICY, headers=TEXT), record="v=STSv1;")
    assert s["fetched"] is False and "MTASTS_SYNTAX" in codes(s)


async def test_untrusted_certificate_fails(pki: Pki, tmp_path) -> None:
    other = make_pki(tmp_path)
    s = await fetched(pki, Route(body=POLICY, headers=TEXT), ca_file=str(other.ca_file))
    assert codes(s) == ["MTASTS_POLICY_FETCH_FAILED"] and s["fetch"]["error"].startswith("tls:")


# ------------------------------------------------------------------------------------------------ pure parts

@pytest.mark.parametrize(("host", "pattern", "match"), [
    ("mx1.example.com", "mx1.example.com", True), ("MX1.Example.COM.", "mx1.example.com", True),
    ("a.example.com", "*.example.com", True), ("a.b.example.com", "*.example.com", False),
    ("example.com", "*.example.com", False), ("mx2.example.com", "mx1.example.com", False),
    (".example.com", "*.example.com", False),
])
def test_mx_matches(host: str, pattern: str, match: bool) -> None:
    assert mta_sts.mx_matches(host, pattern) is match


def test_policy_lf_and_crlf_are_equal() -> None:
    crlf, f1 = mta_sts.parse_policy(POLICY)
    lf, f2 = mta_sts.parse_policy(POLICY.replace(b"\r\n", b"\n"))
    assert crlf == lf and f1 == f2 == []
    assert crlf["mx"] == ["mx1.example.test", "*.mail.example.test"]


@pytest.mark.parametrize("value", ["-1", "31557601", "abc", "12345678901", ""])
def test_max_age_range(value: str) -> None:
    _, f = mta_sts.parse_policy(f"version: STSv1\nmode: none\nmax_age: {value}\n")
    assert [x.code for x in f if x.severity == "error"] == ["MTASTS_POLICY_BAD_VALUE"]


def test_max_age_bounds_accepted() -> None:
    data, f = mta_sts.parse_policy("version: STSv1\nmode: none\nmax_age: 31557600\n")
    assert data["max_age"] == 31557600 and [x.code for x in f] == ["MTASTS_MODE_NONE"]


@pytest.mark.parametrize("pattern", ["*.*.example.com", "mx.*.example.com", "*", "exa mple.com", "-a.example.com"])
def test_bad_mx_patterns(pattern: str) -> None:
    _, f = mta_sts.parse_policy(f"version: STSv1\nmode: enforce\nmx: {pattern}\nmax_age: 86400\n")
    assert "MTASTS_POLICY_BAD_VALUE" in [x.code for x in f]


@pytest.mark.parametrize(("record", "ok"), [
    ("v=STSv1; id=20160831085700Z;", True), ("v=STSv1;id=a", True), ("v=STSv1; id=" + "a" * 32, True),
    ("v=STSv1; id=" + "a" * 33, False), ("v=STSv1", False), ("v=STSv1; id=1; id=2", False),
    ("id=1; v=STSv1", False), ("v=STSv1; id=1; ext=val", True), ("v=STSv1; id=1; e x=v", False),
])
def test_record_grammar(record: str, ok: bool) -> None:
    _, f = mta_sts.parse_record(record)
    assert (not f) is ok


def test_select_discards_other_records() -> None:
    assert mta_sts.select(["v=spf1 -all", "v=STSv1; id=1", "V=stsv1; id=2", "v=STSv10; id=3"]) == ["v=STSv1; id=1"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_policy_parser_never_crashes(body: bytes) -> None:
    data, findings = mta_sts.parse_policy(body)
    assert all(f.code in CATALOG for f in findings) and isinstance(data["mx"], list)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_record_parser_never_crashes(text: str) -> None:
    _, findings = mta_sts.parse_record(text)
    assert all(f.code in CATALOG for f in findings)


@pytest.mark.system
async def test_nsd_world_and_loopback_policy(pki: Pki) -> None:
    """The whole path on real DNS: the engine asks NSD for the TXT and for mta-sts.example.test's address, the
    client connects there and checks the policy against the MX hosts from the real mx section."""
    from conftest import require_program

    require_program("nsd")
    from mailposture.checks import mx as mx_check
    from mailposture.dns.engine import Engine
    from mailposture.dns.nsd import NsdServer

    world = {D: [("MX", (10, "mx1.example.test")), ("MX", (20, "mx9.example.test"))],
             "mx1.example.test": [("A", "192.0.2.10")], "mx9.example.test": [("A", "192.0.2.19")],
             f"_mta-sts.{D}": [("TXT", "v=STSv1; id=20240601")], f"mta-sts.{D}": [("A", "127.0.0.1")]}
    async with LoopbackHttps(pki) as srv:
        srv.routes[mta_sts.POLICY_PATH] = Route(body=POLICY, headers=TEXT)
        with NsdServer.from_records(world, [D]) as ns:
            async with Engine([ns.address], timeout=1, retries=1) as engine:
                mx = await mx_check.analyze(D, engine, resolve_hosts=False)
                s = await mta_sts.analyze(D, engine, mx=mx, fetch=True, ca_file=str(pki.ca_file),
                                          https_port=srv.port, allow_private=True)
    assert s["id"] == "20240601" and s["mode"] == "enforce" and s["fetch"]["address"] == "127.0.0.1"
    assert s["mx_covered"] == {"mx1.example.test": True, "mx9.example.test": False}
    assert codes(s) == ["MTASTS_MX_NOT_COVERED"]


async def test_wrong_case_version_is_reported_and_discarded() -> None:
    s = await dns_only("V=stsv1; id=1")
    assert s["status"] == "none" and codes(s) == ["MTASTS_SYNTAX", "MTASTS_NONE"]


async def test_section_is_json_ready(pki: Pki) -> None:
    import json

    s = await fetched(pki, Route(body=POLICY, headers=TEXT))
    data = json.loads(json.dumps({k: v for k, v in s.items() if k != "findings"}))
    assert data["mx_covered"]["mx1.example.test"] is True and data["fetch"]["status"] == 200
