"""The engine against in-process loopback servers (no NSD): caching, dedup, retries, TCP, spoofing, CNAMEs."""

from __future__ import annotations

import asyncio
import functools
import socket
import sys
import time

import pytest

from conftest import free_port
from mailposture.dns import engine as engine_mod
from mailposture.dns.engine import MAX_CNAME_HOPS, Engine, run
from mailposture.dns.server import FaultyProxy, LocalDnsServer
from mailposture.dns.wire import FLAG_AD

WORLD = {
    "example.test": [("A", "192.0.2.1"), ("MX", (10, "mx.example.test")), ("MX", (20, "mx2.example.test")),
                     ("TXT", ["v=spf1 include:_spf.prov.test", " -all"])],
    "mx.example.test": [("A", "192.0.2.2")],
    "x.y.example.test": [("A", "192.0.2.3")],
    "big.example.test": [("TXT", ["k" * 250] * 6)],  # > 1232 octets: TC over UDP
    "alias.example.test": [("CNAME", "www.other.test")],
    "loop1.example.test": [("CNAME", "loop2.other.test")],
    "www.other.test": [("A", "192.0.2.9")],
    "loop2.other.test": [("CNAME", "loop1.example.test")],
    "_spf.prov.test": [("TXT", "v=spf1 ip4:198.51.100.0/24 -all")],
}
ORIGINS = ["example.test", "other.test", "prov.test"]


@pytest.fixture(autouse=True, params=["socket-pool", "socket-per-exchange"])
def udp_mode(request, monkeypatch) -> str:
    """Every test runs with both UDP transports: the default rotating socket pool and udp_sockets=0."""
    if request.param == "socket-per-exchange":
        monkeypatch.setattr(sys.modules[__name__], "Engine", functools.partial(engine_mod.Engine, udp_sockets=0))
    return request.param


@pytest.fixture
async def server():
    async with LocalDnsServer(WORLD, origins=ORIGINS) as s:
        yield s


async def test_answers_from_the_local_server(server: LocalDnsServer) -> None:
    async with Engine([server.address], timeout=1) as e:
        a = await e.query("Example.TEST.", "mx")
        assert (a.name, a.rdtype, a.status, a.rcode, a.ttl) == ("example.test", "MX", "ok", "NOERROR", 300)
        assert sorted(a.records) == [(10, "mx.example.test"), (20, "mx2.example.test")]
        assert a.server == server.address and not a.from_cache
        txt = await e.query("example.test", "TXT")
        assert txt.records == ((b"v=spf1 include:_spf.prov.test", b" -all"),)
        nx = await e.query("nope.example.test", "A")
        nodata = await e.query("mx.example.test", "TXT")
        ent = await e.query("y.example.test", "A")  # empty non-terminal (RFC 8020 §2)
        assert (nx.status, nx.rcode, nx.exists) == ("nxdomain", "NXDOMAIN", False)
        assert (nodata.status, nodata.rcode, nodata.exists) == ("nodata", "NOERROR", True)
        assert ent.status == "nodata"
        assert nx.ttl == nodata.ttl == 300  # min(SOA TTL, MINIMUM)


async def test_cache_serves_positive_and_negative_answers(server: LocalDnsServer) -> None:
    async with Engine([server.address], timeout=1) as e:
        await e.query("example.test", "A")
        await e.query("nope.example.test", "A")
        sent = e.stats.sent
        again = await e.query("EXAMPLE.test", "A")
        neg = await e.query("nope.example.test.", "A")
        assert again.from_cache and again.records == ("192.0.2.1",) and 0 < again.ttl <= 300
        assert neg.from_cache and neg.status == "nxdomain"
        assert e.stats.sent == sent and e.stats.cache_hits == 2 and e.stats.cache_negative_hits == 1
        assert server.queries == 2


async def test_concurrent_identical_queries_share_one_exchange(server: LocalDnsServer) -> None:
    async with Engine([server.address], timeout=1) as e:
        answers = await asyncio.gather(*(e.query("example.test", "TXT") for _ in range(50)))
        assert {a.status for a in answers} == {"ok"}
        assert e.stats.sent == 1 and server.queries == 1 and e.stats.inflight_dedup == 49


