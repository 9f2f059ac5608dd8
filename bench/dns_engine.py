"""Benchmark of the DNS engine against NSD on 127.0.0.1 (prints figures, asserts nothing).

    .venv/bin/python bench/dns_engine.py [--queries 20000] [--runs 5] [--domains 5000] [--concurrency 200]

Prints medians over ``--runs`` runs of:
 1. the engine: queries/s and CPU µs per answer (this process only; NSD runs in its own process), with the
    standard asyncio loop and with uvloop; baseline in the same run: dnspython's ``dns.asyncquery.udp`` driving
    the same queries with the same concurrency;
 2. raw decoding of the same answers: our decoder vs ``dns.message.from_wire`` (µs per answer and ratio);
 3. the price of a fresh UDP socket (fresh random source port) per exchange: in situ, the engine with
    ``udp_sockets=0`` against its default (a rotating pool of random-port sockets, each replaced after a few
    queries, whose queries of one loop turn leave together); in isolation, socket+reader+close.
Every query is distinct (a fresh engine per run), so no answer comes from the cache.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import dns.asyncquery
import dns.message

from mailposture.dns.engine import Engine, rdtype_code, run
from mailposture.dns.nsd import NsdServer
from mailposture.dns.wire import decode, encode_query

ZONES = 20  # domains are spread over this many zones: d{i}.z{i % ZONES}.test


def world(domains: int):
    """Generated FakeResolver-format world, streamed: ``(name, entries)`` pairs."""
    for i in range(domains):
        d = f"d{i}.z{i % ZONES}.test"
        yield d, [("A", f"198.51.{i // 250 % 250}.{i % 250 + 1}"), ("MX", (10, f"mx.{d}")),
                  ("TXT", f"v=spf1 include:_spf.z{i % ZONES}.test ip4:192.0.2.{i % 250}/32 -all"),
                  ("TXT", f"site-verification={i:08x}" * 2)]
        yield f"mx.{d}", [("A", "192.0.2.25"), ("AAAA", "2001:db8::25")]
        yield f"_dmarc.{d}", [("TXT", f"v=DMARC1; p=reject; rua=mailto:dmarc@{d}")]
        if i % 10 == 0:
            yield f"www.{d}", [("CNAME", d)]
    for z in range(ZONES):
        yield f"_spf.z{z}.test", [("TXT", "v=spf1 ip4:203.0.113.0/24 -all")]


def queries(n: int, domains: int, seed: int) -> list[tuple[str, str]]:
    """A survey-like mix: TXT, MX, _dmarc TXT, A/AAAA of MX hosts, CNAMEs, NXDOMAIN and NODATA."""
    rnd = random.Random(seed)
    kinds = [("{d}", "TXT"), ("{d}", "MX"), ("_dmarc.{d}", "TXT"), ("mx.{d}", "A"), ("mx.{d}", "AAAA"),
             ("{d}", "A"), ("_mta-sts.{d}", "TXT"), ("default._bimi.{d}", "TXT"), ("{d}", "AAAA"),
             ("www.{d}", "A")]
    out, seen = [], set()
    while len(out) < n:
        i = rnd.randrange(domains)
        d = f"d{i}.z{i % ZONES}.test" if rnd.random() > 0.05 else f"n{rnd.randrange(10**9)}.z{i % ZONES}.test"
        name, t = rnd.choice(kinds)
        q = (name.format(d=d), t)
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


async def _workers(qs: list[tuple[str, str]], concurrency: int, fn) -> list:
    """``concurrency`` workers pulling from one iterator: how a scan runner drives a resolver (a gather over
    every query with a semaphore would mostly measure asyncio.Semaphore's waiter queue)."""
    it = iter(qs)
    out: list = []

    async def worker() -> None:
        for n, t in it:
            out.append(await fn(n, t))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


async def engine_run(address: str, qs: list[tuple[str, str]], concurrency: int,
                     per_exchange: bool = False) -> tuple[float, float, dict]:
    extra = {"udp_sockets": 0} if per_exchange else {}
    async with Engine([address], timeout=2, retries=2, concurrency=concurrency, **extra) as e:
        c0, t0 = time.process_time(), time.perf_counter()
        answers = await _workers(qs, concurrency, e.query)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        statuses: dict[str, int] = {}
        for a in answers:
            statuses[a.status] = statuses.get(a.status, 0) + 1
        return wall, cpu, {"statuses": statuses, "stats": e.stats.to_json()}


async def dnspython_run(host: str, port: int, qs: list[tuple[str, str]], concurrency: int) -> tuple[float, float]:
    async def one(n: str, t: str):
        q = dns.message.make_query(n, t, use_edns=0, payload=1232)
        try:
            return await dns.asyncquery.udp(q, host, port=port, timeout=2)
        except Exception as e:  # a lost datagram; counted, not retried
            return e

    c0, t0 = time.process_time(), time.perf_counter()
    await _workers(qs, concurrency, one)
    return time.perf_counter() - t0, time.process_time() - c0


def raw_answers(port: int, qs: list[tuple[str, str]]) -> list[bytes]:
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for i, (n, t) in enumerate(qs):
            s.sendto(encode_query(i & 0xFFFF, n, rdtype_code(t)), ("127.0.0.1", port))
            out.append(s.recvfrom(65535)[0])
    return out


def time_decode(fn, packets: list[bytes], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        c0 = time.process_time()
        for p in packets:
            fn(p)
        best = min(best, time.process_time() - c0)
    return best / len(packets) * 1e6


async def socket_cost(n: int = 20000) -> float:
    """CPU µs for what a fresh socket per exchange adds over a shared one: socket(), setblocking, reader
    registration with the loop, close."""
    loop = asyncio.get_running_loop()
    c0 = time.process_time()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        fd = s.fileno()
        loop.add_reader(fd, int)
        loop.remove_reader(fd)
        s.close()
    return (time.process_time() - c0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--domains", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--baseline-queries", type=int, default=5000, help="queries for the dnspython baseline")
    args = ap.parse_args()
    try:
        import uvloop  # noqa: F401
        loops = [False, True]
    except ImportError:
        loops = [False]
        print("uvloop not installed: only the standard loop is measured (pip install uvloop)")

    origins = [f"z{z}.test" for z in range(ZONES)]
    t0 = time.perf_counter()
    with NsdServer.from_records(world(args.domains), origins, server_count=1) as ns:
        print(f"NSD on {ns.address}: {args.domains} domains in {ZONES} zones, started in "
              f"{time.perf_counter() - t0:.1f}s; {os.cpu_count()} CPUs; {args.queries} distinct queries per run, "
              f"concurrency {args.concurrency}, {args.runs} runs (medians)\n")
        results: dict[str, list[tuple[float, float]]] = {}
        last: dict = {}
        for r in range(args.runs):
            qs = queries(args.queries, args.domains, seed=r)
            for uv in loops:
                for per_exchange in (False, True):
                    wall, cpu, last_run = run(engine_run(ns.address, qs, args.concurrency, per_exchange),
                                              use_uvloop=uv)
                    label = f"engine{', socket per exchange' if per_exchange else ''} ({'uvloop' if uv else 'asyncio'})"
                    results.setdefault(label, []).append((len(qs) / wall, cpu / len(qs) * 1e6))
                    if not per_exchange:
                        last = last_run
            bq = qs[:args.baseline_queries]
            for uv in loops:
                wall, cpu = run(dnspython_run("127.0.0.1", ns.port, bq, args.concurrency), use_uvloop=uv)
                results.setdefault(f"dnspython asyncquery ({'uvloop' if uv else 'asyncio'})", []).append(
                    (len(bq) / wall, cpu / len(bq) * 1e6))
        print(f"{'client':42} {'queries/s':>10} {'CPU µs/answer':>14}")
        med = {}
        for name, vals in results.items():
            qps = statistics.median(v[0] for v in vals)
            cpu = statistics.median(v[1] for v in vals)
            med[name] = (qps, cpu)
            print(f"{name:42} {qps:10.0f} {cpu:14.1f}")
        for uv in ("asyncio", "uvloop"):
            if f"engine ({uv})" in med:
                e, b = med[f"engine ({uv})"], med[f"dnspython asyncquery ({uv})"]
                print(f"  ratio engine/dnspython ({uv}): {e[0] / b[0]:.1f}x queries/s, "
                      f"{b[1] / e[1]:.1f}x less CPU per answer")
        print(f"  last engine run: {last['statuses']}, stats {last['stats']}\n")

        packets = raw_answers(ns.port, queries(min(args.queries, 5000), args.domains, seed=99))
        ours = [time_decode(decode, packets) for _ in range(args.runs)]
        theirs = [time_decode(dns.message.from_wire, packets) for _ in range(args.runs)]
        o, t = statistics.median(ours), statistics.median(theirs)
        size = statistics.mean(len(p) for p in packets)
        print(f"raw decode of {len(packets)} NSD answers (mean {size:.0f} octets):")
        print(f"  mailposture.dns.wire.decode  {o:8.1f} µs/answer")
        print(f"  dns.message.from_wire        {t:8.1f} µs/answer")
        print(f"  ratio                        {t / o:8.1f}x faster\n")
        for uv in loops:
            name = "uvloop" if uv else "asyncio"
            sc = statistics.median(run(socket_cost(), use_uvloop=uv) for _ in range(args.runs))
            eng = med.get(f"engine, socket per exchange ({name})", (0, 0))[1]
            print(f"fresh UDP socket per exchange ({name}): {sc:.1f} µs CPU in isolation "
                  f"= {sc / eng * 100 if eng else 0:.0f}% of that engine's CPU per answer")


if __name__ == "__main__":
    main()
