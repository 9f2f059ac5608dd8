"""Loopback helpers for world tests: an asyncio loop in a thread, and a relay that sets the AD bit.

NSD is authoritative and never sets AD; a validating resolver does, for answers it validated (RFC 4035 §3.2.3),
when the query asked for it with AD (RFC 6840 §5.7). :class:`AdRelay` sits between the scan and NSD and plays
that resolver for the names listed as "secure": it forwards every query unchanged (UDP and TCP) and sets AD in
the response only for those names, and only when the query had AD set. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Coroutine
from typing import Any, TypeVar

from mailposture.dns import wire
from mailposture.dns.server import FaultyProxy

_T = TypeVar("_T")
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


class AdRelay(FaultyProxy):
    """Relay on 127.0.0.1 to ``upstream`` that sets AD on answers for ``secure`` names (exact owner names), only
    when the query asked for it. ``stamped`` counts the responses it marked, ``forwarded`` all responses relayed."""

    def __init__(self, upstream: str, secure: Collection[str], *, timeout: float = 2.0) -> None:
        super().__init__(upstream, timeout=timeout, rewrite=self._stamp)
        self.secure = {n.rstrip(".").lower() for n in secure}
        self.stamped = 0

    def _stamp(self, query: bytes, resp: bytes) -> bytes:
        if len(resp) < 4 or not query[3] & _AD or _qname(query) not in self.secure:
            return resp
        self.stamped += 1
        return resp[:3] + bytes([resp[3] | _AD]) + resp[4:]