async def test_spf_include_shared_by_many_domains_is_fetched_once(server: LocalDnsServer) -> None:
    async with Engine([server.address], timeout=1, concurrency=100) as e:
        async def check(i: int) -> str:
            await e.query(f"d{i}.example.test", "TXT")  # each domain's own lookup (NXDOMAIN here)
            inc = await e.query("_spf.prov.test", "TXT")
            return inc.txt_strings()[0]
        results = await asyncio.gather(*(check(i) for i in range(300)))
        assert set(results) == {"v=spf1 ip4:198.51.100.0/24 -all"}
        assert sum(1 for n, t, _ in server.log if n == "_spf.prov.test") == 1
        assert e.stats.sent == 301


async def test_truncated_answer_falls_back_to_tcp(server: LocalDnsServer) -> None:
    async with Engine([server.address], timeout=1) as e:
        a = await e.query("big.example.test", "TXT")
        assert a.status == "ok" and a.records == ((b"k" * 250,) * 6,)
        assert e.stats.tcp_fallbacks == 1 and server.tcp_queries == 1


async def test_unreachable_server_is_a_timeout_never_nxdomain() -> None:
    port = free_port()
    timeout, retries = 0.2, 2
    async with Engine([f"127.0.0.1:{port}"], timeout=timeout, retries=retries) as e:
        t0 = time.monotonic()
        a = await e.query("example.test", "A")
        elapsed = time.monotonic() - t0
        assert a.status == "error" and a.error == "timeout" and a.rcode == "" and a.exists is None
        assert e.stats.timeouts == retries + 1 and e.stats.retries == retries
        assert timeout * (retries + 1) * 0.9 <= elapsed < timeout * (retries + 1) + 0.5
        # an error is not cached: the next lookup goes to the network again
        await e.query("example.test", "A")
        assert e.stats.sent == 2 * (retries + 1)


async def test_first_try_dropped_then_success(server: LocalDnsServer) -> None:
    async with FaultyProxy(server.address, drop_first_n=1) as proxy, \
            Engine([proxy.address], timeout=0.2, retries=2) as e:
        a = await e.query("example.test", "A")
        assert a.status == "ok" and a.records == ("192.0.2.1",)
        assert e.stats.timeouts == 1 and e.stats.retries == 1 and proxy.tries[("example.test", "A")] == 2


async def test_servfail_always_is_an_error_after_retries(server: LocalDnsServer) -> None:
    async with FaultyProxy(server.address, servfail={"example.test"}) as proxy, \
            Engine([proxy.address], timeout=0.5, retries=2) as e:
        a = await e.query("example.test", "MX")
        assert (a.status, a.error, a.rcode) == ("error", "servfail", "SERVFAIL")
        assert e.stats.servfails == 3 and proxy.servfailed == 3
        ok = await e.query("mx.example.test", "A")  # other names pass through
        assert ok.status == "ok"


async def test_dropped_name_predicate_only_hits_that_name(server: LocalDnsServer) -> None:
    async with FaultyProxy(server.address, drop=lambda n, t: t == "MX") as proxy, \
            Engine([proxy.address], timeout=0.1, retries=1) as e:
        mx, a = await asyncio.gather(e.query("example.test", "MX"), e.query("example.test", "A"))
        assert mx.error == "timeout" and a.status == "ok" and proxy.dropped == 2


async def test_spoofed_and_mismatched_datagrams_are_ignored(server: LocalDnsServer) -> None:
    async with FaultyProxy(server.address, spoof={"example.test"}) as proxy, \
            Engine([proxy.address], timeout=1, retries=0) as e:
        a = await e.query("example.test", "A")
        assert a.status == "ok" and a.records == ("192.0.2.1",)
        assert proxy.spoofed == 2 and e.stats.ignored == 2 and e.stats.received == 1


