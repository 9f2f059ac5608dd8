"""In-process loopback DNS: an authoritative server for demo worlds and a fault-injecting proxy for tests.

* :class:`LocalDnsServer` serves a FakeResolver-format world over UDP and TCP on 127.0.0.1 (no NSD needed),
  answering like NSD does: CNAMEs chased through every zone it serves, NXDOMAIN vs NODATA with the zone's SOA in
  the authority section (TTL = min(SOA TTL, MINIMUM), RFC 2308 §3), empty non-terminals are NODATA
  (RFC 8020 §2), wildcards (RFC 4592 §3.3.1), TC bit when the answer does not fit the requester's UDP size
  (RFC 6891 §7, 512 octets without EDNS, RFC 1035 §4.2.1).
* :class:`FaultyProxy` sits in front of a server and drops or SERVFAILs chosen queries, or the first N tries of a
  (name, type), or forges responses with a wrong ID/question before the real one: proof for retries, error
  accounting and spoofing hygiene.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

from mailposture.dns import wire
from mailposture.dns.types import RDTYPE_NAMES
from mailposture.dns.zonefile import ZoneError, infer_origins, render_zones

__all__ = ["FaultyProxy", "LocalDnsServer", "start_udp_tcp"]

_LEN = struct.Struct("!H")
_MAX_CHASE = 16

Match = Collection[str] | Callable[[str, str], bool] | None


# ------------------------------------------------------------------------------------------------ helpers

class _Udp(asyncio.DatagramProtocol):
    def __init__(self, handler: Callable[[bytes, Any], None]) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.handler(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP from a vanished client: nothing to do
        pass


def _grow_rcvbuf(sock: Any, size: int = 4 << 20) -> None:
    # A client in the same event loop can send hundreds of queries before the server reads one; the default
    # 208 KiB buffer holds only ~200 small datagrams on loopback. Best effort: FORCE needs CAP_NET_ADMIN.
    import socket

    for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if opt is None or sock is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, size)
            return
        except OSError:
            continue


async def start_udp_tcp(host: str, port: int, on_udp: Callable[[bytes, Any], None],
                        on_tcp: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]
                        ) -> tuple[asyncio.DatagramTransport, asyncio.AbstractServer, int]:
    """Bind UDP and TCP on the same port (an ephemeral one when ``port`` is 0)."""
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for _ in range(20):
        proto = _Udp(on_udp)
        try:
            transport, _ = await loop.create_datagram_endpoint(lambda p=proto: p, local_addr=(host, port))
        except OSError as e:
            raise OSError(f"cannot bind UDP {host}:{port}: {e.strerror}") from None
        bound = transport.get_extra_info("sockname")[1]
        _grow_rcvbuf(transport.get_extra_info("socket"))
        try:
            server = await asyncio.start_server(on_tcp, host, bound)
        except OSError as e:
            transport.close()
            last = e
            if port:
                break
            continue
        return transport, server, bound  # type: ignore[return-value]
    raise OSError(f"cannot bind TCP {host}:{port}: {last}")


async def _tcp_messages(reader: asyncio.StreamReader) -> Any:
    while True:
        try:
            ln = _LEN.unpack(await reader.readexactly(2))[0]
            yield await reader.readexactly(ln)
        except (asyncio.IncompleteReadError, ConnectionError):
            return


def _matches(rule: Match, name: str, rdtype: str) -> bool:
    if rule is None:
        return False
    if callable(rule):
        return bool(rule(name, rdtype))
    return name in rule


# ------------------------------------------------------------------------------------------------ authoritative

class _Zone:
    """One zone as plain dicts: owner -> {rdtype: rdataset}; plus every name that exists (incl. ENTs)."""

    def __init__(self, origin: str, text: str) -> None:
        self.origin = origin
        self.name = dns.name.from_text(origin or ".")
        try:
            z = dns.zone.from_text(text, origin=self.name, relativize=False, check_origin=True)
        except (dns.exception.DNSException, ValueError) as e:
            raise ZoneError(f"zone {origin or '.'}: {e}") from None
        self.nodes: dict[str, dict[int, Any]] = {}
        for n, node in z.nodes.items():
            key = n.to_text(omit_final_dot=True).lower()
            self.nodes[key] = {rds.rdtype: rds for rds in node.rdatasets}
        self.exists: set[str] = set()
        for key in self.nodes:
            cur = key
            while True:  # the owner and every ancestor down to the origin exist (RFC 8020 §2)
                if cur in self.exists:
                    break
                self.exists.add(cur)
                if cur == origin or not cur:
                    break
                cur = cur.split(".", 1)[1] if "." in cur else ""
        soa = self.nodes[origin][dns.rdatatype.SOA]
        self.soa = soa
        self.neg_ttl = min(soa.ttl, soa[0].minimum)


class _Loopback:
    """What both loopback servers share: UDP and TCP on ``host:port`` (0 = any free port), start/stop or
    ``async with``; ``.address`` is "host:port". Subclasses set ``host``, ``port`` and ``_tasks`` and define
    ``_on_udp`` / ``_on_tcp``."""

    host: str
    port: int
    _udp: asyncio.DatagramTransport | None = None
    _tcp: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> Self:
        self._udp, self._tcp, self.port = await start_udp_tcp(self.host, self.port, self._on_udp, self._on_tcp)
        return self

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await self._tcp.wait_closed()
            self._tcp = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _on_udp(self, data: bytes, addr: Any) -> None:
        raise NotImplementedError

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class LocalDnsServer(_Loopback):
    """An authoritative server for a FakeResolver-format world on 127.0.0.1 (UDP and TCP).

    ``origins`` default to one zone per registrable domain of the world's names. FakeResolver's ``TIMEOUT`` and
    ``SERVFAIL`` entries become a name that never answers / answers SERVFAIL. Use ``await start()`` /
    ``await stop()`` or ``async with``; ``.address`` is "127.0.0.1:port".
    """

    def __init__(self, zone: Mapping[str, Iterable[tuple[str, Any]]], *, origins: Iterable[str] | None = None,
                 host: str = "127.0.0.1", port: int = 0, ttl: int = 300) -> None:
        origin_list = list(origins) if origins is not None else infer_origins(zone)
        texts = render_zones(zone, origin_list, ttl=ttl)
        self.zones = {o: _Zone(o, t) for o, t in texts.items()}
        # FakeResolver's special entries, served as faults: ("SERVFAIL", None) answers SERVFAIL,
        # ("TIMEOUT", None) never answers (exact owner names only)
        self.special: dict[str, str] = {
            name.rstrip(".").lower(): t.upper() for name, entries in zone.items() for t, _ in entries
            if t.upper() in ("SERVFAIL", "TIMEOUT")}
        self.host = host
        self.port = port
        self.queries = 0
        self.tcp_queries = 0
        self.log: deque[tuple[str, str, int]] = deque(maxlen=10_000)  # (name, type, header flags) last queries
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------------------------------------ answering

    def _zone_for(self, name: str) -> _Zone | None:
        cur = name
        while True:
            z = self.zones.get(cur)
            if z is not None:
                return z
            if not cur:
                return None
            cur = cur.split(".", 1)[1] if "." in cur else ""

    def _lookup(self, qname: str, qtype: int) -> tuple[int, list[dns.rrset.RRset], list[dns.rrset.RRset]]:
        answer: list[dns.rrset.RRset] = []
        cur = qname
        seen = set()
        for _ in range(_MAX_CHASE):
            zone = self._zone_for(cur)
            if zone is None:
                # not ours: REFUSED for the question itself, else the partial chain (as NSD does)
                return (dns.rcode.REFUSED if not answer else dns.rcode.NOERROR), answer, []
            node = zone.nodes.get(cur)
            owner = cur
            if node is None:
                if cur in zone.exists:
                    return dns.rcode.NOERROR, answer, [self._soa(zone)]  # empty non-terminal: NODATA
                encloser = cur
                while encloser not in zone.exists:  # RFC 4592 §3.3.1 closest encloser
                    encloser = encloser.split(".", 1)[1] if "." in encloser else ""
                node = zone.nodes.get("*." + encloser if encloser else "*")
                if node is None:
                    return dns.rcode.NXDOMAIN, answer, [self._soa(zone)]
            rds = node.get(qtype)
            if rds is not None:
                answer.append(self._rrset(owner, rds))
                return dns.rcode.NOERROR, answer, []
            cname = node.get(dns.rdatatype.CNAME)
            if cname is None or qtype == dns.rdatatype.CNAME:
                return dns.rcode.NOERROR, answer, [self._soa(zone)]
            answer.append(self._rrset(owner, cname))
            seen.add(cur)
            cur = cname[0].target.to_text(omit_final_dot=True).lower()
            if cur in seen:
                return dns.rcode.NOERROR, answer, []
        return dns.rcode.NOERROR, answer, []

    @staticmethod
    def _rrset(owner: str, rds: Any) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(dns.name.from_text(owner or "."), rds.rdclass, rds.rdtype)
        rrset.update(rds)
        rrset.ttl = rds.ttl
        return rrset

    @staticmethod
    def _soa(zone: _Zone) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(zone.name, dns.rdataclass.IN, dns.rdatatype.SOA)
        rrset.update(zone.soa)
        rrset.ttl = zone.neg_ttl  # RFC 2308 §3
        return rrset

    def respond(self, data: bytes, *, udp: bool = True) -> bytes | None:
        """The response to one query message (pure apart from the counters); None for garbage."""
        self.queries += 1
        try:
            q = dns.message.from_wire(data)
        except Exception:  # dnspython raises many kinds; a garbage datagram gets no answer
            return None
        if q.flags & dns.flags.QR or len(q.question) != 1:
            return None
        r = dns.message.make_response(q, our_payload=1232)
        r.flags |= dns.flags.AA
        r.flags &= ~dns.flags.RA
        qrr = q.question[0]
        if qrr.rdclass != dns.rdataclass.IN or qrr.rdtype == dns.rdatatype.ANY:
            r.set_rcode(dns.rcode.REFUSED if qrr.rdclass != dns.rdataclass.IN else dns.rcode.NOTIMP)
            return r.to_wire()
        qname = qrr.name.to_text(omit_final_dot=True).lower()
        self.log.append((qname, dns.rdatatype.to_text(qrr.rdtype), int(q.flags)))
        special = self.special.get(qname)
        if special == "TIMEOUT":
            return None
        if special == "SERVFAIL":
            r.set_rcode(dns.rcode.SERVFAIL)
            r.flags &= ~dns.flags.AA
            return r.to_wire()
        rcode, answer, authority = self._lookup(qname, qrr.rdtype)
        r.set_rcode(rcode)
        if rcode == dns.rcode.REFUSED:
            r.flags &= ~dns.flags.AA
        r.answer = answer
        r.authority = authority
        limit = (max(512, q.payload) if q.edns >= 0 else 512) if udp else 65535
        try:
            return r.to_wire(max_size=limit)
        except dns.exception.TooBig:
            # RFC 1035 §4.2.1 / RFC 6891 §7: does not fit, set TC and send the question only
            t = dns.message.make_response(q, our_payload=1232)
            t.flags |= dns.flags.AA | dns.flags.TC
            t.flags &= ~dns.flags.RA
            return t.to_wire()

    def _on_udp(self, data: bytes, addr: Any) -> None:
        resp = self.respond(data, udp=True)
        if resp is not None and self._udp is not None:
            self._udp.sendto(resp, addr)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async for msg in _tcp_messages(reader):
                self.tcp_queries += 1
                resp = self.respond(msg, udp=False)
                if resp is None:
                    break
                writer.write(_LEN.pack(len(resp)) + resp)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


# ------------------------------------------------------------------------------------------------ fault proxy

def _question(data: bytes) -> tuple[str, str, int] | None:
    """(name, type, end offset of the question) of a query, or None when it is not parseable."""
    if len(data) < 12 or data[4:6] != b"\x00\x01":
        return None
    try:
        name, off = wire.decode_name(data, 12)
    except wire.WireError:
        return None
    if off + 4 > len(data):
        return None
    code = int.from_bytes(data[off:off + 2], "big")
    return name, RDTYPE_NAMES.get(code, f"TYPE{code}"), off + 4


def _servfail(data: bytes, qend: int) -> bytes:
    flags = int.from_bytes(data[2:4], "big")
    out_flags = wire.FLAG_QR | (flags & wire.FLAG_RD) | wire.FLAG_RA | 2  # rcode SERVFAIL
    return data[:2] + out_flags.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x00\x00\x00" + data[12:qend]


class _Fwd(asyncio.DatagramProtocol):
    def __init__(self, fut: asyncio.Future[bytes]) -> None:
        self.fut = fut

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.fut.done():
            self.fut.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.fut.done():
            self.fut.set_exception(exc)


class FaultyProxy(_Loopback):
    """UDP/TCP proxy on 127.0.0.1 in front of ``upstream`` ("ip:port") that misbehaves on purpose.

    ``drop`` / ``servfail`` / ``spoof``: a collection of names (lower-case, no trailing dot) or a predicate
    ``(name, rdtype) -> bool``. ``drop_first_n``: drop the first N tries of each (name, type), forward later ones.
    ``spoof``: before the real answer, send a forged copy with a wrong ID and one with a different question.
    ``delay``: seconds to hold each forwarded UDP query (``max_active`` then shows the client's concurrency).
    ``rewrite``: ``(query, response) -> response`` applied to every forwarded response (UDP and TCP), e.g. to set
    the AD bit as a validating resolver would.
    Counters: ``tries`` (per (name, type)), ``dropped``, ``servfailed``, ``forwarded``, ``spoofed``.
    """

    def __init__(self, upstream: str, *, drop: Match = None, servfail: Match = None, drop_first_n: int = 0,
                 spoof: Match = None, delay: float = 0.0, host: str = "127.0.0.1", port: int = 0,
                 timeout: float = 2.0, rewrite: Callable[[bytes, bytes], bytes] | None = None) -> None:
        from mailposture.dns.engine import parse_nameserver

        self.upstream = parse_nameserver(upstream)
        self.drop, self.servfail, self.spoof = drop, servfail, spoof
        self.drop_first_n = drop_first_n
        self.delay = delay
        self.rewrite = rewrite
        self.active = self.max_active = 0
        self.host, self.port, self.timeout = host, port, timeout
        self.tries: Counter[tuple[str, str]] = Counter()
        self.dropped = self.servfailed = self.forwarded = self.spoofed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def _decide(self, data: bytes) -> tuple[str, int]:
        q = _question(data)
        if q is None:
            return "forward", 0
        name, rdtype, qend = q
        self.tries[(name, rdtype)] += 1
        if _matches(self.drop, name, rdtype) or self.tries[(name, rdtype)] <= self.drop_first_n:
            self.dropped += 1
            return "drop", qend
        if _matches(self.servfail, name, rdtype):
            self.servfailed += 1
            return "servfail", qend
        if _matches(self.spoof, name, rdtype):
            return "spoof", qend
        return "forward", qend

    def _on_udp(self, data: bytes, addr: Any) -> None:
        action, qend = self._decide(data)
        if action == "drop":
            return
        if action == "servfail":
            if self._udp is not None:
                self._udp.sendto(_servfail(data, qend), addr)
            return
        task = asyncio.ensure_future(self._forward_udp(data, addr, spoof=action == "spoof", qend=qend))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward_udp(self, data: bytes, addr: Any, *, spoof: bool, qend: int) -> None:
        loop = asyncio.get_running_loop()
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            fut: asyncio.Future[bytes] = loop.create_future()
            transport, _ = await loop.create_datagram_endpoint(lambda: _Fwd(fut), remote_addr=self.upstream)
            try:
                transport.sendto(data)
                resp = await asyncio.wait_for(fut, self.timeout)
            except (TimeoutError, OSError):
                return
            finally:
                transport.close()
        finally:
            self.active -= 1
        self.forwarded += 1
        if self._udp is None:
            return
        if self.rewrite is not None:
            resp = self.rewrite(data, resp)
        if spoof:
            self.spoofed += 2
            bad_id = ((int.from_bytes(resp[:2], "big") + 1) & 0xFFFF).to_bytes(2, "big")
            self._udp.sendto(bad_id + resp[2:], addr)
            # same ID, other question: flip the case-insensitive comparison's target by changing the type
            other = bytearray(resp)
            if qend >= 16:
                other[qend - 4:qend - 2] = (0x00FF).to_bytes(2, "big")
            self._udp.sendto(bytes(other), addr)
        self._udp.sendto(resp, addr)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async for msg in _tcp_messages(reader):
                action, qend = self._decide(msg)
                if action == "drop":
                    break
                if action == "servfail":
                    resp = _servfail(msg, qend)
                else:
                    resp = await self._forward_tcp(msg)
                    if resp is None:
                        break
                    self.forwarded += 1
                    if self.rewrite is not None:
                        resp = self.rewrite(msg, resp)
                writer.write(_LEN.pack(len(resp)) + resp)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _forward_tcp(self, msg: bytes) -> bytes | None:
        try:
            async with asyncio.timeout(self.timeout):
                r, w = await asyncio.open_connection(*self.upstream)
                try:
                    w.write(_LEN.pack(len(msg)) + msg)
                    await w.drain()
                    ln = _LEN.unpack(await r.readexactly(2))[0]
                    return await r.readexactly(ln)
                finally:
                    w.close()
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            return None
