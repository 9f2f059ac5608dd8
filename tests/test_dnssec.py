"""DNSSEC status from the AD bit: secure / insecure / unknown, never guessed from a non-validating resolver."""

from __future__ import annotations

import dataclasses

import pytest

from mailposture.checks import dnssec
from mailposture.dns.engine import Engine
from mailposture.dns.fake import FakeResolver
from mailposture.dns.server import LocalDnsServer
from mailposture.dns.types import Answer, TrackingResolver
from mailposture.dns.wire import FLAG_AD
from mailposture.findings import CATALOG

WORLD = {"signed.test": [("TXT", "v=spf1 -all")], "plain.test": [("TXT", "v=spf1 -all")],
         "broken.test": [("SERVFAIL", None)]}


class ValidatingStub:
    """Stands for a validating resolver: sets AD for names under ``secure`` (as if their chain validated)."""

    want_ad = True

    def __init__(self, secure: set[str]) -> None:
        self.inner = FakeResolver(WORLD)
        self.secure = secure

    async def query(self, name: str, rdtype: str) -> Answer:
        ans = await self.inner.query(name, rdtype)
        return dataclasses.replace(ans, ad=name in self.secure and ans.status != "error", server="127.0.0.53:53")


def codes(section: dict) -> list[str]:
    for f in section["findings"]:  # every parameter of the message templates is filled, in both languages
        assert "{" not in f.message("en") + f.message("ja") + f.fix("en") + f.fix("ja"), f.code
    return [f.code for f in section["findings"]]


CASES = {"DNSSEC_SECURE": "signed.test", "DNSSEC_INSECURE": "plain.test", "DNSSEC_UNKNOWN": "broken.test"}


def test_cases_cover_every_dnssec_code() -> None:
    assert set(CASES) == {c for c in CATALOG if c.startswith("DNSSEC_")}


@pytest.mark.parametrize("code", sorted(CASES))
async def test_each_code(code: str) -> None:
    s = await dnssec.analyze(CASES[code], ValidatingStub({"signed.test"}), validating_resolver=True)
    assert codes(s) == [code]


async def test_secure_names_the_resolver() -> None:
    s = await dnssec.analyze("signed.test", ValidatingStub({"signed.test"}), validating_resolver=True)
    assert (s["status"], s["state"], s["present"], s["resolver"]) == ("ok", "secure", True, "127.0.0.53:53")
    assert "127.0.0.53:53" in s["findings"][0].message()


async def test_insecure_from_a_validating_resolver() -> None:
    s = await dnssec.analyze("plain.test", ValidatingStub(set()), validating_resolver=True)
    assert (s["status"], s["state"], s["present"]) == ("none", "insecure", False)


async def test_servfail_is_unknown_with_a_bogus_hint() -> None:
    s = await dnssec.analyze("broken.test", ValidatingStub(set()), validating_resolver=True)
    assert (s["status"], s["state"], s["present"]) == ("error", "unknown", None)
    assert "bogus" in s["reason"]


async def test_non_validating_resolver_gives_unknown_without_a_query() -> None:
    res = FakeResolver(WORLD)
    s = await dnssec.analyze("signed.test", res, validating_resolver=False)
    assert (s["status"], s["state"]) == ("unknown", "unknown") and "validating" in s["reason"]
    assert res.log == []


async def test_engine_without_want_ad_gives_unknown_even_through_a_tracker() -> None:
    engine = Engine(["127.0.0.1:9"], want_ad=False)  # never queried
    tracker = TrackingResolver(engine)
    s = await dnssec.analyze("signed.test", tracker, validating_resolver=True)
    assert s["status"] == "unknown" and "AD bit" in s["reason"] and tracker.stats.queries == 0


class AdSettingServer(LocalDnsServer):
    """A loopback server that sets AD on answers for names under signed.test (a validator's view)."""

    def respond(self, data: bytes, *, udp: bool = True) -> bytes | None:
        resp = super().respond(data, udp=udp)
        if resp is not None and b"\x06signed\x04test\x00" in data.lower():
            flags = int.from_bytes(resp[2:4], "big") | FLAG_AD
            resp = resp[:2] + flags.to_bytes(2, "big") + resp[4:]
        return resp


async def test_over_the_wire_engine_sets_ad_and_reads_it() -> None:
    world = {k: v for k, v in WORLD.items() if k != "broken.test"}
    async with AdSettingServer(world, origins=["signed.test", "plain.test"]) as srv:
        async with Engine([srv.address], timeout=1, retries=0, want_ad=True) as engine:
            tracker = TrackingResolver(engine)
            secure = await dnssec.analyze("signed.test", tracker, validating_resolver=True)
            insecure = await dnssec.analyze("plain.test", tracker, validating_resolver=True)
    assert secure["state"] == "secure" and secure["resolver"] == srv.address
    assert insecure["state"] == "insecure"
    assert all(flags & FLAG_AD for _, _, flags in srv.log)  # RFC 6840 §5.7: the query asked for AD


async def test_reasons_are_given_in_both_languages() -> None:
    s = await dnssec.analyze("signed.test", FakeResolver(WORLD), validating_resolver=False)
    (f,) = s["findings"]
    assert "validating" in f.message("en") and "検証" in f.message("ja") and "{" not in f.message("ja")
    s = await dnssec.analyze("broken.test", ValidatingStub(set()), validating_resolver=True)
    assert "SERVFAIL" in s["findings"][0].message("ja") and "{" not in s["findings"][0].message("ja")


@pytest.mark.system
async def test_nsd_unsigned_zone_is_insecure_for_a_validating_setup() -> None:
    from conftest import require_program

    require_program("nsd")
    from mailposture.dns.nsd import NsdServer

    with NsdServer.from_records({"plain.test": [("TXT", "x")]}, ["plain.test"]) as ns:
        async with Engine([ns.address], timeout=1, retries=1, want_ad=True) as engine:
            s = await dnssec.analyze("plain.test", engine, validating_resolver=True)
    assert s["state"] == "insecure" and s["resolver"] == ns.address
