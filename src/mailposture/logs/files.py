"""Finding, ordering and opening mail-log files: ``maillog``, ``maillog.1``, ``maillog.2.gz``,
``maillog-20261201.gz`` … given in any order or as globs.

Files are grouped into rotation chains (the name without its rotation number, date stamp and ``.gz``); each
chain is read oldest first (highest rotation number, oldest date, then the live file). Chains of different
hosts are merged by time in the reader. gzip is recognised by its magic bytes (RFC 1952 §2.3.1), not by name.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

_ROT = re.compile(r"^(?P<base>.+?)(?:[.-](?P<num>\d{1,4})|[.-](?P<date>\d{8}(?:\d{2})?))?(?P<gz>\.gz)?$")


class LogFileError(ValueError):
    """A log path that cannot be used (missing, unreadable, matches nothing)."""


@dataclass(frozen=True)
class LogFile:
    path: str
    chain: str  # rotation chain key
    order: tuple[int, int]  # sort key inside the chain: older first
    mtime: float


def _chain_key(path: str) -> tuple[str, tuple[int, int]]:
    d, name = os.path.split(path)
    m = _ROT.match(name)
    if not m:
        return path, (0, 0)
    base = os.path.join(d, m["base"])
    if m["num"] is not None:
        return base, (0, -int(m["num"]))  # maillog.3 before maillog.1
    if m["date"] is not None:
        return base, (-1, int(m["date"]))  # dated archives: oldest date first; all before numbered ones
    return base, (1, 0)  # the live file last


def expand(paths: list[str]) -> list[LogFile]:
    """Expand globs, check every path, and return the files in reading order per chain."""
    out: dict[str, LogFile] = {}
    for p in paths:
        p = os.path.expanduser(p)
        matches = sorted(glob.glob(p)) if glob.has_magic(p) else [p]
        if not matches:
            raise LogFileError(f"no file matches {p!r}")
        for f in matches:
            if os.path.isdir(f):
                raise LogFileError(f"{f} is a directory (give the log files, e.g. {f}/maillog*)")
            try:
                st = os.stat(f)
            except FileNotFoundError:
                raise LogFileError(f"log file not found: {f}") from None
            except OSError as e:
                raise LogFileError(f"cannot read {f}: {e.strerror or e}") from None
            if not os.access(f, os.R_OK):
                raise LogFileError(f"cannot read {f}: permission denied")
            chain, order = _chain_key(f)
            out[os.path.realpath(f)] = LogFile(f, chain, order, st.st_mtime)
    return sorted(out.values(), key=lambda lf: (lf.chain, lf.order, lf.mtime))


def chains(files: list[LogFile]) -> list[list[LogFile]]:
    by: dict[str, list[LogFile]] = defaultdict(list)
    for f in files:
        by[f.chain].append(f)
    return [sorted(v, key=lambda lf: (lf.order, lf.mtime)) for _, v in sorted(by.items())]


def open_text(path: str) -> tuple[io.TextIOWrapper, io.BufferedReader]:
    """Open plain or gzip text (detected by magic), decoding UTF-8 with replacement: a stray byte in a log
    line never stops the reading. Returns (text stream, raw file) — the raw file's position is the progress."""
    raw = open(path, "rb", buffering=1 << 20)
    head = raw.read(2)
    raw.seek(0)
    if head == b"\x1f\x8b":
        stream: io.BufferedIOBase = io.BufferedReader(gzip.GzipFile(fileobj=raw), 1 << 20)  # type: ignore[arg-type]
    else:
        stream = raw
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None), raw


def path_mtime(path: str) -> float:
    return Path(path).stat().st_mtime
