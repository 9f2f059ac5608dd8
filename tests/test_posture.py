"""Non-sending (parked) posture: parked-protected vs parked-spoofable, from the real spf/dmarc/mx sections."""

from __future__ import annotations

import pytest

from mailposture.checks import dmarc, mx, posture, spf
from mailposture.dns.fake import FakeResolver
from mailposture.findings import CATALOG

D = "parked.test"


async def sections(zone: dict) -> tuple[dict, dict, dict]:
    res = FakeResolver(zone)
    return (await spf.analyze(D, res), await dmarc.analyze(D, res, check_report_auth=False),
            await mx.analyze(D, res, resolve_hosts=True))


async def assess(zone: dict) -> dict:
    return posture.assess(*await sections(zone))


def codes(section: dict) -> list[str]:
    for f in section["findings"]:  # every parameter of the message templates is filled, in both languages
        assert "{" not in f.message("en") + f.message("ja") + f.fix("en") + f.fix("ja"), f.code
    return [f.code for f in section["findings"]]


NULL_MX = ("MX", (0, "."))
PROTECTED = {D: [NULL_MX, ("TXT", "v=spf1 -all")], f"_dmarc.{D}": [("TXT", "v=DMARC1; p=reject")]}

CASES = {
    "PARKED_PROTECTED": PROTECTED,
    "PARKED_SPOOFABLE": {D: [NULL_MX]},
}


def test_cases_cover_every_parked_code() -> None:
    assert set(CASES) == {c for c in CATALOG if c.startswith("PARKED_")}


@pytest.mark.parametrize("code", sorted(CASES))
async def test_each_code(code: str) -> None:
    assert codes(await assess(CASES[code])) == [code]


async def test_null_mx_with_full_protection() -> None:
    s = await assess(PROTECTED)
    assert s["verdict"] == "parked-protected" and s["parked"] is True
    assert s["why"] == ["null MX", "SPF 'v=spf1 -all'"] and s["missing"] == []


async def test_null_mx_without_records_names_what_is_missing() -> None:
    s = await assess({D: [NULL_MX]})
    assert s["verdict"] == "parked-spoofable" and s["missing"] == ["no SPF record", "no DMARC policy"]


async def test_no_mx_no_address_is_parked() -> None:
    s = await assess({D: [("TXT", "v=spf1 -all")], f"_dmarc.{D}": [("TXT", "v=DMARC1; p=quarantine")]})
    assert s["why"] == ["no MX and no A/AAAA", "SPF 'v=spf1 -all'"]
    assert s["verdict"] == "parked-spoofable" and s["missing"] == ["DMARC p=quarantine, not reject"]


async def test_spf_dash_all_alone_makes_it_parked() -> None:
    zone = {D: [("MX", (10, "mx.parked.test")), ("TXT", "v=spf1   -ALL")], "mx.parked.test": [("A", "192.0.2.1")],
            f"_dmarc.{D}": [("TXT", "v=DMARC1; p=none")]}
    s = await assess(zone)
    assert s["why"] == ["SPF 'v=spf1 -all'"] and s["missing"] == ["DMARC p=none, not reject"]


async def test_partial_reject_is_not_protection() -> None:
    zone = {D: [NULL_MX, ("TXT", "v=spf1 -all")], f"_dmarc.{D}": [("TXT", "v=DMARC1; p=reject; pct=50")]}
    s = await assess(zone)
    assert s["verdict"] == "parked-spoofable" and "not fully applied" in s["missing"][0]


async def test_null_mx_with_a_sending_spf_is_spoofable() -> None:
    zone = {D: [NULL_MX, ("TXT", "v=spf1 ip4:192.0.2.0/24 -all")], f"_dmarc.{D}": [("TXT", "v=DMARC1; p=reject")]}
    s = await assess(zone)
    assert s["missing"] == ["SPF is 'v=spf1 ip4:192.0.2.0/24 -all' instead of 'v=spf1 -all'"]


async def test_sending_domain_has_no_verdict() -> None:
    zone = {D: [("MX", (10, "mx.parked.test")), ("TXT", "v=spf1 ip4:192.0.2.1 -all")],
            "mx.parked.test": [("A", "192.0.2.1")]}
    s = await assess(zone)
    assert s["verdict"] == "sending" and s["parked"] is False and s["findings"] == []


async def test_dns_error_is_unknown_not_sending() -> None:
    s = await assess({D: [("TIMEOUT", None)]})
    assert s["verdict"] == "unknown" and s["parked"] is None and s["status"] == "error"


def test_pure_dicts_and_missing_sections() -> None:
    s = posture.assess({"status": "ok", "present": True, "record": "v=spf1 -all", "records": ["v=spf1 -all"]},
                       {"status": "error", "policy": None}, {})
    assert s["verdict"] == "unknown" and s["parked"] is True  # parked by SPF, protection unknown
    s = posture.assess({}, {}, {})
    assert s["verdict"] == "sending" and s["findings"] == []


async def test_messages_in_both_languages() -> None:
    s = await assess({D: [NULL_MX]})
    (f,) = s["findings"]
    assert "no SPF record; no DMARC policy" in f.message("en")
    ja = f.message("ja")
    assert "SPF レコードなし、DMARC ポリシーなし" in ja and "Null MX" in ja and "{" not in ja


@pytest.mark.system
async def test_nsd_world() -> None:
    from conftest import require_program

    require_program("nsd")
    from mailposture.dns.engine import Engine
    from mailposture.dns.nsd import NsdServer

    world = {"safe.test": [NULL_MX, ("TXT", "v=spf1 -all")], "_dmarc.safe.test": [("TXT", "v=DMARC1; p=reject")],
             "open.test": [("TXT", "v=spf1 -all")], "_dmarc.open.test": [("TXT", "v=DMARC1; p=none")]}
    with NsdServer.from_records(world, ["safe.test", "open.test"]) as ns:
        async with Engine([ns.address], timeout=1, retries=1) as e:
            out = {}
            for dom in ("safe.test", "open.test"):
                out[dom] = posture.assess(await spf.analyze(dom, e), await dmarc.analyze(dom, e, check_report_auth=False),
                                          await mx.analyze(dom, e))
    assert out["safe.test"]["verdict"] == "parked-protected" and out["safe.test"]["why"][0] == "null MX"
    assert out["open.test"]["verdict"] == "parked-spoofable"
    assert out["open.test"]["why"] == ["no MX and no A/AAAA", "SPF 'v=spf1 -all'"]


async def test_nonexistent_domain_gets_no_parked_verdict() -> None:
    s = await assess({"other.test": [("A", "192.0.2.1")]})  # parked.test itself does not exist
    assert s["verdict"] == "nonexistent" and s["findings"] == [] and s["parked"] is None
