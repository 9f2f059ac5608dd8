"""`mailposture scan --cluster`: shards as Dask tasks on a LocalCluster; same results, lost workers retried."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import typer

from conftest import sigint_default
from mailposture.scan.cli import register
from test_scan_cli import SCRIPT, invoke, lines_of
from test_scan_support import (
    broken_resolver,
    dying_once_check_factory,
    no_resolver,
    slow_check_factory,
    spf_zone,
)

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def marker(tmp_path_factory):
    path = tmp_path_factory.mktemp("cluster") / "died"
    os.environ["SCAN_TEST_MARKER"] = str(path)       # inherited by the worker processes spawned below
    yield path
    del os.environ["SCAN_TEST_MARKER"]


@pytest.fixture(scope="module")
def cluster(marker):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as c:
        yield c


@pytest.fixture(scope="module")
def dns_world():
    from mailposture.dns.server import LocalDnsServer

    loop = asyncio.new_event_loop()
    server = LocalDnsServer(spf_zone(300), origins=["example"])
    started = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert started.wait(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)
    loop.close()


def _app(resolver_factory=None, check_factory=None):
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    register(app, resolver_factory=resolver_factory, check_factory=check_factory)
    return app


def _strip(rows):
    """Results without what depends on timing and cache state: check time, cache hits, answer order and TTLs
    (a cached answer's TTL counts down; each shard has its own cache)."""
    out = {}
    for x in rows:
        x = {k: v for k, v in x.items() if k != "checked_at"}
        if "dns" in x:
            dns = {k: v for k, v in x["dns"].items() if k not in ("cache_hits", "answers")}
            dns["answers"] = sorted(json.dumps({k: v for k, v in a.items() if k != "ttl"}, sort_keys=True)
                                    for a in x["dns"]["answers"])
            x["dns"] = dns
        out[x["domain"]] = x
    return out


def test_cluster_results_equal_a_single_process_scan(tmp_path, cluster, dns_world):
    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(300)]
    src.write_text("\n".join([*names, "gone.example", "bad..name", "D1.example."]) + "\n")
    one, many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    common = ["--nameserver", dns_world.address, "--lang", "en", "--checks", "spf,dmarc,mx", "--mx-hosts",
              "--timeout", "5", "--retries", "3"]          # a loaded test machine must not turn into timeouts
    r1 = invoke(_app(), src, "-o", one, *common)
    r2 = invoke(_app(), src, "-o", many, *common, "--cluster", cluster.scheduler_address, "--shard-size", "40")
    assert r1.exit_code == 0 and r2.exit_code == 0, r2.output
    a, b = _strip(lines_of(one)), _strip(lines_of(many))
    assert len(lines_of(many)) == 302 and a == b
    assert b["d1.example"]["spf"]["all"] == "-all" and b["d8.example"]["dmarc"]["policy"] == "reject"
    assert b["bad..name"]["input_error"] == "empty label"
    assert "302 domains" in r2.stderr and "duplicates skipped 1" in r2.stderr and "invalid 1" in r2.stderr
    assert "packets sent" in r2.stderr          # the shard tasks' engine statistics, summed


def test_cluster_writes_one_parquet_file_and_resumes(tmp_path, cluster):
    pq = pytest.importorskip("pyarrow.parquet")
    src = tmp_path / "d.txt"
    names = [f"n{i}.example" for i in range(120)]
    src.write_text("\n".join(names[:50]) + "\n")
    out = tmp_path / "r.parquet"
    args = ["-o", out, "--cluster", cluster.scheduler_address, "--shard-size", "16", "--lang", "en"]
    r = invoke(_app(no_resolver, "test_scan_support:slow_check_factory"), src, *args)
    assert r.exit_code == 0, r.output
    src.write_text("\n".join(names) + "\n")
    r = invoke(_app(no_resolver, "test_scan_support:slow_check_factory"), src, *args, "--resume")
    assert r.exit_code == 0, r.output
    assert "70 domains" in r.stderr and "already done 50" in r.stderr
    got = pq.read_table(out, columns=["domain", "result"]).to_pydict()
    assert Counter(got["domain"]) == Counter(names)
    assert {json.loads(x)["pid"] for x in got["result"]} - {os.getpid()}   # scanned in the worker processes


def test_a_killed_worker_costs_a_retry_of_its_shard(tmp_path, cluster, marker):
    src = tmp_path / "d.txt"
    names = [f"k{i}.example" for i in range(200)]
    names.insert(77, "die.example")
    src.write_text("\n".join(names) + "\n")
    out = tmp_path / "r.jsonl"
    os.environ["SCAN_TEST_DELAY"] = "0.01"
    try:
        r = invoke(_app(no_resolver, dying_once_check_factory), src, "-o", out, "--cluster",
                   cluster.scheduler_address, "--shard-size", "25", "--domains-concurrency", "5", "--lang", "en")
    finally:
        del os.environ["SCAN_TEST_DELAY"]
    assert r.exit_code == 0, r.output
    dead = int(marker.read_text())              # a worker process did die in the middle of its shard
    rows = lines_of(out)
    assert Counter(x["domain"] for x in rows) == Counter(names)      # complete, each domain exactly once
    assert all(x["status"] == "ok" for x in rows)
    by = {x["domain"]: x for x in rows}
    assert by["die.example"]["pid"] != dead                          # its shard ran again elsewhere
    assert "201 domains" in r.stderr


