"""Scale benchmark (issue 6): `mailposture scan` over a 100k–1M-domain world served by NSD on loopback.

    bash bench/run [--domains 1000000] [--quick] [--runs N] [--workers 1,2] [--server-count auto|1|2]

Builds the bench world (bench/world.py: SPF/DMARC/MX mix, shared SPF include trees, ~2 % NXDOMAIN names) with
``--domains`` domains (default 1,000,000; ``--quick``: 100,000), serves it with NSD on 127.0.0.1, and prints:

* dnsperf on the same server (TXT apex, ``_dmarc`` TXT and MX of the world's names): the queries/s NSD answers
  on this machine, with NSD ``server-count`` 1 and 2 when ``--server-count auto`` (the better one is used for
  the scans);
* `mailposture scan` (SPF + DMARC + MX, SPF trees expanded, ``--no-answers``, JSON Lines out) with 1 and 2
  worker processes: domains/s, network queries per domain (engine packets sent), CPU seconds (scan process and
  its workers), peak RSS of the parent and of each worker (VmHWM from /proc, sampled while it runs), and the
  ratio of our network query rate to dnsperf's;
* checkdmarc (bench-only virtualenv, see scan_bench.py) vs mailposture on the same first ``--vs-domains`` names.

Medians of ``--runs`` runs (default 3; 1 at 500k domains and more — the output says so). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from scan_bench import checkdmarc_once, ensure_checkdmarc  # noqa: E402
from world import parent_zone, write_world  # noqa: E402

from mailposture.dns.nsd import NsdServer  # noqa: E402

PY = ROOT / ".venv" / "bin" / "python"


# ---------------------------------------------------------------------------------------------------------------
# Process measurements

def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def _hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssWatch:
    """Samples the peak RSS (VmHWM) of a process and its children every ``every`` seconds until stopped."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every = pid, every
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for p in [self.pid, *_children(self.pid)]:
                v = _hwm_kib(p)
                if v is not None and v > self.peak.get(p, 0):
                    self.peak[p] = v
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


def scan_once(names_file: Path, server: str, tmp: Path, workers: int, *, concurrency: int,
              domains_concurrency: int, answers: bool) -> dict:
    out, summary = tmp / f"scan-w{workers}.jsonl", tmp / "summary.json"
    out.unlink(missing_ok=True)
    summary.unlink(missing_ok=True)
    cmd = [str(PY), "-m", "mailposture.cli", "scan", str(names_file), "-o", str(out), "-n", server,
           "--no-progress", "--lang", "en", "--timeout", "2", "--retries", "2",
           "--concurrency", str(concurrency), "--domains-concurrency", str(domains_concurrency),
           "--workers", str(workers), "--summary-json", str(summary), "--answers" if answers else "--no-answers"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watch = RssWatch(proc.pid)
    err_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore
    reader.start()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    watch.stop()
    reader.join(5)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"scan failed ({code}): {' '.join(cmd)}\n{b''.join(err_chunks).decode()[-3000:]}")
    s = json.loads(summary.read_text())
    n = s["domains"]
    parent = watch.peak.get(proc.pid, ru.ru_maxrss)
    workers_rss = sorted((v for p, v in watch.peak.items() if p != proc.pid), reverse=True)
    sent = s.get("engine", {}).get("sent", 0)
    size = out.stat().st_size
    out.unlink(missing_ok=True)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "domains": n, "dps": n / wall,
            "net_qpd": sent / max(n, 1), "qps": sent / wall, "lookups_pd": s.get("queries_per_domain", 0.0),
            "rss_parent_mb": parent / 1024, "rss_workers_mb": [w / 1024 for w in workers_rss],
            "errors": s.get("errors", 0), "out_mb": size / 2**20}


# ---------------------------------------------------------------------------------------------------------------
# dnsperf

def dnsperf_file(names: list[str], path: Path, limit: int = 300_000) -> Path:
    with path.open("w") as f:
        for name in names[:limit]:
            f.write(f"{name} TXT\n_dmarc.{name} TXT\n{name} MX\n")
    return path


