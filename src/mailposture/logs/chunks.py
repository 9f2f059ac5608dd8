"""Mail logs cut into chunks of whole lines, and one chunk turned into events (pure: bytes in, events out).

Why chunks: a year of logs is gigabytes. Parsing is most of the work and each chunk parses on its own, so the
reader can hand chunks to worker processes (``LogReader(workers=N)``) and take their events back in file order.

Chunks of a plain file are byte ranges cut just after a newline; a gzip file is decompressed by the reader and
cut the same way (gzip cannot be entered in the middle). A chunk decodes as the text reader does: UTF-8 with
replacement, ``\\r\\n`` and a lone ``\\r`` end a line (universal newlines), so a cut never splits a character.

Queue-line folding (``fold=True``): a Postfix message is one ``smtpd`` line with the SASL user, a ``qmgr``
``nrcpt=`` line, one delivery line per recipient and a ``removed`` line, nearly always close together. When the
submission is in the same chunk, its later lines are joined here instead of by the consumer: the ``nrcpt`` event
carries the user, delivery statuses are summed per user into ``DELIVERY_SUM`` events at the end of the chunk,
and a submission whose ``removed`` line was seen is marked closed (``n == 1``: nobody needs to wait for its
queue id). Lines whose submission is in an earlier chunk pass unchanged, for the consumer's own join. The sums
are order-free (counts per user), so the result is the same as joining line by line.
"""

from __future__ import annotations

import gzip
import marshal
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import tzinfo

from mailposture.logs.parse import DELIVERY, IGNORED, NRCPT, REMOVED, SUBMIT, Clock, Event, LineParser

DELIVERY_SUM = "delivery_sum"  # n deliveries with ``status`` for ``user`` (raw SASL name), folded in a chunk
CHUNK_BYTES = 8 << 20


@dataclass
class ChunkResult:
    events: list[Event]
    read: int = 0
    used: int = 0
    ignored: int = 0
    unknown: int = 0
    unknown_samples: list[str] = field(default_factory=list)
    first: float | None = None  # the earliest and latest time of the lines used (folded ones included)
    last: float | None = None
    packed: bytes | None = None  # the events, marshalled, when they crossed from a worker (see _packed)


def split_lines(data: bytes) -> list[str]:
    """Whole lines of a chunk, decoded as ``open(…, encoding="utf-8", errors="replace", newline=None)`` does."""
    text = data.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_chunk(data: bytes, tz: tzinfo | None, mtime: float | None, fold: bool = True,
                parser: LineParser | None = None) -> ChunkResult:
    """Events of a chunk of whole lines (see the module text for ``fold``)."""
    parse = (parser or LineParser()).parse
    clock = Clock(tz, mtime)
    events: list[Event] = []
    add = events.append
    res = ChunkResult(events)
    samples = res.unknown_samples
    used = ignored = unknown = 0
    lo, hi = float("inf"), float("-inf")
    lines = split_lines(data)
    local: dict[str, tuple[int, str]] = {}  # queue key -> (index of its SUBMIT event, raw user)
    sums: Counter[tuple[str, str]] = Counter()  # (raw user, status) -> deliveries
    for line in lines:
        ev = parse(line, clock)
        if ev is None:
            unknown += 1
            if len(samples) < 5 and line.strip():
                samples.append(line.strip()[:200])
            continue
        k = ev[0]
        if k is IGNORED:
            ignored += 1
            continue
        used += 1
        t = ev[1]
        if t < lo:
            lo = t
        if t > hi:
            hi = t
        if fold:
            if k == DELIVERY:
                hit = local.get(ev[7])
                if hit is not None:
                    sums[(hit[1], ev[9])] += 1
                    continue
            elif k == REMOVED:
                hit = local.pop(ev[7], None)
                if hit is not None:
                    events[hit[0]] = events[hit[0]]._replace(n=1)  # closed: its queue id needs no waiting
                    continue
            elif k == NRCPT:
                hit = local.get(ev[7])
                if hit is not None:
                    ev = ev._replace(user=hit[1])
            elif k == SUBMIT:
                local[ev[7]] = (len(events), ev[4])
        add(ev)
    for (user, status), n in sums.items():
        add(Event(DELIVERY_SUM, hi, user=user, n=n, status=status))
    res.read, res.used, res.ignored, res.unknown = len(lines), used, ignored, unknown
    if used:
        res.first, res.last = lo, hi
    return res


