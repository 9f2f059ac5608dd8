"""The network DNS engine: an asyncio stub resolver built for bulk surveys.

* UDP with EDNS0 (1,232-octet buffer, RFC 6891 §6.2.5 / DNS Flag Day 2020), TCP when the answer is truncated
  (TC bit, RFC 7766 §5 / RFC 1035 §4.2.1).
* Bounded concurrency (a slot gate around each exchange) and an optional global rate limit (token bucket).
* Retries on timeout, SERVFAIL, REFUSED and malformed answers, rotating over the configured nameservers, with a
  short jittered exponential backoff after a failure answer (a timeout already waited, so the next server is
  tried at once: an unreachable server costs at most ``timeout * (retries + 1)``).
* One shared cache of positive and negative answers honouring TTLs (negative TTL = min(SOA TTL, SOA MINIMUM),
  RFC 2308 §5), LRU-bounded, plus in-flight de-duplication: concurrent identical lookups share one exchange.
* CNAME chains the server did not complete (an authoritative server does not chase into other zones) are followed
  by the engine, each hop through the cache (RFC 1034 §3.6.2). A name met twice is a loop ("cname-loop"); a
  chain longer than :data:`MAX_CNAME_HOPS` hops (generous: CDN chains are a few hops) is "cname-chain-too-long".
* Names are compared in one canonical form (:func:`~mailposture.dns.wire.canonical_name`, the form owner names
  are decoded in), so a name with ``@ $ ( ) ; "``, a space or a backslash in a label matches its answer.
* Spoofing hygiene (RFC 5452 §9): every query leaves from a random kernel-chosen source port (a rotating pool of
  sockets, each replaced after a few queries, or a fresh socket per exchange with ``udp_sockets=0``) with a
  random 16-bit ID, and responses are accepted only from the queried address with the same ID and question.
* The datagrams of one event-loop turn are sent back to back, so that the resolver wakes up once per batch
  (``bench/dns_engine.py``; bench/README.md explains the figures).

Record data follow :mod:`mailposture.dns.types`; SOA answers (not in that table) are
``(mname, rname, serial, refresh, retry, expire, minimum)`` tuples.

A lookup that still fails is an :class:`~mailposture.dns.types.Answer` with ``status="error"`` and ``error`` set
("timeout", "servfail", "refused", "malformed", "network: …", "cname-loop", "cname-chain-too-long", …): never
NXDOMAIN or NODATA.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import os
import random
import re
import socket
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mailposture.dns.cache import MAX_NEGATIVE_TTL, MAX_POSITIVE_TTL, TokenBucket, TtlCache
from mailposture.dns.types import MAX_CNAME_CHAIN, RCODES, RDTYPE_NAMES, RDTYPES, Answer
from mailposture.dns.wire import (
    FLAG_AD,
    FLAG_RD,
    FLAG_TC,
    T_CNAME,
    T_NS,
    T_SOA,
    Message,
    WireError,
    canonical_name,
    decode,
    encode_name,
    encode_query_wire,
)

__all__ = ["MAX_CNAME_HOPS", "DnsConfigError", "Engine", "EngineStats", "interpret", "parse_nameserver",
           "rdtype_code", "run", "system_nameservers"]

MAX_CNAME_HOPS = MAX_CNAME_CHAIN  # hops followed before "cname-chain-too-long" (a loop is found at once)
# UDP socket pool defaults (see _UdpPool): 64 random ports in use at a time, none for more than 8 queries or 10 s
UDP_SOCKETS = 64
UDP_SOCKET_USES = 8
UDP_SOCKET_AGE = 10.0
_T = TypeVar("_T")
_U16 = 2
_BACKOFF_BASE = 0.05
_BACKOFF_MAX = 1.0


class DnsConfigError(ValueError):
    """A nameserver setting that cannot be used (bad address, none configured)."""


# ------------------------------------------------------------------------------------------------ configuration

def parse_nameserver(text: str) -> tuple[str, int]:
    """``"192.0.2.1"``, ``"192.0.2.1:5353"``, ``"[2001:db8::1]:53"`` or ``"2001:db8::1"`` -> (ip, port)."""
    t = text.strip()
    hint = "give an IP address, e.g. 192.0.2.1, 192.0.2.1:5353, 2001:db8::1 or [2001:db8::1]:5353"
    if not t:
        raise DnsConfigError(f"empty nameserver ({hint})")
    port_text: str | None = None
    if t.startswith("["):
        m = re.fullmatch(r"\[([^\]]+)\](?::([^:]*))?", t)
        if not m:
            raise DnsConfigError(f"nameserver {text!r}: bad bracketed address ({hint})")
        host, port_text = m.group(1), m.group(2)
    elif t.count(":") == 1:
        host, port_text = t.split(":")
    else:
        host = t
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise DnsConfigError(f"nameserver {text!r}: {host!r} is not an IP address ({hint})") from None
    port = 53
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise DnsConfigError(f"nameserver {text!r}: port {port_text!r} is not a number from 1 to 65535")
        port = int(port_text)
    return str(ip), port


def format_nameserver(server: tuple[str, int]) -> str:
    ip, port = server
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def system_nameservers(path: str | Path = "/etc/resolv.conf") -> list[tuple[str, int]]:
    """The ``nameserver`` lines of resolv.conf (resolv.conf(5)); unusable lines are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise DnsConfigError(f"cannot read {path} ({e.strerror}); give a resolver with --nameserver IP[:PORT]") \
            from None
    out: list[tuple[str, int]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                out.append(parse_nameserver(parts[1]))
            except DnsConfigError:
                continue
    if not out:
        raise DnsConfigError(f"no usable 'nameserver' line in {path}; give a resolver with --nameserver IP[:PORT]")
    return out


def rdtype_code(rdtype: str) -> int:
    """``"MX"`` -> 15; ``"TYPE65"`` (RFC 3597 §5) -> 65."""
    code = RDTYPES.get(rdtype)
    if code is not None:
        return code
    if rdtype.startswith("TYPE") and rdtype[4:].isdigit() and 0 < int(rdtype[4:]) < 65536:
        return int(rdtype[4:])
    raise ValueError(f"unknown DNS record type {rdtype!r}")


def run(coro: Coroutine[Any, Any, _T], *, use_uvloop: bool | None = None) -> _T:
    """Run a coroutine on a new event loop: uvloop when installed (a dependency on Linux) unless
    ``use_uvloop=False``; ``use_uvloop=True`` insists on it. The global event-loop policy is left alone."""
    factory = None
    if use_uvloop is not False:
        try:
            import uvloop
        except ImportError:
            if use_uvloop:
                raise RuntimeError("uvloop was requested but is not installed (pip install uvloop)") \
                    from None
        else:
            factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


# ------------------------------------------------------------------------------------------------ interpretation

@dataclass(slots=True)
class EngineStats:
    sent: int = 0                 # datagrams and TCP queries sent
    received: int = 0             # responses accepted (right source, ID and question)
    timeouts: int = 0
    retries: int = 0
    servfails: int = 0
    tcp_fallbacks: int = 0
    cache_hits: int = 0           # every answer served from the cache (positive and negative)
    cache_negative_hits: int = 0  # ... of which NXDOMAIN/NODATA
    inflight_dedup: int = 0       # lookups that joined an identical exchange already in flight
    ignored: int = 0              # datagrams dropped: wrong source, ID or question (RFC 5452 §9.1)
    malformed: int = 0            # responses that were not valid DNS
    refused: int = 0
    network_errors: int = 0

    def to_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class _Step:
    """The meaning of one response for (name, type): a final answer, or a CNAME chain to follow to ``target``."""

    answer: Answer
    target: str | None = None


def _neg_ttl(msg: Message) -> int:
    # RFC 2308 §5: the negative TTL is the minimum of the SOA's own TTL and its MINIMUM field; a negative answer
    # without an SOA should not be cached (ttl 0).
    for rr in msg.authority:
        if rr.rtype == T_SOA and isinstance(rr.data, tuple):
            return min(rr.ttl, rr.data[6], MAX_NEGATIVE_TTL)
    return 0


def interpret(msg: Message, qname: str, rdtype: str, code: int, server: str | None = None) -> tuple[_Step, int]:
    """Classify a response (pure). Returns the step and how long it may be cached (0: not at all)."""
    rcode = RCODES.get(msg.rcode, f"RCODE{msg.rcode}")
    ad = msg.ad
    answer = msg.answer
    if answer and all(rr.rtype == code and rr.name == qname and rr.rclass == 1 for rr in answer):
        # the common case: the answer section is exactly the RRset asked for (no CNAME)
        ttl = min(rr.ttl for rr in answer)  # RFC 2181 §5.2: TTLs in an RRset should agree; use the smallest
        return _Step(Answer(qname, rdtype, "ok", tuple(rr.data for rr in answer), rcode, ttl, (), None, server,
                            ad)), min(ttl, MAX_POSITIVE_TTL)
    chain: list[str] = []
    seen = {qname}
    cur = qname
    ttl: int | None = None
    for _hop in range(MAX_CNAME_HOPS + 1):
        recs = [rr for rr in msg.answer if rr.rtype == code and rr.name == cur and rr.rclass == 1]
        if recs:
            # RFC 2181 §5.2: TTLs in an RRset should agree; use the smallest.
            rttl = min(rr.ttl for rr in recs)
            ttl = rttl if ttl is None else min(ttl, rttl)
            ans = Answer(qname, rdtype, "ok", tuple(rr.data for rr in recs), rcode, ttl, tuple(chain),
                         server=server, ad=ad)
            return _Step(ans), min(ttl, MAX_POSITIVE_TTL)
        if code == T_CNAME:
            break
        cname = next((rr for rr in msg.answer if rr.rtype == T_CNAME and rr.name == cur), None)
        if cname is None:
            break
        ttl = cname.ttl if ttl is None else min(ttl, cname.ttl)
        cur = cname.data
        if cur in seen:
            return _Step(Answer(qname, rdtype, "error", (), rcode, 0, tuple(chain), "cname-loop", server, ad)), 0
        seen.add(cur)
        chain.append(cur)
    else:  # no name twice, but longer than any real chain
        return _Step(Answer(qname, rdtype, "error", (), rcode, 0, tuple(chain), "cname-chain-too-long", server,
                            ad)), 0

    soa = next((rr for rr in msg.authority if rr.rtype == T_SOA), None)
    if chain and msg.rcode == 0:
        # The chain ends at a name the response says nothing about unless an SOA of the target's zone (the
        # target or an ancestor) vouches for NODATA; otherwise the engine continues the chain itself.
        if soa is None or not (soa.name == "" or cur == soa.name or cur.endswith("." + soa.name)):
            ans = Answer(qname, rdtype, "ok", (), rcode, ttl or 0, tuple(chain), server=server, ad=ad)
            return _Step(ans, target=cur), min(ttl or 0, MAX_POSITIVE_TTL)
    if msg.rcode == 0 and soa is None and not msg.aa and any(rr.rtype == T_NS for rr in msg.authority):
        # A referral from an authoritative server that is not authoritative for the name: no answer at all.
        ans = Answer(qname, rdtype, "error", (), rcode, 0, tuple(chain), "referral", server, ad)
        return _Step(ans), 0
    status = "nxdomain" if msg.rcode == 3 else "nodata"  # RFC 2308 §2.1 / §2.2; with a chain, RFC 6604 §2
    neg = _neg_ttl(msg)
    if ttl is not None:
        neg = min(neg, ttl)
    return _Step(Answer(qname, rdtype, status, (), rcode, neg, tuple(chain), server=server, ad=ad)), neg


_plain_name = re.compile(r"[a-z0-9_*/.-]*").fullmatch  # wire.canonical_name's fast path, inlined (hot path)


def _norm_name(name: str) -> str:
    """The canonical form of a query name (wire.canonical_name): what answers' owner names are compared with."""
    n = name.strip()
    if n.endswith(".") and not n.endswith("\\."):
        n = n[:-1]
    if not n.isascii():
        n = n.encode("idna").decode("ascii")  # UnicodeError handled by the caller
    low = n.lower()
    return low if _plain_name(low) else canonical_name(n)  # the usual name needs no escape


# ------------------------------------------------------------------------------------------------ the engine

def _fit_fd_limit(concurrency: int, reserve: int = 128) -> int:
    """One socket per exchange needs ``concurrency`` file descriptors: raise the soft RLIMIT_NOFILE towards
    the hard limit when needed, else lower the concurrency so that sockets never run out mid-scan."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = concurrency + reserve
        if soft != resource.RLIM_INFINITY and soft < need:
            new = need if hard == resource.RLIM_INFINITY else min(need, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        if soft != resource.RLIM_INFINITY and soft < need:
            return max(1, soft - reserve)
    except (ImportError, ValueError, OSError):
        pass
    return concurrency


class _Gate:
    """At most ``n`` exchanges at once (``--concurrency``). Unlike asyncio.Semaphore, taking a free slot is a
    plain call (no coroutine) and giving one back never scans the waiters; waiters are served in order."""

    __slots__ = ("free", "waiters")

    def __init__(self, n: int) -> None:
        self.free = n
        self.waiters: deque[asyncio.Future[None]] = deque()

    def take_now(self) -> bool:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.give()  # a slot was handed to us as we were cancelled: pass it on
            raise

    def give(self) -> None:
        waiters = self.waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot goes straight to the oldest waiter
                return
        self.free += 1


class _QueryIds:
    """Random 16-bit query IDs (RFC 5452 §9.2) from the OS CSPRNG, drawn 4 KiB at a time: one ``os.urandom``
    call per 2,048 IDs instead of one per query (``secrets.randbits`` costs a system call each time)."""

    __slots__ = ("_ids",)

    def __init__(self) -> None:
        self._ids: list[int] = []

    def __call__(self) -> int:
        ids = self._ids
        if not ids:
            raw = os.urandom(4096)
            ids.extend(int.from_bytes(raw[i:i + 2], "big") for i in range(0, 4096, 2))
        return ids.pop()


class _PoolSocket:
    """One UDP socket of a :class:`_UdpPool`: its own kernel-chosen random port and its pending exchanges by ID."""

    __slots__ = ("born", "fd", "pending", "retired", "sock", "uses")

    def __init__(self, sock: socket.socket, born: float) -> None:
        self.sock, self.fd, self.uses, self.born, self.retired = sock, sock.fileno(), 0, born, False
        self.pending: dict[int, tuple[asyncio.Future[bytes | None], tuple[str, int], bytes, int]] = {}


class _UdpPool:
    """``size`` UDP sockets per address family, each on a kernel-chosen random source port; an exchange goes out
    on one picked at random. A socket carries at most ``max_uses`` queries and lives at most ``max_age`` seconds
    (``0``: no limit), then a fresh socket with a fresh random port takes its place and the old one closes when
    its last reply is in (c-ares calls this ``udp_max_queries``). So no port serves more than a handful of
    queries or stays open long enough to be found by probing, while opening and registering a socket is paid
    once per ``max_uses`` queries instead of once per query: ``bench/dns_engine.py`` prints the difference.
    Replies are matched by (socket, ID) and verified like a per-exchange socket's: source address, ID, question
    (RFC 5452 §9.1)."""

    def __init__(self, size: int, stats: EngineStats, timeout: float, ids: _QueryIds, *, max_uses: int = 0,
                 max_age: float = 0.0) -> None:
        self.size = size
        self.max_uses = max_uses
        self.max_age = max_age
        self.stats = stats
        self.timeout = timeout
        # Timeouts: every exchange waits the same ``timeout``, so deadlines come in sending order; one timer
        # walks them from the oldest instead of a timer per exchange (see _expire).
        self._deadlines: deque[tuple[float, asyncio.Future[bytes | None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.opened = 0  # sockets opened so far (for tests and benchmarks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live: dict[int, list[_PoolSocket]] = {}
        self._retired: set[_PoolSocket] = set()
        self._ids = ids  # the engine's: IDs and socket picks from one CSPRNG buffer
        self._outbox: list[tuple[socket.socket, bytes, tuple[str, int], asyncio.Future[bytes | None]]] = []

    def _flush(self) -> None:
        """Send the datagrams queued during one turn of the event loop, back to back: the resolver wakes up once
        for the batch instead of once per query (on a loopback or LAN resolver each wake-up costs about as much
        CPU as a whole query)."""
        out, self._outbox = self._outbox, []
        for sock, query, server, fut in out:
            if fut.done():
                continue
            try:
                sock.sendto(query, server)
            except OSError as e:
                fut.set_exception(e)

    def _new(self, family: int) -> _PoolSocket:
        assert self._loop is not None
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
            ps = _PoolSocket(sock, self._loop.time())
            self._loop.add_reader(ps.fd, self._on_read, ps)
        except BaseException:
            sock.close()
            raise
        self.opened += 1
        return ps

    def _close(self, ps: _PoolSocket) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(ps.fd)
        ps.sock.close()

    def release_all(self) -> None:
        """Every pending exchange ends now without an answer (the engine is closing)."""
        for ps in [*(ps for socks in self._live.values() for ps in socks), *self._retired]:
            for fut, *_ in list(ps.pending.values()):
                if not fut.done():
                    fut.set_result(None)

    def close(self) -> None:
        for socks in self._live.values():
            for ps in socks:
                self._close(ps)
        for ps in self._retired:
            self._close(ps)
        self._live.clear()
        self._retired.clear()
        self._deadlines.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        """End the exchanges whose deadline has passed, then sleep until the oldest one left."""
        self._timer = None
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        now = loop.time()
        dl = self._deadlines
        while dl and (dl[0][1].done() or dl[0][0] <= now):
            _, fut = dl.popleft()
            if not fut.done():
                fut.set_result(None)
        if dl:
            self._timer = loop.call_at(dl[0][0], self._expire)

    def sockets(self, family: int) -> list[socket.socket]:
        """The live sockets of a family (tests look at their ports)."""
        return [ps.sock for ps in self._live.get(family, ())]

    def _on_read(self, ps: _PoolSocket) -> None:
        sock, pending, stats = ps.sock, ps.pending, self.stats
        while True:
            try:
                data, addr = sock.recvfrom(65535)
            except OSError:
                return
            entry = pending.get(data[0] << 8 | data[1]) if len(data) >= 2 else None
            if entry is None:
                stats.ignored += 1
                continue
            fut, server, qwire, code = entry
            if addr[1] != server[1] or addr[0] != server[0] or fut.done() \
                    or not Engine._matches(data, data[0] << 8 | data[1], qwire, code):
                stats.ignored += 1
                continue
            fut.set_result(data)

    def _socket_for(self, family: int) -> _PoolSocket:
        socks = self._live.get(family)
        if socks is None:
            socks = self._live[family] = [self._new(family) for _ in range(self.size)]
        i = self._ids() % len(socks)  # CSPRNG; the modulo bias over 65,536 values is negligible
        ps = socks[i]
        ps.uses += 1
        if (self.max_uses and ps.uses >= self.max_uses) or \
                (self.max_age and self._loop is not None and self._loop.time() - ps.born > self.max_age):
            # last use of this port: a fresh socket takes its place; this one closes after its last reply
            socks[i] = self._new(family)
            ps.retired = True
            self._retired.add(ps)
        return ps

    def _release(self, ps: _PoolSocket, qid: int) -> None:
        del ps.pending[qid]
        if ps.retired and not ps.pending:
            self._retired.discard(ps)
            self._close(ps)

    async def exchange(self, server: tuple[str, int], family: int, query: bytes, qwire: bytes,
                       code: int) -> bytes | None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.close()
            self._loop = loop
        ps = self._socket_for(family)
        qid = query[0] << 8 | query[1]
        while qid in ps.pending:  # IDs must be unique per socket
            qid = self._ids()
        query = qid.to_bytes(2, "big") + query[2:]
        fut: asyncio.Future[bytes | None] = loop.create_future()
        ps.pending[qid] = (fut, server, qwire, code)
        dl = self._deadlines
        while dl and dl[0][1].done():  # answered ones at the old end: drop them now
            dl.popleft()
        dl.append((loop.time() + self.timeout, fut))
        if self._timer is None:
            self._timer = loop.call_at(dl[0][0], self._expire)
        if not self._outbox:
            loop.call_soon(self._flush)
        self._outbox.append((ps.sock, query, server, fut))
        try:
            return await fut
        finally:
            self._release(ps, qid)


class Engine:
    """Asynchronous stub resolver; implements the Resolver protocol of :mod:`mailposture.dns.types`."""

    def __init__(self, nameservers: list[str] | None = None, *, timeout: float = 2.0, retries: int = 2,
                 concurrency: int = 200, qps: float | None = None, cache_size: int = 200_000,
                 edns_bufsize: int = 1232, want_ad: bool = False, udp_sockets: int = UDP_SOCKETS,
                 udp_socket_uses: int = UDP_SOCKET_USES, udp_socket_age: float = UDP_SOCKET_AGE) -> None:
        """UDP source ports (RFC 5452 §9.2): ``udp_sockets`` sockets per address family, each on its own random
        port, each replaced by a fresh one after ``udp_socket_uses`` queries or ``udp_socket_age`` seconds
        (:class:`_UdpPool`; ``0``: no such limit); ``udp_sockets=0``: a fresh socket for every exchange (about
        twice the CPU per query, see bench/README.md)."""
        if nameservers is None:
            self.nameservers = system_nameservers()
        else:
            self.nameservers = [parse_nameserver(n) for n in nameservers]
            if not self.nameservers:
                raise DnsConfigError("no nameserver given")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if udp_sockets < 0 or udp_socket_uses < 0 or udp_socket_age < 0:
            raise ValueError("udp_sockets, udp_socket_uses and udp_socket_age must be >= 0")
        self._server_text = [format_nameserver(s) for s in self.nameservers]
        self._families = [socket.AF_INET6 if ":" in ip else socket.AF_INET for ip, _ in self.nameservers]
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.concurrency = int(concurrency)
        self.edns_bufsize = int(edns_bufsize)
        self.want_ad = want_ad
        self.stats = EngineStats()
        self.cache = TtlCache(cache_size)
        if not udp_sockets:
            self.concurrency = _fit_fd_limit(self.concurrency)
        self._gate = _Gate(self.concurrency)
        self._bucket = TokenBucket(qps) if qps else None
        # lookups in flight by (name, type): None until a second asker wants to share the outcome
        self._inflight: dict[tuple[str, int], asyncio.Future[_Step | None] | None] = {}
        # exchanges on a socket of their own (udp_sockets=0), released by aclose(); the pool tracks its own
        self._waiting: set[asyncio.Future[bytes | None]] = set()
        self._ids = _QueryIds()
        self._pool = _UdpPool(udp_sockets, self.stats, self.timeout, self._ids, max_uses=udp_socket_uses,
                              max_age=udp_socket_age) if udp_sockets > 0 else None
        self._closed = False

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop: pending exchanges end at once with error "engine closed"; later queries get the same error."""
        self._closed = True
        for fut in list(self._waiting):
            if not fut.done():
                fut.set_result(None)
        self._waiting.clear()
        if self._pool is not None:
            self._pool.release_all()
            await asyncio.sleep(0)  # let the released exchanges unwind before their sockets close
            self._pool.close()

    # -------------------------------------------------------------------------------------------- lookups

    async def query(self, name: str, rdtype: str) -> Answer:
        rdtype = rdtype.upper()
        code = RDTYPES.get(rdtype)
        if code is None:
            code = rdtype_code(rdtype)  # "TYPE99" (RFC 3597 §5) -> 99; ValueError for an unknown mnemonic
            rdtype = RDTYPE_NAMES.get(code, rdtype)  # one cache entry and one spelling per type
        try:
            qname = _norm_name(name)
        except UnicodeError as e:
            return Answer(name, rdtype, "error", rcode="", error=f"bad-name: {e}")
        hit = self.cache.get((qname, code))
        if hit is not None and hit[0].target is None:  # the common cache hit, without a coroutine more
            return self._from_cache(hit)
        try:
            step, cached = await self._step(qname, rdtype, code)
        except WireError as e:  # only the name's own encoding raises it
            return Answer(name, rdtype, "error", rcode="", error=f"bad-name: {e}")
        if step.target is None:  # the common case: no CNAME left to follow
            return step.answer
        return await self._follow(qname, rdtype, code, step, cached)

    async def _follow(self, qname: str, rdtype: str, code: int, step: _Step, cached: bool) -> Answer:
        """Continue a CNAME chain the server did not finish (RFC 1034 §3.6.2), each hop through the cache."""
        chain: list[str] = []
        seen = {qname}
        ttl: int | None = None
        all_cached = cached
        ad = True
        while True:
            a = step.answer
            ad = ad and a.ad
            ttl = a.ttl if ttl is None else min(ttl, a.ttl)
            for n in a.cname_chain:
                if n in seen:
                    return Answer(qname, rdtype, "error", (), a.rcode, 0, (*chain, n), "cname-loop", a.server, False,
                                  all_cached)
                seen.add(n)
                chain.append(n)
            if step.target is None:
                return Answer(qname, rdtype, a.status, a.records, a.rcode, ttl, tuple(chain), a.error, a.server,
                              ad, all_cached)
            if len(chain) > MAX_CNAME_HOPS:  # every name distinct (checked above): a long chain, not a loop
                return Answer(qname, rdtype, "error", (), a.rcode, 0, tuple(chain), "cname-chain-too-long",
                              a.server, False, all_cached)
            try:
                step, cached = await self._step(step.target, rdtype, code)
            except WireError as e:
                return Answer(qname, rdtype, "error", (), a.rcode, 0, tuple(chain), f"bad-name: {e}", a.server)
            all_cached = all_cached and cached

    def _from_cache(self, hit: tuple[_Step, float]) -> Answer:
        """The cached answer as served now: its TTL is what is left of it (RFC 1035 §3.2.1), ``from_cache`` set."""
        step, left = hit
        self.stats.cache_hits += 1
        a = step.answer
        if a.status != "ok":
            self.stats.cache_negative_hits += 1
        return Answer(a.name, a.rdtype, a.status, a.records, a.rcode, int(left), a.cname_chain, a.error, a.server,
                      a.ad, True)

    async def _step(self, name: str, rdtype: str, code: int) -> tuple[_Step, bool]:
        """The cached step for (name, type), or the outcome of an exchange in flight, or a new exchange. Raises
        WireError for a name that cannot be encoded (never cached nor sent, so only on a miss)."""
        key = (name, code)
        while True:
            hit = self.cache.get(key)
            if hit is not None:
                return _Step(self._from_cache(hit), hit[0].target), True
            if self._closed:
                return _Step(Answer(name, rdtype, "error", rcode="", error="engine closed")), False
            inflight = self._inflight
            if key in inflight:
                # an identical exchange is in flight: share its outcome (shield: our cancellation is ours alone)
                self.stats.inflight_dedup += 1
                shared = inflight[key]
                if shared is None:
                    shared = inflight[key] = asyncio.get_running_loop().create_future()
                result = await asyncio.shield(shared)
                if result is not None:
                    return result, False
                continue  # its owner was cancelled: look up ourselves
            qwire = encode_name(name)  # on a miss only: a cached name needs no wire form
            inflight[key] = None
            step: _Step | None = None
            try:
                step = await self._exchange(name, rdtype, code, qwire)
            finally:
                fut = inflight.pop(key, None)
                if fut is not None and not fut.done():
                    fut.set_result(step)  # None on an exception: the waiters retry themselves
            return step, False

    async def _exchange(self, name: str, rdtype: str, code: int, qwire: bytes) -> _Step:
        n = len(self.nameservers)
        edns: int | None = self.edns_bufsize or None
        flags = FLAG_RD | (FLAG_AD if self.want_ad else 0)
        last_error, last_rcode, last_server = "timeout", "", None
        for attempt in range(self.retries + 1):
            idx = attempt % n
            server, stext = self.nameservers[idx], self._server_text[idx]
            if attempt:
                self.stats.retries += 1
                if last_error != "timeout":
                    await asyncio.sleep(min(_BACKOFF_MAX, _BACKOFF_BASE * 2 ** (attempt - 1))
                                        * (0.5 + random.random()))
            if self._bucket is not None:
                await self._bucket.acquire()
            if self._closed:
                return _Step(Answer(name, rdtype, "error", rcode="", error="engine closed"))
            gate = self._gate
            if not gate.take_now():
                await gate.take()
            try:
                qid = self._ids()
                query = encode_query_wire(qid, flags, qwire, code, edns)
                try:
                    self.stats.sent += 1
                    if self._pool is None:
                        data = await self._udp(server, self._families[idx], query, qid, qwire, code)
                    else:
                        data = await self._pool.exchange(server, self._families[idx], query, qwire, code)
                    if data is not None and data[2] << 8 & FLAG_TC:
                        self.stats.tcp_fallbacks += 1
                        self.stats.sent += 1
                        data = await self._tcp(server, self._families[idx], query, qid, qwire, code)
                except OSError as e:
                    self.stats.network_errors += 1
                    last_error, last_rcode, last_server = f"network: {e.strerror or e}", "", stext
                    continue
            finally:
                gate.give()
            if self._closed:
                return _Step(Answer(name, rdtype, "error", rcode="", error="engine closed"))
            if data is None:
                self.stats.timeouts += 1
                last_error, last_rcode, last_server = "timeout", "", stext
                continue
            self.stats.received += 1
            try:
                msg = decode(data)
                if msg.tc:
                    raise WireError("truncated answer over TCP")
            except WireError:
                self.stats.malformed += 1
                last_error, last_rcode, last_server = "malformed", "", stext
                continue
            last_server = stext
            rc = msg.rcode
            if rc == 0 or rc == 3:
                step, cache_ttl = interpret(msg, name, rdtype, code, stext)
                if cache_ttl > 0:
                    self.cache.put((name, code), step, cache_ttl)
                return step
            if rc == 2:  # SERVFAIL: another try, maybe another server (RFC 1035 §7.2; RFC 2308 §7.1)
                self.stats.servfails += 1
                last_error, last_rcode = "servfail", "SERVFAIL"
            elif rc == 5:
                self.stats.refused += 1
                last_error, last_rcode = "refused", "REFUSED"
            elif rc == 1 and edns is not None:
                edns = None  # RFC 6891 §7: a FORMERR to an EDNS query may mean no EDNS support; retry without
                last_error, last_rcode = "formerr", "FORMERR"
            else:
                rtext = RCODES.get(rc, f"RCODE{rc}")
                last_error, last_rcode = rtext.lower(), rtext
        return _Step(Answer(name, rdtype, "error", (), last_rcode, 0, (), last_error, last_server))

    # -------------------------------------------------------------------------------------------- transports

    @staticmethod
    def _matches(data: bytes, qid: int, qwire: bytes, code: int) -> bool:
        # RFC 5452 §9.1: accept only a response with our ID and our question (name compared case-insensitively)
        ln = len(qwire)
        return (len(data) >= 16 + ln and data[0] << 8 | data[1] == qid and data[2] & 0x80
                and data[4] == 0 and data[5] == 1
                and data[12:12 + ln].lower() == qwire
                and data[12 + ln] << 8 | data[13 + ln] == code) != 0

    async def _udp(self, server: tuple[str, int], family: int, query: bytes, qid: int, qwire: bytes,
                   code: int) -> bytes | None:
        # udp_sockets=0: one socket per exchange, the kernel picks a random source port each time (RFC 5452
        # §9.2), about 15 bits of entropy on top of the random ID. Measured cost: bench/dns_engine.py prints it.
        loop = asyncio.get_running_loop()
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            # unconnected socket: ICMP errors are not reported, an unreachable server is a timeout
            sock.sendto(query, server)
            fut: asyncio.Future[bytes | None] = loop.create_future()
            ip, port = server
            stats = self.stats
            matches = self._matches

            def on_read() -> None:
                while not fut.done():
                    try:
                        data, addr = sock.recvfrom(65535)
                    except OSError:  # BlockingIOError: nothing (more) to read
                        return
                    if addr[1] != port or addr[0] != ip or not matches(data, qid, qwire, code):
                        stats.ignored += 1
                        continue
                    fut.set_result(data)

            def on_timeout() -> None:
                if not fut.done():
                    fut.set_result(None)

            fd = sock.fileno()
            loop.add_reader(fd, on_read)
            handle = loop.call_later(self.timeout, on_timeout)
            waiting = self._waiting
            waiting.add(fut)
            try:
                return await fut
            finally:
                waiting.discard(fut)
                handle.cancel()
                loop.remove_reader(fd)
        finally:
            sock.close()

    async def _tcp(self, server: tuple[str, int], family: int, query: bytes, qid: int, qwire: bytes,
                   code: int) -> bytes | None:
        writer = None
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(server[0], server[1], family=family)
                writer.write(len(query).to_bytes(_U16, "big") + query)  # RFC 1035 §4.2.2 length prefix
                await writer.drain()
                ln = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(ln)
                if not self._matches(data, qid, qwire, code):
                    self.stats.ignored += 1
                    return None
                return data
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            return None
        finally:
            if writer is not None:
                writer.close()
