"""CPU cost of the per-domain checks alone: `check_domain` over the synthetic survey world, DNS answered from memory.

    .venv/bin/python bench/check_cpu.py [--domains 5000] [--runs 5] [--profile] [--digest] [--dump out.jsonl]

The world of bench/world.py (the one bench/scan_bench.py serves with NSD) is written to a temporary zone file,
parsed with dnspython's zone parser and answered by :class:`MemoryResolver`: one dict lookup per query once
warm, so what is measured is the check logic (SPF tree, DMARC discovery, MX, result assembly), not DNS.

It prints, as medians of ``--runs`` runs (configurations interleaved, so machine noise hits them alike), the
process CPU µs per domain of ``check_domain`` with: no section at all (the fixed cost of a result), MX only
(the baseline), SPF only, DMARC only, and the survey core (spf, dmarc, mx) with ``keep_answers`` on and off,
plus each one's ratio to the MX-only baseline and to a yardstick no check code affects ("replay": the core's
queries awaited one by one from the same resolver), both measured in the same run. ``--digest`` prints a SHA-256 of every
result (``checked_at`` removed) so that a change can be shown to leave results identical; ``--dump`` writes
them as JSON lines; ``--profile`` prints a cProfile of the core configuration.
Nothing is asserted: figures are printed for people to read. Compare ratios; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import hashlib
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import dns.rdatatype  # noqa: E402
import dns.zone  # noqa: E402
from world import parent_zone, write_world  # noqa: E402

from mailposture.checks.domain import CheckOptions, check_domain  # noqa: E402
from mailposture.dns.types import Answer  # noqa: E402


class MemoryResolver:
    """Answers from parsed zones; every answer is built once and then served from a dict (≈ 0 CPU).

    Names that do not exist get NXDOMAIN, names that exist (or have descendants) without the type NODATA;
    ``*.`` owners answer the names below them that do not exist (RFC 4592, closest encloser only).
    """

    def __init__(self, records: dict[tuple[str, str], tuple[Any, ...]]) -> None:
        self.records = records
        self.nodes: set[str] = set()
        for name, _ in records:
            labels = name.split(".")
            for i in range(len(labels)):
                self.nodes.add(".".join(labels[i:]))
        self.memo: dict[tuple[str, str], Answer] = {}
        self.queries = 0
        self.log: list[tuple[str, str]] | None = None  # every query, when set

    def _answer(self, name: str, rdtype: str) -> Answer:
        owner = name
        if name not in self.nodes:
            labels = name.split(".")
            owner = ""
            for i in range(1, len(labels)):
                parent = ".".join(labels[i:])
                if parent in self.nodes:
                    if "*." + parent in self.nodes:
                        owner = "*." + parent
                    break
            if not owner:
                return Answer(name, rdtype, "nxdomain", rcode="NXDOMAIN", ttl=300)
        recs = self.records.get((owner, rdtype))
        if recs:
            return Answer(name, rdtype, "ok", records=recs, ttl=3600)
        return Answer(name, rdtype, "nodata", ttl=300)

    async def query(self, name: str, rdtype: str) -> Answer:
        self.queries += 1
        if self.log is not None:
            self.log.append((name, rdtype))
        key = (name, rdtype)
        ans = self.memo.get(key)
        if ans is None:
            ans = self.memo[key] = self._answer(name.rstrip(".").lower(), rdtype.upper())
        return ans


def load_world(n: int) -> tuple[list[str], MemoryResolver]:
    """The bench world of ``n`` domains (and its parent zone), parsed from zone files as NSD would read them."""
    records: dict[tuple[str, str], list[Any]] = {}
    with tempfile.TemporaryDirectory(prefix="mp-check-cpu-") as tmpd:
        path = Path(tmpd) / "bench.test.zone"
        names = write_world(path, n)
        parent, parent_text = parent_zone()
        (Path(tmpd) / "parent.zone").write_text(parent_text)
        zones = [dns.zone.from_file(str(path), "bench.test", relativize=False),
                 dns.zone.from_file(str(Path(tmpd) / "parent.zone"), parent, relativize=False)]
    for zone in zones:
        for owner, rdataset in zone.iterate_rdatasets():
            name = owner.to_text(omit_final_dot=True).lower()
            rdtype = dns.rdatatype.to_text(rdataset.rdtype)
            out = records.setdefault((name, rdtype), [])
            for rd in rdataset:
                if rdtype == "MX":
                    out.append((rd.preference, rd.exchange.to_text(omit_final_dot=True).lower()))
                elif rdtype in ("TXT", "SPF"):
                    out.append(tuple(rd.strings))
                elif rdtype in ("A", "AAAA"):
                    out.append(rd.address)
                else:
                    out.append(rd.to_text())
    return names, MemoryResolver({k: tuple(v) for k, v in records.items()})


CONFIGS: dict[str, CheckOptions] = {
    "empty (no section)": CheckOptions(sections=()),
    "mx only (baseline)": CheckOptions(sections=("mx",)),
    "spf only": CheckOptions(sections=("spf",)),
    "dmarc only": CheckOptions(sections=("dmarc",)),
    "core, keep_answers": CheckOptions(),
    "core, no answers": CheckOptions(keep_answers=False),
    "core, no answers, sequential": CheckOptions(keep_answers=False, concurrent_sections=False),  # as scan runs it
}
BASELINE = "mx only (baseline)"
REPLAY = "replay (DNS only)"


async def run_all(names: list[str], res: MemoryResolver, opts: CheckOptions) -> list[dict[str, Any]]:
    return [await check_domain(d, res, options=opts) for d in names]


async def run_discard(names: list[str], res: MemoryResolver, opts: CheckOptions) -> None:
    """As a scan does: each result is dropped once made (keeping 5,000 of them would make the GC cost grow)."""
    for d in names:
        await check_domain(d, res, options=opts)


def cpu_per_domain(loop: asyncio.AbstractEventLoop, names: list[str], res: MemoryResolver,
                   opts: CheckOptions) -> float:
    gc.collect()
    t0 = time.process_time()
    loop.run_until_complete(run_discard(names, res, opts))
    return (time.process_time() - t0) / len(names) * 1e6


async def replay(queries: list[tuple[str, str]], res: MemoryResolver) -> None:
    for name, rdtype in queries:
        await res.query(name, rdtype)


def replay_cpu_per_domain(loop: asyncio.AbstractEventLoop, queries: list[tuple[str, str]], res: MemoryResolver,
                          n: int) -> float:
    """The yardstick that no check code affects: the core's queries, awaited one by one, nothing else."""
    gc.collect()
    t0 = time.process_time()
    loop.run_until_complete(replay(queries, res))
    return (time.process_time() - t0) / n * 1e6


