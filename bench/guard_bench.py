"""Guard policy-server benchmark: (a) maximum throughput and (b) latency at a fixed offered load, side by side
with Debian's postfwd.

Load: ``--conns`` (50) persistent Postfix-like connections with realistic Postfix 3.7 attributes, from
``--clients`` (1) separate client processes (uvloop, plain Protocol callbacks); users drawn from ``--users`` (100k)
stored in a SQLite store (about 7 % opted in, 2 % always allowed, 1 % locked, the rest stored as restricted);
client addresses drawn from real global IPv4 addresses, ``--foreign`` (30 %) of them outside Japan.

(a) closed loop: each connection sends its next request as soon as its answer arrives -> maximum requests/s.
    With 50 requests always in flight its latencies are queueing (Little's law), printed but labelled so.
(b) open loop at ``--rates`` (10,000 req/s): the rate is spread over the connections (200/s each), each request
    due on a fixed schedule and sent then, or when the previous answer arrives if that is later ("late"), as
    smtpd asks per recipient. p50/p99/p99.9 of send -> answer, the achieved rate, the late share.
Every run also prints the server's CPU time per request (/proc/PID/stat over the measured window), the cores
taken by the client processes and by everything else on the machine, the load average and the CPU pressure.

postfwd (Debian's 1.35 package, Perl; postfwd1 = one process) cannot geolocate without plugins and has no
per-user state store. It runs twice on the same traffic (closed loop only), with rule sets generated from the
same data:
  postfwd-country: the country rule alone, as a CIDR list of the same foreign addresses' /24s
                   (authenticated + client_address in list -> REJECT); no opt-in, no lock.
  postfwd-full:    the full equivalent: 1. sasl_username in the locked list -> REJECT; 2. in the opted-in
                   lists -> DUNNO; 3. client_address in the foreign /24 list -> REJECT; otherwise DUNNO.
                   Its answers are compared with the guard's on the same requests before timing.
postfwd1 is used because Debian's postfwd2 (pre-forking) children die without a syslog socket (/dev/log),
which containers often lack; the rule engine is the same.

Prints medians of ``--runs`` runs; asserts nothing. Run: ``.venv/bin/python bench/guard_bench.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import multiprocessing as mp
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailposture.guard.store import Store, UserRecord, UserState


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


# -- data ---------------------------------------------------------------------------------------------------------
def make_users(n: int, rng: random.Random) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {"restricted": [], "abroad_until": [], "abroad_always": [], "locked": []}
    for i in range(n):
        x = rng.random()
        g = ("abroad_until" if x < 0.07 else "abroad_always" if x < 0.09 else "locked" if x < 0.10
             else "restricted")
        groups[g].append(f"user{i:06d}@example.jp")
    return groups


def make_ips(rng: random.Random, per_side: int) -> tuple[list[str], list[str]]:
    from iptocc import country_code

    home: list[str] = []
    foreign: list[str] = []
    while len(home) < per_side or len(foreign) < per_side:
        ip = ipaddress.IPv4Address(rng.getrandbits(32))
        if not ip.is_global or ip.is_multicast or ip.is_reserved:
            continue
        cc = country_code(str(ip))
        if cc is None:
            continue
        if cc == "JP":
            if len(home) < per_side:
                home.append(str(ip))
        elif len(foreign) < per_side:
            foreign.append(str(ip))
    # postfwd gets /24s: make sure no home address shares a foreign /24 (keeps both rule sets equivalent)
    foreign_nets = {ipaddress.ip_network(f"{ip}/24", strict=False) for ip in foreign}
    home = [ip for ip in home if ipaddress.ip_network(f"{ip}/24", strict=False) not in foreign_nets]
    return home, foreign


def make_requests(n: int, users: dict[str, list[str]], home: list[str], foreign: list[str], foreign_share: float,
                  rng: random.Random) -> list[bytes]:
    everyone = [u for g in users.values() for u in g]
    out = []
    for i in range(n):
        user = rng.choice(everyone)
        ip = rng.choice(foreign) if rng.random() < foreign_share else rng.choice(home)
        attrs = [
            ("request", "smtpd_access_policy"), ("protocol_state", "RCPT"), ("protocol_name", "ESMTP"),
            ("client_address", ip), ("client_name", "unknown"), ("client_port", str(rng.randint(1024, 65535))),
            ("reverse_client_name", "unknown"), ("server_address", "192.0.2.25"), ("server_port", "587"),
            ("helo_name", "[192.168.1.10]"), ("sender", user), ("recipient", f"friend{i % 977}@example.com"),
            ("recipient_count", "0"), ("queue_id", ""), ("instance", f"{i:x}.6b0a14f3.{i % 30000}.0"),
            ("size", str(rng.randint(500, 200000))), ("etrn_domain", ""), ("stress", ""), ("sasl_method", "PLAIN"),
            ("sasl_username", user), ("sasl_sender", ""), ("ccert_subject", ""), ("ccert_issuer", ""),
            ("ccert_fingerprint", ""), ("ccert_pubkey_fingerprint", ""), ("encryption_protocol", "TLSv1.3"),
            ("encryption_cipher", "TLS_AES_256_GCM_SHA384"), ("encryption_keysize", "256"),
            ("policy_context", "submission"), ("compatibility_level", "3.6"), ("mail_version", "3.7.11"),
        ]
        out.append("".join(f"{k}={v}\n" for k, v in attrs).encode() + b"\n")
    return out


# -- load generator (separate processes) ---------------------------------------------------------------------
# Each client process runs uvloop with plain Protocol callbacks (no streams, no tasks per request). All processes
# share one measurement window given as absolute perf_counter() times (CLOCK_MONOTONIC, system-wide on Linux).
# Client 0 also samples the server's CPU time (/proc/PID/stat) and the whole machine's (/proc/stat) at the window
# edges, so the server's CPU per request and the CPU taken by everything else come from the same window.

def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    tck = os.sysconf("SC_CLK_TCK")
    return (sum(v) - v[3] - v[4]) / tck, sum(v) / tck


def cpu_pressure() -> float:
    """Share of the last 10 s in which some runnable task waited for a CPU (Linux PSI), in %; NaN if unknown."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split("avg10=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return float("nan")


