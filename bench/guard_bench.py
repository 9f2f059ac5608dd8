"""Guard policy-server benchmark: requests/s and p50/p99 latency, side by side with Debian's postfwd.

Load: ``--conns`` (50) persistent Postfix-like connections, each sending one request and waiting for the answer
before the next (as smtpd does), with realistic Postfix 3.7 attributes; users drawn from ``--users`` (100k)
stored in a SQLite store (about 7 % opted in, 2 % always allowed, 1 % locked, the rest stored as restricted);
client addresses drawn from real global IPv4 addresses, ``--foreign`` (30 %) of them outside Japan.

postfwd (Debian's 1.35 package, Perl; postfwd1 = one process) cannot geolocate without plugins and has no
per-user state store. It runs twice on the same traffic, with rule sets generated from the same data:
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
import ipaddress
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
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


# -- load generator -----------------------------------------------------------------------------------------------
class Client(asyncio.Protocol):
    def __init__(self, reqs: list[bytes], start: int, stride: int, state: dict) -> None:
        self.reqs, self.i, self.stride, self.state = reqs, start, stride, state
        self.buf = b""
        self.t0 = 0.0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send()

    def send(self) -> None:
        self.t0 = time.perf_counter()
        self.transport.write(self.reqs[self.i % len(self.reqs)])
        self.i += self.stride

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.buf.endswith(b"\n\n"):
            return
        now = time.perf_counter()
        self.buf = b""
        st = self.state
        if st["measure"]:
            st["lat"].append(now - self.t0)
        if st["stop"]:
            self.transport.close()
            return
        self.send()

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def load(port: int, reqs: list[bytes], conns: int, warmup: float, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    state: dict = {"measure": False, "stop": False, "lat": []}
    clients = []
    for c in range(conns):
        _, proto = await loop.create_connection(lambda c=c: Client(reqs, c, conns, state), "127.0.0.1", port)
        clients.append(proto)
    await asyncio.sleep(warmup)
    state["measure"] = True
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    state["measure"] = False
    elapsed = time.perf_counter() - t0
    state["stop"] = True
    await asyncio.wait([c.done for c in clients], timeout=10)
    lat = sorted(state["lat"])
    if not lat:
        return {"rps": 0.0, "p50": float("nan"), "p99": float("nan")}
    return {"rps": len(lat) / elapsed, "p50": lat[len(lat) // 2] * 1000, "p99": lat[int(len(lat) * 0.99)] * 1000}


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


def run_load(port: int, reqs: list[bytes], conns: int, warmup: float, seconds: float) -> dict:
    try:
        import uvloop

        return uvloop.run(load(port, reqs, conns, warmup, seconds))
    except ImportError:
        return asyncio.run(load(port, reqs, conns, warmup, seconds))


# -- servers ------------------------------------------------------------------------------------------------------
def start_guard(tmp: Path, store_url: str, loop: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cfg = tmp / "guard.toml"
    cfg.write_text(f'store_url = "{store_url}"\n')
    proc = subprocess.Popen([sys.executable, "-c", "from mailposture.guard.cli import guard_app; guard_app()",
                             "serve", "--listen", f"127.0.0.1:{port}", "--config", str(cfg), "--log-level",
                             "warning", "--loop", loop], stdout=subprocess.DEVNULL, stderr=open(tmp / "guard.log", "ab"))
    wait_port(port)
    return proc, port


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
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--foreign", type=float, default=0.3, help="share of requests from abroad")
    ap.add_argument("--requests", type=int, default=50_000, help="distinct pre-built requests (cycled)")
    ap.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    ap.add_argument("--no-postfwd", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

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
        print(f"load: {args.conns} persistent connections, one request in flight each, {args.foreign:.0%} foreign, "
              f"{args.warmup:g}s warm-up + {args.seconds:g}s measured, {args.runs} runs; {os.cpu_count()} CPUs")

        have_postfwd = bool(shutil.which("postfwd1") or os.path.exists("/usr/sbin/postfwd1"))
        if not have_postfwd and not args.no_postfwd:
            print("postfwd1 not installed (apt-get install postfwd): guard only")
        rulesets = write_postfwd_rules(tmp, users, foreign) if have_postfwd and not args.no_postfwd else {}
        peers = ["guard", *rulesets]
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

        results: dict[str, list[dict]] = {name: [] for name in peers}
        for run in range(args.runs):
            for name in peers:
                if name == "guard":
                    proc, port = start_guard(tmp, store_url, args.loop)
                else:
                    proc, port = start_postfwd(tmp, rulesets[name])
                try:
                    r = run_load(port, reqs, args.conns, args.warmup, args.seconds)
                finally:
                    stop(proc)
                results[name].append(r)
                print(f"  run {run + 1} {name:16s} {r['rps']:9.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms",
                      flush=True)

        print()
        print(f"{'server':16s} {'req/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s}   (medians of {args.runs} runs)")
        med = {}
        for name, rs in results.items():
            med[name] = {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")}
            m = med[name]
            label = f"guard ({args.loop})" if name == "guard" else name
            print(f"{label:16s} {m['rps']:10.0f} {m['p50']:8.2f} {m['p99']:8.2f}")
        for name in rulesets:
            if med.get(name, {}).get("rps"):
                print(f"ratio guard/{name}: {med['guard']['rps'] / med[name]['rps']:.1f}x requests/s, "
                      f"p99 {med[name]['p99'] / med['guard']['p99']:.1f}x lower")
        print("postfwd-country = the same foreign /24s as a CIDR list only (no per-user opt-in, no lock); "
              "postfwd-full = lock list + opt-in list + CIDR list (same verdicts as the guard, see equivalence)")
        print("targets (not asserted): >= 10,000 req/s and p99 < 5 ms for the guard")
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


if __name__ == "__main__":
    main()
