"""Reading domain lists for `mailposture scan`: streaming, one :class:`InputItem` per entry, nothing dropped silently.

Accepted input
--------------
* text: one domain a line; blank lines and ``#`` comments (whole line, or after whitespace) are skipped;
* CSV (``.csv``, ``.tsv``, or a first line that is a header naming the ``domain`` column; delimiter sniffed among
  ``,`` TAB ``;`` ``|``): the ``domain`` column (``column=`` to pick another) is scanned, every other column is
  carried into the result as ``attrs``; ``column="2"`` reads column 2 of a list without header (ranking lists);
* zone files (``.zone``, or a first line like ``$ORIGIN``/an SOA or NS record): the delegated names
  (:mod:`mailposture.scan.zones`);
* ``-`` reads standard input; gzip input (``.gz`` or gzip magic bytes, also on stdin) is decompressed on the fly;
* text decoded by :mod:`mailposture.textinput` (the reader survey lists use too): UTF-8 with or without BOM,
  or Shift_JIS (cp932) detected (``encoding="auto"``), or the ``encoding=`` given; LF or CRLF line ends.
  Anything else is an :class:`InputError` naming the problem and the line.

Every function here is pure or reads only the file it is given, and :class:`InputSpec` is a plain picklable
dataclass, so another process can rebuild the same stream from the spec alone.

Names are normalised by :func:`normalize_domain` (lower case, trailing dot removed, IDN to A-labels); invalid
names become items with ``error`` set so that the scan writes them out as ``status: "error"`` objects.
"""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import itertools
import os
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Literal

from mailposture.scan.zones import ZoneSyntaxError, looks_like_rr, zone_delegations
from mailposture.textinput import AUTO, LineDecoder, TextInputError

InputFormat = Literal["auto", "text", "csv", "zone"]
MAX_LINE = 1 << 20   # a physical line longer than this is not a domain list (and would cost memory)

try:  # UTS #46 mapping + IDNA 2008 when the `idna` package is there; Python's IDNA 2003 codec otherwise
    import idna as _idna
except ImportError:  # pragma: no cover - idna comes with httpx
    _idna = None


class InputError(TextInputError):
    """The input as a whole cannot be read (missing file, not text, no domain column …). ``str()`` is the English
    message, ``text(lang)`` the user's language."""


@dataclass(frozen=True, slots=True)
class InputSpec:
    """Where and how to read domains. Picklable: a worker process can open the same input from it."""

    path: str                       # file path, or "-" for stdin
    format: InputFormat = "auto"
    column: str = "domain"          # CSV column holding the names; a number N: column N of a file without header
    delimiter: str | None = None    # CSV delimiter; None: "," (tab for .tsv)
    zone_origin: str | None = None  # zone files: the origin when the file has neither $ORIGIN nor an SOA
    encoding: str = AUTO            # auto: UTF-8 or Shift_JIS (mailposture.textinput); or e.g. "cp932"

    @property
    def column_index(self) -> int | None:
        """0-based index when ``column`` is a 1-based number (headerless CSV), else None."""
        c = self.column.strip()
        return int(c) - 1 if c.isdigit() and int(c) > 0 else None


@dataclass(frozen=True, slots=True)
class InputItem:
    """One entry of the input. ``domain`` is the normalised A-label name, or None when ``error`` says why not."""

    line: int
    raw: str
    domain: str | None
    attrs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    offset: int = 0          # input bytes consumed up to this entry (progress: share of the file done)

    @property
    def key(self) -> str:
        """What identifies this entry in the output (``domain`` of its result object): used for dedup/resume."""
        return self.domain if self.domain is not None else self.raw


# ---------------------------------------------------------------------------------------------------------------
# Domain names

_LDH = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_BAD_CHAR = re.compile(r"[^a-z0-9.-]")
_SPACE = re.compile(r"\s")
# at least two labels: a mail domain is fully qualified (RFC 5321 §2.3.5); "jp" or "localhost" is not
_FAST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?",
                   re.IGNORECASE | re.ASCII)