class Conn(asyncio.Protocol):
    """One Postfix-like connection: one request in flight. Closed loop: the next request goes out as soon as the
    answer is in. Open loop: request k is due at ``first + k * interval``; it goes out then, or as soon as the
    previous answer arrives if that is later (a "late" send: the server fell behind the schedule)."""

    def __init__(self, w: Worker, reqs: list[bytes], start: int, stride: int, first: float, interval: float) -> None:
        self.w, self.reqs, self.i, self.stride = w, reqs, start, stride
        self.due, self.interval = first, interval
        self.buf = b""
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self) -> None:
        if self.w.stopped:
            return
        self.sent = time.perf_counter()
        self.transport.write(self.reqs[self.i % len(self.reqs)])  # type: ignore[union-attr]
        self.i += self.stride

    def schedule(self) -> None:
        delay = self.due - time.perf_counter()
        if delay > 0:
            self.w.loop.call_later(delay, self.send)
        else:
            self.send()

    def data_received(self, data: bytes) -> None:
        if self.buf or not data.endswith(b"\n\n"):  # an answer split over reads (rare)
            self.buf += data
            if not self.buf.endswith(b"\n\n"):
                return
            self.buf = b""
        now = time.perf_counter()
        w = self.w
        if w.measuring:
            w.lat.append(now - self.sent)
            if self.interval:
                w.from_due.append(now - self.due)
        if not self.interval:
            self.send()
            return
        self.due += self.interval
        if now > self.due:
            if w.measuring:
                w.late += 1
            self.send()
        else:
            w.loop.call_later(self.due - now, self.send)

    def connection_lost(self, exc) -> None:
        if not self.w.stopped:
            self.w.lost += 1