async def test_engine_follows_cname_into_a_zone_the_server_does_not_serve() -> None:
    first = {k: v for k, v in WORLD.items() if k.endswith("example.test")}
    second = {k: v for k, v in WORLD.items() if k.endswith("other.test")}
    async with LocalDnsServer(first, origins=["example.test"]) as s1, \
            LocalDnsServer(second, origins=["other.test"]) as s2, \
            Engine([s1.address, s2.address], timeout=0.5, retries=1) as e:
        a = await e.query("alias.example.test", "A")
        assert a.status == "ok" and a.records == ("192.0.2.9",) and a.cname_chain == ("www.other.test",)
        assert a.server == s2.address
        assert e.stats.refused == 1  # s1 is not authoritative for other.test, s2 answers on the retry
        loop = await e.query("loop1.example.test", "A")
        assert loop.status == "error" and loop.error == "cname-loop"
        # the hop to www.other.test is cached on its own: another alias reuses it
        again = await e.query("alias.example.test", "A")
        assert again.from_cache and again.cname_chain == ("www.other.test",)


async def test_cname_loop_inside_one_answer(server: LocalDnsServer) -> None:
    async with Engine([server.address], timeout=0.5) as e:
        a = await e.query("loop1.example.test", "TXT")
        assert a.status == "error" and a.error == "cname-loop"


def _alternating_chain(hops: int, end: list) -> tuple[dict, dict]:
    """c0.chain0.test -> c1.chain1.test -> c2.chain0.test ... (each hop changes zone, so the engine follows)."""
    world = {f"c{i}.chain{i % 2}.test": [("CNAME", f"c{i + 1}.chain{(i + 1) % 2}.test")] for i in range(hops)}
    world[f"c{hops}.chain{hops % 2}.test"] = end
    return ({k: v for k, v in world.items() if k.endswith("chain0.test")},
            {k: v for k, v in world.items() if k.endswith("chain1.test")})


@pytest.mark.parametrize("hops, status", [(8, "ok"), (9, "ok"), (MAX_CNAME_HOPS, "ok"), (MAX_CNAME_HOPS + 1, "error"),
                                         (MAX_CNAME_HOPS + 5, "error")])
async def test_cname_chain_hop_limit(hops: int, status: str) -> None:
    # a long chain of distinct names is not a loop: followed up to MAX_CNAME_HOPS (20), then its own error
    assert MAX_CNAME_HOPS >= 16
    a_zone, b_zone = _alternating_chain(hops, [("A", "192.0.2.77")])
    async with LocalDnsServer(a_zone, origins=["chain0.test"]) as s1, \
            LocalDnsServer(b_zone, origins=["chain1.test"]) as s2, \
            Engine([s1.address, s2.address], timeout=0.5, retries=1) as e:
        a = await e.query("c0.chain0.test", "A")
        assert a.status == status and len(a.cname_chain) == min(hops, MAX_CNAME_HOPS + 1)
        if status == "ok":
            assert a.records == ("192.0.2.77",) and a.cname_chain[-1] == f"c{hops}.chain{hops % 2}.test"
        else:
            assert a.error == "cname-chain-too-long"


async def test_concurrency_is_bounded(server: LocalDnsServer) -> None:
    async with FaultyProxy(server.address, delay=0.05) as proxy, \
            Engine([proxy.address], timeout=1, concurrency=4) as e:
        answers = await asyncio.gather(*(e.query(f"n{i}.example.test", "A") for i in range(20)))
        assert {a.status for a in answers} == {"nxdomain"}
        assert proxy.max_active == 4


async def test_qps_limit_spaces_queries(server: LocalDnsServer) -> None:
    async with Engine([server.address], timeout=1, qps=100) as e:
        t0 = time.monotonic()
        await asyncio.gather(*(e.query(f"q{i}.example.test", "A") for i in range(40)))
        # burst of 10 then one every 10 ms: at least 0.3 s (an upper bound would be a timing test)
        assert time.monotonic() - t0 >= 0.29
        assert e._bucket is not None and e._bucket.granted == 40


async def test_want_ad_sets_the_ad_bit(server: LocalDnsServer) -> None:
    async with Engine([server.address], want_ad=True) as e:
        await e.query("example.test", "A")
    async with Engine([server.address]) as e:
        await e.query("example.test", "AAAA")
    flags = {t: f for _, t, f in server.log}
    assert flags["A"] & FLAG_AD and not flags["AAAA"] & FLAG_AD


