"""Audit log and counters, written off the hot path.

Every decision about a foreign address (and every refusal) becomes an ``AuditEntry`` queued in memory and
written in batches by a background task (worker thread); other decisions are only counted, per day and
``verdict:reason``, and the counts are added to the store periodically. If the store is unreachable the
queue is kept (bounded: the oldest entries are dropped and the drop is logged) and retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from concurrent.futures import Executor
from datetime import UTC, datetime

from mailposture.guard.decide import Decision
from mailposture.guard.model import AuditEntry
from mailposture.guard.store import Store

log = logging.getLogger("mailposture.guard.audit")


class Recorder:
    def __init__(self, store: Store | None, *, max_queue: int = 100_000, batch: int = 500,
                 store_timeout: float = 5.0) -> None:
        self.store = store
        self.queue: deque[AuditEntry] = deque()
        self.max_queue = max_queue
        self.batch = batch
        self.store_timeout = store_timeout
        self.counts: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()  # since start, for status/diagnostics
        self.dropped = 0
        self._inflight: tuple[asyncio.Future, list[AuditEntry]] | None = None
        self._counts_inflight: asyncio.Future | None = None
        self._count_day = datetime.now(UTC).strftime("%Y-%m-%d")
        self.stopped = False

    def record(self, d: Decision, now: datetime) -> None:
        key = f"{d.verdict}:{d.reason}"
        self.totals[key] += 1
        if d.audit:
            if len(self.queue) >= self.max_queue:
                self.queue.popleft()
                self.dropped += 1
                if self.dropped in (1, 10, 100, 1000) or self.dropped % 10000 == 0:
                    log.error("audit queue full (store unreachable?): %d entries dropped so far", self.dropped)
            self.queue.append(AuditEntry(now, d.username, d.ip, d.country, d.verdict, d.reason))
        else:
            self.counts[key] += 1

    async def flush_audit(self, executor: Executor | None = None) -> int:
        """Write one batch. A store call that times out keeps running in its thread: its batch stays "in
        flight" (not queued again) until the call ends; written then, it counts once, and only a failed call
        puts the batch back. So each batch is written exactly once, and every call's outcome is collected."""
        if self.store is None:
            return 0
        loop = asyncio.get_running_loop()
        if self._inflight is not None:
            fut, batch = self._inflight
        else:
            if not self.queue:
                return 0
            n = min(len(self.queue), self.batch)
            batch = [self.queue.popleft() for _ in range(n)]
            fut = loop.run_in_executor(executor, self.store.add_audit, batch)
            self._inflight = (fut, batch)
        done, _ = await asyncio.wait({fut}, timeout=self.store_timeout)
        if not done:
            log.error("audit write did not finish within %gs; waiting for it before the next batch",
                      self.store_timeout)
            return 0
        self._inflight = None
        exc = fut.exception()
        if exc is not None:
            # Put the batch back in front (unless a full queue would overflow); try again next round.
            room = self.max_queue - len(self.queue)
            self.queue.extendleft(reversed(batch[:max(0, room)]))
            log.error("audit write failed, will retry: %s", exc if str(exc) else type(exc).__name__)
            return 0
        return len(batch)

    async def flush_counts(self, executor: Executor | None = None) -> None:
        if self.store is None:
            return
        if self._counts_inflight is not None and not self._counts_inflight.done():
            return  # the previous write is still running in its thread: it will count once, when it ends
        self._counts_inflight = None
        if not self.counts:
            return
        counts, day = dict(self.counts), self._count_day
        self.counts.clear()
        self._count_day = datetime.now(UTC).strftime("%Y-%m-%d")
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(executor, self.store.add_counts, day, counts)

        def settled(f: asyncio.Future) -> None:
            exc = None if f.cancelled() else f.exception()  # always collected: no "never retrieved"
            if exc is not None or f.cancelled():
                self.counts.update(counts)
                log.error("counter write failed, will retry: %s", exc or "cancelled")
        fut.add_done_callback(settled)
        self._counts_inflight = fut
        await asyncio.wait({fut}, timeout=self.store_timeout)

    async def run(self, executor: Executor | None, audit_every: float, counts_every: float) -> None:
        loop = asyncio.get_running_loop()
        next_counts = loop.time() + counts_every
        while not self.stopped:
            await asyncio.sleep(audit_every)
            while await self.flush_audit(executor) >= self.batch:
                pass
            if loop.time() >= next_counts:
                next_counts = loop.time() + counts_every
                await self.flush_counts(executor)

    async def drain(self, executor: Executor | None = None) -> None:
        """Write everything still queued (shutdown)."""
        for _ in range(1000):
            if not self.queue and self._inflight is None:
                break
            if not await self.flush_audit(executor):
                break  # the store failed or did not answer in time: give up (logged)
        await self.flush_counts(executor)
