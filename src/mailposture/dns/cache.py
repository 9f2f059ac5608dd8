"""A bounded TTL cache and a token bucket: the shared state of one DNS engine run.

Both take an injectable clock so tests can move time without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["MAX_NEGATIVE_TTL", "MAX_POSITIVE_TTL", "TokenBucket", "TtlCache"]

# RFC 2308 §5: negative answers should not be kept longer than a few hours ("one to three hours"); positive
# answers are capped at one day so that a long survey run does not carry stale data forever (RFC 8767 §4 style cap).
MAX_NEGATIVE_TTL = 3 * 3600
MAX_POSITIVE_TTL = 86400


class TtlCache:
    """LRU-bounded mapping of key -> value with a per-entry expiry time.

    ``get`` refreshes recency; when more than ``maxsize`` entries are stored the least recently used one is
    evicted, so memory stays flat over a million-domain scan. Expired entries are dropped when met.
    """

    __slots__ = ("_data", "clock", "evictions", "maxsize")

    def __init__(self, maxsize: int = 200_000, clock: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 0:
            raise ValueError("cache size must be >= 0")
        self.maxsize = maxsize
        self.clock = clock
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable) -> tuple[Any, float] | None:
        """(value, seconds left) or None when absent or expired."""
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        left = expires - self.clock()
        if left <= 0:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value, left

    def put(self, key: Hashable, value: Any, ttl: float) -> None:
        """Store for ``ttl`` seconds; a TTL of 0 means do not cache (RFC 1035 §3.2.1)."""
        if ttl <= 0 or self.maxsize == 0:
            self._data.pop(key, None)
            return
        self._data[key] = (self.clock() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)
            self.evictions += 1

    def clear(self) -> None:
        self._data.clear()


class TokenBucket:
    """Global queries-per-second limit: ``rate`` tokens per second, at most ``burst`` saved up.

    ``reserve()`` is pure accounting (takes a token, possibly going into debt, and returns how long the caller
    must wait); ``acquire()`` sleeps for that long. Debt makes waiting callers queue fairly without a lock.
    """

    __slots__ = ("_last", "_tokens", "burst", "clock", "granted", "rate", "waited")

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate limit must be > 0 queries per second")
        self.rate = float(rate)
        # a small burst (a tenth of a second's worth) keeps the send pattern smooth
        self.burst = float(burst) if burst is not None else max(1.0, self.rate / 10)
        self.clock = clock
        self._tokens = self.burst
        self._last = clock()
        self.granted = 0
        self.waited = 0.0

    def reserve(self) -> float:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        self.granted += 1
        if self._tokens >= 0:
            return 0.0
        delay = -self._tokens / self.rate
        self.waited += delay
        return delay

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
