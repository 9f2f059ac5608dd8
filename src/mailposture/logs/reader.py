"""Streaming events out of mail-log files, in time order across rotation chains.

Each file is read in chunks of whole lines (``logs.chunks``); with ``workers`` > 1 the chunks are parsed in that
many worker processes, a few chunks ahead of the consumer per chain (memory stays bounded: at most ``AHEAD_MAX``
chunks of events per chain wait), and their events come back in file order. Chains (hosts) are merged by time.
"""

from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import tzinfo
from operator import itemgetter

from mailposture.logs.chunks import (
    CHUNK_BYTES,
    ChunkResult,
    GzipChunks,
    parse_chunk,
    parse_data,
    parse_range,
    plain_ranges,
    read_range,
    unpack,
)
from mailposture.logs.files import LogFile, chains, expand
from mailposture.logs.parse import Event, LineParser

AHEAD_MAX = 8  # chunks parsed ahead of the consumer, per chain, when workers parse: workers + 1, at most this


@dataclass
class LogStats:
    read: int = 0
    used: int = 0
    ignored: int = 0  # known programs' lines that carry nothing needed, and other programs' lines
    unknown: int = 0
    files: list[str] = field(default_factory=list)
    unknown_samples: list[str] = field(default_factory=list)  # the first few, for the operator
    errors: list[str] = field(default_factory=list)  # files that could not be read to their end
    first: float | None = None
    last: float | None = None

    def to_json(self) -> dict:
        return {"read": self.read, "used": self.used, "ignored": self.ignored, "unknown": self.unknown}


class _Done:
    """An already computed chunk result, shaped like a Future (the in-process path)."""

    __slots__ = ("_r",)

    def __init__(self, r: ChunkResult) -> None:
        self._r = r

    def result(self) -> ChunkResult:
        return self._r


class LogReader:
    """``events()`` yields the events of every file, in time order across chains. ``progress`` (optional) is
    called with the number of bytes read so far now and then. ``fold`` joins a submission's queue lines inside
    each chunk (``logs.chunks``: NRCPT events carry the user, DELIVERY_SUM events sum delivery statuses);
    ``workers`` > 1 parses in that many processes. With ``raw`` the events may be plain tuples of ``Event``'s
    fields (a consumer that indexes them, such as ``guard.facts.Analyzer``, skips their wrapping)."""

    def __init__(self, paths: list[str], tz: tzinfo | None = None,
                 progress: Callable[[int], None] | None = None, workers: int = 1, fold: bool = False,
                 chunk_bytes: int = CHUNK_BYTES, raw: bool = False) -> None:
        self.files: list[LogFile] = expand(paths)
        self.tz = tz
        self.stats = LogStats(files=[f.path for f in self.files])
        self.parser = LineParser()
        self.progress = progress
        self.workers = max(1, workers)
        self.fold = fold
        self.chunk_bytes = chunk_bytes
        self.raw = raw
        self._pos: dict[str, int] = {}
        self._pool: Executor | None = None
        self._file_err: dict[str, str] = {}  # a file that ended early (truncated .gz), told at its end

    def total_bytes(self) -> int:
        return sum(os.path.getsize(f.path) for f in self.files)

    # -- chunks ----------------------------------------------------------------------------------------------
    def _run(self, data: bytes, lf: LogFile) -> _Done | Future:
        if self._pool is None:
            return _Done(parse_chunk(data, self.tz, lf.mtime, self.fold, self.parser))
        return self._pool.submit(parse_data, data, self.tz, lf.mtime, self.fold)

    def _tasks(self, chain: list[LogFile]) -> Iterator[tuple[LogFile, _Done | Future | None, int]]:
        """(file, pending chunk result, progress position after it); a None result marks a file's end."""
        st = self.stats
        for lf in chain:
            try:
                with open(lf.path, "rb") as fh:
                    gz = fh.read(2) == b"\x1f\x8b"
                size = os.path.getsize(lf.path)
            except OSError as e:
                st.errors.append(f"{lf.path}: {e.strerror or e}")
                continue
            if gz:
                try:
                    src = GzipChunks(lf.path, self.chunk_bytes)
                except OSError as e:
                    st.errors.append(f"{lf.path}: {e.strerror or e}")
                    continue
                try:
                    for data in src:
                        yield lf, self._run(data, lf), src.position()
                finally:
                    src.close()
                if src.error:
                    self._file_err[lf.path] = src.error
            else:
                try:
                    ranges = plain_ranges(lf.path, size, self.chunk_bytes)
                except OSError as e:
                    st.errors.append(f"{lf.path}: {e.strerror or e}")
                    continue
                for a, b in ranges:
                    if self._pool is None:
                        try:
                            res: _Done | Future = _Done(parse_chunk(read_range(lf.path, a, b), self.tz, lf.mtime,
                                                                    self.fold, self.parser))
                        except OSError as e:
                            st.errors.append(f"{lf.path}: {e.strerror or e} (after {st.read:,} lines)")
                            break
                    else:
                        res = self._pool.submit(parse_range, lf.path, a, b, self.tz, lf.mtime, self.fold)
                    yield lf, res, b
            yield lf, None, size

    def _chain_events(self, chain: list[LogFile]) -> Iterator[Event]:
        st = self.stats
        tasks = self._tasks(chain)
        window: deque[tuple[LogFile, _Done | Future | None, int]] = deque()
        ahead = min(AHEAD_MAX, self.workers + 1) if self._pool is not None else 1
        while True:
            while len(window) < ahead:
                nxt = next(tasks, None)
                if nxt is None:
                    break
                window.append(nxt)
            if not window:
                return
            lf, fut, pos = window.popleft()
            if fut is not None:
                try:
                    r = fut.result()
                except OSError as e:
                    st.errors.append(f"{lf.path}: {e.strerror or e} (after {st.read:,} lines)")
                    continue
                st.read += r.read
                st.used += r.used
                st.ignored += r.ignored
                st.unknown += r.unknown
                if r.first is not None:
                    st.first = r.first if st.first is None else min(st.first, r.first)
                    st.last = r.last if st.last is None else max(st.last, r.last)
                if len(st.unknown_samples) < 5:
                    st.unknown_samples.extend(r.unknown_samples[:5 - len(st.unknown_samples)])
                yield from unpack(r, self.raw)
            elif lf.path in self._file_err:
                st.errors.append(f"{lf.path}: {self._file_err.pop(lf.path)} (after {st.read:,} lines)")
            self._pos[lf.path] = pos
            if self.progress:
                self.progress(sum(self._pos.values()))

    def start_workers(self) -> None:
        """Start the worker processes now (when ``workers`` > 1 and the logs are bigger than one chunk). Call it
        before starting threads (a progress bar's): the workers are forked, and a fork copies only the calling
        thread, so a lock another thread holds at that moment would stay held in the child."""
        if self._pool is not None or self.workers <= 1 or self.total_bytes() <= self.chunk_bytes:
            return
        import multiprocessing

        # fork where there is one: a spawned worker would import the command line's whole module tree first
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method))
        for f in [pool.submit(_ready) for _ in range(self.workers)]:  # every worker forked here, not later
            f.result()
        self._pool = pool

    def events(self) -> Iterator[Event]:
        groups = chains(self.files)
        self.start_workers()
        try:
            its = [self._chain_events(c) for c in groups]
            stream = its[0] if len(its) == 1 else heapq.merge(*its, key=itemgetter(1))  # by time
            yield from stream
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


def _ready() -> bool:
    return True
