"""The openspf RFC 7208 conformance suite (every case must pass) and the older RFC 4408 suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mailposture.checks.spf.evaluate import check_spf
from mailposture.dns.fake import FakeResolver
from mailposture.dns.types import Answer

DATA = Path(__file__).parent / "data" / "spf"


class SuiteResolver:
    """FakeResolver plus the suite's TIMEOUT rule: a name marked TIMEOUT answers the types it has records of
    and times out for every other type (as the reference driver does, e.g. "spftimeout" in §4.4 tests)."""

    def __init__(self, zone: dict[str, list[tuple[str, Any]]], timeouts: set[str]) -> None:
        self.fake = FakeResolver(zone)
        self.timeouts = timeouts

    async def query(self, name: str, rdtype: str) -> Answer:
        key = name.rstrip(".").lower()
        if key in self.timeouts and not self.fake.rrs.get(key, {}).get(rdtype.upper()):
            return Answer(key, rdtype.upper(), "error", rcode="", error="timeout")
        return await self.fake.query(name, rdtype)


def build_resolver(zonedata: dict[str, list[Any]], *, duplicate_spf: bool) -> SuiteResolver:
    zone: dict[str, list[tuple[str, Any]]] = {}
    timeouts: set[str] = set()
    for name, entries in zonedata.items():
        out: list[tuple[str, Any]] = []
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        for e in entries:
            if e == "TIMEOUT":
                timeouts.add(name.rstrip(".").lower())
                continue
            ((rdtype, value),) = e.items()
            if rdtype == "TXT" and value == "NONE":
                continue  # "TXT: NONE" = no TXT record (and no SPF->TXT duplication)
            if rdtype in ("TXT", "SPF"):
                value = _txt(value)
            if rdtype == "MX":
                value = (int(value[0]), str(value[1]))
            out.append((rdtype, value))
            if rdtype == "SPF" and duplicate_spf and not has_txt:
                out.append(("TXT", value))
        zone[name] = out
    return SuiteResolver(zone, timeouts)


def _txt(value: Any) -> tuple[bytes, ...]:
    # the YAML holds raw bytes as latin-1 code points (e.g. "\xEF\xBB\xBF"): keep them as those bytes
    parts = value if isinstance(value, list) else [value]
    return tuple(str(p).encode("latin-1", "replace") for p in parts)


def load(filename: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """[(scenario, test name, test, zonedata)]"""
    out = []
    with open(DATA / filename, "rb") as f:
        for doc in yaml.safe_load_all(f):
            for name, test in doc["tests"].items():
                out.append((doc["description"], name, test, doc.get("zonedata") or {}))
    return out


RFC7208 = load("rfc7208-tests.yml")
RFC4408 = load("rfc4408-tests.yml")
# Cases of the RFC 4408 suite whose expected result RFC 7208 deliberately changed: {test name: reason}.
# None fails today (the 4408 suite already accepts the 7208 result where they differ), so the map is empty;
# a case listed here is xfailed strictly, so a fix that makes it pass is noticed.
RFC4408_CHANGED: dict[str, str] = {}


async def run_case(scenario: str, test: dict, zonedata: dict):
    # SPF (type 99) entries are served as TXT too, unless the name has TXT entries of its own: that is what
    # the "Selecting records" cases need (e.g. "spfoverride": SPF +all and TXT -all must give fail)
    resolver = build_resolver(zonedata, duplicate_spf=True)
    return await check_spf(str(test["host"]), test["mailfrom"], test.get("helo", ""), resolver=resolver)


def accepted(test: dict) -> list[str]:
    r = test["result"]
    return list(r) if isinstance(r, list) else [r]


@pytest.mark.parametrize(("scenario", "name", "test", "zonedata"), RFC7208, ids=[f"{c[1]}" for c in RFC7208])
async def test_rfc7208(scenario, name, test, zonedata):
    res = await run_case(scenario, test, zonedata)
    assert res.result in accepted(test), (res.reason, [s.to_json() for s in res.trace])
    check_explanation(name, test, res)


def check_explanation(name: str, test: dict, res) -> None:
    if "explanation" not in test:
        return
    want = test["explanation"]
    if want == "DEFAULT":
        assert res.explanation is None  # no exp= text applies: the receiver's default explanation
    elif name == "v-macro-ip6":
        # the suite writes the %{ir} nibbles in upper case; RFC 7208 §7.4 shows them in lower case
        assert res.explanation is not None and res.explanation.lower() == want.lower()
    else:
        assert res.explanation == want


@pytest.mark.parametrize(
    ("scenario", "name", "test", "zonedata"),
    [pytest.param(*c, marks=pytest.mark.xfail(reason=RFC4408_CHANGED[c[1]], strict=True))
     if c[1] in RFC4408_CHANGED else c for c in RFC4408],
    ids=[f"{c[1]}" for c in RFC4408])
async def test_rfc4408(scenario, name, test, zonedata):
    res = await run_case(scenario, test, zonedata)
    assert res.result in accepted(test), (res.reason, [s.to_json() for s in res.trace])
    check_explanation(name, test, res)


def test_suite_size():
    assert len(RFC7208) == 203
    assert len(RFC4408) == 191
