"""Options shared by every command that talks to DNS (`check`, `scan`, `survey run`, `demo`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

Nameserver = Annotated[
    list[str] | None,
    typer.Option("--nameserver", "-n", help="Resolver IP[:PORT] (IPv6 as [addr]:port); repeatable. "
                 "Default: the system's resolvers. Every lookup goes through these. / 問い合わせ先のリゾルバ (繰り返し可、"
                 "既定: システムの設定)。"),
]
def finite(value: float | None) -> float | None:
    """Option callback: a number of seconds or a rate must be a finite number (``inf``/``nan`` would hang)."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number / 有限の数を指定してください")
    return value


Timeout = Annotated[float, typer.Option("--timeout", min=0.05, max=3600, callback=finite,
                                        help="Seconds to wait for one answer. / 1 回の応答を待つ秒数。")]
Retries = Annotated[int, typer.Option("--retries", min=0, max=10, help="Retries after a timeout or SERVFAIL. / 再試行の回数。")]
Concurrency = Annotated[int, typer.Option("--concurrency", min=1, max=20000, help="Queries in flight at once. / 同時に送る問い合わせ数。")]
Qps = Annotated[float | None, typer.Option("--qps", min=1, callback=finite,
                                           help="Global limit on queries per second. / 毎秒の問い合わせ数の上限。")]
Lang = Annotated[str | None, typer.Option("--lang", help="ja or en (default: from the locale). / 表示言語 (既定: ロケールから)。")]


@dataclass(slots=True)
class DnsOptions:
    nameservers: list[str] | None = None
    timeout: float = 2.0
    retries: int = 2
    concurrency: int = 200
    qps: float | None = None
    want_ad: bool = False   # set AD in queries: a validating resolver then reports it (RFC 6840 §5.7)

    def engine(self):  # -> mailposture.dns.engine.Engine
        from mailposture.dns.engine import Engine

        return Engine(self.nameservers or None, timeout=self.timeout, retries=self.retries,
                      concurrency=self.concurrency, qps=self.qps, want_ad=self.want_ad)


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity mask when the system has one)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# Below this many domains, starting worker processes costs more than it saves: one process does the work.
SMALL_INPUT_DOMAINS = 1000


def auto_workers(domains: int | None) -> int:
    """Worker processes when the user did not say: one per core, or 1 for a small input (``domains`` known and
    below :data:`SMALL_INPUT_DOMAINS`)."""
    if domains is not None and domains < SMALL_INPUT_DOMAINS:
        return 1
    return cpu_cores()


def default_lang(lang: str | None) -> str:
    """--lang wins; otherwise Japanese when the locale says ja, else English."""
    import locale
    import os

    if lang:
        if lang not in ("ja", "en"):
            raise typer.BadParameter("--lang must be 'ja' or 'en'")
        return lang
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        val = os.environ.get(var)
        if val:
            return "ja" if val.lower().startswith("ja") else "en"
    loc = (locale.getlocale()[0] or "").lower()
    return "ja" if loc.startswith("ja") else "en"


def zone_join(line: str) -> str:
    """`"a" "b"` (master-file character-strings, RFC 1035 §5.1) -> `ab`, as one TXT record's strings are joined
    (RFC 7208 §3.3, RFC 7489 §6.6.3); any other line is kept, stripped."""
    s = line.strip()
    if not s.startswith('"'):
        return s
    out: list[str] = []
    i = 0
    while i < len(s):
        if s[i] != '"':
            i += 1
            continue
        i += 1
        while i < len(s) and s[i] != '"':
            if s[i] == "\\" and i + 1 < len(s):
                i += 1
            out.append(s[i])
            i += 1
        i += 1
    return "".join(out)


def read_records(records: list[str] | None, file: Path | None) -> list[str]:
    """Records pasted by a user (`spf parse`, `dmarc parse`): the arguments, stdin for `-`, and `--file F`; one
    record a line, blank lines skipped. An unreadable file is a clear error (exit 2)."""
    import sys

    def lines(text: str) -> list[str]:
        return [zone_join(ln) for ln in text.splitlines() if ln.strip()]

    def stdin_text() -> str:
        # bytes, decoded like --file: invalid UTF-8 becomes U+FFFD (then reported as a non-ASCII character)
        # instead of surrogates that break every later encode
        buf = getattr(sys.stdin, "buffer", None)
        return buf.read().decode("utf-8", errors="replace") if buf is not None else sys.stdin.read()

    out: list[str] = []
    for rec in records or []:
        out.extend(lines(stdin_text()) if rec == "-" else [zone_join(rec)])
    if file is not None:
        try:
            out.extend(lines(file.read_text(encoding="utf-8", errors="replace")))
        except OSError as exc:
            typer.echo(f"error: cannot read {file}: {exc.strerror or exc} / {file} を読み込めません", err=True)
            raise typer.Exit(2) from None
    return out
