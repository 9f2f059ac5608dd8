"""`mailposture scan INPUT -o OUT`: check thousands to millions of domains, streaming results as they finish.

Exit codes: 0 done (invalid names and DNS errors are results, not failures); 2 bad input/output/options (a clear
message, no traceback); 130 interrupted by Ctrl-C, 143 by SIGTERM (everything finished is written; rerun with
``--resume``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer

from mailposture.cliopts import (
    SMALL_INPUT_DOMAINS,
    Concurrency,
    DnsOptions,
    Lang,
    Nameserver,
    Qps,
    Retries,
    Timeout,
    auto_workers,
    cpu_cores,
    default_lang,
    finite,
)
from mailposture.scan.checking import CheckFactory, default_check_factory, parse_checks
from mailposture.scan.health import resolver_names
from mailposture.scan.inputs import InputCounts, InputError, InputReader, InputSpec, select
from mailposture.scan.outputs import OutputError, OutputSpec, note_text, open_output
from mailposture.scan.progress import make_progress
from mailposture.scan.runner import Scanner, ScanSettings, ScanSummary

#: resolver_factory(dns_options) -> async context manager yielding a Resolver (default: the DNS Engine)
ResolverFactory = Callable[[DnsOptions], Any]


class OutFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


class InFormat(StrEnum):
    auto = "auto"
    text = "text"
    csv = "csv"
    zone = "zone"


async def _no_check(domain: str, attrs: dict[str, str]) -> dict[str, Any]:  # replaced once DNS is up
    raise RuntimeError("no check configured")


def _say(msg: str) -> None:
    typer.echo(msg, err=True)


def execute(settings: ScanSettings, *, resolver_factory: ResolverFactory | None = None,
            check_factory: CheckFactory | None = None) -> int:
    """Run one scan from settings; returns the exit code. Messages and the summary go to stderr.

    The steps, each a method of :class:`_ScanJob`: check that the factories can travel to other processes, make
    the resolver, open the input and the output, scan (here, in worker processes or on a Dask cluster), close
    everything, then report (summary, summary JSON, how to continue)."""
    return _ScanJob(settings, resolver_factory, check_factory).run()


class _ScanJob:
    """One run of ``mailposture scan``: the state shared by its steps."""

    def __init__(self, settings: ScanSettings, resolver_factory: ResolverFactory | None,
                 check_factory: CheckFactory | None) -> None:
        self.settings = settings
        self.resolver_factory = resolver_factory
        self.check_factory = check_factory
        self.ja = settings.lang == "ja"
        self.err = "エラー" if self.ja else "error"
        self.terminated = False      # SIGTERM
        self.pool_failed = False     # every worker process died
        self.cluster_failed = False
        self.counts = InputCounts()
        self.shown_notes = 0

    def fail(self, msg: str) -> int:
        _say(f"{self.err}: {msg}")
        return 2

    # -- the steps ---------------------------------------------------------------------------------------------
    def run(self) -> int:
        code = self.check_factories_travel()
        if code is None:
            code = self.make_resolver()
        if code is None:
            code = self.open_files()
        if code is not None:
            return code
        self.prepare_scanner()
        return self.report(self.scan())

    def check_factories_travel(self) -> int | None:
        """--workers and --cluster rebuild the factories in other processes from their import paths."""
        settings = self.settings
        if settings.workers > 1 or settings.cluster:
            from mailposture.scan.workers import factory_path

            flag = "--cluster" if settings.cluster else "--workers"
            for fn in (self.resolver_factory, self.check_factory):
                if fn is not None and factory_path(fn) is None:
                    return self.fail(f"{flag} needs factories importable by path (module-level functions), "
                                     f"got {fn!r}")
        return None

    def make_resolver(self) -> int | None:
        try:
            from mailposture.dns.engine import DnsConfigError
        except ImportError:  # pragma: no cover - the engine is part of the package
            DnsConfigError = ValueError  # type: ignore[misc,assignment]
        try:
            self.resolver_cm = (self.resolver_factory or (lambda d: d.engine()))(self.settings.dns)
        except (DnsConfigError, ValueError) as exc:
            return self.fail(f"DNS: {exc}")
        return None

    def open_files(self) -> int | None:
        """The input (format detected, CSV header read) and the output (refused when it would clobber a scan)."""
        settings = self.settings
        inp, outp = settings.input.path, settings.output.path
        with contextlib.suppress(OSError):
            if inp != "-" and outp != "-" and os.path.exists(outp) and os.path.samefile(inp, outp):
                return self.fail(f"{outp} is the input file too; choose another output file")
        try:
            self.reader = InputReader(settings.input).open()
        except InputError as exc:
            return self.fail(exc.text(settings.lang))
        try:
            self.writer, self.done = open_output(settings.output, self.reader.header, resume=settings.resume,
                                                 overwrite=settings.overwrite)
        except OutputError as exc:
            self.reader.close()
            return self.fail(exc.text(settings.lang))
        for note in self.writer.notes:
            _say(note_text(note, settings.lang))
        self.shown_notes = len(self.writer.notes)
        if settings.resume and self.done:
            _say(f"再開: {len(self.done):,} 件は出力済みのため飛ばします" if self.ja else
                 f"resuming: {len(self.done):,} results already in {settings.output.path} are skipped")
        return None

    def prepare_scanner(self) -> None:
        settings, reader = self.settings, self.reader
        self.items = select(iter(reader), self.counts, done=self.done, limit=settings.limit)
        show = settings.progress
        if show is None and settings.output.path == "-" and _isatty(sys.stdout):
            show = False  # results scroll on the same terminal: a live bar would garble them
        self.progress = make_progress(show, sys.stderr, settings.lang)
        self.scanner = Scanner(_no_check, self.writer, concurrency=settings.domains_concurrency,
                               lang=settings.lang, progress=self.progress, position=lambda: reader.position,
                               domain_timeout=settings.domain_timeout, ordered=settings.ordered)
        self.scanner.summary.resolvers = resolver_names(self.resolver_cm)  # named if it looks like the cause

    def scan(self) -> int:
        """Scan every item; returns the exit code (the finished results are written whatever happens)."""
        settings = self.settings
        code = 0
        if not settings.cluster:
            self.progress.start(self.reader.size)
        try:
            if settings.cluster:
                from mailposture.scan.cluster import ClusterError

                try:
                    self.scan_on_cluster()
                except ClusterError as exc:
                    _say(f"{self.err}: {exc}")
                    code, self.cluster_failed = 1, True
            else:
                _run(self.scan_here())
        except (KeyboardInterrupt, asyncio.CancelledError):
            code = 143 if self.terminated else 1 if self.pool_failed else 130
        except InputError as exc:
            code = self.fail(exc.text(settings.lang))
        except BrokenPipeError:
            code = 141  # the reader of stdout went away (| head): stop quietly, like other Unix tools
        except (OutputError, OSError) as exc:
            code = self.fail(f"{settings.output.path}: {exc}")
        finally:
            code = self.close(code)
        return code

    async def scan_here(self) -> ScanSummary:
        """In this process, or in ``--workers`` processes fed from here; SIGTERM cancels like Ctrl-C."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_term() -> None:
            self.terminated = True
            if task is not None:
                task.cancel()

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGTERM, on_term)
        try:
            if self.settings.workers > 1:
                return await self.scan_in_workers(task)
            return await self.scan_in_process()
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGTERM)

    async def scan_in_process(self) -> ScanSummary:
        scanner = self.scanner
        async with self.resolver_cm as resolver:
            scanner.check = (self.check_factory or default_check_factory)(resolver, self.settings)
            try:
                return await scanner.run(self.items, self.counts)
            finally:
                stats = getattr(resolver, "stats", None)
                if stats is not None and hasattr(stats, "to_json"):
                    scanner.summary.engine = stats.to_json()

    async def scan_in_workers(self, task: asyncio.Task[Any] | None) -> ScanSummary:
        from mailposture.scan.workers import WorkerPool, factory_path

        settings, scanner = self.settings, self.scanner
        pool = WorkerPool(settings, settings.workers, resolver_factory=factory_path(self.resolver_factory),
                          check_factory=factory_path(self.check_factory), encoded=self.writer.takes_encoded)

        def all_dead() -> None:
            self.pool_failed = True
            if task is not None:
                task.cancel()

        pool.on_fatal = all_dead
        try:
            async with pool:
                scanner.check = pool.check
                return await scanner.run(self.items, self.counts)
        finally:
            scanner.summary.engine = pool.stats

    def scan_on_cluster(self) -> None:
        from mailposture.scan.cluster import ClusterProgress, run_cluster
        from mailposture.scan.workers import factory_path

        settings, scanner, reader, counts = self.settings, self.scanner, self.reader, self.counts
        bar = ClusterProgress(self.progress.enabled, reader.size, settings.lang)
        t0 = time.monotonic()

        def on_term(_signum: int, _frame: Any) -> None:
            self.terminated = True
            raise KeyboardInterrupt  # the finished shards are written, then the usual resume message

        previous = None
        with contextlib.suppress(ValueError):       # not the main thread: keep the default
            previous = signal.signal(signal.SIGTERM, on_term)
        try:
            scanner.summary.engine = run_cluster(
                settings, self.items, self.writer, scanner, resolver_path=factory_path(self.resolver_factory),
                check_path=factory_path(self.check_factory), position=lambda: reader.position, progress=bar)
        except KeyboardInterrupt:
            scanner.summary.interrupted = True
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            bar.stop()
            s = scanner.summary
            s.elapsed = time.monotonic() - t0
            s.duplicates, s.resumed, s.entries, s.limited = (counts.duplicates, counts.resumed, counts.entries,
                                                              counts.limited)

    def close(self, code: int) -> int:
        """Stop the bar, close the input and the output (a failure to close is the exit code when none is)."""
        self.progress.stop()
        self.reader.close()
        try:
            self.writer.close()
        except BrokenPipeError:
            code = code or 141
        except (OutputError, OSError) as exc:
            code = code or self.fail(str(exc))
        if code == 141:
            _quiet_stdout()
        return code

    def report(self, code: int) -> int:
        """The summary on stderr (and as JSON), the writer's late notes, and how to continue after a stop."""
        settings, summary = self.settings, self.scanner.summary
        _say(summary.to_text(settings.lang))
        if settings.summary_path:
            try:
                data = {**summary.to_json(), "exit_code": code, "output": settings.output.path,
                        "input": settings.input.path}
                with open(settings.summary_path, "w", encoding="utf-8") as f:
                    json.dump(data, f, ensure_ascii=False, indent=1)
                    f.write("\n")
            except OSError as exc:
                _say(f"{self.err}: {settings.summary_path}: {exc.strerror or exc}")
                code = code or 2
        for note in self.writer.notes[self.shown_notes:]:
            _say(note_text(note, settings.lang))
        self.say_how_to_continue(code)
        return code

    def say_how_to_continue(self, code: int) -> None:
        settings, summary, ja = self.settings, self.scanner.summary, self.ja
        where = settings.output.path
        if self.cluster_failed and summary.written and where != "-":
            _say(f"{summary.written:,} 件を {where} に保存済みです。原因を取り除いて --resume を付けて再実行して"
                 "ください。" if ja else
                 f"{summary.written:,} results are saved in {where}; fix the cause and rerun with --resume")
        if self.pool_failed:
            _say(f"{self.err}: ワーカープロセスがすべて停止しました (上のメッセージを参照)。{summary.written:,} 件は"
                 "保存済みです。原因を取り除いて --resume を付けて再実行してください。" if ja else
                 f"{self.err}: every worker process stopped (see the messages above); {summary.written:,} "
                 "results are saved — fix the cause and rerun with --resume")
        elif code in (130, 143):
            if where == "-":
                _say("中断しました。結果は標準出力に書き出し済みです。" if ja else
                     "interrupted; the results finished so far were written to standard output")
            else:
                _say(f"中断しました。{summary.written:,} 件を {where} に保存済みです。同じコマンドに --resume を付けて"
                     "再実行すると続きから調査します。" if ja else
                     f"interrupted; {summary.written:,} results are saved in {where}. Run the same command with "
                     "--resume to continue where it stopped.")
                hint = _resume_command()
                if hint:
                    _say(f"  {hint}")


