"""The lists / survey / demo commands: output and clean errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailposture.cli import app

runner = CliRunner()


def test_lists_and_show() -> None:
    r = runner.invoke(app, ["lists"])
    assert r.exit_code == 0, r.output
    assert "jp-localgov" in r.stdout and "1788" in r.stdout
    r = runner.invoke(app, ["lists", "show", "jp-localgov", "--format", "csv"])
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 1788 and set(rows[0]) == {"code", "prefecture", "name", "region", "domain", "source"}
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


def test_demo_then_report_trend_diff(tmp_path: Path) -> None:
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
    r = runner.invoke(app, ["survey", "recompute", "--round", "demo", "-q", *data])
    assert r.exit_code == 0 and "generation 1" in r.output
