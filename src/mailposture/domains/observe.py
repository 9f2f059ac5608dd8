"""Observed sending names, streamed from what an operator already has.

Inputs (one reader each, all yielding :class:`Observation`):

* plain text: one observed name a line (a repeated line is a repeated observation; ``#`` starts a comment);
* CSV with a ``name`` column and optional ``time`` (ISO 8601) and ``count`` columns;
* Postfix logs: envelope sender domains (``from=<a@b>``), HELO names (``helo=<…>``) and client host names
  (``client=host[ip]``, ``from host[ip]``), with the client address kept for the SPF check;
* messages, ``.eml`` or mbox: Return-Path, From, DKIM-Signature ``d=`` and the HELO names in Received.

Nothing here is fatal: a line that cannot be read is counted in :class:`ReadStats` and skipped.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mailposture.logs.parse import Clock, stamp

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SENDER = re.compile(r"\bfrom=<[^<>@\s]*@([^<>\s]+)>")
_HELO = re.compile(r"\bhelo=<([^<>\s]+)>")
_CLIENT = re.compile(r"\b(?:client=|from )([A-Za-z0-9_.-]+)\[([0-9A-Fa-f:.]+)\]")
_QUEUE = re.compile(r"postfix[^:]*\[\d+\]: ([0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}):")
_RECEIVED_HELO = re.compile(r"^\s*from\s+([A-Za-z0-9_.-]+)", re.I)
_DKIM_D = re.compile(r"(?:^|;)\s*d\s*=\s*([A-Za-z0-9_.-]+)")


@dataclass(slots=True)
class Observation:
    name: str
    time: datetime | None = None
    count: int = 1
    ip: str | None = None
    source: str = "text"


@dataclass(slots=True)
class ReadStats:
    lines: int = 0
    used: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)   # the first few, for the user
    failed: list[str] = field(default_factory=list)     # inputs that could not be read to their end

    def skip(self, why: str) -> None:
        self.skipped += 1
        if len(self.problems) < 5:
            self.problems.append(why)


class InputError(ValueError):
    """An input that cannot be read at all (missing file, CSV without a name column…)."""


def clean_name(raw: str) -> str | None:
    name = raw.strip().strip("<>").rstrip(".").lower()
    if "@" in name:
        name = name.rpartition("@")[2]
    if not name.isascii():   # an internationalised name (例え.jp): its A-label form (RFC 5890), as DNS has it
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not name or not _NAME.match(name) or "." not in name or len(name) > 253:
        return None
    return name


def parse_time(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def detect_kind(path: Path, first_lines: list[str]) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".eml", ".msg")):
        return "eml"
    if name.endswith((".mbox", ".mbx")) or (first_lines and first_lines[0].startswith("From ")):
        return "mbox"
    if any("postfix/" in ln for ln in first_lines):
        return "postfix"
    return "text"


def read_inputs(paths: Iterable[str], stats: ReadStats, *, kind: str | None = None) -> Iterator[Observation]:
    """Observations from every input in turn (``-`` is standard input, read as plain text or CSV by ``kind``)."""
    import sys

    for p in paths:
        if p == "-":
            text = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
            yield from (_read_csv(text, stats) if kind == "csv" else _read_text(text, stats))
            continue
        path = Path(p)
        if not path.is_file():
            raise InputError(f"{p}: no such file / ファイルがありません")
        try:
            yield from _read_file(path, stats, kind)
        except _UNREADABLE as exc:
            # a truncated .gz, an unreadable disk block…: what was read before is kept (the caller reports it)
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            stats.failed.append(f"{p}: {why}")


_UNREADABLE = (OSError, EOFError, zlib.error, gzip.BadGzipFile)


def _read_file(path: Path, stats: ReadStats, kind: str | None) -> Iterator[Observation]:
    with _open_text(path) as fh:
        head = [fh.readline() for _ in range(5)]
    k = kind or detect_kind(path, head)
    if k in ("eml", "mbox"):
        yield from _read_messages(path, k, stats)
        return
    clock = Clock(None, path.stat().st_mtime)   # classic stamps in the machine's zone (TZ), as guard analyze
    with _open_text(path) as fh:
        if k == "csv":
            yield from _read_csv(fh, stats)
        elif k == "postfix":
            yield from _read_postfix(fh, stats, clock)
        else:
            yield from _read_text(fh, stats)


def _read_text(fh: Iterable[str], stats: ReadStats) -> Iterator[Observation]:
    plain = _NAME.match
    for line in fh:
        stats.lines += 1
        if "#" in line:
            line = line.split("#", 1)[0]
        line = line.strip()
        if not line:
            continue
        # the common case (a plain lower-case name) without clean_name's steps
        name = line if plain(line) and "." in line and line.islower() and line[-1] != "." and len(line) <= 253 \
            else clean_name(line)
        if name is None:
            stats.skip(f"line {stats.lines}: not a domain name: {line[:60]!r}")
            continue
        stats.used += 1
        yield Observation(name)


def _read_csv(fh: Iterable[str], stats: ReadStats) -> Iterator[Observation]:
    reader = csv.DictReader(fh)
    try:
        fields = reader.fieldnames
    except csv.Error as exc:
        raise InputError(f"the CSV header line cannot be read: {exc} / CSV の見出し行を読めません") from None
    cols = {c.strip().lower(): c for c in fields or []}
    if "name" not in cols:
        raise InputError(f"CSV input needs a 'name' column (found: {', '.join(cols) or 'none'}) / "
                         "CSV には name 列が必要です")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:   # a field over the csv module's limit, a NUL…: that row only
            stats.lines += 1
            stats.skip(f"row {stats.lines}: {exc}")
            continue
        stats.lines += 1
        name = clean_name(row.get(cols["name"]) or "")
        if name is None:
            stats.skip(f"row {stats.lines}: not a domain name: {(row.get(cols['name']) or '')[:60]!r}")
            continue
        t = parse_time(row.get(cols["time"]) or "") if "time" in cols else None
        if "time" in cols and (row.get(cols["time"]) or "").strip() and t is None:
            stats.skip(f"row {stats.lines}: time is not ISO 8601: {row.get(cols['time'])!r}")
            continue
        count = 1
        if "count" in cols and (row.get(cols["count"]) or "").strip():
            try:
                count = int(row[cols["count"]])
                if count < 1:
                    raise ValueError
            except ValueError:
                stats.skip(f"row {stats.lines}: count is not a positive whole number: {row.get(cols['count'])!r}")
                continue
        stats.used += 1
        yield Observation(name, t, count, source="csv")


_QUEUE_MEMORY = 100_000   # queue ids remembered (client address, names already counted)


def _read_postfix(fh: Iterable[str], stats: ReadStats, clock: Clock) -> Iterator[Observation]:
    """One observation per name per message: a message's client host, envelope sender and HELO are logged on
    several lines under one queue id (smtpd ``client=``, qmgr ``from=``), often with the same name (a spam run's
    random label is both HELO and sender domain). Counting each line would make every label look seen twice and
    hide the single-use labels that show rotation."""
    clients: dict[str, str] = {}          # queue id -> client address (bounded)
    counted: dict[str, set[str]] = {}     # queue id -> names already observed for that message (bounded)
    for line in fh:
        stats.lines += 1
        if "postfix" not in line:
            stats.skip(f"line {stats.lines}: not a Postfix line")
            continue
        ts = stamp(line, clock)   # the mail-log reader's rules: zone from TZ, year from the file's mtime
        t = datetime.fromtimestamp(ts, UTC) if ts is not None else None
        q = _QUEUE.search(line)
        qid = q.group(1) if q else None
        done = counted.setdefault(qid, set()) if qid else set()
        if qid and len(counted) > _QUEUE_MEMORY:
            counted.pop(next(iter(counted)))
        found = False
        ip = None
        for m in _CLIENT.finditer(line):
            host, ip = m.group(1), m.group(2)
            if qid:
                clients[qid] = ip
                if len(clients) > _QUEUE_MEMORY:
                    clients.pop(next(iter(clients)))
            name = clean_name(host)
            if name and host != "unknown":
                found = True
                if name not in done:
                    done.add(name)
                    yield Observation(name, t, ip=ip, source="client")
        ip = ip or (clients.get(qid) if qid else None)
        for rx, source in ((_SENDER, "mail-from"), (_HELO, "helo")):
            m = rx.search(line)
            if m and (name := clean_name(m.group(1))):
                found = True
                if name not in done:
                    done.add(name)
                    yield Observation(name, t, ip=ip, source=source)
        if found:
            stats.used += 1


def _read_messages(path: Path, kind: str, stats: ReadStats) -> Iterator[Observation]:
    import email
    import email.policy
    import email.utils
    import mailbox

    if kind == "mbox":
        try:
            msgs: Iterable = mailbox.mbox(str(path), create=False)
        except (OSError, mailbox.Error) as exc:
            raise InputError(f"{path}: cannot read the mbox: {exc}") from None
    else:
        msgs = [email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)]
    for msg in msgs:
        stats.lines += 1
        t = None
        try:
            d = email.utils.parsedate_to_datetime(str(msg.get("Date", "")))
            t = d if d.tzinfo else d.replace(tzinfo=UTC)
        except (TypeError, ValueError, IndexError):
            pass
        # one observation per name per message: the same random name as Return-Path, From and HELO is one
        # sighting of that label, not three (else no label of a spam run ever looks single-use)
        names: dict[str, str] = {}
        for header, source in (("Return-Path", "return-path"), ("From", "from")):
            for _, addr in email.utils.getaddresses([str(v) for v in msg.get_all(header, [])]):
                if (name := clean_name(addr)) is not None:
                    names.setdefault(name, source)
        for sig in msg.get_all("DKIM-Signature", []):
            m = _DKIM_D.search(str(sig).replace("\r", "").replace("\n", ""))
            if m and (name := clean_name(m.group(1))):
                names.setdefault(name, "dkim")
        for rec in msg.get_all("Received", []):
            m = _RECEIVED_HELO.match(str(rec))
            if m and (name := clean_name(m.group(1))):
                names.setdefault(name, "helo")
        for name, source in names.items():
            yield Observation(name, t, source=source)
        got = bool(names)
        if got:
            stats.used += 1
        else:
            stats.skip(f"message {stats.lines}: no sender name found")
