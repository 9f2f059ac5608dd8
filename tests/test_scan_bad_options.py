"""`scan` refuses what it cannot honour, with exit 2 and a message naming the problem (issue 10)."""

from __future__ import annotations

import pytest

from mailposture.scan.outputs import OutputError, OutputSpec, check_output_name
from test_scan_cli import invoke, lines_of, make_app


@pytest.mark.parametrize("name, fmt, needle", [
    ("out.xlsx", None, "cannot write Excel"),
    ("out.xlsx", "csv", "cannot write Excel"),             # a CSV named .xlsx would not open in Excel either
    ("out.json", None, "cannot write a JSON document"),
    ("out.dat", None, "unknown extension .dat"),
    ("out.csv", "parquet", "the extension .csv means csv"),
])
def test_output_names_that_promise_another_format_are_refused(tmp_path, name, fmt, needle):
    src = tmp_path / "d.txt"
    src.write_text("a.example\n")
    out = tmp_path / name
    r = invoke(make_app(), src, "-o", out, *(["--format", fmt] if fmt else []), "--lang", "en")
    assert r.exit_code == 2 and needle in r.output, r.output
    assert not out.exists()


def test_output_names_that_are_honoured(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("a.example\n")
    for name, extra in (("r.ndjson", []), ("r.dat", ["--format", "jsonl"]), ("results", [])):
        out = tmp_path / name
        r = invoke(make_app(), src, "-o", out, *extra, "--lang", "en")
        assert r.exit_code == 0, r.output
        assert [x["domain"] for x in lines_of(out)] == ["a.example"]


def test_output_error_in_japanese():
    with pytest.raises(OutputError) as e:
        check_output_name(OutputSpec("o.xlsx"))
    assert ".csv で書き出して Excel で開いてください" in e.value.text("ja")


@pytest.mark.parametrize("opt", ["--timeout", "--qps", "--domain-timeout"])
@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_numbers_are_refused(tmp_path, opt, value):
    src = tmp_path / "d.txt"
    src.write_text("a.example\n")
    r = invoke(make_app(), src, "-o", tmp_path / "r.jsonl", opt, value)
    assert r.exit_code == 2 and opt in r.output, r.output
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("content, column, needle", [
    ("a.example\nb.example\n", "name", "this input is one name a line"),
    ("a.example\nb.example\n", "2", "its first line has too few columns"),
    ("$ORIGIN example.\nsub IN NS ns1.sub\n", "name", "this input is a zone file"),
])
def test_column_for_a_non_csv_input_is_an_error(tmp_path, content, column, needle):
    src = tmp_path / "d.txt"
    src.write_text(content)
    r = invoke(make_app(), src, "-o", tmp_path / "r.jsonl", "--column", column, "--lang", "en")
    assert r.exit_code == 2 and needle in r.output and "--column" in r.output, r.output
    r = invoke(make_app(), src, "-o", tmp_path / "r.jsonl", "--column", column, "--lang", "ja")
    assert r.exit_code == 2 and "CSV の列の指定" in r.output, r.output


def test_column_still_picks_a_csv_column(tmp_path):
    src = tmp_path / "d.txt"
    src.write_text("rank,site\n1,a.example\n")
    r = invoke(make_app(), src, "-o", tmp_path / "r.jsonl", "--column", "site", "--lang", "en")
    assert r.exit_code == 0, r.output
    assert [x["domain"] for x in lines_of(tmp_path / "r.jsonl")] == ["a.example"]