def plain_ranges(path: str, size: int, chunk: int = CHUNK_BYTES) -> list[tuple[int, int]]:
    """Byte ranges of a plain file, each ending just after a newline (or at the end of the file)."""
    out: list[tuple[int, int]] = []
    start = 0
    with open(path, "rb") as fh:
        while start < size:
            cut = start + chunk
            if cut >= size:
                out.append((start, size))
                break
            fh.seek(cut)
            while True:
                probe = fh.read(1 << 16)
                if not probe:
                    cut = size
                    break
                nl = probe.find(b"\n")
                if nl >= 0:
                    cut += nl + 1
                    break
                cut += len(probe)
            out.append((start, cut))
            start = cut
    return out


def read_range(path: str, start: int, end: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(start)
        return fh.read(end - start)


def parse_range(path: str, start: int, end: int, tz: tzinfo | None, mtime: float | None,
                fold: bool = True) -> ChunkResult:
    """A worker's task: read one byte range of a plain file and parse it."""
    return _packed(parse_chunk(read_range(path, start, end), tz, mtime, fold, _worker_parser()))


def parse_data(data: bytes, tz: tzinfo | None, mtime: float | None, fold: bool = True) -> ChunkResult:
    """A worker's task: parse chunk bytes the reader read (a gzip file's decompressed text)."""
    return _packed(parse_chunk(data, tz, mtime, fold, _worker_parser()))


def _packed(res: ChunkResult) -> ChunkResult:
    """Events as one ``marshal`` blob of plain tuples: sending them back costs a copy, not a pickle of every
    named tuple (several times faster both ways)."""
    res.packed = marshal.dumps([tuple(e) for e in res.events])
    res.events = []
    return res


def unpack(res: ChunkResult) -> list[Event]:
    if res.packed is None:
        return res.events
    new = tuple.__new__
    return [new(Event, x) for x in marshal.loads(res.packed)]


_PARSER: LineParser | None = None


def _worker_parser() -> LineParser:
    """One parser per worker process, kept between its tasks (its program-name cache)."""
    global _PARSER
    if _PARSER is None:
        _PARSER = LineParser()
    return _PARSER


class GzipChunks:
    """Decompress a gzip file (every member, RFC 1952 §2.2) into chunks of whole lines. ``position()`` is the
    compressed bytes read (for progress); a truncated or corrupt file ends the chunks (with what was read) and
    leaves ``error``."""

    def __init__(self, path: str, chunk: int = CHUNK_BYTES) -> None:
        self.path = path
        self.chunk = chunk
        self.error: str | None = None
        self._raw = open(path, "rb", buffering=1 << 20)
        self._gz = gzip.GzipFile(fileobj=self._raw)

    def position(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._gz.close()
        self._raw.close()

    def __iter__(self) -> Iterator[bytes]:
        parts: list[bytes] = []
        have = 0
        try:
            while True:
                # small reads: a truncated file loses at most the block being decompressed when it ends
                block = self._gz.read(1 << 16)
                if not block:
                    break
                parts.append(block)
                have += len(block)
                if have >= self.chunk:
                    buf = b"".join(parts)
                    nl = buf.rfind(b"\n")
                    if nl >= 0:
                        yield buf[:nl + 1]
                        buf = buf[nl + 1:]
                    parts, have = [buf], len(buf)
        except (EOFError, OSError, zlib.error) as e:
            self.error = str(e) or type(e).__name__
        if have:
            yield b"".join(parts)
