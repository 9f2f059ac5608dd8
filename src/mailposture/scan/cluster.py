"""``--cluster tcp://HOST:8786``: the scan's shards as Dask tasks on a distributed cluster (issue 6).

::

    client (this process)                                   Dask workers (any number of nodes)
    input reader -> dedup/resume/limit -> shards of --shard-size ──submit──> shard_task(): own event loop,
          ▲            (≤ shards_in_flight submitted, not yet written)          own DNS engine, Scanner
          └──── writer (jsonl / csv / one Parquet file) <──── results of a finished shard ───┘

* The input is read as a stream; at most ``shards_in_flight`` shards (default: twice the cluster's worker
  threads) are submitted and not yet written, so the client's memory does not grow with the input.
* Each shard is one ``Client.submit`` task (``retries=2`` for a task that raises). A worker that dies (OOM kill,
  node lost) loses its tasks; the scheduler reschedules them on other workers (Dask's
  ``distributed.scheduler.allowed-failures``, 3 by default, before it gives up with ``KilledWorker``).
* A task returns its results to the client, which writes them with the same writers as a local scan: no shared
  filesystem is needed, a shard's results are written exactly once (when its future completes, whichever
  attempt produced them), and ``--resume``, ``--summary-json`` and the summary work as for a local scan.
* Resolver on the workers: ``--nameserver`` when given; otherwise ``MAILPOSTURE_NAMESERVER`` in the worker's
  environment (comma-separated IP[:PORT]); otherwise the worker node's system resolvers (/etc/resolv.conf).
  ``--qps`` and ``--concurrency`` apply to each running shard task.
* Order: shards are written as they finish; with ``--ordered`` in input order (finished shards wait for the
  ones before them, within the same in-flight bound).

Factories (tests) travel as import paths, as for ``--workers``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from mailposture.scan.inputs import InputItem
from mailposture.scan.outputs import ResultWriter
from mailposture.scan.runner import Scanner, ScanSettings

NAMESERVER_ENV = "MAILPOSTURE_NAMESERVER"


class ClusterError(Exception):
    """The cluster run cannot go on (no Dask, scheduler unreachable, a shard failed for good). User-facing."""


# ---------------------------------------------------------------------------------------------------------------
# Worker side: one shard

class _ListWriter(ResultWriter):
    def __init__(self) -> None:
        self.path, self.notes, self.rows = "<shard>", [], []

    def write(self, results: Any) -> None:
        self.rows.extend(results)

    def close(self) -> None:
        pass


def worker_settings(settings: ScanSettings) -> ScanSettings:
    """The settings a shard task runs with: one process, no cluster, no progress, and the worker's resolver."""
    dns = settings.dns
    if not dns.nameservers and os.environ.get(NAMESERVER_ENV):
        servers = [s.strip() for s in os.environ[NAMESERVER_ENV].split(",") if s.strip()]
        dns = dataclasses.replace(dns, nameservers=servers)
    return dataclasses.replace(settings, dns=dns, workers=1, cluster=None, progress=False, summary_path=None)


def shard_task(settings: ScanSettings, shard: int, items: list[InputItem], resolver_path: str | None = None,
               check_path: str | None = None) -> dict[str, Any]:
    """Scan one shard on a Dask worker (runs in a worker thread: a fresh event loop of its own)."""
    from mailposture.dns.engine import run
    from mailposture.scan.checking import default_check_factory
    from mailposture.scan.workers import load_factory

    settings = worker_settings(settings)
    resolver_factory = load_factory(resolver_path) or (lambda d: d.engine())
    check_factory = load_factory(check_path) or default_check_factory

    async def go() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        writer = _ListWriter()
        async with resolver_factory(settings.dns) as resolver:
            scanner = Scanner(check_factory(resolver, settings), writer,
                              concurrency=max(1, min(settings.domains_concurrency, len(items))),
                              lang=settings.lang, domain_timeout=settings.domain_timeout)
            await scanner.run(iter(items))
            stats = getattr(resolver, "stats", None)
            engine = stats.to_json() if stats is not None and hasattr(stats, "to_json") else {}
        return writer.rows, engine

    rows, engine = run(go())
    return {"shard": shard, "results": rows, "engine": engine, "worker": f"{socket.gethostname()}:{os.getpid()}"}


# ---------------------------------------------------------------------------------------------------------------
# Client side

def _chunks(items: Iterator[InputItem], size: int) -> Iterator[list[InputItem]]:
    chunk: list[InputItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _crashed(res: dict[str, Any]) -> bool:
    # runner.crash_result: an "error" text and no DNS statistics (a check that returned has "dns")
    return "error" in res and "dns" not in res and "input_error" not in res


class ClusterProgress:
    """Two rich bars on stderr: shards written / submitted, and domains written (over the input bytes)."""

    def __init__(self, enabled: bool, total_bytes: int | None, lang: str = "en") -> None:
        self.enabled = enabled
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        ja = lang == "ja"
        self._p = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                           TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                           console=Console(file=sys.stderr), transient=False)
        self._shards = self._p.add_task("シャード" if ja else "shards ", total=None, info="")
        self._domains = self._p.add_task("ドメイン" if ja else "domains", total=total_bytes, info="")
        self._t0 = time.monotonic()
        self._p.start()

    def update(self, *, shards_done: int, shards_submitted: int, input_done: bool, domains: int,
               position: int) -> None:
        if not self.enabled:
            return
        rate = domains / max(time.monotonic() - self._t0, 1e-6)
        self._p.update(self._shards, completed=shards_done, total=shards_submitted if input_done else None,
                       info=f"{shards_done:,}/{shards_submitted:,}")
        self._p.update(self._domains, completed=position, info=f"{domains:,}  {rate:,.0f}/s")

    def stop(self) -> None:
        if self.enabled:
            self._p.stop()