async def test_fake_resolver_fault_entries_are_served_as_faults() -> None:
    world = {"ok.example.test": [("A", "192.0.2.1")], "slow.example.test": [("TIMEOUT", None)],
             "broken.example.test": [("SERVFAIL", None)]}
    async with LocalDnsServer(world, origins=["example.test"]) as s, \
            Engine([s.address], timeout=0.1, retries=1) as e:
        ok, slow, broken = await asyncio.gather(*(e.query(f"{n}.example.test", "A") for n in ("ok", "slow", "broken")))
        assert ok.status == "ok"
        assert (slow.status, slow.error) == ("error", "timeout")
        assert (broken.status, broken.error, broken.rcode) == ("error", "servfail", "SERVFAIL")


async def test_bad_names_and_types(server: LocalDnsServer) -> None:
    async with Engine([server.address]) as e:
        for bad in ("a..b.test", "x" * 64 + ".test"):
            a = await e.query(bad, "A")
            assert a.status == "error" and a.error.startswith("bad-name")
        with pytest.raises(ValueError, match="unknown DNS record type"):
            await e.query("example.test", "BOGUS")
        raw = await e.query("example.test", "TYPE99")  # SPF type by number: NODATA here
        assert raw.status == "nodata" and raw.rdtype == "SPF"
        tlsa = await e.query("_25._tcp.mx.example.test", "type52")
        assert tlsa.status == "nxdomain" and tlsa.rdtype == "TLSA"
        idn = await e.query("例え.Example.test.", "A")  # IDNA A-label on the wire (RFC 5891 §5)
        assert idn.name == "xn--r8jz45g.example.test" and idn.status == "nxdomain"
        assert server.log[-1][0] == "xn--r8jz45g.example.test"
        assert e.stats.sent == 3


async def test_aclose_turns_pending_lookups_into_errors() -> None:
    e = Engine([f"127.0.0.1:{free_port()}"], timeout=5, retries=0)
    pending = asyncio.ensure_future(e.query("example.test", "A"))
    await asyncio.sleep(0.05)
    await e.aclose()
    a = await pending
    assert a.status == "error" and a.error == "engine closed"


def test_run_helper_with_and_without_uvloop() -> None:
    async def loop_name() -> str:
        return type(asyncio.get_running_loop()).__module__
    assert run(loop_name(), use_uvloop=False).startswith("asyncio")
    try:
        import uvloop  # noqa: F401
    except ImportError:
        pytest.skip("uvloop not installed")
    assert run(loop_name(), use_uvloop=True).startswith("uvloop")


async def test_local_server_and_fake_resolver_agree(server: LocalDnsServer) -> None:
    from mailposture.dns.fake import FakeResolver

    fake = FakeResolver(WORLD)
    queries = [("example.test", t) for t in ("A", "MX", "TXT", "AAAA")] + [
        ("y.example.test", "A"), ("x.y.example.test", "A"), ("nope.example.test", "TXT"), ("alias.example.test", "A"),
        ("alias.example.test", "CNAME"), ("alias.example.test", "TXT"), ("mx.example.test", "MX"),
        ("_spf.prov.test", "TXT"), ("big.example.test", "TXT")]
    async with Engine([server.address], timeout=1) as e:
        for name, rdtype in queries:
            a, b = await e.query(name, rdtype), await fake.query(name, rdtype)
            key = (a.status, sorted(a.records, key=repr), a.cname_chain, a.ttl)
            assert key == (b.status, sorted(b.records, key=repr), b.cname_chain, b.ttl), (name, rdtype)


async def test_cache_stays_bounded(server: LocalDnsServer) -> None:
    async with Engine([server.address], timeout=1, cache_size=16) as e:
        for i in range(60):
            await e.query(f"n{i}.example.test", "A")
        assert len(e.cache) == 16 and e.cache.evictions == 44
        assert not e._inflight and not e._waiting  # nothing left behind per query
        again = await e.query("n59.example.test", "A")  # most recent: still cached
        old = await e.query("n0.example.test", "A")  # evicted: asked again
        assert again.from_cache and not old.from_cache


