"""Render a FakeResolver-format world (``{name: [(rdtype, value), ...]}``) as RFC 1035 master files.

One world description can thus be served by :class:`~mailposture.dns.fake.FakeResolver`, by NSD
(:mod:`mailposture.dns.nsd`) and by the in-process server (:mod:`mailposture.dns.server`).

Each origin gets an SOA and an NS record (unless the world gives its own); the NS target lies outside every
zone (``ns.mailposture.invalid``) so that it adds no name to the world. The SOA MINIMUM and TTL equal ``ttl``
so that the negative TTL (RFC 2308 §5) matches FakeResolver's 300 s. The special entries ``TIMEOUT`` and
``SERVFAIL`` of FakeResolver cannot be expressed in a zone and are skipped (use
:class:`~mailposture.dns.server.FaultyProxy` for those).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

__all__ = ["NS_TARGET", "ZoneError", "infer_origins", "origin_of", "rdata_text", "render_zones", "write_zones"]

NS_TARGET = "ns.mailposture.invalid."
HOSTMASTER = "hostmaster.mailposture.invalid."
_SKIP = {"TIMEOUT", "SERVFAIL"}
_SAFE_FILE = re.compile(r"[^a-z0-9._-]")


class ZoneError(ValueError):
    """A world that cannot be written as zone files (name outside every origin, bad value)."""


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


_PLAIN_NAME = re.compile(r"[a-z0-9_*/.-]*")
_ESCAPED = re.compile(r"\\(?:[0-9]{3}|.)")


def _abs(name: str) -> str:
    """Absolute presentation form. Octets outside letters, digits, ``-_*/`` are escaped (RFC 1035 §5.1) so a
    stray space, quote or semicolon cannot break the master file; existing ``\\.``/``\\DDD`` escapes are kept."""
    n = _norm(name)
    if not n:
        return "."
    if not _PLAIN_NAME.fullmatch(n):
        if not n.isascii():
            try:
                n = n.encode("idna").decode("ascii")
            except UnicodeError:
                raise ZoneError(f"name {name!r} is not a valid IDN") from None
        out = []
        pos = 0
        for m in _ESCAPED.finditer(n):
            out.append(_escape_plain(n[pos:m.start()]))
            out.append(m.group(0))
            pos = m.end()
        out.append(_escape_plain(n[pos:]))
        n = "".join(out)
    return n + "."


def _escape_plain(text: str) -> str:
    return "".join(c if c == "." or _PLAIN_NAME.fullmatch(c) else f"\\{ord(c):03d}" for c in text)


def _quote(s: bytes) -> str:
    # RFC 1035 §5.1: inside a quoted character-string, '"' and '\' are escaped; octets outside printable ASCII
    # are written as \DDD so that the file is pure ASCII and round-trips exactly.
    out = ['"']
    for b in s:
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    out.append('"')
    return "".join(out)


def _txt_parts(value: Any) -> list[bytes]:
    if isinstance(value, tuple) and value and all(isinstance(p, bytes) for p in value):
        parts = list(value)
    elif isinstance(value, bytes):
        parts = [value]
    elif isinstance(value, str):
        parts = [value.encode("utf-8", "surrogateescape")]
    elif isinstance(value, Iterable):
        parts = [p if isinstance(p, bytes) else str(p).encode("utf-8", "surrogateescape") for p in value]
    else:
        raise ZoneError(f"TXT value {value!r} is not text")
    out: list[bytes] = []
    for p in parts:
        # a character-string holds at most 255 octets (RFC 1035 §3.3): split longer ones
        out.extend([p[i:i + 255] for i in range(0, len(p), 255)] or [b""])
    return out or [b""]


def rdata_text(rdtype: str, value: Any) -> str:
    """Presentation form of one record's data."""
    t = rdtype.upper()
    if t in ("TXT", "SPF"):
        return " ".join(_quote(p) for p in _txt_parts(value))
    if t == "MX":
        try:
            pref, exch = value
            return f"{int(pref)} {_abs(str(exch))}"
        except (TypeError, ValueError):
            raise ZoneError(f"MX value {value!r} is not (preference, exchange)") from None
    if t in ("CNAME", "PTR", "NS"):
        return _abs(str(value))
    if isinstance(value, bytes):
        return f"\\# {len(value)} {value.hex()}" if value else "\\# 0"  # RFC 3597 §5 generic form
    if isinstance(value, tuple | list):
        return " ".join(str(v) for v in value)
    return str(value)


def origin_of(name: str, origins: set[str]) -> str | None:
    """The closest enclosing origin of ``name`` (both normalized), or None."""
    n = name
    while True:
        if n in origins:
            return n
        if not n:
            return None
        dot = n.find(".")
        n = n[dot + 1:] if dot >= 0 else ""


def infer_origins(names: Iterable[str]) -> list[str]:
    """One origin per registrable domain (public suffix list; unknown TLDs count as public suffixes) —
    for worlds given without explicit zones (``mailposture demo``)."""
    from publicsuffixlist import PublicSuffixList

    psl = PublicSuffixList()
    out: dict[str, None] = {}
    for raw in names:
        n = _norm(raw)
        if n.startswith("*."):
            n = n[2:]
        if not n:
            continue
        reg = psl.privatesuffix(n) or n
        out[reg] = None
    return list(out)


