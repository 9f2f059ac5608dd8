"""DMARC and MX checks through the real DNS engine against NSD on 127.0.0.1 (started and stopped by PID).

Proves what the fake resolver cannot: the engine's own representation of CNAMEs, wildcards, the root name of a
null MX, NXDOMAIN/NODATA, and SERVFAIL-free tree walks up to the top of the zone.
"""

from __future__ import annotations

import pytest

from conftest import require_program
from mailposture.checks import mx
from mailposture.checks.dmarc import analyze
from mailposture.dns.types import TrackingResolver

pytestmark = pytest.mark.system

WORLD = {
    "_dmarc.example.test": [("TXT", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.test,"
                                    "mailto:agg@vendor.test")],
    "www.example.test": [("A", "192.0.2.1")],
    "example.test": [("MX", (10, "mx.example.test")), ("MX", (20, "alias.example.test"))],
    "mx.example.test": [("A", "192.0.2.25"), ("AAAA", "2001:db8::25")],
    "alias.example.test": [("CNAME", "mx.example.test")],
    "*._report._dmarc.vendor.test": [("TXT", "v=DMARC1")],
    "vendor.test": [("MX", (10, "mx.vendor.test"))],
    "mx.vendor.test": [("A", "192.0.2.26")],
    "_dmarc.cname.test": [("CNAME", "cname.test.dmarc.vendor.test")],
    "cname.test.dmarc.vendor.test": [("TXT", "v=DMARC1; p=quarantine")],
    "nullmx.test": [("MX", (0, "."))],
    "implicit.test": [("A", "192.0.2.30")],
    "nomail.test": [("TXT", "nothing here")],
}


@pytest.fixture(scope="module")
def nsd():
    require_program("nsd")
    from mailposture.dns.nsd import NsdServer

    with NsdServer.from_records(WORLD, ["test"]) as server:
        yield server


async def _engine(nsd):
    from mailposture.dns.engine import Engine

    return Engine([nsd.address], timeout=1, retries=1)


async def test_dmarc_inherited_with_wildcard_report_authorization(nsd):
    async with await _engine(nsd) as e:
        t = TrackingResolver(e)
        res = await analyze("www.example.test", t)
    assert res["source"] == "organizational" and res["policy"] == "quarantine" and res["protected"] is True
    assert res["status"] == "ok" and res["present"] is False
    assert [q["status"] for q in res["lookups"]["tree_walk"]["queried"]] == ["none", "found", "none"]
    assert res["report_auth"][0]["authorized"] is True and res["report_auth"][0]["receives_mail"] is True
    assert t.stats.errors == []


async def test_dmarc_through_cname(nsd):
    async with await _engine(nsd) as e:
        res = await analyze("cname.test", e, check_report_auth=False)
    assert res["present"] is True and res["policy"] == "quarantine"
    assert "DMARC_CNAME" in [f.code for f in res["findings"]]


async def test_dmarc_none_is_absent_not_error(nsd):
    async with await _engine(nsd) as e:
        res = await analyze("implicit.test", e)
    assert res["status"] == "none" and res["present"] is False and res["covered"] is False


async def test_mx_classifications(nsd):
    async with await _engine(nsd) as e:
        got = {d: await mx.analyze(d, e) for d in ("example.test", "nullmx.test", "implicit.test", "nomail.test",
                                                   "gone.test")}
    assert got["example.test"]["classification"] == "receives"
    hosts = {h["host"]: h for h in got["example.test"]["hosts"]}
    assert hosts["mx.example.test"]["addresses"] == ["192.0.2.25", "2001:db8::25"]
    assert hosts["alias.example.test"]["cname"] is True
    assert got["nullmx.test"]["classification"] == "null-mx"
    assert got["nullmx.test"]["records"] == [{"preference": 0, "host": "."}]
    assert got["implicit.test"]["classification"] == "implicit"
    assert got["nomail.test"]["classification"] == "no-mail"
    assert got["gone.test"]["classification"] == "no-mail" and got["gone.test"]["present"] is False
    assert all(r["status"] != "error" for r in got.values())