def dnsperf_once(qfile: Path, host: str, port: int, seconds: int, clients: int) -> float | None:
    exe = shutil.which("dnsperf")
    if exe is None:
        return None
    cmd = [exe, "-s", host, "-p", str(port), "-d", str(qfile), "-l", str(seconds), "-c", str(clients),
           "-Q", "500000", "-q", "2000", "-t", "2"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"Queries per second:\s+([\d.]+)", r.stdout)
    return float(m.group(1)) if m else None


def measure_dnsperf(qfile: Path, nsd: NsdServer, seconds: int, runs: int) -> float | None:
    host, port = nsd.address.rsplit(":", 1) if ":" in nsd.address else (nsd.address, "53")
    vals = [v for v in (dnsperf_once(qfile, host, int(port), seconds, 4) for _ in range(runs)) if v]
    return statistics.median(vals) if vals else None


# ---------------------------------------------------------------------------------------------------------------

def start_nsd(tmp: Path, server_count: int, *, port53: bool) -> NsdServer:
    parent, _ = parent_zone()
    extra = "    ip-address: 127.0.0.53@53" if port53 else ""
    nsd = NsdServer(zone_files={"bench.test": tmp / "bench.test.zone", parent: tmp / "parent.zone"},
                    server_count=server_count, extra_conf=extra, startup_timeout=900)
    t0 = time.perf_counter()
    nsd.start()
    print(f"nsd server-count {server_count} on {nsd.address}: loaded in {time.perf_counter() - t0:.0f} s",
          flush=True)
    return nsd


