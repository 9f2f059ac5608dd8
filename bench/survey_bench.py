"""`mailposture survey run` with its default worker processes against one process, on a loopback NSD world.

    .venv/bin/python bench/survey_bench.py [--domains 5000] [--runs 3] [--workers 1,default]

The list is a survey CSV (``domain`` column) of the synthetic world of bench/world.py, served by NSD. Each round
runs every configuration once (so that the shared machine's changes of speed hit them alike); printed: medians
of domains/s, wall and CPU seconds, and each configuration's ratio to the first (the baseline) per round.
``default`` runs `survey run` without ``--workers``, as a user does (one process per core).
Nothing is asserted: figures are printed for people to read.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from scan_bench import PY, baseline_ratios, label, med, timed  # noqa: E402
from world import parent_zone, write_world  # noqa: E402

from mailposture.dns.nsd import NsdServer  # noqa: E402


def survey_once(lst: Path, server: str, data: Path, workers: int | str, n: int) -> dict:
    cmd = [str(PY), "-m", "mailposture.cli", "survey", "run", str(lst), "--round", "bench", "--data-dir", str(data),
           "-n", server, "-q", "--lang", "en", "--timeout", "2", "--retries", "2", "--concurrency", "2000",
           "--retry-delay", "0", "--replace", *(["--workers", str(workers)] if workers != "default" else [])]
    wall, cpu, rss, _, _ = timed(cmd)
    return {"wall": wall, "cpu": cpu, "rss_mb": rss / 1024, "dps": n / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", default="1,default")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mp-survey-bench-") as tmpd:
        tmp = Path(tmpd)
        t0 = time.perf_counter()
        names = write_world(tmp / "bench.test.zone", args.domains)
        lst = tmp / "list.csv"
        lst.write_text("domain,group\n" + "".join(f"{d},g{i % 8}\n" for i, d in enumerate(names)))
        print(f"world: {len(names):,} names written in {time.perf_counter() - t0:.1f} s")
        parent, parent_text = parent_zone()
        (tmp / "parent.zone").write_text(parent_text)
        workers = [x if x == "default" else int(x) for x in args.workers.split(",")]
        runs: dict[int | str, list[dict]] = {w: [] for w in workers}
        with NsdServer(zone_files={"bench.test": tmp / "bench.test.zone", parent: tmp / "parent.zone"},
                       startup_timeout=300) as nsd:
            for _ in range(args.runs):
                for w in workers:
                    runs[w].append(survey_once(lst, nsd.address, tmp / f"data-{w}", w, len(names)))
        print(f"\nmailposture survey run, {len(names):,} domains, median of {args.runs} runs")
        print(f"{'workers':>11} {'domains/s':>10} {'wall s':>7} {'CPU s':>7} {'peak RSS MB':>11}")
        for w in workers:
            r = runs[w]
            print(f"{label(w):>11} {med(r, 'dps'):>10,.0f} {med(r, 'wall'):>7.1f} {med(r, 'cpu'):>7.1f} "
                  f"{med(r, 'rss_mb'):>11.0f}")
        baseline_ratios(runs, workers)


if __name__ == "__main__":
    main()