async def test_shared_socket_pool_mode(server: LocalDnsServer) -> None:
    async with FaultyProxy(server.address, drop_first_n=1, spoof={"mx.example.test"}) as proxy, \
            Engine([proxy.address], timeout=1.0, retries=2, udp_sockets=3, udp_socket_uses=8) as e:
        answers = await asyncio.gather(*(e.query(f"n{i}.example.test", "A") for i in range(60)),
                                       e.query("mx.example.test", "A"))
        assert {a.status for a in answers[:-1]} == {"nxdomain"}
        assert answers[-1].records == ("192.0.2.2",)
        assert e.stats.timeouts == 61 and e.stats.retries == 61  # every first try dropped, then answered
        assert e.stats.ignored == 2 and proxy.spoofed == 2
        pool = e._pool
        sockets = pool.sockets(socket.AF_INET)
        assert len(sockets) == 3 and len({s.getsockname()[1] for s in sockets}) == 3
        # 122 exchanges on 3 sockets of at most 8 queries each: every 8th use of a socket replaced it
        live_uses = sum(ps.uses for ps in pool._live[socket.AF_INET])
        assert pool.opened - 3 == (122 - live_uses) // 8 >= 12
        assert all(not ps.pending for ps in pool._live[socket.AF_INET])
        assert not pool._retired  # a replaced socket closes once its last reply is in
    assert all(s.fileno() == -1 for s in sockets)  # closed by aclose()
    async with Engine([f"127.0.0.1:{free_port()}"], timeout=0.1, retries=1, udp_sockets=2) as e:
        a = await e.query("example.test", "A")
        assert (a.status, a.error) == ("error", "timeout")


async def test_pool_sockets_are_replaced_when_old(server: LocalDnsServer) -> None:
    async with Engine([server.address], udp_sockets=1, udp_socket_uses=0, udp_socket_age=0.05) as e:
        await e.query("example.test", "A")
        first = e._pool.sockets(socket.AF_INET)[0]
        await e.query("mx.example.test", "A")  # young socket: kept
        assert e._pool.opened == 1
        await asyncio.sleep(0.1)
        a = await e.query("x.y.example.test", "A")  # sent on the old socket, its last use; a new one replaces it
        assert a.records == ("192.0.2.3",) and e._pool.opened == 2
        assert e._pool.sockets(socket.AF_INET)[0] is not first and first.fileno() == -1  # the old one is closed
        assert not e._pool._retired
    with pytest.raises(ValueError):
        Engine(["127.0.0.1"], udp_socket_uses=-1)


def test_query_ids_are_16_bit_and_vary() -> None:
    ids = engine_mod._QueryIds()
    drawn = [ids() for _ in range(5000)]  # more than one 4 KiB batch
    assert all(0 <= i < 65536 for i in drawn)
    assert len(set(drawn)) > 4500  # 5,000 draws from 65,536 values: ~4,820 distinct expected


def test_concurrency_fits_the_file_descriptor_limit(monkeypatch) -> None:
    import resource

    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda _r: (256, 512))
    monkeypatch.setattr(resource, "setrlimit", lambda _r, lim: calls.append(lim))
    assert engine_mod._fit_fd_limit(100) == 100 and calls == []  # 228 <= 256: nothing to do
    assert engine_mod._fit_fd_limit(300) == 300 and calls == [(428, 512)]  # soft limit raised
    assert engine_mod._fit_fd_limit(1000) == 512 - 128  # capped by the hard limit
    assert Engine(["127.0.0.1"], concurrency=1000, udp_sockets=0).concurrency == 384
    assert Engine(["127.0.0.1"], concurrency=1000, udp_sockets=8).concurrency == 1000


async def test_tcp_fallback_through_the_proxy(server: LocalDnsServer) -> None:
    async with FaultyProxy(server.address) as proxy, Engine([proxy.address], timeout=1) as e:
        a = await e.query("big.example.test", "TXT")
        assert a.status == "ok" and len(a.records[0]) == 6 and e.stats.tcp_fallbacks == 1
        assert proxy.forwarded == 2 and server.tcp_queries == 1  # the UDP try (TC) and the TCP one


