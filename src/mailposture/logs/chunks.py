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
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo

from mailposture.logs.parse import (
    _IGN,
    _QID_FULL,
    DELIVERY,
    IGNORED,
    NRCPT,
    REMOVED,
    SUBMIT,
    Clock,
    Event,
    LineParser,
    _classic_parse,
    _iso,
    dovecot_line,
    postfix_other_line,
    postfix_queue_line,
)

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


def _text(data: bytes) -> str:
    """A chunk decoded as ``open(…, encoding="utf-8", errors="replace", newline=None)`` does."""
    text = data.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def split_lines(data: bytes) -> list[str]:
    """Whole lines of a chunk, decoded as ``open(…, encoding="utf-8", errors="replace", newline=None)`` does."""
    lines = _text(data).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# The common line shapes, split by one regular expression over the whole chunk (the per-line work left in Python
# is what the line says, not where its parts are). A line this does not take whole goes to the ``raw`` group and
# through ``LineParser.parse``, the reference: so the result is the same as parsing every line there (tested).
# Groups: classic minute, second | RFC 3339 minute, second, fraction, zone | host, program, pid, queue id, message
# | raw line.
_SHAPES = re.compile(
    r"^(?:(?:((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9][0-9] [0-2][0-9]:[0-5][0-9]):([0-5][0-9])"
    r"|([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-2][0-9]:[0-5][0-9]):([0-5][0-9])(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2}))"
    r" (?:([^\s:]+) )?([A-Za-z0-9_.+/-]+)(?:\[([0-9]+)\])?: (?:(" + _QID_FULL.pattern + r"): )?([^\n]*)"
    r"|([^\n]*))$", re.M)
_SECONDS = {f"{i:02d}": float(i) for i in range(60)}
_ROWS_TEXT = 1 << 20
_new = tuple.__new__


def _line(cm: str, cs: str, im: str, isec: str, frac: str, zone: str, host: str, prog: str, pid: str, qid: str,
          msg: str) -> str:
    """The line a fast-path match was made of (its shape has single spaces only, so this is exact)."""
    stamp = f"{cm}:{cs}" if cm else f"{im}:{isec}{frac}{zone}"
    return (f"{stamp} {host + ' ' if host else ''}{prog}{'[' + pid + ']' if pid else ''}: "
            f"{qid + ': ' if qid else ''}{msg}")


def parse_chunk(data: bytes, tz: tzinfo | None, mtime: float | None, fold: bool = True,
                parser: LineParser | None = None) -> ChunkResult:
    """Events of a chunk of whole lines (see the module text for ``fold``)."""
    parser = parser or LineParser()
    parse, prog_of, progs = parser.parse, parser._prog, parser._progs
    clock = Clock(tz, mtime)
    events: list[Event] = []
    add = events.append
    res = ChunkResult(events)
    samples = res.unknown_samples
    used = ignored = unknown = 0
    lo, hi = float("inf"), float("-inf")
    text = _text(data)
    if text.endswith("\n"):
        text = text[:-1]
    if data:  # the rows of 1 MB of text at a time (a row is a tuple of 12 strings: several times the line's size)
        parts = []
        start, n = 0, len(text)
        while True:
            cut = text.find("\n", start + _ROWS_TEXT) if start + _ROWS_TEXT < n else -1
            if cut < 0:
                parts.append(text[start:])
                break
            parts.append(text[start:cut])
            start = cut + 1
        del text
        rows: Iterable[tuple[str, ...]] = (r for part in parts for r in _SHAPES.findall(part))
    else:
        rows = []
    local: dict[str, tuple[int, str]] = {}  # queue key -> (index of its SUBMIT event, raw user)
    sums: Counter[tuple[str, str]] = Counter()  # (raw user, status) -> deliveries
    minutes: dict[str, float | None] = {}  # "Dec  7 17:51" or "2026-12-07T17:51+09:00" -> time of its second 0
    secs = _SECONDS
    read = 0
    for cm, cs, im, isec, frac, zone, host, prog, pid, qid, msg, raw in rows:
        read += 1
        ev: Event | None = None
        if prog:
            if cm:
                base = minutes.get(cm, 0)
                if base == 0:
                    r = _classic_parse(cm + ":00 ", clock)
                    base = minutes[cm] = None if r is None else r[0]
                t = None if base is None else base + secs[cs]
            else:
                key = im + zone
                base = minutes.get(key, 0)
                if base == 0:
                    r = _iso(im + ":00" + zone + " ")
                    base = minutes[key] = None if r is None else r[0]
                t = None if base is None else base + secs[isec] + (float(frac) if frac else 0.0)
            hit = progs.get(prog, ()) if t is not None else None
            if hit == ():
                hit = prog_of(prog)
            if hit is None:  # not a date, or not a program name: the reference says what it is
                raw = _line(cm, cs, im, isec, frac, zone, host, prog, pid, qid, msg)
                ev = parse(raw, clock)
            else:
                family = hit[0]
                if family == "postfix":
                    if qid:
                        ev = postfix_queue_line(hit, qid, msg, t, host)
                    else:
                        ev = postfix_other_line(hit, msg, t, host)
                elif family == "dovecot":
                    ev = dovecot_line(prog, qid + ": " + msg if qid else msg, t, host)
                elif family == "other":
                    ev = _IGN
        else:
            ev = parse(raw, clock)
        if ev is None:
            unknown += 1
            if len(samples) < 5:
                if prog and not raw:
                    raw = _line(cm, cs, im, isec, frac, zone, host, prog, pid, qid, msg)
                if raw.strip():
                    samples.append(raw.strip()[:200])
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
                if hit is not None:  # closed: its queue id needs no waiting
                    e = events[hit[0]]
                    events[hit[0]] = _new(Event, (*e[:8], 1, e[9]))
                    continue
            elif k == NRCPT:
                hit = local.get(ev[7])
                if hit is not None:
                    ev = _new(Event, (*ev[:4], hit[1], *ev[5:]))
            elif k == SUBMIT:
                local[ev[7]] = (len(events), ev[4])
        add(ev)
    for (user, status), n in sums.items():
        add(Event(DELIVERY_SUM, hi, user=user, n=n, status=status))
    res.read, res.used, res.ignored, res.unknown = read, used, ignored, unknown
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


def unpack(res: ChunkResult, raw: bool = False) -> list[Event]:
    """A chunk's events; with ``raw`` the workers' events stay the plain tuples they came as (same fields, no
    ``Event`` wrapping: about two thirds of the cost of taking them back)."""
    if res.packed is None:
        return res.events
    if raw:
        return marshal.loads(res.packed)
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