def _to_alabels(name: str) -> str:
    """Unicode name -> A-labels (RFC 5891 §4, UTS #46 mapping when the idna package is available)."""
    if _idna is not None:
        try:
            return _idna.encode(name, uts46=True, transitional=False).decode("ascii")
        except (_idna.IDNAError, UnicodeError, ValueError) as exc:
            raise ValueError(f"not a valid internationalised name ({exc})") from None
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"not a valid internationalised name ({exc})") from None


def normalize_domain(raw: str) -> tuple[str | None, str | None]:
    """Return ``(name, None)`` for a valid domain or ``(None, reason)``; reasons are short English phrases.

    Rules: lower case (DNS names compare case-insensitively, RFC 4343 §2); one trailing dot (the root) removed;
    Unicode labels converted to A-labels (RFC 5891 §4.4); then the host-name syntax that mail domains must follow
    (letters, digits, hyphen; no hyphen at either end of a label — RFC 1035 §2.3.1, RFC 1123 §2.1,
    RFC 5321 §4.1.2), labels of 1-63 octets (RFC 1035 §2.3.4), at most 253 characters in text form (255 octets on
    the wire, RFC 1035 §2.3.4), a top-level label that is not all digits (RFC 3696 §2) — which, with the
    explicit check, also keeps IP addresses out — and at least two labels (``jp``, ``localhost`` are not mail
    domains: RFC 5321 §2.3.5 asks for fully qualified names).
    """
    name = raw.strip()
    if not name:
        return None, "empty name"
    if _FAST.fullmatch(name):  # the common case: a plain LDH name (same rules as below, one regex)
        low = name.removesuffix(".").lower()
        if len(low) <= 253 and not low.rpartition(".")[2].isdigit():
            return low, None
    return _normalize_slow(name)


def _normalize_slow(name: str) -> tuple[str | None, str | None]:
    """Every rule one by one, with the reason of the first that fails (``name`` is stripped, non-empty)."""
    if _SPACE.search(name):
        return None, "contains whitespace"
    bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    if ":" in bare or bare[-1:].isdigit():
        try:
            ipaddress.ip_address(bare)
            return None, "an IP address, not a domain name"
        except ValueError:
            pass
    if name.endswith(".") and name != ".":
        name = name[:-1]
    if not name or name == ".":
        return None, "empty name (the root)"
    if not name.isascii():
        if any(not label for label in re.split(r"[.\u3002\uff0e\uff61]", name)):
            return None, "empty label"
        try:
            name = _to_alabels(name)
        except ValueError as exc:
            return None, str(exc)
    name = name.lower()
    labels = name.split(".")
    if any(not label for label in labels):
        return None, "empty label"
    bad = sorted(set(_BAD_CHAR.findall(name)))
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        return None, f"bad character(s) {shown} (only letters, digits and hyphens are allowed)"
    for label in labels:
        if len(label) > 63:
            return None, f"label longer than 63 octets ({len(label)}: {label[:20]}…)"
        if not _LDH.match(label):
            return None, f"label '{label}' starts or ends with a hyphen"
    if len(name) > 253:
        return None, f"name longer than 253 characters ({len(name)})"
    if labels[-1].isdigit():
        return None, "top-level label is all digits"
    if len(labels) < 2:  # RFC 5321 §2.3.5: a domain name in mail is fully qualified
        return None, "a single label, not a fully qualified domain (RFC 5321 §2.3.5)"
    return name, None


# ---------------------------------------------------------------------------------------------------------------
# Opening and decoding

