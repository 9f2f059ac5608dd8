"""Commands: ``sms check`` (a verdict per message, JSON Lines in input order) and ``sms campaigns`` (grouping and
the report to share). I/O lives here; the analysis is in :mod:`mailposture.sms.verdict`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from mailposture.cliopts import DnsOptions, Lang, Nameserver, Timeout, default_lang

sms_app = typer.Typer(help="SMS spam and smishing: verdicts, campaigns, reports. / SMS の迷惑・詐欺メッセージの判定と集計。",
                      no_args_is_help=True)

INPUT_FORMATS = ("text", "csv", "jsonl")
BATCH = 500


def register(app: typer.Typer) -> None:
    app.add_typer(sms_app, name="sms")


def _msg(lang: str, ja: str, en: str) -> str:
    return ja if lang == "ja" else en


def _fail(lang: str, ja: str, en: str) -> typer.Exit:
    typer.echo(_msg(lang, ja, en), err=True)
    return typer.Exit(2)


# ------------------------------------------------------------------------------------------------ reading

Record = dict[str, Any]


def iter_records(stream: IO[str], input_format: str) -> Iterator[tuple[int, Record | None, str | None]]:
    """(line number, record, error) per message. Text: one message a line (blank lines skipped); csv: a ``text``
    column, optional ``sender`` and ``received_at``; jsonl: objects with ``text``. A bad record is an error for
    that line only; the following ones are still read."""
    if input_format == "csv":
        reader = csv.DictReader(stream)
        if not reader.fieldnames or "text" not in [f.strip() for f in reader.fieldnames]:
            yield 1, None, "CSV: no 'text' column in the header / ヘッダーに text 列がありません"
            return
        for row in reader:
            row = {(k or "").strip(): v for k, v in row.items()}
            text = row.get("text")
            if text is None or not text.strip():
                yield reader.line_num, None, "CSV: empty 'text' / text が空です"
                continue
            yield reader.line_num, {"text": text, "sender": (row.get("sender") or "").strip() or None,
                                    "received_at": (row.get("received_at") or "").strip() or None}, None
        return
    for n, line in enumerate(stream, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if input_format == "text":
            yield n, {"text": line, "sender": None, "received_at": None}, None
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            yield n, None, f"JSON Lines: not JSON ({e.msg}) / JSON ではありません"
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            yield n, None, "JSON Lines: an object with a non-empty string 'text' is expected / text がありません"
            continue
        sender, ts = obj.get("sender"), obj.get("received_at")
        yield n, {"text": obj["text"], "sender": str(sender) if sender not in (None, "") else None,
                  "received_at": str(ts) if ts not in (None, "") else None}, None


def _batches(records: Iterator[tuple[int, Record | None, str | None]], size: int):
    batch: list[tuple[int, Record | None, str | None]] = []
    for item in records:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Resolver:
    def __init__(self, dns: DnsOptions, via: str | None, timeout: float) -> None:
        self.dns, self.via, self.timeout = dns, via, timeout

    def landings(self, texts: list[str]):
        from mailposture.sms.brands import is_shortener
        from mailposture.sms.normalize import extract_urls
        from mailposture.sms.resolve import resolve_urls

        urls = [u.url for t in texts for u in extract_urls(t)[0] if not u.is_ip and is_shortener(u.host)]
        if not urls:
            return {}
        return asyncio.run(resolve_urls(urls, dns_options=self.dns, via=self.via, http_timeout=self.timeout))


def _text_line(r, lang: str) -> str:
    head = f"{r.verdict:8} {r.score:5.3f}  {' '.join(r.text.split())[:100]}"
    lines = [head]
    for x in r.reasons:
        if x.code not in ("SMS_URL", "SMS_VERDICT_BASIS"):
            lines.append(f"    - [{x.code}] {x.detail(lang)}")
    return "\n".join(lines)


def run_check(inp: IO[str], out: IO[str], analyzer, input_format: str, lang: str, fmt: str = "json",
              resolver: _Resolver | None = None, on_progress=None, collect: list | None = None,
              errors: IO[str] | None = None) -> tuple[int, int]:
    """Judge every message of ``inp`` and write one line (or block) per message to ``out``, in input order.
    Returns (messages judged, bad records). ``collect`` receives the results (for campaigns)."""
    done = bad = 0
    err = errors or sys.stderr
    dumps = json.dumps
    write = out.write
    for batch in _batches(iter_records(inp, input_format), BATCH):
        landings = resolver.landings([r["text"] for _, r, _ in batch if r]) if resolver else None
        for lineno, rec, problem in batch:
            if rec is None:
                bad += 1
                err.write(f"line {lineno}: {problem}\n")
                continue
            res = analyzer.check(rec["text"], rec["sender"], rec["received_at"], landings=landings)
            if collect is not None:
                collect.append(res)
            if fmt == "json":
                write(dumps(res.to_json(lang), ensure_ascii=False) + "\n")
            elif fmt == "text":
                write(_text_line(res, lang) + "\n")
            done += 1
        if on_progress:
            on_progress(len(batch))
    return done, bad


def _open_input(target: str, input_format: str | None, lang: str) -> tuple[IO[str], str, int | None]:
    """(stream, input format, number of lines or None) for TEXT|FILE|-."""
    if target == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="strict"), input_format or "text", None
    p = Path(target)
    is_file = False
    try:
        is_file = len(target) < 4096 and "\n" not in target and p.is_file()
    except OSError:
        is_file = False
    if not is_file:
        if input_format in ("csv", "jsonl"):
            raise _fail(lang, f"ファイルがありません: {target}", f"no such file: {target}")
        if not target.strip():
            raise _fail(lang, "メッセージが空です", "the message is empty")
        return io.StringIO(target.replace("\r", " ").replace("\n", " ") + "\n"), "text", 1
    fmt = input_format or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(p.suffix.lower(), "text")
    try:
        with p.open("rb") as f:
            total = sum(1 for _ in f)
        return p.open(encoding="utf-8-sig", newline="" if fmt == "csv" else None), fmt, total
    except OSError as e:
        raise _fail(lang, f"{target} を読めません: {e.strerror}", f"cannot read {target}: {e.strerror}") from None


def _progress(total: int | None, lang: str):
    if not total or total < 2000 or not sys.stderr.isatty():
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(stderr=True), transient=True)


InputFormat = Annotated[str | None, typer.Option("--input-format", help="text (one message a line), csv or jsonl "
                                                 "(default: by the file name, else text).")]
Resolve = Annotated[bool, typer.Option("--resolve", help="Follow shortened links (HTTP) and look the landing "
                                       "domains up in the DNS. Off by default: no network.")]
HttpVia = Annotated[str | None, typer.Option("--http-via", hidden=True,
                                             help="Send every --resolve HTTP request to HOST:PORT (tests).")]


def _judge(target: str, input_format: str | None, lang: str, fmt: str, resolve: bool, nameserver, timeout: float,
           http_via: str | None, out: IO[str], collect: list | None = None) -> tuple[int, int]:
    from mailposture.dns.engine import DnsConfigError
    from mailposture.sms.verdict import Analyzer

    if input_format is not None and input_format not in INPUT_FORMATS:
        raise _fail(lang, "--input-format は text・csv・jsonl のいずれかです", "--input-format must be text, csv or jsonl")
    stream, in_fmt, total = _open_input(target, input_format, lang)
    resolver = _Resolver(DnsOptions(nameservers=nameserver, timeout=timeout), http_via, timeout) if resolve else None
    try:
        with stream, _progress(total, lang) as prog:
            task = prog.add_task(_msg(lang, "判定中", "judging"), total=total) if prog else None
            step = (lambda n: prog.advance(task, n)) if prog else None
            return run_check(stream, out, Analyzer(), in_fmt, lang, fmt, resolver, step, collect)
    except UnicodeDecodeError as e:
        raise _fail(lang, f"{target}: UTF-8 ではありません ({e.reason})", f"{target}: not UTF-8 ({e.reason})") from None
    except DnsConfigError as e:
        raise _fail(lang, f"DNS の設定が不正です: {e}", f"bad DNS settings: {e}") from None


@sms_app.command("check")
def check_cmd(
    target: Annotated[str, typer.Argument(help="A message, a file of messages, or - for stdin.", show_default=False)],
    input_format: InputFormat = None,
    sender: Annotated[str | None, typer.Option("--sender", help="Sender of a single message given as TEXT.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json (JSON Lines) or text.")] = "text",
    lang: Lang = None,
    resolve: Resolve = False,
    nameserver: Nameserver = None,
    timeout: Timeout = 5.0,
    http_via: HttpVia = None,
) -> None:
    """Verdict per message: smishing / spam / ham, score and reasons. / メッセージごとの判定(スミッシング・迷惑・正常)。"""
    lang = default_lang(lang)
    if fmt not in ("json", "text"):
        raise _fail(lang, "--format は json か text です", "--format must be json or text")
    out = sys.stdout
    if sender is not None:
        from mailposture.sms.verdict import Analyzer

        if target == "-" or Path(target).is_file():
            raise _fail(lang, "--sender は本文を直接渡すときだけ使えます", "--sender only applies to a message given as TEXT")
        landings = None
        if resolve:
            from mailposture.dns.engine import DnsConfigError

            try:
                landings = _Resolver(DnsOptions(nameservers=nameserver, timeout=timeout), http_via,
                                     timeout).landings([target])
            except DnsConfigError as e:
                raise _fail(lang, f"DNS の設定が不正です: {e}", f"bad DNS settings: {e}") from None
        res = Analyzer().check(target, sender, landings=landings)
        out.write((json.dumps(res.to_json(lang), ensure_ascii=False) if fmt == "json" else _text_line(res, lang))
                  + "\n")
        return
    _, bad = _judge(target, input_format, lang, fmt, resolve, nameserver, timeout, http_via, out)
    if bad:
        typer.echo(_msg(lang, f"{bad} 件の入力を読めませんでした(上記)", f"{bad} input record(s) could not be read "
                        "(see above)"), err=True)
        raise typer.Exit(2)


@sms_app.command("campaigns")
def campaigns_cmd(
    target: Annotated[str, typer.Argument(help="File of messages (text, csv, jsonl) or - for stdin.",
                                          show_default=False)],
    input_format: InputFormat = None,
    fmt: Annotated[str, typer.Option("--format", help="text (a table) or json (one campaign a line).")] = "text",
    report: Annotated[Path | None, typer.Option("--report", help="Also write a report: .md, .html or .xlsx.")] = None,
    include_ham: Annotated[bool, typer.Option("--include-ham", help="Group ham messages too.")] = False,
    lang: Lang = None,
    resolve: Resolve = False,
    nameserver: Nameserver = None,
    timeout: Timeout = 5.0,
    http_via: HttpVia = None,
) -> None:
    """Group messages into campaigns with counts over time; write the report. / キャンペーン単位の集計と報告書。"""
    from mailposture.sms import report as R

    lang = default_lang(lang)
    if fmt not in ("json", "text"):
        raise _fail(lang, "--format は json か text です", "--format must be json or text")
    rfmt = None
    if report is not None:
        rfmt = report.suffix.lower().lstrip(".")
        if rfmt not in ("md", "html", "xlsx"):
            raise _fail(lang, "--report のファイル名は .md・.html・.xlsx で終えてください",
                        "--report must end in .md, .html or .xlsx")
    if target != "-" and not Path(target).is_file():
        raise _fail(lang, f"ファイルがありません: {target}", f"no such file: {target}")
    results: list = []
    _, bad = _judge(target, input_format, lang, "none", resolve, nameserver, timeout, http_via, io.StringIO(),
                    results)
    data = R.build(results, include_ham)
    if fmt == "json":
        for c in data["campaigns"]:
            sys.stdout.write(json.dumps(c, ensure_ascii=False) + "\n")
    else:
        from rich.console import Console
        from rich.table import Table

        tab = Table(title=R.t("campaigns", lang))
        for col in ("campaign", "messages", "verdicts", "brands", "domains", "first_seen", "last_seen", "example"):
            tab.add_column(R.t(col, lang))
        for c in data["campaigns"]:
            tab.add_row(c["campaign"], str(c["messages"]), ", ".join(f"{k} {v}" for k, v in c["verdicts"].items()),
                        R._names(c["brands"]) or "-", ", ".join(list(c["domains"])[:3]) or "-",
                        c["first_seen"] or "-", c["last_seen"] or "-", R._short(c["example"], 40))
        Console(width=200).print(tab)
    if report is not None and rfmt:
        body = R.render(data, rfmt, lang)
        try:
            if isinstance(body, bytes):
                report.write_bytes(body)
            else:
                report.write_text(body, encoding="utf-8")
        except OSError as e:
            raise _fail(lang, f"{report} に書けません: {e.strerror}", f"cannot write {report}: {e.strerror}") from None
        typer.echo(_msg(lang, f"報告書: {report}", f"report: {report}"), err=True)
    if bad:
        typer.echo(_msg(lang, f"{bad} 件の入力を読めませんでした(上記)", f"{bad} input record(s) could not be read "
                        "(see above)"), err=True)
        raise typer.Exit(2)