def test_cluster_errors_are_clear(tmp_path, cluster):
    from conftest import free_port

    src = tmp_path / "d.txt"
    src.write_text("a.example\n")
    r = invoke(_app(), src, "-o", tmp_path / "r.jsonl", "--cluster", f"tcp://127.0.0.1:{free_port()}",
               "--nameserver", "127.0.0.1:9")
    assert r.exit_code == 1 and "cannot reach the Dask scheduler" in r.stderr
    r = invoke(_app(no_resolver, lambda res, s: None), src, "-o", tmp_path / "r2.jsonl",
               "--cluster", cluster.scheduler_address)
    assert r.exit_code == 2 and "--cluster needs factories importable" in r.stderr


def test_cluster_ordered_output_follows_the_input(tmp_path, cluster):
    src = tmp_path / "d.txt"
    names = [f"o{i}.example" for i in range(150)]
    src.write_text("\n".join(names) + "\n")
    out = tmp_path / "r.jsonl"
    r = invoke(_app(no_resolver, "test_scan_support:slow_check_factory"), src, "-o", out, "--cluster",
               cluster.scheduler_address, "--shard-size", "7", "--ordered", "--lang", "en")
    assert r.exit_code == 0, r.output
    assert [x["domain"] for x in lines_of(out)] == names


def test_a_shard_that_fails_for_good_stops_the_run_with_its_lines(tmp_path, cluster):
    src = tmp_path / "d.txt"
    src.write_text("\n".join(f"f{i}.example" for i in range(30)) + "\n")
    r = invoke(_app(broken_resolver, slow_check_factory), src,
               "-o", tmp_path / "r.jsonl", "--cluster", cluster.scheduler_address, "--shard-size", "10",
               "--lang", "en")
    assert r.exit_code == 1, r.output
    assert "failed on the cluster after retries" in r.stderr and "this node has no resolver" in r.stderr
    assert "input lines" in r.stderr


def test_worker_resolver_from_its_environment(monkeypatch):
    from mailposture.cliopts import DnsOptions
    from mailposture.scan.cluster import worker_settings
    from mailposture.scan.inputs import InputSpec
    from mailposture.scan.outputs import OutputSpec
    from mailposture.scan.runner import ScanSettings

    s = ScanSettings(InputSpec("x"), OutputSpec("o.jsonl"), cluster="tcp://h:8786", workers=4)
    monkeypatch.setenv("MAILPOSTURE_NAMESERVER", "127.0.0.1:5353, [::1]:53")
    w = worker_settings(s)
    assert w.dns.nameservers == ["127.0.0.1:5353", "[::1]:53"] and w.cluster is None and w.workers == 1
    given = ScanSettings(InputSpec("x"), OutputSpec("o.jsonl"), dns=DnsOptions(["192.0.2.53"]))
    assert worker_settings(given).dns.nameservers == ["192.0.2.53"]      # --nameserver wins everywhere
    monkeypatch.delenv("MAILPOSTURE_NAMESERVER")
    assert worker_settings(s).dns.nameservers is None                    # the node's own resolv.conf


def test_cluster_progress_shows_shards_and_domains(capsys):
    from mailposture.scan.cluster import ClusterProgress

    p = ClusterProgress(True, 1000, "en")
    p.update(shards_done=1, shards_submitted=4, input_done=False, domains=10, position=250)
    p.update(shards_done=4, shards_submitted=4, input_done=True, domains=40, position=1000)
    p.stop()
    err = capsys.readouterr().err
    assert "shards" in err and "4/4" in err and "domains" in err and "40" in err
    off = ClusterProgress(False, None)
    off.update(shards_done=1, shards_submitted=1, input_done=True, domains=1, position=1)
    off.stop()
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_cluster_scan_keeps_finished_shards_and_resumes(tmp_path, cluster, sig, code):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    src = tmp_path / "d.txt"
    names = [f"i{i}.example" for i in range(600)]
    src.write_text("\n".join(names) + "\n")
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, str(script), "scan", str(src), "-o", str(out), "--cluster", cluster.scheduler_address,
           "--shard-size", "20", "--domains-concurrency", "2", "--lang", "en"]
    env = {**os.environ, "SCAN_TEST_DELAY": "0.02"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=sigint_default)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 0):
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "--resume" in err and "Traceback" not in err
    partial = [x["domain"] for x in lines_of(out)]
    assert 0 < len(partial) < len(names) and len(partial) == len(set(partial))
    env["SCAN_TEST_DELAY"] = "0"
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert Counter(x["domain"] for x in lines_of(out)) == Counter(names)


def test_workers_and_cluster_exclude_each_other(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("a.example\n")
    r = invoke(_app(), src, "--cluster", "tcp://127.0.0.1:8786", "--workers", "2")
    assert r.exit_code == 2 and "exclude each other" in r.stderr