class _Counting(io.RawIOBase):
    """Wraps a binary stream and counts the bytes read from it (progress: share of the file consumed)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        # read1: whatever is available (one raw read), so a pipe is never waited on for a full buffer
        read = getattr(self.inner, "read1", None) or self.inner.read
        data = read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            super().close()


def _stdin_bytes() -> IO[bytes]:
    """Standard input as our own unbuffered file object (a read blocked in the reader thread then holds no lock
    that the interpreter needs at exit), or ``sys.stdin.buffer`` when stdin has no file descriptor (tests)."""
    try:
        fd = sys.stdin.fileno()
        return open(fd, "rb", buffering=0, closefd=False)
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return sys.stdin.buffer


class InputReader:
    """Iterates the items of one input. Use as a context manager; ``header`` (CSV attrs columns) is known after
    :meth:`open`; ``size``/``position`` give the progress through the (possibly compressed) bytes."""

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self.size: int | None = None
        self.header: list[str] = []     # attrs columns (CSV header minus the domain column), in order
        self.kind: Literal["text", "csv", "zone"] = "text"
        self.lines = 0                  # physical lines read so far
        self._counter: _Counting | None = None
        self._gzip = False
        self._consumed = 0              # bytes of the lines returned so far (uncompressed input)
        self._stream: IO[bytes] | None = None
        self._first: list[bytes] = []   # lines read ahead while detecting the format
        self._csv: Iterator[list[str]] = iter(())
        self._col = 0
        self._attr_cols: list[str] = []
        self._delimiter = ","

    # -- opening -------------------------------------------------------------------------------------------
    def open(self) -> InputReader:
        spec = self.spec
        label = "standard input" if spec.path == "-" else spec.path
        try:
            self._decoder = LineDecoder(label, spec.encoding)
        except TextInputError as exc:
            raise InputError(exc.en, exc.ja) from None
        try:
            if spec.path == "-":
                raw: IO[bytes] = _stdin_bytes()
            else:
                if os.path.isdir(spec.path):
                    raise InputError(f"{label}: is a directory, not a file",
                                     f"{label}: ディレクトリです。ファイルを指定してください")
                raw = open(spec.path, "rb")
                self.size = os.fstat(raw.fileno()).st_size
        except FileNotFoundError:
            raise InputError(f"{label}: no such file", f"{label}: ファイルがありません") from None
        except PermissionError:
            raise InputError(f"{label}: permission denied", f"{label}: 読み取り権限がありません") from None
        except OSError as exc:
            raise InputError(f"{label}: cannot open ({exc.strerror or exc})",
                             f"{label}: 開けません ({exc.strerror or exc})") from None
        self._counter = _Counting(raw)
        buffered = io.BufferedReader(self._counter, buffer_size=1 << 16)
        if buffered.peek(2)[:2] == b"\x1f\x8b":
            self._stream = gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[assignment]
            self._gzip = True
        else:
            self._stream = buffered  # type: ignore[assignment]
        try:
            self._detect()
            self._column_needs_csv()
            if self.kind == "csv":
                self._start_csv()
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> InputReader:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._stream is not None and self.spec.path != "-":
            self._stream.close()
        self._stream = None

    @property
    def position(self) -> int:
        """Bytes of the input consumed: up to the end of the last line read (compressed bytes read for gzip)."""
        if self._gzip:
            return self._counter.count if self._counter else 0
        return self._consumed

    @property
    def label(self) -> str:
        return "standard input" if self.spec.path == "-" else self.spec.path

    # -- physical lines ------------------------------------------------------------------------------------
    def _readline(self) -> bytes:
        assert self._stream is not None
        try:
            b = self._stream.readline(MAX_LINE + 1)
            self._consumed += len(b)
            if len(b) > MAX_LINE:
                raise InputError(f"{self.label}: line {self.lines + 1} is longer than {MAX_LINE // 1024} KiB; "
                                 "this does not look like a domain list",
                                 f"{self.label}: {self.lines + 1} 行目が {MAX_LINE // 1024} KiB を超えています。"
                                 "ドメインの一覧ではないようです")
            return b
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise InputError(f"{self.label}: damaged gzip data after line {self.lines} ({exc or 'truncated'})",
                             f"{self.label}: {self.lines} 行目の後の gzip データが壊れています ({exc or '途中で切れています'})") \
                from None
        except OSError as exc:
            raise InputError(f"{self.label}: read error after line {self.lines} ({exc.strerror or exc})",
                             f"{self.label}: {self.lines} 行目の後で読み取りエラー ({exc.strerror or exc})") from None

    def _decode(self, b: bytes) -> str:
        try:
            return self._decoder.decode(b, self.lines)
        except TextInputError as exc:
            raise InputError(exc.en, exc.ja) from None

    def _text_lines(self) -> Iterator[str]:
        """Decoded physical lines, line ends kept (csv needs them for quoted newlines)."""
        while self._first:
            b = self._first.pop(0)
            self.lines += 1
            yield self._decode(b)
        while True:
            b = self._readline()
            if not b:
                return
            self.lines += 1
            yield self._decode(b)

    # -- format detection ----------------------------------------------------------------------------------
    def _detect(self) -> None:
        spec = self.spec
        lower = spec.path.lower().removesuffix(".gz")
        kind = spec.format
        if kind == "auto":
            if lower.endswith((".csv", ".tsv")):
                kind = "csv"
            elif lower.endswith(".zone"):
                kind = "zone"
        if kind == "auto":
            # Look at the first meaningful line: a CSV header names the domain column.
            saved: list[bytes] = []
            while True:
                b = self._readline()
                if not b:
                    break
                saved.append(b)
                self.lines = len(saved)
                text = self._decode(b).strip()
                if text.startswith(("$ORIGIN", "$TTL")) or looks_like_rr(text):
                    kind = "zone"
                    break
                if text and not text.startswith(("#", ";")):
                    if spec.column_index is not None:
                        kind = "csv" if self._pick_delimiter(text, None) else "text"
                    else:
                        kind = "csv" if self._pick_delimiter(text, spec.column) else "text"
                    break
            self._first = saved
            self.lines = 0
            if kind == "auto":
                kind = "text"
        self.kind = kind  # type: ignore[assignment]

    def _column_needs_csv(self) -> None:
        """``--column`` picks a CSV column: refuse it for a text or zone input instead of ignoring it."""
        col = self.spec.column
        if self.kind == "csv" or col == "domain":
            return
        what_en, what_ja = (("a zone file", "ゾーンファイル") if self.kind == "zone" else
                            ("one name a line (no header naming that column)",
                             "1 行に 1 ドメインのテキスト (その列名の見出し行がありません)"))
        if self.spec.column_index is not None:
            what_en, what_ja = ((what_en, what_ja) if self.kind == "zone" else
                                ("one name a line (its first line has too few columns)",
                                 "1 行に 1 ドメインのテキスト (1 行目の列が足りません)"))
        raise InputError(f"{self.label}: --column {col} picks a CSV column, but this input is {what_en}; drop "
                         "--column, or give --input-format csv (and --delimiter) when the file is CSV",
                         f"{self.label}: --column {col} は CSV の列の指定ですが、この入力は{what_ja}です。"
                         "--column を外すか、CSV なら --input-format csv (と --delimiter) を指定してください")

    def _pick_delimiter(self, line: str, column: str | None) -> str | None:
        """The delimiter that makes ``line`` a header naming ``column`` (or, for a column number, that splits it
        into enough cells); None when none does. An explicit delimiter or a .tsv name decides alone."""
        if self.spec.delimiter:
            candidates = [self.spec.delimiter]
        elif self.spec.path.lower().removesuffix(".gz").endswith(".tsv"):
            candidates = ["\t"]
        else:
            candidates = [",", "\t", ";", "|"]
        idx = self.spec.column_index
        for d in candidates:
            try:
                cells = [c.strip().lower() for c in next(csv.reader([line], delimiter=d))]
            except (csv.Error, StopIteration):
                continue
            if (column is not None and column.lower() in cells) or (column is None and idx is not None
                                                                     and len(cells) > max(idx, 1)):
                return d
        return None

    # -- items ---------------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[InputItem]:
        if self._stream is None:
            self.open()
        if self.kind == "zone":
            return self._iter_zone()
        return self._iter_csv() if self.kind == "csv" else self._iter_text()

    def _iter_zone(self) -> Iterator[InputItem]:
        def numbered() -> Iterator[tuple[int, str]]:
            for line in self._text_lines():
                yield self.lines, line

        try:
            for lineno, owner in zone_delegations(numbered(), self.spec.zone_origin):
                domain, error = normalize_domain(owner)
                yield InputItem(lineno, owner, domain, {}, error, self.position)
        except ZoneSyntaxError as exc:
            raise InputError(f"{self.label}: {exc}", f"{self.label}: ゾーンファイルの誤り: {exc}") from None

    def _iter_text(self) -> Iterator[InputItem]:
        for line in self._text_lines():
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if "#" in text:
                text = re.split(r"\s#", text, maxsplit=1)[0].strip()  # trailing comment
            domain, error = normalize_domain(text)
            yield InputItem(self.lines, text, domain, {}, error, self.position)

    def _start_csv(self) -> None:
        """Read the header now, so that ``header`` is known before the first item (the CSV output needs it)."""
        lines = self._text_lines()
        first = None
        for line in lines:            # comment and blank lines before the header are skipped
            if line.strip() and not line.lstrip().startswith("#"):
                first = line
                break
        if first is None:
            raise InputError(f"{self.label}: empty CSV file (no header line)",
                             f"{self.label}: 空の CSV ファイルです (見出し行がありません)")
        idx = self.spec.column_index
        self._delimiter = self._pick_delimiter(first.strip(), None if idx is not None else self.spec.column) \
            or self.spec.delimiter or ","
        reader = csv.reader(itertools.chain([first], lines), delimiter=self._delimiter)
        try:
            header = next(reader)
        except csv.Error as exc:
            raise InputError(f"{self.label}: line {self.lines}: malformed CSV header ({exc})",
                             f"{self.label}: {self.lines} 行目: CSV の見出し行が壊れています ({exc})") from None
        if idx is not None:
            # no header: the first line is data; attrs are named after the column numbers
            self._col = idx
            self._attr_cols = [f"column_{i + 1}" for i in range(max(len(header), idx + 1))]
            self.header = [n for i, n in enumerate(self._attr_cols) if i != idx]
            self._csv = itertools.chain([header], reader)
            return
        names = [h.strip() for h in header]
        lowered = [n.lower() for n in names]
        want = self.spec.column.lower()
        if want not in lowered:
            shown = ", ".join(repr(n) for n in names[:12]) or "(none)"
            raise InputError(f"{self.label}: line {self.lines}: the CSV header has no '{self.spec.column}' "
                             f"column (columns: {shown}); name the column with --column NAME, or give its "
                             "number (--column 2) for a file without a header line",
                             f"{self.label}: {self.lines} 行目: CSV の見出しに '{self.spec.column}' 列がありません "
                             f"(列: {shown})。--column 列名 で列を指定するか、見出し行のないファイルでは列番号 "
                             "(--column 2) を指定してください")
        self._col = lowered.index(want)
        self._attr_cols = _unique([n or f"column_{i + 1}" for i, n in enumerate(names)])
        self.header = [n for i, n in enumerate(self._attr_cols) if i != self._col]
        self._csv = reader

    def _iter_csv(self) -> Iterator[InputItem]:
        col, attr_cols = self._col, self._attr_cols
        try:
            for row in self._csv:
                if not any(c.strip() for c in row):
                    continue
                first = row[0].lstrip() if row else ""
                if first.startswith("#"):
                    continue
                raw = " ".join(row[col].split()) if col < len(row) else ""  # one line: a stable resume key
                attrs = {attr_cols[i]: v for i, v in enumerate(row) if i != col and i < len(attr_cols)}
                for i in range(len(attr_cols), len(row)):   # cells beyond the header are kept, not lost
                    attrs[f"column_{i + 1}"] = row[i]
                domain, error = normalize_domain(raw)
                yield InputItem(self.lines, raw, domain, attrs, error, self.position)
        except csv.Error as exc:
            raise InputError(f"{self.label}: line {self.lines}: malformed CSV ({exc})",
                             f"{self.label}: {self.lines} 行目: CSV が壊れています ({exc})") from None


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 1
            out.append(n)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Duplicates, resume, limit

@dataclass(slots=True)
class InputCounts:
    entries: int = 0        # items read (valid + invalid, duplicates included)
    duplicates: int = 0     # skipped: already seen earlier in this input
    resumed: int = 0        # skipped: already in the output (--resume)
    invalid: int = 0        # passed on as input errors
    passed: int = 0         # handed to the scan (valid + invalid)
    limited: bool = False   # stopped early because of the limit


class SeenNames:
    """The names seen so far, 16 bytes a name at most: 64-bit keyed BLAKE2b digests in an open-addressing table
    (an ``array('Q')``, load factor ≤ 1/2, linear probing) instead of a set of strings (~90 bytes a name).

    At 1 million names this is 16 MiB instead of ~90 MiB; at 50 million (a gTLD zone) 1 GiB instead of 4.5 GiB.
    Two different names share a digest with probability about n²/2⁶⁵ (3·10⁻⁶ at 10 million names): the
    second would then be counted as a duplicate. The key is random per process, so no input can aim for it."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        from array import array

        self._key = os.urandom(16)
        size = 1 << max(4, (capacity - 1).bit_length())
        self._table = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._n = 0

    def _digest(self, name: str) -> int:
        import hashlib

        h = int.from_bytes(hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8,
                                           key=self._key).digest(), "little")
        return h or 1          # 0 marks an empty slot

    def __len__(self) -> int:
        return self._n

    def add(self, name: str) -> bool:
        """Add ``name``; False when it was already there."""
        h = self._digest(name)
        t, mask = self._table, self._mask
        i = h & mask
        while True:
            v = t[i]
            if v == 0:
                break
            if v == h:
                return False
            i = (i + 1) & mask
        t[i] = h
        self._n += 1
        if 2 * self._n > mask:
            self._grow()
        return True

    def __contains__(self, name: str) -> bool:
        h = self._digest(name)
        t, mask = self._table, self._mask
        i = h & mask
        while True:
            v = t[i]
            if v == 0:
                return False
            if v == h:
                return True
            i = (i + 1) & mask

    def _grow(self) -> None:
        from array import array

        old = self._table
        size = 2 * len(old)
        t = array("Q", bytes(8 * size))
        mask = size - 1
        for h in old:
            if h:
                i = h & mask
                while t[i]:
                    i = (i + 1) & mask
                t[i] = h
        self._table, self._mask = t, mask


def select(items: Iterator[InputItem], counts: InputCounts, *, done: set[str] | frozenset[str] = frozenset(),
           limit: int | None = None) -> Iterator[InputItem]:
    """Drop duplicates (first occurrence wins) and entries already done, stop after ``limit`` entries passed.

    Memory is at most 16 bytes per distinct name passed (:class:`SeenNames`); the input itself streams.
    """
    seen = SeenNames()
    for item in items:
        counts.entries += 1
        key = item.key
        if key in done:
            counts.resumed += 1
            continue
        if not seen.add(key):
            counts.duplicates += 1
            continue
        if limit is not None and counts.passed >= limit:
            counts.entries -= 1
            counts.limited = True
            return
        counts.passed += 1
        if item.error:
            counts.invalid += 1
        yield item