def _default_workers(path: str, *factories: Any) -> int:
    """``--workers`` when not given: one per core (:func:`mailposture.cliopts.auto_workers`), from the number of
    lines of a small regular file (a larger file, a gzip file or stdin counts as large); 1 when an injected
    factory cannot be rebuilt in another process."""
    from mailposture.scan.workers import factory_path

    if any(f is not None and factory_path(f) is None for f in factories):
        return 1
    lines: int | None = None
    with contextlib.suppress(OSError):
        if path != "-" and os.path.isfile(path) and os.path.getsize(path) <= 1 << 20:
            with open(path, "rb") as f:
                data = f.read()
            if data[:2] != b"\x1f\x8b":
                lines = data.count(b"\n") + (not data.endswith(b"\n"))
    return auto_workers(lines)


def _resume_command() -> str | None:
    """The command line to continue, when this process is the `mailposture` program itself."""
    import shlex

    argv = sys.argv
    if not argv or os.path.basename(argv[0]) != "mailposture" or "scan" not in argv[1:]:
        return None
    rest = [a for a in argv[1:] if a != "--overwrite"]
    if "--resume" not in rest:
        rest.append("--resume")
    return shlex.join(["mailposture", *rest])


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _quiet_stdout() -> None:
    # Python would report the broken pipe again when it flushes stdout at exit
    with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _run(coro: Any) -> Any:
    try:
        from mailposture.dns.engine import run
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return run(coro)