def _probe(address: str) -> None:
    """Fail fast (instead of Dask's connect timeout) when nothing listens at a tcp:// scheduler address."""
    from urllib.parse import urlsplit

    if not address.startswith("tcp://"):
        return
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port or 8786
    except ValueError as exc:
        raise ClusterError(f"--cluster {address}: not an address like tcp://HOST:8786 ({exc})") from None
    if not host:
        raise ClusterError(f"--cluster {address}: no host name (expected tcp://HOST:8786)")
    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}") from None


def connect(address: str) -> Any:
    """A ``distributed.Client`` on ``address``; ClusterError with the reason when Dask or the scheduler is missing."""
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError("--cluster needs Dask distributed: pip install 'mailposture[dask]'") from None
    _probe(address)
    try:
        return Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


class _CancelRaceFilter(logging.Filter):
    """Drops the traceback that distributed (2026.11) logs through tornado when Ctrl-C lands while
    ``Client.sync`` has not yet created its future: its ``cancel`` callback reads an unbound variable
    (``NameError`` in ``distributed/utils.py``, ``sync.<locals>.cancel``). The interruption itself is handled
    below; the library's noise would only show a user a traceback for a clean stop."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, NameError) and "cancel" in record.getMessage())


def _quiet_distributed_cancel_race() -> None:
    log = logging.getLogger("tornado.application")
    if not any(isinstance(f, _CancelRaceFilter) for f in log.filters):
        log.addFilter(_CancelRaceFilter())


def run_cluster(settings: ScanSettings, items: Iterator[InputItem], writer: ResultWriter, scanner: Scanner, *,
                resolver_path: str | None = None, check_path: str | None = None,
                position: Callable[[], int] = lambda: 0, progress: ClusterProgress | None = None,
                client: Any = None) -> dict[str, Any]:
    """Scan ``items`` on the Dask cluster at ``settings.cluster``; results go through ``writer``, counts into
    ``scanner.summary`` (via its accounting). Returns the summed engine statistics of the shard tasks.

    Interruption (Ctrl-C) cancels the shards in flight: every shard already finished is written, the others
    are scanned again by ``--resume``."""
    from distributed import as_completed

    _quiet_distributed_cancel_race()
    own = client is None
    if own:
        client = connect(settings.cluster or "")
    progress = progress or ClusterProgress(False, None)
    wsettings = dataclasses.replace(settings, cluster=None, progress=False, summary_path=None)
    limit = settings.shards_in_flight or max(2, 2 * sum(client.nthreads().values()))
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    pending: dict[Any, tuple[int, list[InputItem]]] = {}
    ac = as_completed(loop=client.loop)
    engine: dict[str, Any] = {}
    done_shards = submitted = 0
    furthest = 0
    input_done = False

    held: dict[int, tuple[list[InputItem], dict[str, Any]]] = {}   # --ordered: finished after a gap
    next_shard = 0

    def handle(fut: Any) -> None:
        nonlocal next_shard
        n, shard = pending.pop(fut)
        if fut.status != "finished":
            exc = fut.exception() if fut.status == "error" else "cancelled"
            raise ClusterError(f"shard {n} (input lines {shard[0].line}-{shard[-1].line}) failed on the cluster "
                               f"after retries: {type(exc).__name__}: {exc}")
        data = fut.result()
        fut.release()
        if not settings.ordered:
            write(n, shard, data)
            return
        held[n] = (shard, data)
        while next_shard in held:
            write(next_shard, *held.pop(next_shard))
            next_shard += 1

    def write(n: int, shard: list[InputItem], data: dict[str, Any]) -> None:
        nonlocal done_shards, furthest
        by_key = {it.key: it for it in shard}
        results = data["results"]
        for res in results:
            item = by_key.pop(res.get("domain"), None)
            if item is None:
                raise ClusterError(f"shard {n}: a result for {res.get('domain')!r}, which the shard did not hold")
            scanner.account(item, res, _crashed(res))
            furthest = max(furthest, item.offset)
        if by_key:
            raise ClusterError(f"shard {n}: no result for {len(by_key)} domain(s), e.g. {next(iter(by_key))}")
        writer.write(results)
        for k, v in (data.get("engine") or {}).items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                engine[k] = engine.get(k, 0) + v
        done_shards += 1
        progress.update(shards_done=done_shards, shards_submitted=submitted, input_done=input_done,
                        domains=scanner.summary.written, position=furthest or position())

    try:
        for shard in _chunks(items, settings.shard_size):
            while len(pending) + len(held) >= limit:
                handle(next(ac))
            fut = client.submit(shard_task, wsettings, submitted, shard, resolver_path, check_path,
                                key=f"mailposture-shard-{tag}-{submitted}", retries=2, pure=False)
            pending[fut] = (submitted, shard)
            ac.add(fut)
            submitted += 1
        input_done = True
        while pending:
            handle(next(ac))
    except BaseException as exc:
        # keep what is finished (Ctrl-C, a bad line further in the input); the rest is for --resume
        if not isinstance(exc, ClusterError):
            for fut in [f for f in pending if f.status == "finished"]:
                try:
                    handle(fut)
                except Exception:
                    break
            for k in sorted(held):          # --ordered: finished after a gap, written rather than lost
                with contextlib.suppress(Exception):
                    write(k, *held.pop(k))
        for fut in list(pending):
            fut.cancel()
        raise
    finally:
        if own:
            client.close()
    return engine