async def test_a_send_that_fails_is_a_network_error_never_an_answer() -> None:
    # a broadcast address without SO_BROADCAST: the kernel refuses the datagram (EACCES) at send time
    async with Engine(["255.255.255.255"], timeout=0.5, retries=1) as e:
        answers = await asyncio.gather(*(e.query(f"n{i}.example.test", "A") for i in range(5)))
        assert {(a.status, a.exists) for a in answers} == {("error", None)}
        assert all(a.error.startswith("network: ") for a in answers), answers[0].error
        assert e.stats.network_errors == 10 and e.stats.timeouts == 0


async def test_queries_of_one_loop_turn_leave_together(server: LocalDnsServer) -> None:
    sent: list[int] = []
    async with engine_mod.Engine([server.address], timeout=1) as e:  # the socket pool (the default) batches
        pool = e._pool
        real = pool._flush

        def flush() -> None:
            sent.append(len(pool._outbox))
            real()

        pool._flush = flush
        answers = await asyncio.gather(*(e.query(f"n{i}.example.test", "A") for i in range(40)))
        assert {a.status for a in answers} == {"nxdomain"}
        assert sent == [40]  # one batch, one flush


async def test_cancelled_lookups_give_back_their_slots(server: LocalDnsServer) -> None:
    """Lookups cancelled while waiting for a slot, or while their query is out, leave the limit intact."""
    async with FaultyProxy(server.address, delay=0.05) as proxy, \
            Engine([proxy.address], timeout=1, concurrency=2) as e:
        doomed = [asyncio.ensure_future(e.query(f"c{i}.example.test", "A")) for i in range(6)]
        await asyncio.sleep(0.01)  # two are out, four wait for a slot
        for t in doomed:
            t.cancel()
        await asyncio.gather(*doomed, return_exceptions=True)
        assert e._gate.free == 2
        await asyncio.sleep(0.1)  # the proxy finishes the two abandoned queries
        proxy.max_active = 0
        answers = await asyncio.gather(*(e.query(f"n{i}.example.test", "A") for i in range(8)))
        assert {a.status for a in answers} == {"nxdomain"} and proxy.max_active == 2


async def test_a_shared_lookup_survives_the_cancellation_of_its_owner(server: LocalDnsServer) -> None:
    async with FaultyProxy(server.address, delay=0.05) as proxy, Engine([proxy.address], timeout=1) as e:
        owner = asyncio.ensure_future(e.query("example.test", "A"))
        await asyncio.sleep(0.01)
        joiner = asyncio.ensure_future(e.query("example.test", "A"))  # joins the owner's exchange
        await asyncio.sleep(0.01)
        assert e.stats.inflight_dedup == 1
        owner.cancel()
        a = await joiner  # the owner was cancelled: the joiner asked again by itself
        assert a.status == "ok" and a.records == ("192.0.2.1",)
        assert owner.cancelled() and e.stats.sent == 2 and not e._inflight
        b = await asyncio.gather(*(e.query("mx.example.test", "A") for _ in range(5)))
        assert {x.records for x in b} == {("192.0.2.2",)} and e.stats.sent == 3  # one exchange, shared


async def test_cname_loop_across_zones_is_a_loop_at_once() -> None:
    # c0.chain0 -> c1.chain1 -> c0.chain0: a name seen twice, found on the second hop (not after the hop limit)
    a_zone = {"c0.chain0.test": [("CNAME", "c1.chain1.test")]}
    b_zone = {"c1.chain1.test": [("CNAME", "c0.chain0.test")]}
    async with LocalDnsServer(a_zone, origins=["chain0.test"]) as s1, \
            LocalDnsServer(b_zone, origins=["chain1.test"]) as s2, \
            Engine([s1.address, s2.address], timeout=0.5, retries=1) as e:
        a = await e.query("c0.chain0.test", "A")
        assert a.status == "error" and a.error == "cname-loop"
        assert a.cname_chain == ("c1.chain1.test", "c0.chain0.test")
