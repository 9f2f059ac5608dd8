"""Survey rounds: scan a list, keep every result and raw DNS answer, resume, retry, recompute.

A round scans every domain of a list once (pass 1), then scans again the domains whose lookups failed (pass 2,
a retry after the transient failures have had time to clear); what still fails is kept as an error (unknown),
never as absent. Results go to Parquet through the scanner's resumable writer
(:func:`mailposture.scan.outputs.open_output`): an interrupted round resumes where it stopped.

``recompute`` re-derives results with the current rules from the stored raw answers (a replay resolver), without
sending a single query.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailposture import __version__
from mailposture.dns.types import Answer
from mailposture.scan.health import DEFAULT_LIMIT, DnsHealth
from mailposture.survey.catalog import Catalog, CatalogError, RoundInfo, check_round_name, now
from mailposture.survey.lists import SurveyList, parse_list

BATCH = 200

ProgressFactory = Callable[[str, int], "Progress"]


class Progress:
    """What the runner reports to: ``advance(n)`` and ``close()``. The CLI gives a rich progress bar."""

    def advance(self, n: int = 1) -> None:  # pragma: no cover - trivial
        pass

    def close(self) -> None:  # pragma: no cover - trivial
        pass


def _no_progress(_label: str, _total: int) -> Progress:
    return Progress()


def failed(result: dict[str, Any]) -> bool:
    """A result to retry: a section could not be decided, or a lookup failed."""
    if result.get("status") == "error":
        return True
    dns = result.get("dns") or {}
    return bool(dns.get("errors"))


# ---------------------------------------------------------------------------------------------------------------
# Scanning: the scanner's pipeline (mailposture.scan.runner.Scanner) with check_domain as the check

class _ScanProgressAdapter:
    """The scanner's progress protocol on top of one of our bars."""

    def __init__(self, bar: Progress) -> None:
        self.bar, self.done = bar, 0

    def start(self, total_bytes: int | None) -> None:
        pass

    def update(self, *, done: int, errors: int, invalid: int, position: int) -> None:
        if done > self.done:
            self.bar.advance(done - self.done)
            self.done = done

    def stop(self) -> None:
        pass


@dataclass(slots=True)
class Parallel:
    """Issue 6 for survey rounds: ``workers`` processes on this machine, or the Dask cluster at ``cluster``
    (mailposture.scan.workers / mailposture.scan.cluster), each building its DNS engine from ``dns``.
    The checks are then the scan defaults (SPF, DMARC, MX, raw answers kept), like a round's."""

    dns: Any                       # mailposture.cliopts.DnsOptions
    workers: int = 1
    cluster: str | None = None

    @property
    def active(self) -> bool:
        return self.workers > 1 or bool(self.cluster)

    def settings(self, concurrency: int, lang: str) -> Any:
        from mailposture.scan.inputs import InputSpec
        from mailposture.scan.outputs import OutputSpec
        from mailposture.scan.runner import ScanSettings

        return ScanSettings(input=InputSpec("-"), output=OutputSpec("-", "parquet"), dns=self.dns,
                            domains_concurrency=max(1, concurrency), lang=lang, keep_answers=True,
                            workers=self.workers, cluster=self.cluster, progress=False)


class _ClusterBar:
    """run_cluster's progress protocol on one of our bars (called from the cluster driver's thread)."""

    def __init__(self, bar: Progress) -> None:
        self.bar, self.done = bar, 0

    def update(self, *, domains: int, **_: Any) -> None:
        if domains > self.done:
            self.bar.advance(domains - self.done)
            self.done = domains

    def stop(self) -> None:
        pass


