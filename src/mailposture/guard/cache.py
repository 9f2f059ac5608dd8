"""In-memory mirror of the users' states for the policy server: the hot path never waits for the database.

The mirror holds every user whose state is not the default ``restricted`` (opted-in, always-allowed, locked);
a user absent from it is ``restricted``. A background task polls ``Store.changes_since`` every
``poll_interval`` seconds (in a worker thread, with ``store_timeout``) and applies the rows changed since the
last poll, so a change made on the web page or with the admin CLI is in force within one poll on every node.

Freshness: the state is *confirmed* while the last successful poll is at most ``cache_ttl`` seconds old.
When the store is unreachable for longer, ``user_state`` still returns the last known record (so a known lock
stays in force) but marks it unconfirmed, and the decision applies ``on_store_error`` to foreign submissions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor

from mailposture.guard.decide import AllowList
from mailposture.guard.geo import GeoSource
from mailposture.guard.store import Store, StoreError, UserRecord, UserState

log = logging.getLogger("mailposture.guard.cache")

_DEFAULT = UserRecord("", UserState.RESTRICTED)


class StateCache:
    def __init__(self, store: Store | None, *, ttl: float = 5.0, poll_interval: float = 0.5,
                 store_timeout: float = 2.0, on_allowlist: Callable[[AllowList], None] | None = None,
                 geo: GeoSource | None = None, clock: Callable[[], float] = time.monotonic,
                 on_geo_reload: Callable[[], None] | None = None, on_replaced: str = "reopen") -> None:
        self.store = store
        self.ttl = ttl
        self.poll_interval = poll_interval
        self.store_timeout = store_timeout
        self.on_allowlist = on_allowlist
        self.geo = geo
        self.on_geo_reload = on_geo_reload
        self.clock = clock
        self.on_replaced = on_replaced  # SQLite file deleted/replaced: "reopen" it, or "fail" (store unavailable)
        self.users: dict[str, UserRecord] = {}
        self._reload = False  # set when the store file was reopened: the next successful poll reloads all
        self.seq = -1
        self.allow_version = -1
        self.allow_size = 0
        self.synced_at: float | None = None
        self.last_error: str | None = None
        self.polls = 0
        self._pending: asyncio.Future | None = None
        self._last_geo_check = 0.0
        self.stopped = False

    # -- hot path -----------------------------------------------------------------------------------------
    def user_state(self, username: str) -> tuple[UserRecord, bool]:
        rec = self.users.get(username, _DEFAULT)
        synced = self.synced_at
        return rec, synced is not None and self.clock() - synced <= self.ttl

    # -- sync ---------------------------------------------------------------------------------------------
    def apply(self, counter: int, changed: list[UserRecord], allow_version: int,
              allow_entries: list[str] | None, full: bool = False) -> None:
        """Apply one poll's result (event-loop thread only); ``full``: a complete reload replaces the mirror."""
        if full:
            self.users = {}
            self._reload = False
        for r in changed:
            if r.state is UserState.RESTRICTED:
                self.users.pop(r.username, None)
            else:
                self.users[r.username] = r
        if allow_entries is not None:
            allow = AllowList.from_entries(allow_entries)
            self.allow_size = len(allow)
            if self.on_allowlist:
                self.on_allowlist(allow)
            self.allow_version = allow_version
        self.seq = counter
        self.synced_at = self.clock()
        self.polls += 1

    def _fetch(self) -> tuple[int, list[UserRecord], int, list[str] | None, bool]:
        """Blocking part of a poll (worker thread)."""
        assert self.store is not None
        seq, allow_version_known = self.seq, self.allow_version
        changed_file = self.store.file_changed()
        if changed_file is not None:
            if self.on_replaced == "fail":
                raise StoreError(f"store file {self.store.path} was {changed_file} under the running server "
                                 "(on_store_replaced = \"fail\"): restart the server")
            log.warning("store file %s was %s under the running server: reopening it and reloading every "
                        "user", self.store.path, changed_file)
            self.store.reopen()
            self._reload = True  # the new file's counter has nothing to do with the old one: reload all
        if self._reload:
            seq, allow_version_known = -1, -1
        counter, changed, allow_version = self.store.changes_since(seq, include_restricted=seq >= 0)
        entries = None
        if allow_version != allow_version_known:
            entries = [e for e, _ in self.store.allowlist()]
        return counter, changed, allow_version, entries, seq < 0

    async def poll(self, executor: Executor | None = None, wait_limit: float | None = None) -> bool:
        """One poll; False (and ``last_error`` set) when the store failed or was too slow. A poll that timed
        out keeps running in its thread and is awaited again by the next call (its result is applied then), so
        a slow first load of many users still completes instead of being restarted forever."""
        if self.store is None:
            self.synced_at = self.clock()
            return True
        loop = asyncio.get_running_loop()
        fut = self._pending
        if fut is None:
            fut = self._pending = loop.run_in_executor(executor, self._fetch)
        # asyncio.wait, not wait_for: wait_for (3.11) can swallow a cancellation that races with the result,
        # and a timed-out thread cannot be stopped anyway.
        done, _ = await asyncio.wait({fut}, timeout=self.store_timeout if wait_limit is None else wait_limit)
        if not done:
            self._fail(f"store did not answer within {self.store_timeout:g}s")
            return False
        self._pending = None
        try:
            result = fut.result()
        except StoreError as e:
            self._fail(str(e))
            return False
        except Exception as e:  # never let the poller die
            self._fail(f"{type(e).__name__}: {e}")
            return False
        self.apply(*result)
        if self.last_error is not None:
            log.warning("store reachable again")
            self.last_error = None
        return True

    def _fail(self, msg: str) -> None:
        if msg != self.last_error:
            log.error("store poll failed (serving the last known state): %s", msg)
        self.last_error = msg

    async def run(self, executor: Executor | None = None, geo_every: float = 5.0) -> None:
        """Poll until cancelled; also checks the geo file for changes every ``geo_every`` seconds."""
        loop = asyncio.get_running_loop()
        while not self.stopped:
            await self.poll(executor)
            if self.geo is not None and self.clock() - self._last_geo_check >= geo_every:
                self._last_geo_check = self.clock()
                try:
                    if await loop.run_in_executor(executor, self.geo.maybe_reload) and self.on_geo_reload:
                        self.on_geo_reload()
                except Exception as e:
                    log.warning("geo reload check failed: %s", e)
            await asyncio.sleep(self.poll_interval)