class Worker:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.measuring = self.stopped = False
        self.lat: list[float] = []
        self.from_due: list[float] = []
        self.late = self.lost = 0


async def client_main(port: int | str, reqs: list[bytes], conn_ids: list[int], conns: int, rate: float,
                      t_go: float, t_start: float, t_end: float, server_pid: int | None) -> dict:
    w = Worker()
    interval = conns / rate if rate else 0.0
    protos = []
    for g in conn_ids:
        first = t_go + g / rate if rate else t_go
        factory = lambda g=g, first=first: Conn(w, reqs, g, conns, first, interval)  # noqa: E731
        if isinstance(port, str):  # a unix socket path
            _, proto = await w.loop.create_unix_connection(factory, port)
        else:
            _, proto = await w.loop.create_connection(factory, "127.0.0.1", port)
        protos.append(proto)
    await asyncio.sleep(max(0.0, t_go - time.perf_counter()))
    for p in protos:
        p.schedule() if rate else p.send()
    await asyncio.sleep(max(0.0, t_start - time.perf_counter()))
    out: dict = {}
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    if server_pid:
        out["server_cpu"], m0 = proc_cpu(server_pid), machine_cpu()
    w.measuring = True
    t0 = time.perf_counter()
    await asyncio.sleep(max(0.0, t_end - t0))
    w.measuring = False
    out["elapsed"] = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    if server_pid:
        m1 = machine_cpu()
        out["server_cpu"] = proc_cpu(server_pid) - out["server_cpu"]
        out["machine_busy"] = (m1[0] - m0[0]) / (m1[1] - m0[1]) * (os.cpu_count() or 1)
        out["loadavg"] = os.getloadavg()[0]
        out["psi"] = cpu_pressure()
    w.stopped = True
    for p in protos:
        if p.transport is not None:
            p.transport.abort()
    out["client_cpu"] = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    out.update(lat=array("d", w.lat).tobytes(), from_due=array("d", w.from_due).tobytes(), late=w.late,
               lost=w.lost)
    return out


def _client_proc(pipe, *args) -> None:
    gc.disable()  # short-lived process: no collector pauses in the measurement
    try:
        import uvloop

        res = uvloop.run(client_main(*args))
    except Exception as e:  # reported by the parent
        res = {"error": f"{type(e).__name__}: {e}"}
    pipe.send(res)
    pipe.close()


def pct(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * q))] * 1000


def run_load(port: int | str, reqs: list[bytes], server_pid: int | None, conns: int, clients: int, rate: float,
             warmup: float, seconds: float) -> dict:
    """One measured run with ``clients`` client processes; ``rate`` 0 = closed loop, else open loop (req/s)."""
    ctx = mp.get_context("fork")
    now = time.perf_counter()
    t_go = now + 0.5 + 0.02 * conns  # time to fork and connect
    t_start = t_go + warmup
    t_end = t_start + seconds
    procs = []
    for c in range(clients):
        ids = list(range(c, conns, clients))
        rx, tx = ctx.Pipe(duplex=False)
        pr = ctx.Process(target=_client_proc, args=(tx, port, reqs, ids, conns, rate, t_go, t_start, t_end,
                                                    server_pid if c == 0 else None), daemon=True)
        pr.start()
        procs.append((pr, rx))
    results = []
    for pr, rx in procs:
        if not rx.poll(t_end - time.perf_counter() + 30):
            pr.kill()
            raise SystemExit("a client process did not report")
        results.append(rx.recv())
        pr.join(5)
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise SystemExit(f"client failed: {errors[0]}")
    lat: list[float] = []
    due: list[float] = []
    for r in results:
        lat += array("d", r["lat"])
        due += array("d", r["from_due"])
    lat.sort()
    due.sort()
    head = results[0]
    elapsed = head["elapsed"]
    n = len(lat)
    client_cores = sum(r["client_cpu"] for r in results) / elapsed
    server_cores = head.get("server_cpu", float("nan")) / elapsed
    return {
        "rps": n / elapsed, "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "p999": pct(lat, 0.999),
        "due_p99": pct(due, 0.99), "due_p999": pct(due, 0.999),
        "late": 100.0 * sum(r["late"] for r in results) / n if n else float("nan"),
        "lost": sum(r["lost"] for r in results),
        "server_us": head.get("server_cpu", float("nan")) / n * 1e6 if n else float("nan"),
        "server_cores": server_cores, "client_cores": client_cores,
        "client_us": sum(r["client_cpu"] for r in results) / n * 1e6 if n else float("nan"),
        "other_cores": head.get("machine_busy", float("nan")) - server_cores - client_cores,
        "load": head.get("loadavg", float("nan")), "psi": head.get("psi", float("nan")),
    }