async def scan_domains(domains: Iterable[str], resolver: Any, writer: Any, *, concurrency: int = 100,
                       lang: str = "en", options: Any = None, progress: Progress | None = None,
                       parallel: Parallel | None = None) -> int:
    """Check every domain with ``concurrency`` workers, writing results through ``writer`` (a ResultWriter).
    With ``parallel`` the checks run in worker processes or on a Dask cluster instead of on ``resolver``."""
    from mailposture.checks.domain import check_domain
    from mailposture.scan.inputs import InputItem
    from mailposture.scan.runner import Scanner

    async def check(domain: str, attrs: dict[str, str]) -> dict[str, Any]:
        return await check_domain(domain, resolver, lang=lang, options=options)

    items = (InputItem(line=i + 1, raw=d, domain=d) for i, d in enumerate(domains))
    scanner = Scanner(check, writer, concurrency=max(1, concurrency), lang=lang,
                      progress=_ScanProgressAdapter(progress or Progress()))
    if parallel is not None and parallel.cluster:
        from mailposture.scan.cluster import ClusterError, run_cluster

        settings = parallel.settings(concurrency, lang)
        try:
            await asyncio.to_thread(run_cluster, settings, items, writer, scanner,
                                    progress=_ClusterBar(progress or Progress()))  # type: ignore[arg-type]
        except ClusterError as exc:
            raise CatalogError(str(exc), f"Dask クラスタでの調査を続けられません: {exc}") from None
        return scanner.summary.written
    if parallel is not None and parallel.workers > 1:
        from mailposture.scan.workers import WorkerPool

        async with WorkerPool(parallel.settings(concurrency, lang), parallel.workers) as pool:
            scanner.check = pool.check
            summary = await scanner.run(items)
        return summary.written
    summary = await scanner.run(items)
    return summary.written


# ---------------------------------------------------------------------------------------------------------------
# Reading stored results

def read_results(path: Path) -> dict[str, dict[str, Any]]:
    import orjson
    import pyarrow.parquet as pq

    out: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return out
    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(columns=["domain", "result"], batch_size=10_000):
            for dom, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
                if dom and text:
                    out[dom] = orjson.loads(text)   # same values as json.loads, several times faster
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path}: cannot read the stored results ({exc})",
                           f"{path}: 保存済みの結果を読めません ({exc})") from None
    return out


# A long-running reader (the dashboard, mailposture.web.survey_data) keeps the last few rounds it read: set with
# keep_loaded(n). Entries are keyed by the files' size and mtime, so a recompute or a resumed round is read anew.
# Off (0) by default: a command reads a round once. Callers must not change the dicts they get.
_KEEP = 0
_LOADED: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def keep_loaded(n: int) -> None:
    global _KEEP
    _KEEP = max(0, n)
    _LOADED.clear()


def _stamp(*paths: Path) -> tuple[Any, ...]:
    out: list[Any] = []
    for p in paths:
        try:
            st = p.stat()
            out.append((str(p), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(p), None))
    return tuple(out)


