"""`scan --ordered`: results in input order through a bounded reorder buffer (in-process, workers, cluster)."""

from __future__ import annotations

import asyncio
import random

from mailposture.scan.inputs import InputItem, normalize_domain
from mailposture.scan.runner import Scanner
from test_scan_cli import invoke, lines_of
from test_scan_runner import ListWriter
from test_scan_support import no_resolver, slow_check_factory
from test_scan_workers import _workers_app


def _items(names):
    out = []
    for i, n in enumerate(names):
        d, err = normalize_domain(n)
        out.append(InputItem(i + 1, n, d, {}, err, i))
    return out


def _jitter_check(seed=1):
    rng = random.Random(seed)

    async def check(domain, attrs):
        await asyncio.sleep(rng.random() * 0.004)
        if domain == "crash.example":
            raise RuntimeError("boom")
        return {"domain": domain, "status": "ok", "dns": {"queries": 1, "errors": []}, "findings": []}
    return check


NAMES = [f"n{i}.example" for i in range(300)]
NAMES[40:40] = ["bad..name"]
NAMES[150:150] = ["crash.example"]


async def test_ordered_writes_in_input_order_unordered_does_not():
    w = ListWriter()
    s = await Scanner(_jitter_check(), w, concurrency=20, ordered=True).run(iter(_items(NAMES)))
    assert [r["domain"] for r in w.rows] == NAMES
    assert s.written == 302 and s.invalid == 1 and s.crashed == 1
    w2 = ListWriter()
    await Scanner(_jitter_check(), w2, concurrency=20).run(iter(_items(NAMES)))
    got = [r["domain"] for r in w2.rows]
    assert sorted(got) == sorted(NAMES) and got != NAMES      # completion order differs with jittered checks


async def test_a_slow_head_holds_back_at_most_the_window():
    release = asyncio.Event()
    started: list[str] = []

    async def check(domain, attrs):
        started.append(domain)
        if domain == "n0.example":
            await release.wait()
        return {"domain": domain, "status": "ok"}

    w = ListWriter()
    scanner = Scanner(check, w, concurrency=4, ordered=True, window=10)
    task = asyncio.create_task(scanner.run(iter(_items([f"n{i}.example" for i in range(100)]))))
    for _ in range(200):
        await asyncio.sleep(0.005)
    assert len(started) == 10 and w.rows == []          # the window is full: nothing more is dispatched
    release.set()
    await task
    assert [r["domain"] for r in w.rows] == [f"n{i}.example" for i in range(100)]


async def test_interrupted_ordered_scan_keeps_what_finished_after_the_gap():
    async def check(domain, attrs):
        if domain == "n0.example":
            await asyncio.sleep(3600)
        return {"domain": domain, "status": "ok"}

    w = ListWriter()
    scanner = Scanner(check, w, concurrency=4, ordered=True, window=10)
    task = asyncio.create_task(scanner.run(iter(_items([f"n{i}.example" for i in range(100)]))))
    for _ in range(100):
        await asyncio.sleep(0.005)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    got = [r["domain"] for r in w.rows]
    assert got == [f"n{i}.example" for i in range(1, 10)]      # finished after the gap: written, not lost
    assert scanner.summary.written == 9 and scanner.summary.interrupted


def test_ordered_with_worker_processes(tmp_path, monkeypatch):
    src = tmp_path / "d.txt"
    names = [f"w{i}.example" for i in range(400)]
    src.write_text("\n".join(names) + "\n")
    out = tmp_path / "r.jsonl"
    monkeypatch.setenv("SCAN_TEST_DELAY", "0.001")
    r = invoke(_workers_app(no_resolver, slow_check_factory), src, "-o", out, "--workers", "2", "--ordered",
               "--lang", "en")
    assert r.exit_code == 0, r.output
    assert [x["domain"] for x in lines_of(out)] == names