async def verdicts(port: int, reqs: list[bytes]) -> list[str]:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    out = []
    for q in reqs:
        w.write(q)
        a = (await r.readuntil(b"\n\n")).decode()
        out.append("refuse" if a.startswith(("action=REJECT", "action=5")) else
                   "tempfail" if a.startswith(("action=4", "action=DEFER")) else "accept")
    w.close()
    return out


# -- servers ------------------------------------------------------------------------------------------------------
def start_guard(tmp: Path, store_url: str, loop: str, unix: bool = False) -> tuple[subprocess.Popen, int | str]:
    """The guard on 127.0.0.1:PORT, or on a unix socket (Postfix's ``check_policy_service unix:private/...``)."""
    where: int | str = str(tmp / f"guard-{time.monotonic_ns()}.sock") if unix else free_port()
    cfg = tmp / "guard.toml"
    cfg.write_text(f'store_url = "{store_url}"\n')
    listen = f"unix:{where}" if unix else f"127.0.0.1:{where}"
    proc = subprocess.Popen([sys.executable, "-c", "from mailposture.guard.cli import guard_app; guard_app()",
                             "serve", "--listen", listen, "--config", str(cfg), "--log-level",
                             "warning", "--loop", loop], stdout=subprocess.DEVNULL, stderr=open(tmp / "guard.log", "ab"))
    if isinstance(where, int):
        wait_port(where)
        return proc, where
    end = time.monotonic() + 60
    while True:
        with socket.socket(socket.AF_UNIX) as s:
            if s.connect_ex(where) == 0:
                return proc, where
        if time.monotonic() > end or proc.poll() is not None:
            raise SystemExit(f"the guard does not listen on {where}")
        time.sleep(0.05)


def write_postfwd_rules(tmp: Path, users: dict[str, list[str]], foreign: list[str]) -> dict[str, Path]:
    d = tmp / "postfwd"
    d.mkdir(exist_ok=True)
    (d / "locked.txt").write_text("\n".join(users["locked"]) + "\n")
    (d / "optin.txt").write_text("\n".join(users["abroad_until"] + users["abroad_always"]) + "\n")
    nets = sorted({str(ipaddress.ip_network(f"{ip}/24", strict=False)) for ip in foreign})
    (d / "foreign.txt").write_text("\n".join(nets) + "\n")
    # (a) the country rule alone: a CIDR list of the same foreign addresses (postfwd has no geo without plugins)
    country = d / "rules-country.cf"
    country.write_text(f"id=FOREIGN; sasl_username=.; client_address==file:{d}/foreign.txt; "
                       "action=REJECT Sending from outside Japan is disabled for this account\n")
    # (b) the full equivalent: postfwd has no per-user state store, so the users' states become lists (file:
    # items, compared one by one; one big regex alternation instead makes postfwd1's rule parser hang).
    full = d / "rules-full.cf"
    full.write_text(
        f"id=LOCKED; sasl_username==file:{d}/locked.txt; action=REJECT Sending is locked for this account\n"
        f"id=OPTIN; sasl_username==file:{d}/optin.txt; action=DUNNO\n"
        f"id=FOREIGN; sasl_username=.; client_address==file:{d}/foreign.txt; "
        "action=REJECT Sending from outside Japan is disabled for this account\n")
    os.chmod(tmp, 0o755)
    for p in d.rglob("*"):
        p.chmod(0o644)
    d.chmod(0o755)
    return {"postfwd-country": country, "postfwd-full": full}


