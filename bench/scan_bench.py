"""Survey-scan benchmark: `mailposture scan` (SPF + DMARC + MX, SPF trees expanded) against a loopback NSD world.

    .venv/bin/python bench/scan_bench.py [--domains 20000] [--runs 3] [--workers 1,default] [--vs checkdmarc]

``--workers`` lists the configurations to compare: a number is ``scan --workers N``; ``default`` runs the scan
without ``--workers``, as a user does (one process per core, see mailposture.cliopts.auto_workers).

Prints, as medians over --runs runs: domains/s, network queries per domain (engine counters), lookups per domain
(what the checks asked, cache included), CPU seconds and peak RSS of the scan process(es). With --vs checkdmarc
it also runs checkdmarc (installed into bench/.venv-checkdmarc on first use: a bench-only virtualenv, never a
dependency of mailposture) on the first --vs-domains names of the same world and prints the ratio of domains/s
measured in the same run. Each round runs every configuration once, checkdmarc included, so that the machine's
changes of speed (it is shared) hit them alike; the ratios of each round are printed too. checkdmarc only accepts port 53, so NSD also listens on 127.0.0.53:53 (needs root).
Nothing is asserted: figures are printed for people to read. The machine is shared and noisy: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from world import parent_zone, write_world  # noqa: E402

from mailposture.dns.nsd import NsdServer  # noqa: E402

PY = ROOT / ".venv" / "bin" / "python"


def timed(cmd: list[str], **kw) -> tuple[float, float, int, subprocess.CompletedProcess | None, str]:
    """Run cmd; return (wall seconds, CPU seconds of it and its children, peak RSS KiB, stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, None, err


def children_cpu_rss() -> tuple[float, int]:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def scan_once(names_file: Path, server: str, out: Path, workers: int | str, checks: str = "spf,dmarc,mx") -> dict:
    out.unlink(missing_ok=True)
    cmd = [str(PY), "-m", "mailposture.cli", "scan", str(names_file), "-o", str(out), "-n", server,
           "--no-progress", "--no-answers", "--lang", "en", "--timeout", "2", "--retries", "2", "--concurrency", "2000",
           *(["--workers", str(workers)] if workers != "default" else []), "--checks", checks]
    wall, cpu, rss, _, err = timed(cmd)
    n = lookups = 0
    with out.open() as fh:
        for line in fh:
            res = json.loads(line)
            n += 1
            lookups += res.get("dns", {}).get("queries", 0)
    m = re.search(r"([\d,]+) packets sent", err)
    return {"wall": wall, "cpu": cpu, "rss_mb": rss / 1024, "domains": n, "dps": n / wall,
            "net_qpd": int(m.group(1).replace(",", "")) / max(n, 1) if m else float("nan"), "lookups_pd": lookups / max(n, 1)}


def ensure_checkdmarc() -> Path:
    venv = HERE / ".venv-checkdmarc"
    exe = venv / "bin" / "checkdmarc"
    if not exe.exists():
        print("installing checkdmarc into bench/.venv-checkdmarc (bench only) …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "checkdmarc"], check=True)
    return exe


def checkdmarc_once(exe: Path, names: list[str], tmp: Path) -> dict:
    lst = tmp / "cd-names.txt"
    lst.write_text("\n".join(names) + "\n")
    out = tmp / "cd-out.json"
    out.unlink(missing_ok=True)
    # the list first: checkdmarc's -o takes several values and would swallow a list given after it
    wall, cpu, rss, _, _ = timed([str(exe), str(lst), "-n", "127.0.0.53", "-t", "2", "-o", str(out)])
    return {"wall": wall, "cpu": cpu, "rss_mb": rss / 1024, "domains": len(names), "dps": len(names) / wall}


def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", default="1,default")
    ap.add_argument("--vs", choices=["checkdmarc"], default=None)
    ap.add_argument("--vs-domains", type=int, default=1000)
    ap.add_argument("--server-count", type=int, default=1, help="NSD server processes")
    ap.add_argument("--checks", default="spf,dmarc,mx", help="scan --checks (all: every section, issue 3)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="mp-bench-") as tmpd:
        tmp = Path(tmpd)
        t0 = time.perf_counter()
        names = write_world(tmp / "bench.test.zone", args.domains)
        names_file = tmp / "names.txt"
        names_file.write_text("\n".join(names) + "\n")
        print(f"world: {args.domains:,} domains ({len(names):,} names incl. non-existent) written in "
              f"{time.perf_counter() - t0:.1f} s")
        extra = "    ip-address: 127.0.0.53@53" if args.vs else ""
        parent, parent_text = parent_zone()
        (tmp / "parent.zone").write_text(parent_text)
        with NsdServer(zone_files={"bench.test": tmp / "bench.test.zone", parent: tmp / "parent.zone"},
                       server_count=args.server_count,
                       extra_conf=extra, startup_timeout=300) as nsd:
            print(f"nsd: {nsd.address} (server-count {args.server_count})")
            workers = [x if x == "default" else int(x) for x in args.workers.split(",")]
            exe = ensure_checkdmarc() if args.vs else None
            sub = names[: args.vs_domains]
            # rounds interleave every configuration (checkdmarc included), so that a change in the machine's
            # speed (it is shared) hits them alike and the ratios stay meaningful
            runs: dict[int | str, list[dict]] = {w: [] for w in workers}
            cd: list[dict] = []
            ours: list[dict] = []
            for _ in range(args.runs):
                for w in workers:
                    runs[w].append(scan_once(names_file, nsd.address, tmp / "out.jsonl", w, args.checks))
                if exe is not None:
                    cd.append(checkdmarc_once(exe, sub, tmp))
                    ours.append(scan_once(_write(tmp / "sub.txt", sub), nsd.address, tmp / "sub.jsonl", 1))
            print(f"\nmailposture scan --checks {args.checks}, {len(names):,} names, median of {args.runs} runs")
            print(f"{'workers':>11} {'domains/s':>10} {'net q/domain':>12} {'lookups/domain':>14} "
                  f"{'CPU s':>7} {'peak RSS MB':>11}")
            for w in workers:
                r = runs[w]
                print(f"{label(w):>11} {med(r, 'dps'):>10,.0f} {med(r, 'net_qpd'):>12.2f} "
                      f"{med(r, 'lookups_pd'):>14.2f} {med(r, 'cpu'):>7.1f} {med(r, 'rss_mb'):>11.0f}")
            baseline_ratios(runs, workers)
            if exe is not None:
                print(f"\nsame {len(sub):,} names, median of {len(cd)} runs each")
                print(f"  checkdmarc      {med(cd, 'dps'):>8,.1f} domains/s  CPU {med(cd, 'cpu'):.1f} s  "
                      f"RSS {med(cd, 'rss_mb'):.0f} MB")
                print(f"  mailposture     {med(ours, 'dps'):>8,.1f} domains/s  CPU {med(ours, 'cpu'):.1f} s  "
                      f"RSS {med(ours, 'rss_mb'):.0f} MB   (1 worker; start-up is a large part of so short a run)")
                print(f"  ratio on the same {len(sub):,} names (1 worker): {med(ours, 'dps') / med(cd, 'dps'):.1f}x")
                for w in workers:
                    ratios = sorted(a["dps"] / b["dps"] for a, b in zip(runs[w], cd, strict=True))
                    print(f"  our {len(names):,}-name rate with workers={label(w)} vs checkdmarc: "
                          f"{med(runs[w], 'dps') / med(cd, 'dps'):.1f}x (per round: "
                          f"{', '.join(f'{x:.1f}x' for x in ratios)})")


def label(w: int | str) -> str:
    """``default`` with the number of processes it means on this machine."""
    if w != "default":
        return str(w)
    from mailposture.cliopts import cpu_cores

    return f"default ({cpu_cores()})"


def baseline_ratios(runs: dict, workers: list) -> None:
    """Each configuration against the first one (the baseline), measured in the same rounds."""
    base = workers[0]
    for w in workers[1:]:
        per = [a["dps"] / b["dps"] for a, b in zip(runs[w], runs[base], strict=True)]
        print(f"  workers={label(w)} vs workers={label(base)}: {statistics.median(per):.2f}x (per round: "
              f"{', '.join(f'{x:.2f}x' for x in per)})")


def _write(path: Path, names: list[str]) -> Path:
    path.write_text("\n".join(names) + "\n")
    return path


if __name__ == "__main__":
    main()