def _soa_ns(origin: str, ttl: int, own: set[str]) -> list[str]:
    lines = [f"$TTL {ttl}"]
    o = _abs(origin)
    if "SOA" not in own:
        lines.append(f"{o} {ttl} IN SOA {NS_TARGET} {HOSTMASTER} 1 3600 600 86400 {ttl}")
    if "NS" not in own:
        lines.append(f"{o} {ttl} IN NS {NS_TARGET}")
    return lines


def _record_lines(name: str, entries: Iterable[tuple[str, Any]], ttl: int) -> list[str]:
    owner = _abs(name)
    lines = []
    entries = list(entries)
    types = {t.upper() for t, _ in entries} - _SKIP
    if "CNAME" in types and len(types) > 1:
        # RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME owner has no other data (NSD would refuse the zone)
        raise ZoneError(f"{_norm(name)}: a CNAME cannot sit next to other records ({', '.join(sorted(types))})")
    for rdtype, value in entries:
        t = rdtype.upper()
        if t in _SKIP:
            continue
        lines.append(f"{owner} {ttl} IN {t} {rdata_text(t, value)}")
    return lines


def _own_apex_types(records: Mapping[str, Iterable[tuple[str, Any]]], origin: str) -> set[str]:
    for key in (origin, origin + "."):
        if key in records:
            return {t.upper() for t, _ in records[key]}
    return set()


def _assign(records: Iterable[str], origins: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    bad = []
    for raw in records:
        n = _norm(raw)
        o = origin_of(n, origins)
        if o is None:
            bad.append(n)
        else:
            out[raw] = o
    if bad:
        raise ZoneError(f"{len(bad)} name(s) outside every zone origin, e.g. {', '.join(bad[:3])}")
    return out


def render_zones(records: Mapping[str, Iterable[tuple[str, Any]]], origins: Iterable[str], *,
                 ttl: int = 300) -> dict[str, str]:
    """Master-file text per origin (keys normalized: lower-case, no trailing dot)."""
    origin_set = {_norm(o) for o in origins}
    owner = _assign(records, origin_set)
    out: dict[str, list[str]] = {o: _soa_ns(o, ttl, _own_apex_types(records, o)) for o in origin_set}
    for name, entries in records.items():
        out[owner[name]].extend(_record_lines(name, entries, ttl))
    return {o: "\n".join(lines) + "\n" for o, lines in out.items()}


def zone_filename(origin: str) -> str:
    safe = _SAFE_FILE.sub("_", origin or "root")
    return f"{safe}.zone"


def write_zones(records: Mapping[str, Iterable[tuple[str, Any]]] | Iterable[tuple[str, Iterable[tuple[str, Any]]]],
                origins: Iterable[str], directory: str | Path, *, ttl: int = 300,
                max_open: int = 64) -> dict[str, Path]:
    """Write one zone file per origin into ``directory``, streaming: records are appended as they come
    (a generator of ``(name, entries)`` pairs works), with at most ``max_open`` files open at once, so a
    world of 100k+ domains never sits in memory as text. Returns {origin: path}."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    origin_set = {_norm(o) for o in origins}
    paths: dict[str, Path] = {}
    used: dict[str, str] = {}
    for o in sorted(origin_set):
        fname = zone_filename(o)
        if fname in used:  # two origins that sanitize alike
            fname = f"{len(used)}-{fname}"
        used[fname] = o
        paths[o] = d / fname
    is_map = isinstance(records, Mapping)
    pairs = records.items() if isinstance(records, Mapping) else records
    open_files: OrderedDict[str, IO[str]] = OrderedDict()
    started: set[str] = set()

    def handle(o: str) -> IO[str]:
        f = open_files.get(o)
        if f is not None:
            open_files.move_to_end(o)
            return f
        if len(open_files) >= max_open:
            _, old = open_files.popitem(last=False)
            old.close()
        f = paths[o].open("a" if o in started else "w", encoding="ascii")
        open_files[o] = f
        if o not in started:
            started.add(o)
            own = _own_apex_types(records, o) if is_map else set()  # type: ignore[arg-type]
            f.write("\n".join(_soa_ns(o, ttl, own)) + "\n")
        return f

    try:
        for name, entries in pairs:
            n = _norm(name)
            o = origin_of(n, origin_set)
            if o is None:
                raise ZoneError(f"name {n!r} is outside every zone origin")
            entries = list(entries)
            lines = _record_lines(name, entries, ttl)
            if not is_map and n == o:
                # a streamed apex that brings its own SOA/NS: the header written above would duplicate them
                own = {t.upper() for t, _ in entries}
                if o not in started and own & {"SOA", "NS"}:
                    started.add(o)
                    f = paths[o].open("w", encoding="ascii")
                    open_files[o] = f
                    f.write("\n".join(_soa_ns(o, ttl, own)) + "\n")
            if lines:
                handle(o).write("\n".join(lines) + "\n")
        for o in origin_set - started:
            handle(o)
    finally:
        for f in open_files.values():
            f.close()
    return paths
