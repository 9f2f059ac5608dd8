"""Streaming events out of mail-log files: one line in memory per rotation chain, chains merged by time."""

from __future__ import annotations

import heapq
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo

from mailposture.logs.files import LogFile, chains, expand, open_text
from mailposture.logs.parse import IGNORED, Clock, Event, LineParser


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


class LogReader:
    """``events()`` yields the events of every file, in time order across chains. ``progress`` (optional) is
    called with the number of bytes read so far now and then."""

    def __init__(self, paths: list[str], tz: tzinfo | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        self.files: list[LogFile] = expand(paths)
        self.tz = tz
        self.stats = LogStats(files=[f.path for f in self.files])
        self.parser = LineParser()
        self.progress = progress
        self._pos: dict[str, int] = {}

    def total_bytes(self) -> int:
        return sum(os.path.getsize(f.path) for f in self.files)

    def _chain_events(self, chain: list[LogFile]) -> Iterator[Event]:
        st = self.stats
        for lf in chain:
            clock = Clock(self.tz, lf.mtime)
            try:
                fh, raw = open_text(lf.path)
            except OSError as e:
                st.errors.append(f"{lf.path}: {e.strerror or e}")
                continue
            try:
                yield from self._lines(lf, fh, raw, clock)
            except (EOFError, OSError, zlib.error) as e:  # truncated or corrupt .gz: keep what was read
                st.errors.append(f"{lf.path}: {e or type(e).__name__} (after {st.read:,} lines)")
            finally:
                fh.close()
            self._pos[lf.path] = os.path.getsize(lf.path)

    def _lines(self, lf: LogFile, fh, raw, clock: Clock) -> Iterator[Event]:
        parse = self.parser.parse
        st = self.stats
        n = 0
        for line in fh:
            n += 1
            st.read += 1
            if n & 0x3FFF == 0 and self.progress:
                self._pos[lf.path] = raw.tell()
                self.progress(sum(self._pos.values()))
            ev = parse(line.rstrip("\n"), clock)
            if ev is None:
                st.unknown += 1
                if len(st.unknown_samples) < 5 and line.strip():
                    st.unknown_samples.append(line.strip()[:200])
                continue
            if ev.kind == IGNORED:
                st.ignored += 1
                continue
            st.used += 1
            yield ev

    def events(self) -> Iterator[Event]:
        groups = chains(self.files)
        its = [self._chain_events(c) for c in groups]
        stream = its[0] if len(its) == 1 else heapq.merge(*its, key=lambda e: e.t)
        st = self.stats
        for ev in stream:
            if st.first is None or ev.t < st.first:
                st.first = ev.t
            if st.last is None or ev.t > st.last:
                st.last = ev.t
            yield ev
        if self.progress:
            self.progress(sum(self._pos.values()))
