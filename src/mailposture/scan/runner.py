"""The scan pipeline: input reader -> bounded queue -> N check workers -> writer, streaming end to end.

::

    reader thread ──items──> [inbox, ≤ batch slots] ──> dispatcher ──> [work queue, queue_size] ──> N workers
      (blocking file/stdin I/O                             │ invalid names                        │ check()
       off the event loop)                                 └──────────> [result queue, queue_size] <─┘
                                                                                  │
                                                                    writer (write + flush per batch)

Memory is bounded: the reader is never more than :attr:`Scanner.max_ahead` items ahead of the writer, whatever
the input size. Results are written in completion order, or in input order with ``ordered=True`` (a reorder
buffer of at most ``window`` results: the dispatcher waits when the window is full). A check that raises yields a
``status: "error"`` object for that domain; the run goes on. When the run is cancelled (Ctrl-C / SIGTERM in the
CLI), reading stops, in-flight checks are cancelled (their domains are simply not in the output, so ``--resume``
scans them), every result already finished is written, and ``CancelledError`` propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mailposture.cliopts import DnsOptions
from mailposture.findings import finding
from mailposture.scan.health import DnsHealth
from mailposture.scan.inputs import InputCounts, InputError, InputItem, InputSpec
from mailposture.scan.outputs import EncodedResult, OutputSpec, ResultWriter
from mailposture.scan.progress import NullProgress, ScanProgress

CheckFn = Callable[[str, dict[str, str]], Awaitable[dict[str, Any]]]



@dataclass(slots=True)
class ScanSettings:
    """Everything a scan needs, as plain picklable data (issue 6: a worker process rebuilds its scan from it)."""

    input: InputSpec
    output: OutputSpec
    dns: DnsOptions = field(default_factory=DnsOptions)
    domains_concurrency: int = 500
    limit: int | None = None
    lang: str = "en"
    resume: bool = False
    overwrite: bool = False
    progress: bool | None = None      # None: only when stderr is a terminal
    keep_answers: bool = True
    domain_timeout: float | None = None   # seconds one domain's check may take; None: no limit
    workers: int = 1                      # processes running the checks (mailposture.scan.workers)
    summary_path: str | None = None       # also write the summary as JSON there
    ordered: bool = False                 # write results in input order (bounded reorder buffer)
    # issue 3: what each domain's check covers (mailposture.checks.domain.CheckOptions)
    sections: tuple[str, ...] = ("spf", "dmarc", "mx")
    mx_hosts: bool = False                # A/AAAA of each MX host
    fetch: bool = False                   # HTTPS fetches (MTA-STS policy, BIMI SVG)
    fetch_concurrency: int = 16           # HTTPS fetches in flight per process
    ca_file: str | None = None            # extra CA for the fetches
    validating_resolver: bool = False     # the resolver validates DNSSEC (AD bit meaningful)
    dkim_selectors: tuple[str, ...] | None = None   # None: the bundled list
    # issue 6: Dask distributed (mailposture.scan.cluster)
    cluster: str | None = None            # scheduler address, e.g. tcp://10.0.0.1:8786
    shard_size: int = 10_000              # domains per Dask task
    shards_in_flight: int | None = None   # shards submitted but not written; None: 2 x the cluster's threads


_REASONS_JA = {
    "empty name": "名前が空です",
    "contains whitespace": "空白を含んでいます",
    "an IP address, not a domain name": "IP アドレスです (ドメイン名ではありません)",
    "empty name (the root)": "名前が空です (ルート)",
    "empty label": "空のラベルがあります",
    "top-level label is all digits": "トップレベルのラベルが数字だけです",
}


def invalid_result(item: InputItem, lang: str = "en") -> dict[str, Any]:
    """The output object for an input entry that is not a valid domain name (reported, never dropped)."""
    reason = item.error or "invalid"
    shown = _REASONS_JA.get(reason, reason) if lang == "ja" else reason
    return {"domain": item.raw, "status": "error", "input_error": reason, "attrs": item.attrs,
            "findings": [finding("DOMAIN_INVALID", domain=item.raw, reason=shown).to_json(lang)]}


def crash_result(item: InputItem, exc: BaseException) -> dict[str, Any]:
    """The output object for a domain whose check raised unexpectedly (a bug or an unforeseen failure)."""
    out: dict[str, Any] = {"domain": item.domain, "status": "error", "attrs": item.attrs,
                           "error": f"{type(exc).__name__}: {exc}", "findings": []}
    if item.raw != item.domain:
        out["input"] = item.raw
    return out


@dataclass(slots=True)
class ScanSummary:
    written: int = 0          # result objects written in this run (ok + errors + invalid)
    ok: int = 0
    errors: int = 0           # status "error" for a valid name (DNS failure or check crash)
    crashed: int = 0          # of which: the check raised
    invalid: int = 0          # invalid input names (also written, status "error")
    duplicates: int = 0
    resumed: int = 0          # skipped: already in the output
    entries: int = 0          # input entries read
    queries: int = 0          # DNS lookups made by the checks (sum of result dns.queries)
    measured: int = 0         # results that reported dns.queries (the divisor of queries_per_domain)
    elapsed: float = 0.0
    interrupted: bool = False
    limited: bool = False
    invalid_examples: list[tuple[int, str, str]] = field(default_factory=list)   # (line, raw, reason)
    engine: dict[str, Any] = field(default_factory=dict)
    health: DnsHealth = field(default_factory=DnsHealth)   # failed / NXDOMAIN shares: is the resolver the cause?
    resolvers: list[str] = field(default_factory=list)    # named in the RESOLVER_SUSPECT warning

    @property
    def checked(self) -> int:
        return self.ok + self.errors

    @property
    def rate(self) -> float:
        return self.written / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def queries_per_domain(self) -> float:
        return self.queries / self.measured if self.measured else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"domains": self.written, "ok": self.ok, "errors": self.errors, "crashed": self.crashed,
                "invalid": self.invalid, "duplicates_skipped": self.duplicates, "already_done": self.resumed,
                "entries_read": self.entries, "queries": self.queries,
                "queries_per_domain": round(self.queries_per_domain, 2), "elapsed_s": round(self.elapsed, 3),
                "domains_per_s": round(self.rate, 1), "interrupted": self.interrupted, "limited": self.limited,
                "engine": self.engine, "dns_health": self.health.to_json()}

    def to_text(self, lang: str = "en") -> str:
        s = self
        if lang == "ja":
            line = (f"{s.written:,} ドメイン ({s.elapsed:.1f} 秒、{s.rate:,.1f} 件/秒): 正常 {s.ok:,}、"
                    f"エラー {s.errors:,}、不正な名前 {s.invalid:,}、重複スキップ {s.duplicates:,}、"
                    f"出力済みスキップ {s.resumed:,}、1 ドメインあたり {s.queries_per_domain:.1f} クエリ")
            if s.engine.get("sent") is not None:
                line += f" (送信パケット {s.engine['sent']:,})"
            if s.crashed:
                line += f"\n  うち {s.crashed:,} 件はチェック中の内部エラー (出力の error 欄を参照)"
            if s.limited:
                line += "\n  --limit に達したため途中で終了しました"
            for ln, raw, reason in s.invalid_examples:
                line += f"\n  不正な名前: {ln} 行目 '{raw}': {_REASONS_JA.get(reason, reason)}"
            return line + s._health_line(lang)
        line = (f"{s.written:,} domains in {s.elapsed:.1f} s ({s.rate:,.1f}/s): ok {s.ok:,}, errors {s.errors:,}, "
                f"invalid {s.invalid:,}, duplicates skipped {s.duplicates:,}, already done {s.resumed:,}, "
                f"{s.queries_per_domain:.1f} queries/domain")
        if s.engine.get("sent") is not None:
            line += f" ({s.engine['sent']:,} packets sent)"
        if s.crashed:
            line += f"\n  {s.crashed:,} of the errors are internal check failures (see their 'error' field)"
        if s.limited:
            line += "\n  stopped at --limit"
        for ln, raw, reason in s.invalid_examples:
            line += f"\n  invalid name: line {ln} '{raw}': {reason}"
        return line + s._health_line(lang)

    def _health_line(self, lang: str) -> str:
        warn = self.health.warning(lang, self.resolvers)
        return f"\n{'警告' if lang == 'ja' else 'warning'}: {warn}" if warn else ""


_END = object()


class Scanner:
    """Runs ``check(domain, attrs)`` over items with ``concurrency`` workers and writes every result.

    ``queue_size`` bounds the work and result queues (default ``2 * concurrency``); ``batch`` is how many items
    the reader thread may read ahead of the work queue.
    """

    def __init__(self, check: CheckFn, writer: ResultWriter, *, concurrency: int = 500,
                 queue_size: int | None = None, batch: int = 64, lang: str = "en",
                 progress: ScanProgress | None = None, position: Callable[[], int] | None = None,
                 max_examples: int = 5, domain_timeout: float | None = None, ordered: bool = False,
                 window: int | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.check = check
        self.writer = writer
        self.concurrency = concurrency
        self.queue_size = queue_size or 2 * concurrency
        self.batch = max(1, min(batch, self.queue_size))
        self.lang = lang
        self.progress = progress or NullProgress()
        self.position = position or (lambda: 0)
        self._done_offset = 0         # furthest input offset among the items written
        self.max_examples = max_examples
        self.domain_timeout = domain_timeout
        self.summary = ScanSummary()
        # ordered: results are written in input order; at most ``window`` items are dispatched and not yet
        # written (a slow domain holds the others back in a reorder buffer of that size)
        self.ordered = ordered
        self.window = max(1, window or max(4 * concurrency, 1000)) if ordered else 0
        self._window_sem: asyncio.Semaphore | None = None
        self._buffer: dict[int, tuple[InputItem, dict[str, Any], bool]] = {}
        self._next = 0
        self.pulled = 0               # items taken from the input iterator (for the memory bound test)
        self._reader_error: BaseException | None = None

    @property
    def max_ahead(self) -> int:
        """Upper bound of items read from the input but not yet written (the memory bound)."""
        # read-ahead slots (inbox + dispatcher) + work queue + workers + result queue
        return self.batch + self.queue_size + self.concurrency + self.queue_size + self.window

    # -- the reader: a daemon thread, so a blocked read of stdin never holds up Ctrl-C ------------------------
    def _read(self, items: Iterable[InputItem], loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue,
              slots: threading.Semaphore, stop: threading.Event) -> None:
        # Each item takes a slot, given back by the dispatcher once the item is in the (bounded) work queue: the
        # reader never runs more than ``batch`` items ahead of it, and hands each item over at once (a slow
        # stdin producer's domains are scanned as they arrive). Items go through a deque; the loop is woken
        # only when no hand-over is already pending, not once per item.
        pending: deque[Any] = deque()
        scheduled = False

        def drain() -> None:  # in the event loop
            nonlocal scheduled
            scheduled = False            # first: an item appended from now on schedules another drain
            while pending:
                inbox.put_nowait(pending.popleft())

        def deliver(obj: Any) -> None:  # in this thread
            nonlocal scheduled
            pending.append(obj)
            if not scheduled:
                scheduled = True
                loop.call_soon_threadsafe(drain)

        try:
            for item in items:
                while not slots.acquire(timeout=0.2):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                self.pulled += 1
                deliver(item)
        except BaseException as exc:  # InputError mid-file, or anything else: reported by run()
            self._reader_error = exc
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is gone (interrupted): nothing to tell
                pending.append(_END)
                loop.call_soon_threadsafe(drain)

    async def _dispatch(self, inbox: asyncio.Queue, slots: threading.Semaphore, work: asyncio.Queue,
                        results: asyncio.Queue) -> None:
        # Slots go back to the reader a quarter of the read-ahead at a time (each release may wake the reader
        # thread: one wake-up per item cost more CPU than the item), and always before waiting for the next item,
        # so the reader is never left without a slot while the dispatcher waits for it.
        seq = 0
        owed = 0
        chunk = max(1, self.batch // 4)
        while True:
            if owed and inbox.empty():
                slots.release(owed)
                owed = 0
            item = await inbox.get()
            if item is _END:
                break
            if self._window_sem is not None:
                await self._window_sem.acquire()
            if item.error:
                await results.put((seq, item, invalid_result(item, self.lang), False))
            else:
                await work.put((seq, item))
            seq += 1
            owed += 1
            if owed >= chunk:
                slots.release(owed)
                owed = 0
        for _ in range(self.concurrency):
            await work.put(None)

    async def _work(self, work: asyncio.Queue, results: asyncio.Queue) -> None:
        while True:
            got = await work.get()
            if got is None:
                return
            seq, item = got
            crashed = False
            try:
                if self.domain_timeout:
                    try:
                        res = await asyncio.wait_for(self.check(item.domain, item.attrs), self.domain_timeout)
                    except TimeoutError:
                        raise TimeoutError(f"the check took longer than {self.domain_timeout:g} s") from None
                else:
                    res = await self.check(item.domain, item.attrs)
                if not isinstance(res, dict):
                    raise TypeError(f"check returned {type(res).__name__}, not a dict")
                if type(res) is EncodedResult:  # from a --workers process, which set domain and attrs
                    if res.get("domain") != item.domain:
                        raise ValueError(f"result for {res.get('domain')!r}, not {item.domain!r}")
                    if item.raw != item.domain and "input" not in res:
                        res.add("input", item.raw)
                else:
                    res["domain"] = item.domain     # the key that --resume reads back
                    res.setdefault("attrs", item.attrs)
                    if item.raw != item.domain and "input" not in res:
                        res["input"] = item.raw
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                res = crash_result(item, exc)
                crashed = True
            await results.put((seq, item, res, crashed))

    def account(self, item: InputItem, res: dict[str, Any], crashed: bool) -> None:
        """Count one written result into the summary (also used by the --cluster driver)."""
        self._account(item, res, crashed)

    def _account(self, item: InputItem, res: dict[str, Any], crashed: bool) -> None:
        s = self.summary
        s.written += 1
        if item.offset > self._done_offset:
            self._done_offset = item.offset
        if item.error:
            s.invalid += 1
            if len(s.invalid_examples) < self.max_examples:
                s.invalid_examples.append((item.line, item.raw, item.error))
        else:
            s.health.add(res)
            if res.get("status") == "ok":
                s.ok += 1
            else:
                s.errors += 1
                if crashed:
                    s.crashed += 1
        dns = res.get("dns")
        if isinstance(dns, dict) and isinstance(dns.get("queries"), int):
            s.queries += dns["queries"]
            s.measured += 1

    async def _write(self, results: asyncio.Queue) -> None:
        finished = False
        while not finished:
            got = [await results.get()]
            while len(got) < 1000:
                try:
                    got.append(results.get_nowait())
                except asyncio.QueueEmpty:
                    break
            batch = []
            for entry in got:
                if entry is _END:
                    finished = True
                    continue
                seq, item, res, crashed = entry
                if not self.ordered:
                    self._account(item, res, crashed)
                    batch.append(res)
                    continue
                self._buffer[seq] = (item, res, crashed)
                while self._next in self._buffer:
                    item, res, crashed = self._buffer.pop(self._next)
                    self._next += 1
                    self._account(item, res, crashed)
                    batch.append(res)
                    assert self._window_sem is not None
                    self._window_sem.release()
            self.writer.write(batch)
            s = self.summary
            # progress through the input: how far the written entries reach (the reader runs a little ahead)
            self.progress.update(done=s.written, errors=s.errors, invalid=s.invalid,
                                 position=self._done_offset or self.position())

    async def run(self, items: Iterable[InputItem], counts: InputCounts | None = None) -> ScanSummary:
        """Scan every item; returns the summary (also in ``self.summary`` when interrupted)."""
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        inbox: asyncio.Queue = asyncio.Queue()       # bounded by the reader's slots
        work: asyncio.Queue = asyncio.Queue(maxsize=self.queue_size)
        results: asyncio.Queue = asyncio.Queue(maxsize=self.queue_size)
        stop = threading.Event()
        slots = threading.Semaphore(self.batch)
        self._window_sem = asyncio.Semaphore(self.window) if self.ordered else None
        reader = threading.Thread(target=self._read, args=(items, loop, inbox, slots, stop),
                                  name="scan-reader", daemon=True)
        writer = asyncio.create_task(self._write(results))
        dispatcher = asyncio.create_task(self._dispatch(inbox, slots, work, results))
        workers = [asyncio.create_task(self._work(work, results)) for _ in range(self.concurrency)]
        reader.start()

        async def pipeline() -> None:
            await dispatcher
            await asyncio.gather(*workers)
            await results.put(_END)
            await writer

        main = asyncio.create_task(pipeline())
        try:
            # the writer can fail on its own (disk full): then stop everything instead of waiting forever
            await asyncio.wait({main, writer}, return_when=asyncio.FIRST_EXCEPTION)
            if writer.done() and writer.exception() is not None:
                raise writer.exception()  # type: ignore[misc]
            await main
        except asyncio.CancelledError:
            self.summary.interrupted = True
            stop.set()
            for t in (main, dispatcher, *workers):
                t.cancel()
            await asyncio.gather(main, dispatcher, *workers, return_exceptions=True)
            if not writer.done():
                # everything finished so far is in the result queue: write it, then stop the writer
                await results.put(_END)
                await asyncio.gather(writer, return_exceptions=True)
                if self._buffer and writer.exception() is None:
                    # --ordered: what finished after a gap is written too (out of order) rather than lost
                    rest = [self._buffer.pop(k) for k in sorted(self._buffer)]
                    for item, res, crashed in rest:
                        self._account(item, res, crashed)
                    self.writer.write([res for _, res, _ in rest])
            raise
        except BaseException:
            stop.set()
            for t in (main, dispatcher, *workers, writer):
                t.cancel()
            await asyncio.gather(main, dispatcher, *workers, writer, return_exceptions=True)
            raise
        finally:
            self.summary.elapsed = time.monotonic() - t0
            if counts is not None:
                self.summary.duplicates = counts.duplicates
                self.summary.resumed = counts.resumed
                self.summary.entries = counts.entries
                self.summary.limited = counts.limited
        if self._reader_error is None:
            s = self.summary
            self.progress.update(done=s.written, errors=s.errors, invalid=s.invalid,
                                 position=max(self._done_offset, self.position()))
        if self._reader_error is not None:
            err = self._reader_error
            if isinstance(err, InputError):
                n = self.summary.written
                raise InputError(f"{err.en}\n(the {n:,} results before that point were written; "
                                 "fix the input and add --resume to continue)",
                                 f"{err.ja}\n(それより前の {n:,} 件の結果は書き出し済みです。入力を直して --resume を"
                                 "付けて再実行すると続きから調査します)") from None
            raise err
        return self.summary