def _unescape_delimiter(d: str | None) -> str | None:
    if d is None:
        return None
    d = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(d, d)
    if len(d) != 1:
        raise typer.BadParameter("--delimiter must be one character (or 'tab')")
    return d


def register(app: typer.Typer, *, resolver_factory: ResolverFactory | None = None,
             check_factory: CheckFactory | None = None) -> None:
    """Add the top-level ``scan`` command. Tests inject a FakeResolver through ``resolver_factory``."""

    @app.command("scan")
    def scan(
        input_path: Annotated[str, typer.Argument(
            metavar="INPUT", help="Domain list: text (one a line), CSV with a 'domain' column, or a zone file; "
                                  "'-' = stdin; .gz is decompressed. / ドメインの一覧 (テキスト・CSV・"
                                  "ゾーンファイル、- は標準入力)。", show_default=False)],
        output: Annotated[str, typer.Option("--output", "-o", help="Result file, or '-' for JSON Lines on "
                                            "stdout. / 結果の出力先 (- は標準出力)。")] = "-",
        fmt: Annotated[OutFormat | None, typer.Option(
            "--format", "-f", help="jsonl, csv or parquet (default: from the extension of -o, else jsonl). / 出力形式。",
            show_default=False)] = None,
        input_format: Annotated[InFormat, typer.Option(
            "--input-format", help="auto: CSV when .csv/.tsv or the first line is a header naming the column; "
            "zone (DNS master file: its delegated names) when .zone or it starts like one. / 入力形式 (既定: 自動判別)。")] = InFormat.auto,
        zone_origin: Annotated[str | None, typer.Option(
            "--zone-origin", help="Origin of a zone file that has neither $ORIGIN nor an SOA record. / ゾーンの起点。",
            show_default=False)] = None,
        column: Annotated[str, typer.Option("--column", help="CSV column holding the domain names; a number N "
                                            "means column N of a file without header line (e.g. 2 for a "
                                            "'rank,domain' ranking list). / ドメイン名の列 (列名または列番号)。")] = "domain",
        delimiter: Annotated[str | None, typer.Option("--delimiter", help="CSV delimiter (default: sniffed "
                                                      "from the header among , TAB ; |). / CSV の区切り文字。", show_default=False)
                             ] = None,
        encoding: Annotated[str, typer.Option("--encoding", help="Input encoding: auto (UTF-8, or Shift_JIS "
                                              "when the file is not UTF-8), utf-8, cp932 and others. / 入力の文字コード。")] = "auto",
        resume: Annotated[bool, typer.Option("--resume", help="Skip domains already in the output and append "
                                             "(repairs a torn last line). / 出力済みの分を飛ばして続きから。")] = False,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output file. / 既存の出力を上書き。")] = False,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="Stop after N entries (after "
                                                  "duplicates and already-done ones are skipped). / N 件で止める。")] = None,
        domains_concurrency: Annotated[int, typer.Option("--domains-concurrency", min=1, max=100_000,
                                                         help="Domains checked at once. / 同時に調べるドメイン数。")] = 500,
        answers: Annotated[bool, typer.Option("--answers/--no-answers", help="Keep the raw DNS answers in each "
                                              "result (lets a round be recomputed; larger output). / DNS 応答を結果に残す。")] = True,
        domain_timeout: Annotated[float | None, typer.Option(
            "--domain-timeout", min=1, callback=finite, help="Give up on one domain after this many seconds (reported as an "
            "error result). Default: no limit (the DNS timeouts bound each lookup). / 1 ドメインの制限時間。")] = None,
        ordered: Annotated[bool, typer.Option(
            "--ordered", help="Write the results in input order (default: as they finish). A slow domain then "
            "holds back the ones after it, within a bounded window. / 入力順に書き出す。")] = False,
        workers: Annotated[int | None, typer.Option(
            "--workers", min=1, max=256, show_default=False,
            help="Processes running the checks, each with its own event loop and DNS engine. Default: one per CPU "
            f"core ({cpu_cores()} here); 1 for an input of fewer than {SMALL_INPUT_DOMAINS:,} lines. / 調査を行う"
            "プロセス数 (既定: CPU コア数、小さな入力では 1)。")] = None,
        cluster: Annotated[str | None, typer.Option(
            "--cluster", help="Dask scheduler address (tcp://HOST:8786): the input is cut into shards, each shard "
            "is scanned as one Dask task on the cluster's workers (each with its own resolver), the results come "
            "back here and are written as usual. Needs the 'dask' extra. / Dask クラスタで調査する。", show_default=False)] = None,
        shard_size: Annotated[int, typer.Option("--shard-size", min=1, max=1_000_000,
                                                help="Domains per Dask task (--cluster). / Dask の 1 タスクのドメイン数。")] = 10_000,
        checks: Annotated[str, typer.Option(
            "--checks", help="Sections to check, comma-separated, from: spf, dmarc, mx, dkim, bimi, mta_sts, tls_rpt, "
            "dnssec; or all. / 検査する項目 (カンマ区切り、all ですべて)。")] = "spf,dmarc,mx",
        mx_hosts: Annotated[bool, typer.Option("--mx-hosts", help="Also resolve the addresses (A/AAAA) of each MX "
                                               "host. / MX ホストのアドレスも調べる。")] = False,
        fetch: Annotated[bool, typer.Option("--fetch", help="Allow HTTPS fetches (MTA-STS policy, BIMI logo); "
                                            "off by default. / HTTPS での取得を許可。")] = False,
        fetch_concurrency: Annotated[int, typer.Option("--fetch-concurrency", min=1, max=1000,
                                                       help="HTTPS fetches in flight at once (per process). / 同時に行う HTTPS 取得数。")
                                     ] = 16,
        ca_file: Annotated[str | None, typer.Option("--ca-file", help="Extra CA certificates (PEM) trusted for "
                                                    "the HTTPS fetches. / 追加の CA 証明書。", show_default=False)] = None,
        validating_resolver: Annotated[bool, typer.Option(
            "--validating-resolver", help="The resolver validates DNSSEC: ask for and trust its AD bit. / "
            "リゾルバが DNSSEC を検証する。")] = False,
        dkim_selectors: Annotated[str | None, typer.Option(
            "--dkim-selectors", help="File of DKIM selectors to probe, one a line (default: the bundled list). / "
            "調べる DKIM セレクタの一覧ファイル。",
            show_default=False)] = None,
        lang: Lang = None,
        summary_json: Annotated[str | None, typer.Option(
            "--summary-json", help="Also write the summary as JSON to this file. / 集計を JSON でも保存。",
            show_default=False)] = None,
        no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar (it is also off when "
                                                  "stderr is not a terminal). / 進捗バーを出さない。")] = False,
        nameserver: Nameserver = None,
        timeout: Timeout = 2.0,
        retries: Retries = 2,
        concurrency: Concurrency = 200,
        qps: Qps = None,
    ) -> None:
        """Check many domains (SPF, DMARC, MX by default; --checks for more); one result per domain.
        多数のドメインを一括調査します (結果は完了順、--ordered で入力順に逐次書き出し)。"""
        ja = default_lang(lang) == "ja"

        def fail(en: str, ja_text: str) -> None:
            _say(f"エラー: {ja_text}" if ja else f"error: {en}")
            raise typer.Exit(2)

        try:
            sections = parse_checks(checks)
        except ValueError as exc:
            from mailposture.checks.domain import ALL_SECTIONS

            fail(str(exc), f"--checks '{checks}': 検査項目は {','.join(ALL_SECTIONS)} または all から選んでください")
        selectors = None
        if dkim_selectors is not None:
            from mailposture.checks.dkim import load_selectors

            try:
                selectors = load_selectors(dkim_selectors)
            except ValueError as exc:
                fail(str(exc), f"--dkim-selectors: セレクタの一覧を読めません ({exc})")
        if ca_file is not None and not os.path.isfile(ca_file):
            fail(f"--ca-file {ca_file}: no such file", f"--ca-file {ca_file}: ファイルがありません")
        if cluster and workers is not None and workers > 1:
            fail("--workers and --cluster exclude each other (with --cluster the Dask workers run the checks: start "
                 "them with --nworkers N)", "--workers と --cluster は同時に指定できません (--cluster では Dask の"
                 "ワーカーが調査します。ワーカーは --nworkers N で起動してください)")
        if workers is None:
            workers = 1 if cluster else _default_workers(input_path, resolver_factory, check_factory)
        settings = ScanSettings(
            input=InputSpec(input_path, format=input_format.value, column=column, zone_origin=zone_origin,
                            delimiter=_unescape_delimiter(delimiter), encoding=encoding),
            output=OutputSpec(output, fmt.value if fmt else None),
            dns=DnsOptions(nameserver or None, timeout, retries, concurrency, qps, want_ad=validating_resolver),
            domains_concurrency=domains_concurrency, limit=limit, lang=default_lang(lang), resume=resume,
            overwrite=overwrite, progress=False if no_progress else None, keep_answers=answers,
            domain_timeout=domain_timeout, workers=workers, summary_path=summary_json, sections=sections,
            mx_hosts=mx_hosts, fetch=fetch, fetch_concurrency=fetch_concurrency, ca_file=ca_file,
            validating_resolver=validating_resolver, dkim_selectors=selectors, cluster=cluster,
            shard_size=shard_size, ordered=ordered)
        if resume and overwrite:
            fail("--resume and --overwrite exclude each other", "--resume と --overwrite は同時に指定できません")
        code = execute(settings, resolver_factory=resolver_factory, check_factory=check_factory)
        raise typer.Exit(code)
