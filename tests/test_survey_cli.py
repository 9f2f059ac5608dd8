"""The lists / survey / demo commands: output and clean errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import sigint_default
from mailposture.cli import app

runner = CliRunner()


def test_lists_and_show() -> None:
    r = runner.invoke(app, ["lists"])
    assert r.exit_code == 0, r.output
    assert "jp-localgov" in r.stdout and "1788" in r.stdout
    r = runner.invoke(app, ["lists", "show", "jp-localgov", "--format", "csv"])
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 1788 and set(rows[0]) == {"code", "prefecture", "name", "kind", "region", "domain", "source"}
    r = runner.invoke(app, ["lists", "show", "jp-localgov", "--limit", "3"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "札幌市" in r.stdout and "1785 more rows" in r.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["lists", "show", "no-such-list"], "no such file and no bundled list"),
    (["lists", "show", "jp-localgov", "--format", "xml"], "--format must be table or csv"),
    (["survey", "report", "--by", "region"], "no survey data"),
    (["survey", "report", "--format", "pdf"], "--format must be one of"),
    (["survey", "diff", "a", "b"], "no survey data"),
    (["survey", "trend"], "no survey data"),
    (["survey", "recompute", "--round", "x"], "no survey data"),
])
def test_clean_errors(args: list[str], needle: str, tmp_path: Path) -> None:
    r = runner.invoke(app, [*args, *(["--data-dir", str(tmp_path / "d")] if args[0] == "survey" else [])])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output


def test_run_with_a_bad_list_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("domain,region\nok.example,x\nhttp://x.example/,y\n", encoding="utf-8")
    r = runner.invoke(app, ["survey", "run", str(bad), "--round", "r", "--data-dir", str(tmp_path / "d"),
                            "-n", "127.0.0.1:9"])
    assert r.exit_code == 2 and "line 3" in r.output and "Traceback" not in r.output


def test_demo_then_report_trend_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "demo"
    r = runner.invoke(app, ["demo", "--out", str(out), "--bodies", "40", "-q"])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").exists() and "report:" in r.output
    data = ["--data-dir", str(out / "data")]
    r = runner.invoke(app, ["survey", "report", "--by", "region", "--format", "md", "--lang", "ja", *data])
    assert r.exit_code == 0 and "| 地域 | SPF (%) | DMARC (%) |" in r.stdout
    assert "架空" in r.stdout
    r = runner.invoke(app, ["survey", "report", "--by", "nope", *data])
    assert r.exit_code == 2 and "no column 'nope'" in r.output
    r = runner.invoke(app, ["survey", "report", "--by", "prefecture", "--format", "png", *data])
    assert r.exit_code == 0 and (out / "data" / "reports" / "demo-prefecture.png").exists()
    r = runner.invoke(app, ["survey", "rounds", *data])
    assert r.exit_code == 0 and "demo" in r.stdout
    r = runner.invoke(app, ["survey", "trend", "--by", "region", "--format", "json", *data])
    assert r.exit_code == 0 and json.loads(r.stdout)["rounds"] == ["demo"]
    r = runner.invoke(app, ["survey", "diff", "demo", "demo", "--format", "json", *data])
    assert r.exit_code == 0 and json.loads(r.stdout)["changes"] == []
    from mailposture.report import charts

    monkeypatch.setattr(charts, "cjk_font", lambda: None)  # a machine without fonts-noto-cjk
    r = runner.invoke(app, ["survey", "report", "--by", "region", "--format", "png", "--lang", "ja",
                            "-o", str(tmp_path / "nofont.png"), *data])
    assert r.exit_code == 0 and (tmp_path / "nofont.png").read_bytes()[:4] == b"\x89PNG"
    assert "warning: no Japanese font found" in r.output and r.output.count("warning:") <= 2
    r = runner.invoke(app, ["survey", "recompute", "--round", "demo", "-q", *data])
    assert r.exit_code == 0 and "generation 1" in r.output


class _ServerThread:
    """LocalDnsServer on its own event loop in a thread, so a CLI subprocess can query it."""

    def __init__(self, zone, origins) -> None:
        import asyncio
        import threading

        from mailposture.dns.server import LocalDnsServer

        self.server = LocalDnsServer(zone, origins=origins)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        import asyncio

        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.mark.slow
def test_ctrl_c_then_resume_through_the_cli(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from mailposture.survey.catalog import Catalog
    from mailposture.survey.rounds import load_results
    from mailposture.survey.world import build_world

    world = build_world(200, seed=9)
    lst = tmp_path / "fict.csv"
    lst.write_text(world.csv_text(), encoding="utf-8")
    data = tmp_path / "data"
    exe = [sys.executable, "-m", "mailposture.cli"]
    with _ServerThread(world.served_zone(), world.origins()) as srv:
        base = [*exe, "survey", "run", str(lst), "--round", "r", "--data-dir", str(data), "-n", srv.address,
                "--timeout", "0.3", "--retries", "0", "--retry-delay", "0", "-q"]
        proc = subprocess.Popen([*base, "--concurrency", "1", "--qps", "150"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
        journal = data / "rounds" / "r" / "gen-0" / "pass1.parquet.journal.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and journal.read_bytes().count(b"\n") >= 20:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the round ended before it could be interrupted"
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Run the same command again to resume" in err and "Traceback" not in err
        cat = Catalog(data)
        info = cat.require("r")
        assert info.status == "running" and info.phase == "pass1"
        partial = load_results(cat, info)
        assert 20 <= len(partial) < len(world.truth)
        again = subprocess.run([*base, "--concurrency", "50"], capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
    info = cat.require("r")
    assert info.status == "complete"
    final = load_results(cat, info)
    assert set(final) == set(world.truth)
    # finished domains were kept, not scanned again: one row per domain in pass 1
    assert cat.count_parquet(str(cat.gen_dir("r", 0) / "pass1.parquet")) == len(world.truth)
    for d in partial:
        assert final[d]["checked_at"] == partial[d]["checked_at"] or world.truth[d].broken


def test_damaged_data_gives_clean_errors(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "catalog.duckdb").write_bytes(b"not a database")
    r = runner.invoke(app, ["survey", "rounds", "--data-dir", str(d)])
    assert r.exit_code == 2 and "cannot open the catalog" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["survey", "report", "--data-dir", str(d), "-f", "html", "-o",
                            str(tmp_path / "missing" / "x.html")])
    assert r.exit_code == 2 and "Traceback" not in r.output
