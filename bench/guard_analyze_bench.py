"""``guard analyze`` throughput and peak memory on a generated large log, side by side with pflogsumm.

The log is made by the seeded generator of tests/worlds/maillog_gen.py (Postfix submission + Dovecot, classic
and RFC 3339 time stamps) and concatenated into one plain file, because pflogsumm reads plain text only; both
tools read that same file. pflogsumm (Debian package, Perl) is installed by this script with apt-get when
missing; it is not a dependency of mailposture. Each tool runs ``--runs`` times in a fresh process; the script
prints the medians of wall time, CPU time (user+sys), lines per second and peak RSS (``wait4`` rusage), and
the ratios; guard analyze runs with one process and with one per core (``--workers``: the CPU time then
includes the parsing processes, the peak RSS is the largest process's). Targets (issue 12): faster than
pflogsumm, under 300 MB. ``--population N`` measures instead the peak memory for N accounts.

Run: ``.venv/bin/python bench/guard_analyze_bench.py [--users 4000] [--days 30] [--runs 3] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def ensure_pflogsumm() -> str | None:
    exe = shutil.which("pflogsumm") or ("/usr/sbin/pflogsumm" if os.access("/usr/sbin/pflogsumm", os.X_OK) else None)
    if exe:
        return exe
    print("installing pflogsumm (apt-get) …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    r = subprocess.run(["apt-get", "install", "-y", "-q", "pflogsumm"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        print(f"pflogsumm not available: {r.stderr.strip().splitlines()[-1:]}")
        return None
    return shutil.which("pflogsumm") or "/usr/sbin/pflogsumm"


def make_log(big: Path, users: int, days: int) -> None:
    from worlds.maillog_gen import generate

    gen = big.parent / "gen"
    truth = generate(gen, users=users, days=days, seed=7)
    with open(big, "wb") as out:
        for f in truth.files:  # chain order: oldest first per host
            opener = gzip.open if f.endswith(".gz") else open
            with opener(f, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    shutil.rmtree(gen)


def make_population(path: Path, users: int, days: int = 3, addrs: int = 3) -> None:
    """A log whose size is the number of accounts, not the traffic: ``users`` accounts, each logging in and
    submitting one message a day from each of ``addrs`` addresses (two Japanese mobile ranges and one abroad
    for every tenth account) over ``days`` days, each login with its client's IMAP ID (imap_id_log) — the
    detector keeps per-account state, so this is its memory at that population."""
    import random

    rnd = random.Random(11)
    t0 = 1796050800  # 2026-12-01T00:00:00+09:00
    qn = 0
    with open(path, "w", encoding="ascii") as out:
        for day in range(days):
            events = []
            for u in range(users):
                for k in range(addrs):
                    t = t0 + day * 86400 + rnd.randrange(86400)
                    if k == 2 and u % 10 == 0:
                        ip = f"203.{rnd.randrange(0, 50)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
                    else:
                        ip = f"126.{rnd.randrange(0, 255)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
                    events.append((t, u, ip))
            events.sort()
            for t, u, ip in events:
                qn += 1
                q = f"{qn:010X}"
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
                dev = ("iPhone Mail, version=21A329, os=iOS", "Thunderbird, version=115.3, os=Windows",
                       "K-9 Mail, version=6.7, os=Android")[u % 3]
                out.write(f"{stamp} mx dovecot: imap-login: ID sent: name={dev}: user=<>, rip={ip}, "
                          f"lip=192.0.2.1, TLS, session=<S{qn}>\n"
                          f"{stamp} mx dovecot: imap-login: Login: user=<u{u:06d}@example.jp>, method=PLAIN, "
                          f"rip={ip}, lip=192.0.2.1, TLS, session=<S{qn}>\n"
                          f"{stamp} mx postfix/submission/smtpd[7]: {q}: client=unknown[{ip}], "
                          f"sasl_method=PLAIN, sasl_username=u{u:06d}@example.jp\n"
                          f"{stamp} mx postfix/qmgr[9]: {q}: from=<u{u:06d}@example.jp>, size=900, nrcpt=1 "
                          f"(queue active)\n"
                          f"{stamp} mx postfix/smtp[8]: {q}: to=<r@example.net>, relay=r[192.0.2.9]:25, "
                          f"status=sent (250 ok)\n"
                          f"{stamp} mx postfix/qmgr[9]: {q}: removed\n")


def timed(cmd: list[str]) -> tuple[float, float, int, int]:
    """(wall s, cpu s, peak RSS bytes, exit code) of one run in a fresh process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=4000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="Generate into (or reuse) this directory.")
    ap.add_argument("--population", type=int, metavar="N",
                    help="Instead: peak memory of guard analyze for N accounts (three days, three addresses each).")
    ap.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.generate_only:
        if a.population:
            make_population(a.generate_only, a.population)
        else:
            make_log(a.generate_only, a.users, a.days)
        return
    if a.population:
        population(a)
        return
    work = a.keep or Path(tempfile.mkdtemp(prefix="guard-analyze-bench-"))
    big = work / "all.log"
    if not big.exists():
        # in a child process: the peak RSS a child reports (wait4) starts from its parent's at fork time, so
        # this process must stay small
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate-only", str(big), "--users", str(a.users),
                        "--days", str(a.days)], check=True)
        print(f"generated in {time.perf_counter() - t0:.0f}s", flush=True)
    size = big.stat().st_size
    with open(big, "rb") as fh:
        lines = sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 20), b""))
    print(f"input: {big} {size / 1e6:.0f} MB, {lines:,} lines")
    py = sys.executable
    base_cmd = [py, "-m", "mailposture.cli", "guard", "analyze", str(big), "--tz", "Asia/Tokyo", "-f", "json",
                "--no-progress", "-o", os.devnull]
    tools = {"mailposture guard analyze --workers 1": [*base_cmd, "--workers", "1"]}
    cores = len(os.sched_getaffinity(0))
    if cores > 1:
        tools[f"mailposture guard analyze --workers {cores}"] = [*base_cmd, "--workers", str(cores)]
    pf = ensure_pflogsumm()
    if pf:
        tools["pflogsumm"] = [pf, str(big)]
    res: dict[str, list[tuple[float, float, int, int]]] = {k: [] for k in tools}
    for r in range(a.runs):  # interleaved rounds: both tools see the same machine load
        for name, cmd in tools.items():
            res[name].append(timed(cmd))
            w, c, m, rc = res[name][-1]
            print(f"  round {r + 1} {name}: wall {w:.1f}s cpu {c:.1f}s peak {m / 1e6:.0f} MB exit {rc}", flush=True)
    med: dict[str, tuple[float, float, float]] = {}
    for name, rows in res.items():
        wall = statistics.median(x[0] for x in rows)
        cpu = statistics.median(x[1] for x in rows)
        rss = statistics.median(x[2] for x in rows)
        med[name] = (wall, cpu, rss)
        print(f"{name}: median wall {wall:.1f}s, cpu {cpu:.1f}s, {lines / wall:,.0f} lines/s "
              f"({lines / cpu:,.0f} per CPU second), peak RSS {rss / 1e6:.0f} MB")
    if "pflogsumm" in med:
        p = med["pflogsumm"]
        for name, g in med.items():
            if name != "pflogsumm":
                print(f"ratio {name} / pflogsumm: speed {p[0] / g[0]:.2f}x by wall time, {p[1] / g[1]:.2f}x by "
                      f"CPU time (all processes); memory {g[2] / p[2]:.1f}x")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


def population(a: argparse.Namespace) -> None:
    work = a.keep or Path(tempfile.mkdtemp(prefix="guard-population-bench-"))
    log = work / f"population-{a.population}.log"
    if not log.exists():
        subprocess.run([sys.executable, __file__, "--generate-only", str(log), "--population", str(a.population)],
                       check=True)
    py = sys.executable
    peaks = []
    for r in range(a.runs):
        w, c, m, rc = timed([py, "-m", "mailposture.cli", "guard", "analyze", str(log), "-f", "json",
                             "--no-progress", "-o", os.devnull, "--workers", "1"])
        peaks.append(m)
        print(f"  round {r + 1}: wall {w:.1f}s cpu {c:.1f}s peak {m / 1e6:.0f} MB exit {rc}", flush=True)
    med = statistics.median(peaks)
    print(f"population {a.population:,} accounts ({log.stat().st_size / 1e6:.0f} MB log): median peak RSS "
          f"{med / 1e6:.0f} MB, {med / a.population:,.0f} bytes per account (target: under 300 MB)")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
