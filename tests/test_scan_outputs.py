"""Result writers (jsonl, csv, parquet): read back and compare; resume reading; torn-line repair; refusals."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from mailposture.scan.outputs import (
    ADDED_COLUMNS,
    COLUMNS,
    OutputError,
    OutputSpec,
    csv_columns,
    flat_row,
    flatten,
    journal_path,
    note_text,
    older_layout,
    open_output,
    parquet_schema,
)


def result(domain: str, **kw):
    r = {"domain": domain, "status": "ok", "attrs": {"org": "ACME, 株式会社", "note": "line1\nline2"},
         "spf": {"present": True, "valid": True, "record": "v=spf1 ip4:192.0.2.0/24 -all", "all": "-all",
                 "dns_lookups": 3, "void_lookups": 0, "authorized_ipv4": 256,
                 "findings": [{"code": "SPF_SOFTFAIL_ALL", "severity": "info"}]},
         "dmarc": {"present": True, "valid": True, "valid_rfc7489": False, "policy": "reject", "source": "_dmarc." + domain,
                   "rua": ["mailto:a@example.net", "mailto:b@example.net"], "pct": 100,
                   "findings": [{"code": "DMARC_NO_RUA", "severity": "warning"}]},
         "mx": {"classification": "self-hosted", "hosts": [{"host": "mx1." + domain, "preference": 10}],
                "findings": []},
         "dns": {"queries": 7, "errors": [{"name": domain, "type": "MX", "error": "timeout"}]},
         "findings": [{"code": "POSTURE_PROTECTED", "severity": "info"}]}
    r.update(kw)
    return r


RESULTS = [result("a.example"), result("b.example", status="error"),
           {"domain": "bad..x", "status": "error", "input_error": "empty label", "attrs": {"org": "", "note": ""},
            "findings": [{"code": "DOMAIN_INVALID", "severity": "error"}]}]


def test_flatten_generic():
    f = flatten({"domain": "x", "attrs": {"k": "v"}, "spf": {"a": {"b": 1}, "l": ["x", "y"], "o": [{"z": 1}]}})
    assert f == {"domain": "x", "attrs.k": "v", "spf_a_b": 1, "spf_l": "x y", "spf_o": '[{"z":1}]'}


def test_flat_row_derived():
    row = flat_row(RESULTS[0])
    assert row["spf_dns_lookups"] == 3 and row["dmarc_rua"] == "mailto:a@example.net mailto:b@example.net"
    assert row["finding_codes"] == "DMARC_NO_RUA POSTURE_PROTECTED SPF_SOFTFAIL_ALL"
    assert (row["findings_error"], row["findings_warning"]) == (0, 1)
    assert (row["dns_queries"], row["dns_errors"], row["mx_hosts"]) == (7, 1, "mx1.a.example")


def test_jsonl_roundtrip(tmp_path):
    out = tmp_path / "r.jsonl"
    w, done = open_output(OutputSpec(str(out)), ["org", "note"])
    assert done == set()
    w.write(RESULTS[:2])
    w.write(RESULTS[2:])
    w.close()
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == RESULTS


def test_csv_roundtrip(tmp_path):
    out = tmp_path / "r.csv"
    w, _ = open_output(OutputSpec(str(out)), ["org", "note"])
    w.write(RESULTS)
    w.close()
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 1 + len(RESULTS) + 1 and lines[-1] == ""     # one physical line per row
    rows = list(csv.DictReader(lines[:-1]))
    assert list(rows[0]) == csv_columns(["org", "note"])
    assert list(rows[0])[:8] == ["domain", "input", "status", "error", "input_error", "attrs.org", "attrs.note",
                                 "spf_status"]
    a, b, bad = rows
    assert a["domain"] == "a.example" and a["attrs.org"] == "ACME, 株式会社" and a["attrs.note"] == "line1 line2"
    assert (a["spf_present"], a["spf_dns_lookups"], a["spf_all"], a["dmarc_policy"]) == ("true", "3", "-all",
                                                                                        "reject")
    assert a["dmarc_source"] == "_dmarc.a.example" and a["mx_classification"] == "self-hosted"
    assert a["dns_errors"] == "1" and b["status"] == "error"
    assert bad["input_error"] == "empty label" and bad["spf_present"] == "" and bad["finding_codes"] == \
        "DOMAIN_INVALID"


def test_parquet_roundtrip(tmp_path):
    out = tmp_path / "r.parquet"
    w, _ = open_output(OutputSpec(str(out)), ["org", "note"])
    w.write(RESULTS)
    assert (tmp_path / "r.parquet.journal.jsonl").exists() and not out.exists()
    w.close()
    assert not (tmp_path / "r.parquet.journal.jsonl").exists()
    t = pq.read_table(out)
    assert t.schema == parquet_schema(["org", "note"])
    rows = t.to_pylist()
    assert [json.loads(r["result"]) for r in rows] == RESULTS
    a = rows[0]
    assert a["spf_present"] is True and a["spf_dns_lookups"] == 3 and a["dmarc_pct"] == 100
    assert a["attrs.org"] == "ACME, 株式会社" and a["finding_codes"].split() == sorted(a["finding_codes"].split())
    assert rows[2]["spf_present"] is None and rows[2]["input_error"] == "empty label"


def test_parquet_odd_types_are_coerced(tmp_path):
    out = tmp_path / "r.parquet"
    w, _ = open_output(OutputSpec(str(out)), [])
    w.write([{"domain": "x.example", "status": "ok", "spf": {"present": "yes", "dns_lookups": "n/a",
                                                             "all": [{"weird": 1}]}, "findings": []}])
    w.close()
    row = pq.read_table(out).to_pylist()[0]
    assert row["spf_present"] is None and row["spf_dns_lookups"] is None and row["spf_all"] == '[{"weird":1}]'


def test_parquet_keeps_numbers_beyond_int64(tmp_path):
    # 'v=spf1 +all' authorizes 2**64 IPv6 /64 networks: more than an int64 column holds (was an OverflowError
    # that stopped `survey run` with a traceback); the address-space columns are exact decimals
    out = tmp_path / "r.parquet"
    w, _ = open_output(OutputSpec(str(out)), [])
    res = {"domain": "x.example", "status": "ok", "spf": {"present": True, "authorized_ipv4": 2**32,
                                                          "authorized_ipv6_64": 2**64}, "findings": []}
    w.write([res])
    w.close()
    row = pq.read_table(out).to_pylist()[0]
    assert row["spf_authorized_ipv4"] == 2**32 and row["spf_authorized_ipv6_64"] == 2**64
    assert json.loads(row["result"])["spf"]["authorized_ipv6_64"] == 2**64


def test_refuses_to_clobber_and_overwrite(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"domain":"a.example"}\n')
    with pytest.raises(OutputError, match="--resume"):
        open_output(OutputSpec(str(out)), [])
    w, done = open_output(OutputSpec(str(out)), [], overwrite=True)
    w.close()
    assert out.read_text() == "" and done == set()


def test_stdout_rules():
    with pytest.raises(OutputError, match="JSON Lines only"):
        open_output(OutputSpec("-", "csv"), [])
    with pytest.raises(OutputError, match="--resume"):
        open_output(OutputSpec("-"), [], resume=True)


def test_missing_directory(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        open_output(OutputSpec(str(tmp_path / "no" / "r.jsonl")), [])


# ---------------------------------------------------------------------------------------------------------------
# resume reading and repair

def test_jsonl_resume_repairs_torn_line(tmp_path):
    out = tmp_path / "r.jsonl"
    good = "".join(json.dumps(r) + "\n" for r in RESULTS[:2])
    out.write_text(good + '{"domain":"c.exam')
    w, done = open_output(OutputSpec(str(out)), [], resume=True)
    assert done == {"a.example", "b.example"}
    assert any("torn last line" in n for n in w.notes)
    w.write([RESULTS[2]])
    w.close()
    lines = out.read_text().splitlines()
    assert [json.loads(x)["domain"] for x in lines] == ["a.example", "b.example", "bad..x"]


def test_jsonl_resume_keeps_complete_last_line_without_newline(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text(json.dumps(RESULTS[0]))         # complete JSON but no newline: may be torn, so redone
    w, done = open_output(OutputSpec(str(out)), [], resume=True)
    w.close()
    assert done == set() and out.read_text() == ""


def test_jsonl_damage_in_the_middle_is_an_error(tmp_path):
    out = tmp_path / "r.jsonl"
    data = json.dumps(RESULTS[0]) + "\n{broken\n" + json.dumps(RESULTS[1]) + "\n"
    out.write_text(data)
    with pytest.raises(OutputError, match="line 2 is not a result of this scan"):
        open_output(OutputSpec(str(out)), [], resume=True)
    assert out.read_text() == data


def test_resume_never_cuts_a_foreign_file(tmp_path):
    out = tmp_path / "notes.jsonl"
    data = '{"title": "not a scan"}\n{"title": "torn too'
    out.write_text(data)
    with pytest.raises(OutputError, match=r"line 1 is not a result .*right file"):
        open_output(OutputSpec(str(out)), [], resume=True)
    assert out.read_text() == data
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n3,")
    with pytest.raises(OutputError, match="columns differ"):
        open_output(OutputSpec(str(other)), [], resume=True)
    assert other.read_text() == "a,b\n1,2\n3,"


def test_nul_tail_after_power_loss_is_repaired(tmp_path):
    out = tmp_path / "r.jsonl"
    good = json.dumps(RESULTS[0]) + "\n"
    out.write_bytes(good.encode() + b"\0" * 4096)
    w, done = open_output(OutputSpec(str(out)), [], resume=True)
    w.close()
    assert done == {"a.example"} and out.read_text() == good
    out.write_bytes(good.encode() + b"\0" * 100 + b"\n" + good.encode())
    with pytest.raises(OutputError, match="line 2 is damaged although later lines are fine"):
        open_output(OutputSpec(str(out)), [], resume=True)


def test_csv_resume_repairs_and_checks_header(tmp_path):
    out = tmp_path / "r.csv"
    w, _ = open_output(OutputSpec(str(out)), ["org", "note"])
    w.write(RESULTS[:2])
    w.close()
    data = out.read_bytes()
    out.write_bytes(data[:-25])                     # torn inside the last row
    w, done = open_output(OutputSpec(str(out)), ["org", "note"], resume=True)
    assert done == {"a.example"} and w.notes
    w.write(RESULTS[1:])
    w.close()
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert [r["domain"] for r in rows] == ["a.example", "b.example", "bad..x"]
    with pytest.raises(OutputError, match=r"unexpected: attrs\.note"):
        open_output(OutputSpec(str(out)), ["org"], resume=True)


def test_csv_resume_of_torn_header(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("domain,inp")
    w, done = open_output(OutputSpec(str(out)), [], resume=True)
    w.write(RESULTS[:1])
    w.close()
    assert done == set()
    lines = out.read_text().splitlines()
    assert lines[0].split(",") == ["domain", "input", "status", "error", "input_error", *(n for n, _ in COLUMNS)]
    assert len(lines) == 2


def test_parquet_resume_merges_journal_and_file(tmp_path):
    out = tmp_path / "r.parquet"
    w, _ = open_output(OutputSpec(str(out)), ["org", "note"])
    w.write(RESULTS[:1])
    w.close()
    # a second run is killed: its journal stays, with a torn last line
    w, done = open_output(OutputSpec(str(out)), ["org", "note"], resume=True)
    assert done == {"a.example"}
    w.write(RESULTS[1:2])
    w.journal.f.write(b'{"domain":"tor')
    w.journal.f.flush()                             # ... no close(): killed
    w, done = open_output(OutputSpec(str(out)), ["org", "note"], resume=True)
    assert done == {"a.example", "b.example"} and any("torn" in n for n in w.notes)
    w.write(RESULTS[2:])
    w.close()
    doms = [r["domain"] for r in pq.read_table(out).to_pylist()]
    assert doms == ["a.example", "b.example", "bad..x"]
    assert not (tmp_path / "r.parquet.journal.jsonl").exists()


def test_parquet_leftover_journal_needs_resume(tmp_path):
    out = tmp_path / "r.parquet"
    (tmp_path / "r.parquet.journal.jsonl").write_text(json.dumps(RESULTS[0]) + "\n")
    with pytest.raises(OutputError, match=r"journal\.jsonl already exists"):
        open_output(OutputSpec(str(out)), [])
    assert journal_path(str(out)).endswith(".journal.jsonl")


def test_parquet_resume_with_other_columns_fails_early(tmp_path):
    out = tmp_path / "r.parquet"
    w, _ = open_output(OutputSpec(str(out)), ["org"])
    w.write(RESULTS[:1])
    w.close()
    with pytest.raises(OutputError, match="columns differ"):
        open_output(OutputSpec(str(out)), ["other"], resume=True)


def test_damaged_parquet(tmp_path):
    out = tmp_path / "r.parquet"
    out.write_bytes(b"PAR1 not really")
    with pytest.raises(OutputError, match="cannot read the existing Parquet"):
        open_output(OutputSpec(str(out)), [], resume=True)


def test_parquet_resume_without_new_rows_keeps_the_file(tmp_path):
    out = tmp_path / "r.parquet"
    w, _ = open_output(OutputSpec(str(out)), ["org", "note"])
    w.write(RESULTS)
    w.close()
    before = out.stat().st_mtime_ns, out.read_bytes()
    w, done = open_output(OutputSpec(str(out)), ["org", "note"], resume=True)
    w.close()
    assert len(done) == 3 and (out.stat().st_mtime_ns, out.read_bytes()) == before
    assert not (tmp_path / "r.parquet.journal.jsonl").exists()


def test_compressed_output_is_refused(tmp_path):
    with pytest.raises(OutputError, match=r"write .*r\.jsonl and compress"):
        open_output(OutputSpec(str(tmp_path / "r.jsonl.gz")), [])


# ---------------------------------------------------------------------------------------------------------------
# dmarc_valid_rfc7489 (issue 10) and outputs written before it existed

def test_dmarc_valid_rfc7489_column(tmp_path):
    # valid (RFC 9989) and valid_rfc7489 differ in the fixture: each column must carry its own value
    assert ("dmarc_valid_rfc7489", "bool") in COLUMNS
    assert flat_row(RESULTS[0])["dmarc_valid"] is True and flat_row(RESULTS[0])["dmarc_valid_rfc7489"] is False
    out = tmp_path / "r.csv"
    w, _ = open_output(OutputSpec(str(out)), [])
    w.write(RESULTS)
    w.close()
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert [(r["dmarc_valid"], r["dmarc_valid_rfc7489"]) for r in rows] == [("true", "false")] * 2 + [("", "")]
    outp = tmp_path / "r.parquet"
    w, _ = open_output(OutputSpec(str(outp)), [])
    w.write(RESULTS)
    w.close()
    t = pq.read_table(outp)
    assert str(t.schema.field("dmarc_valid_rfc7489").type) == "bool"
    assert t.column("dmarc_valid_rfc7489").to_pylist() == [False, False, None]


def _old_csv(path, attrs, results):
    """A CSV output as a version without ADDED_COLUMNS wrote it."""
    cols = [c for c in csv_columns(attrs) if c not in ADDED_COLUMNS]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in results:
            flat = flat_row(r)
            w.writerow(["true" if flat.get(c) is True else "false" if flat.get(c) is False else
                        "" if flat.get(c) is None else str(flat.get(c)).replace("\n", " ") for c in cols])
    return cols


def test_older_layout_only_for_added_columns():
    want = csv_columns([])
    old = [c for c in want if c not in ADDED_COLUMNS]
    assert older_layout(old, want) == sorted(ADDED_COLUMNS)
    assert older_layout(want, want) == []
    assert older_layout(old[:-1], want) == []                       # another column missing too
    assert older_layout([*old, "extra"], want) == []
    assert older_layout(list(reversed(old)), want) == []            # same names, other order


def test_csv_resume_of_a_file_without_the_new_column(tmp_path):
    out = tmp_path / "r.csv"
    old = _old_csv(out, ["org", "note"], RESULTS[:1])
    w, done = open_output(OutputSpec(str(out)), ["org", "note"], resume=True)
    assert done == {"a.example"}
    assert any("dmarc_valid_rfc7489" in n and "older version" in n for n in w.notes)
    assert any("旧版" in note_text(n, "ja") for n in w.notes)
    w.write(RESULTS[1:])
    w.close()
    lines = out.read_text(encoding="utf-8").splitlines()
    rows = list(csv.reader(lines))
    assert rows[0] == old and all(len(r) == len(old) for r in rows)   # one header, every row in its columns
    assert [r[0] for r in rows[1:]] == ["a.example", "b.example", "bad..x"]
    w, done = open_output(OutputSpec(str(out)), ["org", "note"], resume=True)  # and again: still accepted
    w.close()
    assert len(done) == 3


def _drop_added(path):
    t = pq.read_table(path)
    pq.write_table(t.drop_columns(sorted(ADDED_COLUMNS)), path)


def test_parquet_resume_of_a_file_without_the_new_column(tmp_path):
    out = tmp_path / "r.parquet"
    w, _ = open_output(OutputSpec(str(out)), ["org", "note"])
    old_row = result("old.example")
    old_row["dmarc"]["valid_rfc7489"] = True
    w.write([old_row, RESULTS[2]])
    w.close()
    _drop_added(out)
    assert "dmarc_valid_rfc7489" not in pq.read_table(out).column_names
    w, done = open_output(OutputSpec(str(out)), ["org", "note"], resume=True)
    assert done == {"old.example", "bad..x"}
    w.write(RESULTS[:1])
    w.close()
    assert any("dmarc_valid_rfc7489" in n and "2 rows" in n for n in w.notes)
    assert any("旧版" in note_text(n, "ja") for n in w.notes)
    t = pq.read_table(out)
    assert t.schema == parquet_schema(["org", "note"])
    got = {r["domain"]: r["dmarc_valid_rfc7489"] for r in t.to_pylist()}
    assert got == {"old.example": True, "bad..x": None, "a.example": False}   # old rows from their result JSON


def test_parquet_resume_without_new_rows_keeps_an_older_file(tmp_path):
    out = tmp_path / "r.parquet"
    w, _ = open_output(OutputSpec(str(out)), [])
    w.write(RESULTS[:1])
    w.close()
    _drop_added(out)
    before = out.read_bytes()
    w, done = open_output(OutputSpec(str(out)), [], resume=True)
    w.close()
    assert done == {"a.example"} and out.read_bytes() == before
