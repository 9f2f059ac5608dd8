"""The engine against a real authoritative server: Debian's NSD on 127.0.0.1 (started and stopped by PID here)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket

import dns.message
import pytest

from conftest import free_port, require_program
from mailposture.dns.engine import Engine
from mailposture.dns.nsd import NsdError, NsdServer
from mailposture.dns.server import FaultyProxy, LocalDnsServer
from mailposture.dns.wire import decode, encode_query

pytestmark = pytest.mark.system

WORLD = {
    "example.test": [("A", "192.0.2.1"), ("AAAA", "2001:db8::1"), ("MX", (10, "mx.example.test")),
                     ("MX", (20, "mx.other.test")),
                     ("TXT", ["v=spf1 include:_spf.prov.test", " ~all"]), ("TXT", "google-site-verification=x")],
    "mx.example.test": [("A", "192.0.2.2")],
    "a.b.example.test": [("TXT", "deep")],  # b.example.test is an empty non-terminal
    "big.example.test": [("TXT", [f"{i:03d}" * 80 for i in range(8)])],  # ~1,950 octets of TXT
    "alias.example.test": [("CNAME", "www.other.test")],
    "alias2.example.test": [("CNAME", "alias.example.test")],
    "dangling.example.test": [("CNAME", "gone.other.test")],
    "_dmarc.example.test": [("TXT", 'v=DMARC1; p=reject; rua=mailto:"d"@example.test')],
    "*.wild.example.test": [("TXT", "wildcard")],
    "www.other.test": [("A", "192.0.2.9"), ("TXT", "bin\x00\xff".encode("latin-1"))],
    "mx.other.test": [("AAAA", "2001:db8::25")],
    "_spf.prov.test": [("TXT", "v=spf1 ip4:198.51.100.0/24 -all")],
    "9.2.0.192.in-addr.arpa": [("PTR", "www.other.test")],
}
ORIGINS = ["example.test", "other.test", "prov.test", "2.0.192.in-addr.arpa"]

QUERIES = [
    ("example.test", "A"), ("example.test", "AAAA"), ("example.test", "MX"), ("example.test", "TXT"),
    ("example.test", "SOA"), ("example.test", "NS"), ("mx.example.test", "MX"), ("b.example.test", "TXT"),
    ("a.b.example.test", "TXT"), ("nope.example.test", "A"), ("alias.example.test", "A"),
    ("alias2.example.test", "A"), ("alias2.example.test", "TXT"), ("alias.example.test", "MX"),
    ("alias.example.test", "CNAME"), ("dangling.example.test", "A"), ("x.wild.example.test", "TXT"),
    ("x.wild.example.test", "A"), ("www.other.test", "TXT"), ("9.2.0.192.in-addr.arpa", "PTR"),
    ("big.example.test", "TXT"), ("_dmarc.example.test", "TXT"), ("outside.invalid", "A"),
]


@pytest.fixture(scope="module")
def nsd():
    require_program("nsd")
    with NsdServer.from_records(WORLD, ORIGINS) as server:
        yield server


def _strip(a):
    # RRset order carries no meaning (RFC 2181 §5)
    return dataclasses.replace(a, server=None, from_cache=False, records=tuple(sorted(a.records, key=repr)))


async def test_record_types_and_negative_answers(nsd: NsdServer) -> None:
    async with Engine([nsd.address], timeout=1) as e:
        a, aaaa, mx, txt = await asyncio.gather(*(e.query("example.test", t) for t in ("A", "AAAA", "MX", "TXT")))
        assert a.records == ("192.0.2.1",) and aaaa.records == ("2001:db8::1",)
        assert sorted(mx.records) == [(10, "mx.example.test"), (20, "mx.other.test")]
        assert sorted(txt.records) == [(b"google-site-verification=x",),
                                       (b"v=spf1 include:_spf.prov.test", b" ~all")]
        assert sorted(txt.txt_strings()) == ["google-site-verification=x", "v=spf1 include:_spf.prov.test ~all"]
        assert all(x.server == nsd.address and x.ttl == 300 for x in (a, aaaa, mx, txt))
        nx = await e.query("nope.example.test", "A")
        nodata = await e.query("mx.example.test", "MX")
        ent = await e.query("b.example.test", "TXT")
        assert (nx.status, nx.rcode) == ("nxdomain", "NXDOMAIN")
        assert (nodata.status, nodata.rcode) == ("nodata", "NOERROR")
        assert (ent.status, ent.rcode) == ("nodata", "NOERROR")
        binary = await e.query("www.other.test", "TXT")
        assert binary.records == ((b"bin\x00\xff",),)


async def test_cname_chain_within_the_server(nsd: NsdServer) -> None:
    async with Engine([nsd.address], timeout=1) as e:
        a = await e.query("alias2.example.test", "A")
        assert a.records == ("192.0.2.9",) and a.cname_chain == ("alias.example.test", "www.other.test")
        dangling = await e.query("dangling.example.test", "A")
        assert dangling.status == "nxdomain" and dangling.cname_chain == ("gone.other.test",)


async def test_engine_follows_cnames_across_separate_servers() -> None:
    require_program("nsd")
    first = {k: v for k, v in WORLD.items() if k.endswith("example.test")}
    second = {k: v for k, v in WORLD.items() if k.endswith("other.test")}
    with NsdServer.from_records(first, ["example.test"]) as ns1, \
            NsdServer.from_records(second, ["other.test"]) as ns2:
        async with Engine([ns1.address, ns2.address], timeout=1, retries=1) as e:
            a = await e.query("alias2.example.test", "A")
            assert a.status == "ok" and a.records == ("192.0.2.9",)
            assert a.cname_chain == ("alias.example.test", "www.other.test") and a.server == ns2.address
            d = await e.query("dangling.example.test", "A")
            assert d.status == "nxdomain" and d.cname_chain == ("gone.other.test",)


async def test_big_txt_uses_tcp(nsd: NsdServer) -> None:
    async with Engine([nsd.address], timeout=1) as e:
        a = await e.query("big.example.test", "TXT")
        assert a.status == "ok" and len(b"".join(a.records[0])) == 8 * 240
        assert e.stats.tcp_fallbacks == 1


async def test_unreachable_port_times_out_never_nxdomain() -> None:
    async with Engine([f"127.0.0.1:{free_port()}"], timeout=0.1, retries=1) as e:
        a = await e.query("example.test", "A")
        assert a.status == "error" and a.error == "timeout" and e.stats.timeouts == 2


async def test_proxy_in_front_of_nsd(nsd: NsdServer) -> None:
    async with FaultyProxy(nsd.address, drop_first_n=1, servfail={"mx.example.test"}) as proxy, \
            Engine([proxy.address], timeout=0.2, retries=2) as e:
        ok = await e.query("example.test", "A")
        assert ok.status == "ok" and e.stats.retries == 1
        bad = await e.query("mx.example.test", "A")
        assert (bad.status, bad.error) == ("error", "servfail") and proxy.servfailed == 2  # try 1 dropped


async def test_shared_spf_include_fetched_once(nsd: NsdServer) -> None:
    async with Engine([nsd.address], timeout=1) as e:
        async def domain(i: int) -> str:
            await e.query(f"d{i}.example.test", "TXT")
            return (await e.query("_spf.prov.test", "TXT")).txt_strings()[0]
        assert set(await asyncio.gather(*(domain(i) for i in range(500)))) == {"v=spf1 ip4:198.51.100.0/24 -all"}
        assert e.stats.sent == 501 and e.stats.inflight_dedup + e.stats.cache_hits == 499


async def test_local_server_answers_like_nsd(nsd: NsdServer) -> None:
    async with Engine([nsd.address], timeout=1) as e:
        from_nsd = [await e.query(n, t) for n, t in QUERIES]
    async with LocalDnsServer(WORLD, origins=ORIGINS) as local, Engine([local.address], timeout=1) as e:
        from_local = [await e.query(n, t) for n, t in QUERIES]
    statuses = {a.status for a in from_nsd}
    assert statuses == {"ok", "nodata", "nxdomain", "error"}  # the comparison covers every kind
    for a, b in zip(from_nsd, from_local, strict=True):
        if a.rdtype in ("SOA",):
            assert b.status == a.status == "ok"
            continue
        assert _strip(a) == _strip(b), (a.name, a.rdtype)


def test_decoder_agrees_with_dnspython_on_nsd_answers(nsd: NsdServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for i, (name, rdtype) in enumerate(QUERIES):
            from mailposture.dns.engine import rdtype_code

            s.sendto(encode_query(i, name, rdtype_code(rdtype)), ("127.0.0.1", nsd.port))
            data, _ = s.recvfrom(65535)
            ours, ref = decode(data), dns.message.from_wire(data)
            assert ours.id == ref.id and ours.rcode == ref.rcode() and ours.tc == bool(ref.flags & 0x0200)
            if ours.tc:
                continue
            mine = sorted((rr.name, rr.rtype, rr.ttl, repr(rr.data)) for rr in ours.answer + ours.authority)
            theirs = []
            for rrset in list(ref.answer) + list(ref.authority):
                for rd in rrset:
                    owner = rrset.name.to_text(omit_final_dot=True).lower()
                    if rrset.rdtype in (16, 99):
                        data_ = tuple(rd.strings)
                    elif rrset.rdtype == 15:
                        data_ = (rd.preference, rd.exchange.to_text(omit_final_dot=True))
                    elif rrset.rdtype == 6:
                        data_ = (rd.mname.to_text(omit_final_dot=True), rd.rname.to_text(omit_final_dot=True),
                                 rd.serial, rd.refresh, rd.retry, rd.expire, rd.minimum)
                    elif rrset.rdtype in (1, 28):
                        data_ = rd.address
                    else:
                        data_ = rd.to_text().rstrip(".")
                    theirs.append((owner, rrset.rdtype, rrset.ttl, repr(data_)))
            assert mine == sorted(theirs), (name, rdtype)


def test_nsd_start_errors_are_clear(tmp_path) -> None:
    require_program("nsd")
    bad = {"a.test": "$TTL 300\na.test. IN SOA ns. h. 1 2 3 4 5\na.test. IN NS ns.\nb.a.test. IN A 999.1.1.1\n"}
    with pytest.raises(NsdError, match=r"(?s)errors in the configuration or zone files.*invalid IPv4"):
        NsdServer(bad, startup_timeout=5).start()
    with pytest.raises(NsdError, match="cannot run"):
        NsdServer({"a.test": bad["a.test"]}, nsd_path=str(tmp_path / "no-nsd")).start()


def test_nsd_is_stopped_by_pid() -> None:
    require_program("nsd")
    server = NsdServer.from_records({"x.test": [("A", "192.0.2.1")]}, ["x.test"]).start()
    pid, workdir = server.proc.pid, server.workdir
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not workdir.exists()


def test_busy_port_is_a_clear_error_or_another_port(monkeypatch) -> None:
    require_program("nsd")
    from mailposture.dns import nsd as nsd_mod

    zone = {"a.test": [("A", "192.0.2.1")]}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        with pytest.raises(NsdError, match=r"(?s)nsd (exited|reported).*bind"):
            NsdServer.from_records(zone, ["a.test"], port=port, startup_timeout=5).start()
        ports = iter([port, free_port()])
        monkeypatch.setattr(nsd_mod, "_free_port", lambda: next(ports))
        with NsdServer.from_records(zone, ["a.test"], startup_timeout=5) as server:
            assert server.port != port  # the taken port was given up for the next free one


def test_missing_nsd_is_a_clear_error(monkeypatch) -> None:
    from mailposture.dns import nsd as nsd_mod

    monkeypatch.setattr(nsd_mod.shutil, "which", lambda _name: None)
    monkeypatch.setattr(nsd_mod.os, "access", lambda _p, _m: False)
    with pytest.raises(NsdError, match="nsd is not installed"):
        NsdServer({"a.test": "x"})
