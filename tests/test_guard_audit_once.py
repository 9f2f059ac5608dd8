"""Issue 17 (smaller): an audit batch whose store call timed out and later succeeded was written twice (put back
in the queue while its first call was still running), and failures of such calls left "Future exception was
never retrieved" tracebacks. Each batch is now written exactly once and every call's outcome is collected."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from mailposture.guard.decide import Decision
from mailposture.guard.logs import Recorder
from mailposture.guard.store import StoreError


class FrozenStore:
    """add_audit blocks while `frozen` is set (a PostgreSQL freeze), then succeeds or fails."""

    def __init__(self, fail_after_freeze: bool = False) -> None:
        self.rows: list = []
        self.frozen = threading.Event()
        self.release = threading.Event()
        self.fail_after_freeze = fail_after_freeze
        self.calls = 0

    def add_audit(self, entries) -> None:
        self.calls += 1
        if self.frozen.is_set():
            self.release.wait(10)
            self.frozen.clear()
            if self.fail_after_freeze:
                raise StoreError("server closed the connection unexpectedly")
        self.rows.extend(entries)

    def add_counts(self, day, counts) -> None:
        if self.frozen.is_set():
            self.release.wait(10)
            if self.fail_after_freeze:
                raise StoreError("server closed the connection unexpectedly")
        self.rows.append(("counts", dict(counts)))


def _decisions(rec: Recorder, n: int, start: int = 0) -> None:
    now = datetime.now(UTC)
    for i in range(start, start + n):
        rec.record(Decision("REJECT x", "refused", "restricted", f"u{i}@x", "8.8.8.8", "US", True), now)


async def test_a_timed_out_batch_is_written_exactly_once() -> None:
    store = FrozenStore()
    rec = Recorder(store, batch=50, store_timeout=0.1)  # type: ignore[arg-type]
    pool = ThreadPoolExecutor(2)
    _decisions(rec, 120)
    store.frozen.set()
    assert await rec.flush_audit(pool) == 0          # timed out: in flight, not put back
    assert await rec.flush_audit(pool) == 0          # still in flight: no second call with the same rows
    assert store.calls == 1
    _decisions(rec, 30, start=120)
    store.release.set()                              # the frozen call completes
    while rec.queue or rec._inflight is not None:
        await rec.flush_audit(pool)
    users = [e.username for e in store.rows]
    assert len(users) == 150 and len(set(users)) == 150
    pool.shutdown()


async def test_a_timed_out_batch_that_fails_is_retried_and_its_error_collected(caplog) -> None:
    caplog.set_level(logging.ERROR)
    store = FrozenStore(fail_after_freeze=True)
    rec = Recorder(store, batch=50, store_timeout=0.1)  # type: ignore[arg-type]
    pool = ThreadPoolExecutor(2)
    _decisions(rec, 50)
    rec.record(Decision("DUNNO", "allowed", "home", "a@x", "133.1.1.1", "JP"), datetime.now(UTC))
    store.frozen.set()
    assert await rec.flush_audit(pool) == 0
    await rec.flush_counts(pool)                     # also frozen, then fails: counts come back
    store.release.set()
    await asyncio.sleep(0.2)
    while rec.queue or rec._inflight is not None:
        await rec.flush_audit(pool)
    await rec.flush_counts(pool)
    users = [e.username for e in store.rows if not isinstance(e, tuple)]
    assert sorted(users) == sorted(f"u{i}@x" for i in range(50))
    assert ("counts", {"allowed:home": 1}) in store.rows
    del rec
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text
    assert "audit write failed, will retry: server closed" in caplog.text
    pool.shutdown()