def _kept(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    if not _KEEP:
        return make()
    with _LOCK:                         # one reader loads a round; the others wait for it
        if key in _LOADED:
            _LOADED[key] = _LOADED.pop(key)   # most recently used last
            return _LOADED[key]
        value = make()
        _LOADED[key] = value
        while len(_LOADED) > 2 * _KEEP:     # a round is two entries: its list and its results
            _LOADED.pop(next(iter(_LOADED)))
        return value


def load_results(cat: Catalog, info: RoundInfo, generation: int | None = None) -> dict[str, dict[str, Any]]:
    """The round's results in use: pass 2 (the retry) overrides pass 1."""
    gdir = cat.gen_dir(info.name, info.generation if generation is None else generation)

    def make() -> dict[str, dict[str, Any]]:
        out = read_results(gdir / "pass1.parquet")
        out.update(read_results(gdir / "pass2.parquet"))
        return out

    return _kept(("results", *_stamp(gdir / "pass1.parquet", gdir / "pass2.parquet")), make)


def load_round_list(cat: Catalog, info: RoundInfo) -> SurveyList:
    path = cat.round_dir(info.name) / "list.csv"
    if not path.exists():
        raise CatalogError(f"{path}: the round's copy of its list is missing",
                           f"{path}: 調査回に保存したリストの写しがありません")
    return _kept(("list", info.list_name, *_stamp(path)), lambda: parse_list(path.read_bytes(), info.list_name))


# ---------------------------------------------------------------------------------------------------------------
# Running a round

def _open(path: Path):
    from mailposture.scan.outputs import OutputError, OutputSpec, open_output

    try:
        return open_output(OutputSpec(str(path), "parquet"), [], resume=True)
    except OutputError as exc:
        raise CatalogError(exc.text("en"), exc.text("ja")) from None


async def _scan_into(path: Path, todo: list[str], resolver: Any, *, concurrency: int, lang: str, options: Any,
                     progress: Progress, parallel: Parallel | None = None) -> None:
    writer, already = _open(path)
    todo = [d for d in todo if d not in already]
    try:
        await scan_domains(todo, resolver, writer, concurrency=concurrency, lang=lang, options=options,
                           progress=progress, parallel=parallel)
    finally:
        writer.close()  # turns the journal into Parquet, also after Ctrl-C
        progress.close()


async def run_round(cat: Catalog, lst: SurveyList, name: str, resolver: Any, *, resolvers: list[str],
                    concurrency: int = 100, lang: str = "en", options: Any = None, synthetic: bool = False,
                    progress: ProgressFactory = _no_progress, replace: bool = False,
                    retry_delay: float = 0.0, parallel: Parallel | None = None,
                    failure_limit: float = DEFAULT_LIMIT) -> RoundInfo:
    """Scan (or resume) the round ``name``; returns its catalog entry when finished: ``complete``, or ``failed``
    when more than ``failure_limit`` of its domains failed a lookup or came back NXDOMAIN — the resolver, not the
    domains, is then the likely cause (:mod:`mailposture.scan.health`) and the round is not counted."""
    check_round_name(name)
    info = cat.get(name)
    if info is not None and replace:
        _remove_round(cat, info)
        info = None
    if info is not None:
        if info.status == "complete":
            raise CatalogError(f"round '{name}' is already complete ({info.finished:%Y-%m-%d %H:%M} UTC); choose "
                               "another --round name, or add --replace to scan it again",
                               f"調査回「{name}」は完了済みです ({info.finished:%Y-%m-%d %H:%M} UTC)。別の --round "
                               "の名前にするか、--replace を付けてやり直してください")
        if info.status == "failed":
            raise CatalogError(f"round '{name}' failed: {round_failure(info) or 'the resolver did not answer'}; "
                               "fix the resolver, then add --replace to scan it again",
                               f"調査回「{name}」は失敗しています: {round_failure(info, 'ja') or 'リゾルバが応答しません'}。"
                               "リゾルバを直してから --replace を付けてやり直してください")
        if info.list_sha256 != lst.sha256:
            raise CatalogError(f"round '{name}' was started with another list (SHA-256 {info.list_sha256[:12]}…, "
                               f"this one {lst.sha256[:12]}…); resume it with the same list or choose another name",
                               f"調査回「{name}」は別のリストで始められています (SHA-256 {info.list_sha256[:12]}…、"
                               f"今回のリスト {lst.sha256[:12]}…)。同じリストで再開するか、別の名前にしてください")
    else:
        rdir = cat.round_dir(name)
        rdir.mkdir(parents=True, exist_ok=True)
        (rdir / "list.csv").write_text(lst.text, encoding="utf-8")
        info = RoundInfo(name=name, list_name=lst.name, list_sha256=lst.sha256, bodies=len(lst.bodies),
                         domains=len(lst.all_domains()), status="running", phase="pass1", started=now(),
                         finished=None, resolvers=list(resolvers), tool_version=__version__, synthetic=synthetic)
        cat.upsert(info)
    gdir = cat.gen_dir(name, 0)
    gdir.mkdir(parents=True, exist_ok=True)
    domains = lst.all_domains()

    if info.phase == "pass1":
        p1 = gdir / "pass1.parquet"
        await _scan_into(p1, domains, resolver, concurrency=concurrency, lang=lang, options=options,
                         progress=progress("pass 1 / 1 回目", len(domains)), parallel=parallel)
        info.phase = "pass2"
        cat.upsert(info)

    if info.phase == "pass2":
        first = read_results(gdir / "pass1.parquet")
        missing = [d for d in domains if d not in first]
        if missing:  # should not happen; never close a round with holes
            raise CatalogError(f"round '{name}': {len(missing)} domain(s) have no result after pass 1; run again",
                               f"調査回「{name}」: 1 回目の後も {len(missing)} ドメインの結果がありません。"
                               "もう一度実行してください")
        retry = [d for d in domains if failed(first[d])]
        if retry:
            await asyncio.sleep(retry_delay)  # let transient failures clear; the engine's cache keeps good answers
            await _scan_into(gdir / "pass2.parquet", retry, resolver, concurrency=concurrency, lang=lang,
                             options=options, progress=progress("retry / 再試行", len(retry)), parallel=parallel)
        final = load_results(cat, info, 0)
        info.retried = len(retry)
        info.errors = sum(1 for d in domains if failed(final[d]))
        health = DnsHealth.of(final[d] for d in domains)
        info.phase, info.finished = "done", now()
        info.status = "failed" if health.suspect(failure_limit) else "complete"
        info.notes = json.dumps({"dns_health": health.to_json(failure_limit),
                                 "warning": {lg: health.warning(lg, info.resolvers, failure_limit)
                                             for lg in ("ja", "en")}}, ensure_ascii=False)
        cat.upsert(info)
    return info


def round_health(info: RoundInfo) -> dict[str, Any]:
    """The DNS health stored with a round (``notes``): counts and, for a failed round, the warning per language."""
    try:
        data = json.loads(info.notes or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def round_failure(info: RoundInfo, lang: str = "en") -> str | None:
    """Why a round failed (RESOLVER_SUSPECT …), or None for a round that did not fail."""
    if info.status != "failed":
        return None
    return (round_health(info).get("warning") or {}).get(lang) or "RESOLVER_SUSPECT"


def _remove_round(cat: Catalog, info: RoundInfo) -> None:
    import shutil

    shutil.rmtree(cat.round_dir(info.name), ignore_errors=True)
    cat.delete(info.name)


# ---------------------------------------------------------------------------------------------------------------
# Recompute from the stored raw answers

class ReplayResolver:
    """Answers from the raw answers stored with one domain's result. A lookup that was never made when the round
    was scanned (a newer rule asks more) is an error ("not recorded"), so it shows as unknown, not absent."""

    def __init__(self, answers: Iterable[dict[str, Any]]) -> None:
        self.answers: dict[tuple[str, str], Answer] = {}
        for a in answers:
            try:
                ans = Answer.from_json(a)
            except (KeyError, TypeError, ValueError):
                continue
            self.answers.setdefault((ans.name.lower().rstrip("."), ans.rdtype.upper()), ans)
        self.missing: list[tuple[str, str]] = []

    async def query(self, name: str, rdtype: str) -> Answer:
        key = (name.lower().rstrip("."), rdtype.upper())
        ans = self.answers.get(key)
        if ans is None:
            self.missing.append(key)
            return Answer(key[0], key[1], "error", rcode="", error="not recorded in the round")
        return ans


async def recompute(cat: Catalog, name: str, *, lang: str = "en", options: Any = None,
                    progress: ProgressFactory = _no_progress) -> tuple[RoundInfo, int]:
    """Re-derive every result of ``name`` with the current rules; returns (info, lookups not recorded)."""
    from mailposture.checks.domain import check_domain

    info = cat.require(name)
    if info.status != "complete":
        raise CatalogError(f"round '{name}' is not complete (phase {info.phase}); finish it first with "
                           "'mailposture survey run' (it resumes)",
                           f"調査回「{name}」は完了していません (段階 {info.phase})。先に mailposture survey run "
                           "で終わらせてください (続きから再開します)")
    old = load_results(cat, info)
    new_gen = info.generation + 1
    gdir = cat.gen_dir(name, new_gen)
    if gdir.exists():
        import shutil

        shutil.rmtree(gdir)  # a recompute that was interrupted: start it over
    gdir.mkdir(parents=True)
    writer, _ = _open(gdir / "pass1.parquet")
    bar = progress("recompute / 再計算", len(old))
    not_recorded = 0
    try:
        batch: list[dict[str, Any]] = []
        for dom, res in old.items():
            rr = ReplayResolver((res.get("dns") or {}).get("answers") or ())
            new = await check_domain(dom, rr, attrs=res.get("attrs") or None, lang=lang, options=options)
            not_recorded += len(rr.missing)
            new["checked_at"] = res.get("checked_at", new.get("checked_at"))
            new["recomputed_at"] = now().isoformat(timespec="seconds")
            batch.append(new)
            bar.advance()
            if len(batch) >= BATCH:
                writer.write(batch)
                batch = []
        if batch:
            writer.write(batch)
    finally:
        writer.close()
        bar.close()
    info.generation, info.recomputed = new_gen, now()
    info.errors = sum(1 for r in load_results(cat, info).values() if failed(r))
    info.tool_version = __version__
    cat.upsert(info)
    return info, not_recorded


def run_sync(coro: Any) -> Any:
    """Run a coroutine (uvloop when available via the engine's runner)."""
    from mailposture.dns.engine import run

    return run(coro)
