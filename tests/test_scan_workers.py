"""`mailposture scan --workers N`: checks in separate processes; output, resume and summary stay the same."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import typer

from conftest import sigint_default
from mailposture.scan.cli import register
from test_scan_cli import SCRIPT, _check_world_rows, _world_csv, invoke, lines_of, make_app
from test_scan_support import no_resolver, slow_check_factory, world_resolver


def _workers_app(resolver_factory, check_factory=None):
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    register(app, resolver_factory=resolver_factory, check_factory=check_factory)
    return app


def test_workers_give_the_same_results_as_one_process(tmp_path):
    src = _world_csv(tmp_path)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    r1 = invoke(_workers_app(world_resolver), src, "-o", one, "--lang", "en")
    r2 = invoke(_workers_app(world_resolver), src, "-o", two, "--lang", "en", "--workers", "2")
    assert r1.exit_code == 0 and r2.exit_code == 0, r2.output
    _check_world_rows(lines_of(two))

    def canon(v):
        # the order of answers (and of records in an RRset) follows task scheduling, which differs by process
        if isinstance(v, dict):
            return {k: canon(x) for k, x in v.items() if k not in ("checked_at", "ttl", "cache_hits")}
        if isinstance(v, list):
            return sorted((canon(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
        return v

    def strip(rows):
        return {x["domain"]: canon(x) for x in rows}

    assert strip(lines_of(one)) == strip(lines_of(two))


def test_workers_lines_match_one_process_byte_for_byte(tmp_path):
    """JSON Lines from workers are encoded there and written as they come: same keys, same order, same values
    (an "input" key added after the fact included); CSV output, which is not pre-encoded, matches too."""
    src = tmp_path / "in.txt"
    src.write_text("Good.Example.\nweak.example\nxn--bcher-kva.example\nbücher2.example\ngone.example\n",
                   encoding="utf-8")

    def lines(path):
        out = {}
        for text in path.read_text(encoding="utf-8").splitlines():
            obj = json.loads(text)
            out[obj["domain"]] = re.sub(r'"checked_at":"[^"]*"', "", text)
        return out

    for fmt in ("jsonl", "csv"):
        one, two = tmp_path / f"one.{fmt}", tmp_path / f"two.{fmt}"
        r1 = invoke(_workers_app(world_resolver), src, "-o", one, "--lang", "en")
        r2 = invoke(_workers_app(world_resolver), src, "-o", two, "--lang", "en", "--workers", "2")
        assert r1.exit_code == 0 and r2.exit_code == 0, r2.output
        if fmt == "csv":
            strip = re.compile(r"\d{4}-\d\d-\d\dT[\d:+]+")
            rows1 = sorted(strip.sub("", x) for x in one.read_text(encoding="utf-8").splitlines())
            rows2 = sorted(strip.sub("", x) for x in two.read_text(encoding="utf-8").splitlines())
            assert rows1 == rows2 and len(rows1) == 6
            continue
        a, b = lines(one), lines(two)
        assert a.keys() == b.keys() == {"good.example", "weak.example", "xn--bcher-kva.example",
                                        "xn--bcher2-3ya.example", "gone.example"}
        assert a == b
        objs = {o["domain"]: o for o in lines_of(two)}
        assert objs["good.example"]["input"] == "Good.Example." and list(objs["good.example"])[-1] == "input"
        assert objs["xn--bcher2-3ya.example"]["input"] == "bücher2.example"
        assert "input" not in objs["weak.example"]


def test_workers_share_the_load_and_contain_crashes(tmp_path):
    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(200)]
    src.write_text("\n".join([*names, "crash.example", "bad..x"]) + "\n")
    out = tmp_path / "r.jsonl"
    pids = tmp_path / "pids"
    os.environ["SCAN_TEST_PIDS"], os.environ["SCAN_TEST_DELAY"] = str(pids), "0.002"
    try:
        r = invoke(_workers_app(no_resolver, slow_check_factory), src, "-o", out, "--workers", "3",
                   "--domains-concurrency", "30", "--lang", "en", "--qps", "300", "--concurrency", "100")
    finally:
        del os.environ["SCAN_TEST_PIDS"], os.environ["SCAN_TEST_DELAY"]
    assert r.exit_code == 0, r.output
    rows = lines_of(out)
    by = {x["domain"]: x for x in rows}
    assert len(rows) == 202 and set(by) == {*names, "crash.example", "bad..x"}
    assert by["crash.example"]["status"] == "error" and "simulated bug" in by["crash.example"]["error"]
    worker_pids = {int(x) for x in pids.read_text().split()}
    assert len(worker_pids) == 3 and os.getpid() not in worker_pids
    assert {x["pid"] for x in rows if "pid" in x} == worker_pids      # every worker took a share
    # --qps and --concurrency bound the whole scan: each worker's engine gets its share
    assert {(x["qps"], x["dns_concurrency"]) for x in rows if "pid" in x} == {(100.0, 34)}
    assert "202 domains" in r.stderr and "errors 1" in r.stderr


def test_workers_need_importable_factories(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("a.example\n")
    r = invoke(make_app(), src, "--workers", "2")          # make_app uses a lambda check factory
    assert r.exit_code == 2 and "importable" in r.stderr


def test_workers_interrupted_leave_no_process_behind(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(1000)]
    src.write_text("\n".join(names) + "\n")
    out, pids = tmp_path / "r.jsonl", tmp_path / "pids"
    cmd = [sys.executable, str(script), "scan", str(src), "-o", str(out), "--workers", "2",
           "--domains-concurrency", "20"]
    env = {**os.environ, "SCAN_TEST_DELAY": "0.05", "SCAN_TEST_PIDS": str(pids)}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=sigint_default)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 2000):
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    first = lines_of(out)
    assert 0 < len(first) < len(names)
    for pid in {int(x) for x in pids.read_text().split()}:
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"worker {pid} still running")
    env["SCAN_TEST_DELAY"] = "0.001"
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert Counter(x["domain"] for x in lines_of(out)) == Counter(names)


def test_a_dying_worker_costs_one_domain_not_the_run(tmp_path):
    from test_scan_support import dying_check_factory

    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(60)]
    src.write_text("\n".join([*names[:30], "die.example", *names[30:]]) + "\n")
    out = tmp_path / "r.jsonl"
    os.environ["SCAN_TEST_DELAY"] = "0.01"
    try:
        r = invoke(_workers_app(no_resolver, dying_check_factory), src, "-o", out, "--workers", "3",
                   "--domains-concurrency", "12", "--lang", "en")
    finally:
        del os.environ["SCAN_TEST_DELAY"]
    assert r.exit_code == 0, r.output
    by = {x["domain"]: x for x in lines_of(out)}
    assert set(by) == {*names, "die.example"}
    # the domains that were in flight on the dead workers were retried elsewhere
    assert all(by[n]["status"] == "ok" for n in names)
    assert by["die.example"]["status"] == "error" and "stopped (exit code 3)" in by["die.example"]["error"]


def test_all_workers_dead_stops_the_scan_and_resume_continues(tmp_path):
    from test_scan_support import dying_check_factory

    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(40)]
    src.write_text("\n".join([*names[:20], "die.example", *names[20:]]) + "\n")
    out = tmp_path / "r.jsonl"
    os.environ["SCAN_TEST_DELAY"] = "0.01"
    try:
        r = invoke(_workers_app(no_resolver, dying_check_factory), src, "-o", out, "--workers", "2",
                   "--domains-concurrency", "4", "--lang", "en")
    finally:
        del os.environ["SCAN_TEST_DELAY"]
    assert r.exit_code == 1, r.output
    assert "every worker process stopped" in r.stderr and "--resume" in r.stderr
    written = [x["domain"] for x in lines_of(out)]
    assert "die.example" not in written and len(written) == len(set(written)) < 41
    assert all(x["status"] == "ok" for x in lines_of(out))     # nothing half-done was written as an error
    r = invoke(_workers_app(no_resolver, slow_check_factory), src, "-o", out, "--workers", "2", "--resume")
    assert r.exit_code == 0, r.output
    assert Counter(x["domain"] for x in lines_of(out)) == Counter([*names, "die.example"])


def test_workers_with_the_real_engine_report_engine_statistics(tmp_path):
    """Each worker builds its own DNS engine from --nameserver; their packet counts are summed."""
    import asyncio
    import threading

    from mailposture.dns.server import LocalDnsServer
    from test_scan_support import WORLD

    zone = {k: v for k, v in WORLD.items() if k != "slow.example"}
    loop = asyncio.new_event_loop()
    server = LocalDnsServer(zone, origins=["example"])
    started = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        assert started.wait(10)
        src = tmp_path / "d.txt"
        src.write_text("good.example\nweak.example\ngone.example\n")
        out = tmp_path / "r.jsonl"
        app = typer.Typer()

        @app.callback()
        def _root() -> None:
            """test root"""

        register(app)
        r = invoke(app, src, "-o", out, "--workers", "2", "--nameserver", server.address, "--lang", "en")
        assert r.exit_code == 0, r.output
        by = {x["domain"]: x for x in lines_of(out)}
        assert by["good.example"]["spf"]["all"] == "-all" and by["weak.example"]["status"] == "ok"
        m = re.search(r"\(([\d,]+) packets sent\)", r.stderr)
        assert m and int(m.group(1).replace(",", "")) >= server.queries > 0
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
        loop.close()


def test_killed_outright_workers_exit_and_resume_completes(tmp_path):
    """SIGKILL: no cleanup at all. The workers notice their parent is gone; resume repairs and completes."""
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(1000)]
    src.write_text("\n".join(names) + "\n")
    out, pids = tmp_path / "r.jsonl", tmp_path / "pids"
    cmd = [sys.executable, str(script), "scan", str(src), "-o", str(out), "--workers", "2",
           "--domains-concurrency", "20"]
    env = {**os.environ, "SCAN_TEST_DELAY": "0.05", "SCAN_TEST_PIDS": str(pids)}
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 2000):
            time.sleep(0.02)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    for pid in {int(x) for x in pids.read_text().split()}:
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"worker {pid} outlived its killed parent")
    env["SCAN_TEST_DELAY"] = "0.001"
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert Counter(x["domain"] for x in lines_of(out)) == Counter(names)


def test_default_is_one_worker_per_core_for_a_large_input(tmp_path, monkeypatch):
    import mailposture.scan.cli as scan_cli

    monkeypatch.setattr(scan_cli, "cpu_cores", lambda: 3)
    monkeypatch.setattr("mailposture.cliopts.cpu_cores", lambda: 3)
    src = tmp_path / "d.txt"
    names = [f"d{i}.example" for i in range(1200)]                 # above SMALL_INPUT_DOMAINS
    src.write_text("\n".join(names) + "\n")
    out, pids = tmp_path / "r.jsonl", tmp_path / "pids"
    monkeypatch.setenv("SCAN_TEST_PIDS", str(pids))
    r = invoke(_workers_app(no_resolver, slow_check_factory), src, "-o", out, "--lang", "en")
    assert r.exit_code == 0, r.output
    assert len(lines_of(out)) == 1200
    worker_pids = {int(x) for x in pids.read_text().split()}
    assert len(worker_pids) == 3 and os.getpid() not in worker_pids   # no --workers: one process per core


def test_default_workers_rules(tmp_path, monkeypatch):
    from mailposture.cliopts import SMALL_INPUT_DOMAINS
    from mailposture.scan.cli import _default_workers

    monkeypatch.setattr("mailposture.cliopts.cpu_cores", lambda: 4)
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text("a.example\n" * (SMALL_INPUT_DOMAINS - 1))
    large.write_text("a.example\n" * SMALL_INPUT_DOMAINS)
    assert _default_workers(str(small)) == 1                          # not worth starting processes
    assert _default_workers(str(large)) == 4
    assert _default_workers("-") == 4                                 # stdin: size unknown, may be huge
    assert _default_workers(str(large), lambda r, s: None) == 1       # a factory that cannot travel


@pytest.mark.parametrize("bodies, extra, want", [(1200, [], 3), (50, [], 1), (1200, ["--workers", "1"], 1)])
def test_survey_run_defaults_to_one_worker_per_core(tmp_path, monkeypatch, bodies, extra, want):
    from typer.testing import CliRunner

    import mailposture.survey.rounds as rounds
    from mailposture.cli import app

    monkeypatch.setattr("mailposture.cliopts.cpu_cores", lambda: 3)
    seen = {}

    async def fake_run_round(*args, parallel=None, **kw):
        seen["workers"] = parallel.workers if parallel is not None else 1
        raise KeyboardInterrupt                                  # stop here: only the choice is under test

    monkeypatch.setattr(rounds, "run_round", fake_run_round)
    lst = tmp_path / "l.csv"
    lst.write_text("domain\n" + "".join(f"d{i}.example\n" for i in range(bodies)))
    r = CliRunner().invoke(app, ["survey", "run", str(lst), "--round", "r", "--data-dir", str(tmp_path / "d"),
                                 "-n", "127.0.0.1:9", "-q", *extra])
    assert r.exit_code == 130, r.output
    assert seen["workers"] == want