def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100,000 domains")
    ap.add_argument("--runs", type=int, default=None, help="default 3 (1 at 500k domains and more)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--server-count", default="auto", help="NSD server processes: 1, 2 or auto (measure both "
                    "with dnsperf, scan with the better)")
    ap.add_argument("--concurrency", type=int, default=2000, help="scan --concurrency (queries in flight)")
    ap.add_argument("--domains-concurrency", type=int, default=1000)
    ap.add_argument("--answers", action="store_true", help="keep raw DNS answers in the results")
    ap.add_argument("--dnsperf-seconds", type=int, default=10)
    ap.add_argument("--vs-domains", type=int, default=1000)
    ap.add_argument("--no-checkdmarc", action="store_true")
    ap.add_argument("--tmp", default=None, help="work directory (default: a temporary one)")
    args = ap.parse_args()
    n = 100_000 if args.quick else args.domains
    runs = args.runs or (1 if n >= 500_000 else 3)
    port53 = not args.no_checkdmarc and os.geteuid() == 0

    with tempfile.TemporaryDirectory(prefix="mp-scale-", dir=args.tmp) as tmpd:
        tmp = Path(tmpd)
        t0 = time.perf_counter()
        names = write_world(tmp / "bench.test.zone", n)
        _, parent_text = parent_zone()
        (tmp / "parent.zone").write_text(parent_text)
        names_file = tmp / "names.txt"
        names_file.write_text("\n".join(names) + "\n")
        print(f"world: {n:,} domains ({len(names):,} names incl. non-existent; zone "
              f"{(tmp / 'bench.test.zone').stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t0:.0f} s",
              flush=True)
        qfile = dnsperf_file(names, tmp / "dnsperf.txt")
        have_dnsperf = shutil.which("dnsperf") is not None
        if not have_dnsperf:
            print("dnsperf is not installed (Debian package 'dnsperf'): the query-rate ratio is skipped")

        counts = [1, 2] if args.server_count == "auto" else [int(args.server_count)]
        perf: dict[int, float | None] = {}
        nsd = None
        for sc in counts:
            if nsd is not None:
                nsd.stop()
            nsd = start_nsd(tmp, sc, port53=port53)
            perf[sc] = measure_dnsperf(qfile, nsd, args.dnsperf_seconds, 3) if have_dnsperf else None
            if perf[sc]:
                print(f"  dnsperf: {perf[sc]:,.0f} queries/s (median of 3 × {args.dnsperf_seconds} s, 4 clients)",
                      flush=True)
        chosen = counts[-1]
        if len(counts) > 1 and all(perf.values()):
            chosen = max(perf, key=lambda k: perf[k] or 0)
        if nsd is None or nsd.server_count != chosen:
            nsd.stop()  # type: ignore[union-attr]
            nsd = start_nsd(tmp, chosen, port53=port53)
        try:
            rows = []
            for w in [int(x) for x in args.workers.split(",")]:
                rs = []
                for i in range(runs):
                    r = scan_once(names_file, nsd.address, tmp, w, concurrency=args.concurrency,
                                  domains_concurrency=args.domains_concurrency, answers=args.answers)
                    print(f"  scan workers={w} run {i + 1}: {r['dps']:,.0f} domains/s, {r['wall']:.0f} s, "
                          f"CPU {r['cpu']:.0f} s, RSS parent {r['rss_parent_mb']:.0f} MB, workers "
                          f"{', '.join(f'{x:.0f}' for x in r['rss_workers_mb']) or '-'} MB, errors {r['errors']}",
                          flush=True)
                    rs.append(r)
                rows.append((w, rs))
            ref = perf.get(chosen)
            print(f"\nmailposture scan (SPF+DMARC+MX), {len(names):,} names, NSD server-count {chosen}, "
                  f"{'median of ' + str(runs) + ' runs' if runs > 1 else 'one run'}")
            print(f"{'workers':>7} {'domains/s':>10} {'wall s':>7} {'net q/domain':>12} {'lookups/dom':>11} "
                  f"{'CPU s':>7} {'RSS parent MB':>13} {'RSS/worker MB':>13} {'q/s':>8} {'vs dnsperf':>10}")
            for w, rs in rows:
                wk = [max(r["rss_workers_mb"]) for r in rs if r["rss_workers_mb"]]
                ratio = f"{med(rs, 'qps') / ref:.2f}" if ref else "n/a"
                print(f"{w:>7} {med(rs, 'dps'):>10,.0f} {med(rs, 'wall'):>7.0f} {med(rs, 'net_qpd'):>12.2f} "
                      f"{med(rs, 'lookups_pd'):>11.2f} {med(rs, 'cpu'):>7.0f} {med(rs, 'rss_parent_mb'):>13.0f} "
                      f"{(statistics.median(wk) if wk else 0):>13.0f} {med(rs, 'qps'):>8,.0f} {ratio:>10}")
            if ref:
                print(f"dnsperf on the same server: {ref:,.0f} queries/s (server-count {chosen}); "
                      + ", ".join(f"server-count {k}: {v:,.0f}" for k, v in perf.items() if v))
            best = max(med(rs, "dps") for _, rs in rows)
            print(f"projected time for 1,000,000 domains at the best rate: {1e6 / best / 60:.1f} min")

            if not args.no_checkdmarc:
                if not port53:
                    print("checkdmarc comparison skipped: it only queries port 53 (run as root)")
                else:
                    exe = ensure_checkdmarc()
                    sub = names[: args.vs_domains]
                    cd = [checkdmarc_once(exe, sub, tmp) for _ in range(3)]
                    subfile = tmp / "sub.txt"
                    subfile.write_text("\n".join(sub) + "\n")
                    ours = [scan_once(subfile, nsd.address, tmp, 1, concurrency=args.concurrency,
                                      domains_concurrency=args.domains_concurrency, answers=args.answers)
                            for _ in range(3)]
                    print(f"\nsame first {len(sub):,} names, median of 3 runs each")
                    print(f"  checkdmarc   {med(cd, 'dps'):>9,.1f} domains/s  CPU {med(cd, 'cpu'):.1f} s")
                    print(f"  mailposture  {med(ours, 'dps'):>9,.1f} domains/s  CPU {med(ours, 'cpu'):.1f} s")
                    print(f"  ratio on the same names: {med(ours, 'dps') / med(cd, 'dps'):.1f}x; our best full-"
                          f"world rate vs checkdmarc: {best / med(cd, 'dps'):.0f}x")
        finally:
            nsd.stop()


if __name__ == "__main__":
    main()
