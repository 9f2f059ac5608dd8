"""`mailposture dmarc parse`: arguments, stdin, --file, text/JSON Lines output, languages, exit status."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from mailposture.checks.dmarc.cli import register

GOOD = "v=DMARC1; p=reject; rua=mailto:d@example.com"
BAD = "v=DMARC1; p=rejekt; adkim=x; rua=d@example.com"


@pytest.fixture()
def app() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def invoke(app, args, stdin=None):
    return CliRunner().invoke(app, ["dmarc", "parse", *args], input=stdin)


def test_all_valid_exits_0(app):
    res = invoke(app, [GOOD, "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "valid" in res.output and "INVALID" not in res.output


def test_invalid_exits_1_and_lists_every_problem(app):
    res = invoke(app, [GOOD, BAD, "--lang", "en"])
    assert res.exit_code == 1
    assert res.output.count("DMARC_INVALID_VALUE") == 2 and "DMARC_BAD_URI" in res.output
    assert "RFC 7489 §6.2" in res.output
    assert "the 'mailto:' prefix is missing" in res.output  # the reason behind DMARC_BAD_URI


def test_json_lines_in_input_order(app):
    res = invoke(app, ["--format", "json", BAD, GOOD, "--lang", "en"])
    assert res.exit_code == 1
    lines = [json.loads(ln) for ln in res.output.splitlines()]
    assert [ln["record"] for ln in lines] == [BAD, GOOD]
    assert [ln["valid"] for ln in lines] == [False, True]
    assert {f["code"] for f in lines[0]["findings"]} >= {"DMARC_INVALID_VALUE", "DMARC_BAD_URI"}
    assert all({"code", "severity", "message", "rfc"} <= set(f) for f in lines[0]["findings"])


def test_stdin_one_record_a_line_and_zone_quoting(app):
    res = invoke(app, ["-", "--format", "json"], stdin=f'{GOOD}\n\n"v=DMARC1; " "p=none"\n')
    lines = [json.loads(ln) for ln in res.output.splitlines()]
    assert [ln["record"] for ln in lines] == [GOOD, "v=DMARC1; p=none"]
    assert res.exit_code == 0


def test_file_input_and_japanese(app, tmp_path):
    f = tmp_path / "records.txt"
    f.write_text(f"{GOOD}\n{BAD}\n", encoding="utf-8")
    res = invoke(app, ["--file", str(f), "--lang", "ja"])
    assert res.exit_code == 1
    assert "有効" in res.output and "無効" in res.output and "正しくありません" in res.output
    assert "[エラー] DMARC_INVALID_VALUE" in res.output


def test_missing_file_and_no_input_are_clear_errors(app, tmp_path):
    res = invoke(app, ["--file", str(tmp_path / "nope.txt")])
    assert res.exit_code == 2 and "cannot read" in res.output
    res = invoke(app, [])
    assert res.exit_code == 2 and "no record given" in res.output


def test_bad_options(app):
    assert invoke(app, [GOOD, "--format", "xml"]).exit_code == 2
    assert invoke(app, [GOOD, "--lang", "fr"]).exit_code == 2


def test_parse_text_tells_the_fix_in_the_chosen_language() -> None:
    from typer.testing import CliRunner

    from mailposture.cli import app

    r = CliRunner().invoke(app, ["dmarc", "parse", "v=DMARC1; p=reject; rua=d@example.jp", "--lang", "ja"])
    assert r.exit_code == 1
    assert "'mailto:' が付いていません" in r.output and "対処: 送付先は 'mailto:name@example.jp'" in r.output
    assert "prefix is missing" not in r.output
    r = CliRunner().invoke(app, ["dmarc", "parse", "v=DMARC1; p=reject; rua=d@example.jp", "--lang", "en"])
    assert "the 'mailto:' prefix is missing" in r.output and "fix: Write each address as" in r.output
