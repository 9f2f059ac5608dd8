"""Loopback helpers for world tests: an asyncio loop in a thread, and a relay that sets the AD bit.

NSD is authoritative and never sets AD; a validating resolver does, for answers it validated (RFC 4035 §3.2.3),
when the query asked for it with AD (RFC 6840 §5.7). :class:`AdRelay` sits between the scan and NSD and plays
that resolver for the names listed as "secure": it forwards every query unchanged (UDP and TCP) and sets AD in
the response only for those names, and only when the query had AD set. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Collection, Coroutine
from typing import Any, TypeVar

from mailposture.dns import wire
from mailposture.dns.engine import parse_nameserver
from mailposture.dns.server import start_udp_tcp

_T = TypeVar("_T")
_LEN = struct.Struct("!H")
_AD = 0x20  # second flags octet: QR..RD | RA Z AD CD RCODE (RFC 4035 §3.2.3, RFC 6840 §5.7)


class LoopThread:
    """A private event loop running in a daemon thread; ``run(coro)`` waits for a coroutine run there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="world-loop", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 30.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


def _qname(data: bytes) -> str | None:
    if len(data) < 12:
        return None
    try:
        return wire.decode_name(data, 12)[0].rstrip(".").lower()
    except wire.WireError:
        return None


class AdRelay:
    """UDP/TCP relay on 127.0.0.1 to ``upstream`` that sets AD on answers for ``secure`` names (exact owner names).

    ``stamped`` counts the responses it marked, ``forwarded`` all responses relayed."""

    def __init__(self, upstream: str, secure: Collection[str], *, timeout: float = 2.0) -> None:
        self.upstream = parse_nameserver(upstream)
        self.secure = {n.rstrip(".").lower() for n in secure}
        self.timeout = timeout
        self.port = 0
        self.stamped = self.forwarded = 0
        self._udp: Any = None
        self._tcp: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> AdRelay:
        self._udp, self._tcp, self.port = await start_udp_tcp("127.0.0.1", 0, self._on_udp, self._on_tcp)
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

    def _stamp(self, query: bytes, resp: bytes) -> bytes:
        self.forwarded += 1
        if len(resp) < 4 or not query[3] & _AD or _qname(query) not in self.secure:
            return resp
        self.stamped += 1
        return resp[:3] + bytes([resp[3] | _AD]) + resp[4:]

    def _on_udp(self, data: bytes, addr: Any) -> None:
        task = asyncio.ensure_future(self._forward_udp(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward_udp(self, data: bytes, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()

        class _Back(asyncio.DatagramProtocol):
            def datagram_received(self, resp: bytes, _addr: Any) -> None:
                if not fut.done():
                    fut.set_result(resp)

        transport, _ = await loop.create_datagram_endpoint(_Back, remote_addr=self.upstream)
        try:
            transport.sendto(data)
            resp = await asyncio.wait_for(fut, self.timeout)
        except (TimeoutError, OSError):
            return
        finally:
            transport.close()
        if self._udp is not None:
            self._udp.sendto(self._stamp(data, resp), addr)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    msg = await reader.readexactly(_LEN.unpack(await reader.readexactly(2))[0])
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                resp = await self._forward_tcp(msg)
                if resp is None:
                    return
                resp = self._stamp(msg, resp)
                writer.write(_LEN.pack(len(resp)) + resp)
                await writer.drain()
        finally:
            writer.close()

    async def _forward_tcp(self, msg: bytes) -> bytes | None:
        try:
            async with asyncio.timeout(self.timeout):
                r, w = await asyncio.open_connection(*self.upstream)
                try:
                    w.write(_LEN.pack(len(msg)) + msg)
                    await w.drain()
                    return await r.readexactly(_LEN.unpack(await r.readexactly(2))[0])
                finally:
                    w.close()
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            return None