class PostfwdProc:
    """postfwd daemonises itself: we know it by the PID in its pidfile and stop it by that PID."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise subprocess.TimeoutExpired("postfwd1", timeout)


def start_postfwd(tmp: Path, rules: Path) -> tuple[PostfwdProc, int]:
    """postfwd1 (one process, Net::Server::Multiplex). Debian's postfwd2 (pre-forking) needs a syslog socket
    (/dev/log) in its children even with --perfmon; this container has none, so postfwd1 is what runs here."""
    exe = shutil.which("postfwd1") or "/usr/sbin/postfwd1"
    port = free_port()
    run = tmp / "run"
    run.mkdir(exist_ok=True)
    shutil.chown(run, user="nobody", group="nogroup")
    pidfile = run / f"postfwd-{port}.pid"
    subprocess.run([exe, "-d", "-u", "nobody", "-g", "nogroup", "-f", str(rules), "-i", "127.0.0.1", "-p", str(port),
                    "--pidfile", str(pidfile), "-P"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=60)
    wait_port(port)
    end = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text().strip():
        if time.monotonic() > end:
            raise SystemExit("postfwd1 wrote no pidfile")
        time.sleep(0.05)
    return PostfwdProc(int(pidfile.read_text().strip())), port


def stop(proc: subprocess.Popen | PostfwdProc) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- main ---------------------------------------------------------------------------------------------------------
def parse_rates(text: str) -> list[float]:
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--rates: comma-separated requests/s, e.g. 5000,10000 (got {text!r})") from None
    if any(r <= 0 for r in rates):
        raise SystemExit("--rates must be positive")
    return rates


def med(rs: list[dict], key: str) -> float:
    """Median over the runs that have the figure (a run of a very slow server may answer nothing: NaN)."""
    vals = [r[key] for r in rs if r[key] == r[key]]
    return statistics.median(vals) if vals else float("nan")


def print_closed(results: dict[str, list[dict]], runs: int) -> None:
    print(f"\n(a) MAXIMUM THROUGHPUT, closed loop: every connection sends its next request as soon as its answer "
          f"arrives (medians of {runs} runs).")
    print("    With N requests always in flight, mean latency = N / throughput (Little's law): these latencies are "
          "queueing at saturation, not service time.")
    print(f"{'server':18s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'p99.9 ms':>9s} {'srv µs/req':>10s} "
          f"{'srv cores':>9s} {'client cores':>12s} {'other cores':>11s} {'loadavg':>7s} {'cpu wait %':>10s}")
    for name, rs in results.items():
        print(f"{name:18s} {med(rs, 'rps'):8.0f} {med(rs, 'p50'):8.2f} {med(rs, 'p99'):8.2f} {med(rs, 'p999'):9.2f} "
              f"{med(rs, 'server_us'):10.1f} {med(rs, 'server_cores'):9.2f} {med(rs, 'client_cores'):12.2f} "
              f"{med(rs, 'other_cores'):11.2f} {med(rs, 'load'):7.1f} {med(rs, 'psi'):10.0f}")


def print_open(results: dict[tuple[str, float], list[dict]], runs: int, conns: int) -> None:
    print(f"\n(b) LATENCY AT A FIXED OFFERED LOAD, open loop: the rate is spread over the {conns} connections, each "
          "sends on schedule (or at once when its previous answer came after the due time: 'late'); latency is "
          f"send -> answer; 'from due' counts from the scheduled time (includes the client's ~1 ms timer "
          f"granularity). Medians of {runs} runs.")
    print(f"{'server':18s} {'offered':>8s} {'achieved':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'p99.9 ms':>8s} "
          f"{'due p99.9':>9s} {'late %':>6s} {'srv µs/req':>10s} {'srv cores':>9s} {'client cores':>12s} "
          f"{'other cores':>11s} {'loadavg':>7s} {'cpu wait %':>10s}")
    for (name, rate), rs in results.items():
        print(f"{name:18s} {rate:8.0f} {med(rs, 'rps'):8.0f} {med(rs, 'p50'):7.2f} {med(rs, 'p99'):7.2f} "
              f"{med(rs, 'p999'):8.2f} {med(rs, 'due_p999'):9.2f} {med(rs, 'late'):6.2f} {med(rs, 'server_us'):10.1f} "
              f"{med(rs, 'server_cores'):9.2f} {med(rs, 'client_cores'):12.2f} {med(rs, 'other_cores'):11.2f} "
              f"{med(rs, 'load'):7.1f} {med(rs, 'psi'):10.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--foreign", type=float, default=0.3, help="share of requests from abroad")
    ap.add_argument("--requests", type=int, default=50_000, help="distinct pre-built requests (cycled)")
    ap.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    ap.add_argument("--mode", default="both", choices=["both", "closed", "open"],
                    help="closed = (a) maximum throughput; open = (b) latency at --rates")
    ap.add_argument("--rates", default="10000", help="open-loop offered loads, requests/s, comma-separated")
    ap.add_argument("--clients", type=int, default=1, help="client processes sharing the connections")
    ap.add_argument("--unix", action="store_true", help="also measure the guard on a unix socket")
    ap.add_argument("--no-postfwd", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rates = parse_rates(args.rates)
    if not 1 <= args.clients <= args.conns:
        raise SystemExit("--clients must be between 1 and --conns")

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="guard-bench-"))
    keep = os.environ.get("GUARD_BENCH_KEEP")
    try:
        t = time.perf_counter()
        users = make_users(args.users, rng)
        store_url = f"sqlite:///{tmp}/guard.db"
        store = Store(store_url)
        until = datetime.now(UTC) + timedelta(days=7)
        recs = ([UserRecord(u, UserState.RESTRICTED) for u in users["restricted"]]
                + [UserRecord(u, UserState.ABROAD_UNTIL, until) for u in users["abroad_until"]]
                + [UserRecord(u, UserState.ABROAD_ALWAYS) for u in users["abroad_always"]]
                + [UserRecord(u, UserState.LOCKED) for u in users["locked"]])
        store.bulk_set(recs, by="bench")
        store.close()
        home, foreign = make_ips(rng, 1000)
        reqs = make_requests(args.requests, users, home, foreign, args.foreign, rng)
        print(f"setup: {args.users} users ({', '.join(f'{k} {len(v)}' for k, v in users.items())}), "
              f"{len(home)} JP + {len(foreign)} foreign IPv4 addresses, {len(reqs)} requests "
              f"({sum(map(len, reqs)) // len(reqs)} bytes each), {time.perf_counter() - t:.1f}s")
        print(f"load: {args.conns} persistent connections from {args.clients} client process(es) (uvloop), "
              f"{args.foreign:.0%} foreign, {args.warmup:g}s warm-up + {args.seconds:g}s measured, {args.runs} runs; "
              f"{os.cpu_count()} CPUs shared by server, client and whatever else runs (see 'other cores')")

        have_postfwd = bool(shutil.which("postfwd1") or os.path.exists("/usr/sbin/postfwd1"))
        if not have_postfwd and not args.no_postfwd:
            print("postfwd1 not installed (apt-get install postfwd): guard only")
        rulesets = write_postfwd_rules(tmp, users, foreign) if have_postfwd and not args.no_postfwd else {}
        rules = rulesets.get("postfwd-full")

        # Equivalence check on the same requests before timing.
        if rules is not None:
            sample = reqs[:300]
            g, gport = start_guard(tmp, store_url, args.loop)
            try:
                gv = asyncio.run(verdicts(gport, sample))
            finally:
                stop(g)
            p, pport = start_postfwd(tmp, rules)
            try:
                pv = asyncio.run(verdicts(pport, sample))
            finally:
                stop(p)
            same = sum(a == b for a, b in zip(gv, pv, strict=True))
            print(f"equivalence: guard and postfwd agree on {same}/{len(sample)} requests "
                  f"(guard refuses {gv.count('refuse')}, postfwd refuses {pv.count('refuse')})")

        guard_name = f"guard ({args.loop})"
        guards = [guard_name] + ([f"guard ({args.loop}, unix)"] if args.unix else [])
        peers = [*guards, *rulesets]
        closed: dict[str, list[dict]] = {name: [] for name in peers}
        opened: dict[tuple[str, float], list[dict]] = {(g, r): [] for g in guards for r in rates}
        for run in range(args.runs):
            # Each run: every measurement with a fresh server, interleaved so that slow drifts in the machine's
            # load touch all of them alike.
            plan: list[tuple[str, float]] = []
            if args.mode in ("both", "closed"):
                plan += [(name, 0.0) for name in peers]
            if args.mode in ("both", "open"):
                plan += [(g, r) for r in rates for g in guards]
            for name, rate in plan:
                proc: subprocess.Popen | PostfwdProc
                port: int | str
                if name in guards:
                    proc, port = start_guard(tmp, store_url, args.loop, unix=name != guard_name)
                else:
                    proc, port = start_postfwd(tmp, rulesets[name])
                try:
                    r = run_load(port, reqs, proc.pid, args.conns, args.clients, rate, args.warmup, args.seconds)
                finally:
                    stop(proc)
                (opened[(name, rate)] if rate else closed[name]).append(r)
                kind = f"open {rate:,.0f}/s" if rate else "closed"
                print(f"  run {run + 1} {name:16s} {kind:13s} {r['rps']:8.0f} req/s  p50 {r['p50']:7.2f}  "
                      f"p99 {r['p99']:7.2f}  p99.9 {r['p999']:7.2f} ms  late {r['late']:5.2f} %  "
                      f"server {r['server_us']:5.1f} µs/req  client {r['client_us']:5.1f} µs/req "
                      f"({r['client_cores']:.2f} cores)  other {r['other_cores']:.2f} cores  "
                      f"load {r['load']:.1f}  cpu wait {r['psi']:.0f} %", flush=True)

        if args.mode in ("both", "closed"):
            print_closed(closed, args.runs)
            for name in rulesets:
                if closed[name] and med(closed[name], "rps"):
                    print(f"ratio guard/{name}: {med(closed[guard_name], 'rps') / med(closed[name], 'rps'):.0f}x "
                          f"requests/s, {med(closed[name], 'server_us') / med(closed[guard_name], 'server_us'):.0f}x "
                          "less server CPU per request")
            print("postfwd-country = the same foreign /24s as a CIDR list only (no per-user opt-in, no lock); "
                  "postfwd-full = lock list + opt-in list + CIDR list (same verdicts as the guard, see equivalence)")
        if args.mode in ("both", "open"):
            print_open(opened, args.runs, args.conns)
            if rulesets and args.mode == "both":
                print("postfwd is not run open-loop: its closed-loop maximum (a) is far below any offered rate here, "
                      "so its latency would only measure an ever-growing backlog.")
        print("srv µs/req = the server process's CPU time (all threads, /proc/PID/stat) / answers in the window; "
              "client cores / other cores = CPU used by the load generator / by every other process on the machine "
              "in the same window; cpu wait % = Linux PSI 'some' avg10 (time some runnable task waited for a CPU).")
        print("\ntargets (issue 5, not asserted): >= 10,000 req/s (a) and p99 < 5 ms (b at 10,000 req/s) for the guard")
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


if __name__ == "__main__":
    main()