def digest(results: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for r in results:
        r = {k: v for k, v in r.items() if k != "checked_at"}
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="cProfile the core configuration")
    ap.add_argument("--digest", action="store_true", help="SHA-256 of every configuration's results")
    ap.add_argument("--dump", type=Path, help="write the core results (keep_answers) as JSON lines")
    args = ap.parse_args()

    t0 = time.perf_counter()
    names, res = load_world(args.domains)
    print(f"world: {args.domains:,} domains, {len(names):,} names (incl. non-existent), loaded in "
          f"{time.perf_counter() - t0:.1f} s")
    loop = asyncio.new_event_loop()
    for label, opts in CONFIGS.items():  # warm-up: fills the resolver's memo and every lazy import/cache
        results = loop.run_until_complete(run_all(names, res, opts))
        if args.digest:
            print(f"  digest {label:<30} {digest(results)}")
        if args.dump and opts.keep_answers and opts.sections == CheckOptions().sections:
            with args.dump.open("w") as fh:
                for r in results:
                    fh.write(json.dumps({k: v for k, v in r.items() if k != "checked_at"}, sort_keys=True,
                                        ensure_ascii=False) + "\n")
    res.log = []
    loop.run_until_complete(run_discard(names, res, CONFIGS["core, keep_answers"]))
    core_queries, res.log = res.log, None
    qpd = len(core_queries) / len(names)

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        loop.run_until_complete(run_discard(names, res, CONFIGS["core, keep_answers"]))
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(35)

    labels = [REPLAY, *CONFIGS]
    samples: dict[str, list[float]] = {label: [] for label in labels}
    ratios: dict[str, list[float]] = {label: [] for label in labels}
    for _ in range(args.runs):
        run = {REPLAY: replay_cpu_per_domain(loop, core_queries, res, len(names))}
        run.update({label: cpu_per_domain(loop, names, res, opts) for label, opts in CONFIGS.items()})
        for label, us in run.items():
            samples[label].append(us)
            ratios[label].append((us / run[BASELINE], us / run[REPLAY]))
    loop.close()

    print(f"\ncheck_domain CPU per domain, {len(names):,} names, median of {args.runs} runs "
          f"(core: {qpd:.2f} lookups/domain, answered from memory)")
    print(f"{'configuration':<30} {'µs/domain':>10} {'min':>8} {'max':>8} {'vs mx only':>11} {'vs replay':>10}")
    for label in labels:
        s = samples[label]
        print(f"{label:<30} {statistics.median(s):>10.1f} {min(s):>8.1f} {max(s):>8.1f} "
              f"{statistics.median(r[0] for r in ratios[label]):>10.2f}x "
              f"{statistics.median(r[1] for r in ratios[label]):>9.2f}x")


if __name__ == "__main__":
    main()
