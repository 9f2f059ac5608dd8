"""Follow-up by body (issue 11): ``survey report --table bodies`` as xlsx (sheet 団体別, split above the row
limit), csv (BOM) and json, ja and en — every row compared with the synthetic world's own truth (the generator's
choices and the record texts it published), never with the report code's output."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.dns.fake import FakeResolver
from mailposture.survey.catalog import Catalog
from mailposture.survey.lists import parse_list
from mailposture.survey.rounds import run_round
from mailposture.survey.world import World, build_world

runner = CliRunner()
N = 240
RANK = {"none": 1, "quarantine": 2, "reject": 3}


@pytest.fixture(scope="module")
def world_round(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    world = build_world(N, seed=21)
    data = tmp_path_factory.mktemp("bodies") / "data"
    lst = parse_list(world.csv_text().encode(), "synthetic")
    asyncio.run(run_round(Catalog(data), lst, "r1", FakeResolver(world.zone), resolvers=["fake"], concurrency=50,
                          synthetic=True))
    return world, data


def _spf_text(world: World, d: str) -> list[str]:
    return [v for t, v in world.zone.get(d, ()) if t == "TXT" and str(v).startswith("v=spf1")]


def _lookups(world: World, record: str) -> int:
    n = 0
    for term in record.split()[1:]:
        t = term.lstrip("+-~?")
        if t.startswith("include:"):
            (inner,) = _spf_text(world, t[8:])
            n += 1 + _lookups(world, inner)
        elif t.startswith("redirect="):          # RFC 7208 §4.6.4: redirect counts, then the target's terms
            (inner,) = _spf_text(world, t[9:])
            n += 1 + _lookups(world, inner)
        elif t in ("a", "mx") or t.startswith(("a:", "mx:", "exists:", "ptr", "a/", "mx/")):
            n += 1
    return n


def expected_rows(world: World) -> list[dict]:
    """One expected row per body, from the generator's truth and zone."""
    out = []
    for row in world.rows:
        doms = [row["domain"], *row["mail_domains"].split()]
        ts = {d: world.truth[d] for d in doms}
        spf_d = next((d for d in doms if ts[d].spf), None) or next((d for d in doms if ts[d].spf is None), doms[0])
        t = ts[spf_d]
        status = "unknown" if t.spf is None else ("absent" if not t.spf else ("valid" if t.spf_valid else "invalid"))
        covered = [d for d in doms if ts[d].dmarc_covered]
        dm_d = max(covered, key=lambda d: RANK[ts[d].policy]) if covered else \
            next((d for d in doms if ts[d].dmarc_covered is None), doms[0])
        u = ts[dm_d]
        policy = "unknown" if u.dmarc_covered is None else (u.policy if u.dmarc_covered else "absent")
        e = {"name": row["name"], "region": row["region"], "kind": row["kind"], "domain": row["domain"],
             "spf_domain": spf_d, "spf_status": status, "dmarc_domain": dm_d, "policy": policy,
             "rua_set": bool(u.rua), "dmarc_source": ("organizational" if u.inherited_from else "own")
             if u.dmarc_covered else "", "broken": any(x.broken for x in ts.values())}
        recs = _spf_text(world, spf_d)
        if status == "valid":
            (rec,) = recs
            e.update(spf_record=rec, spf_all=t.spf_all, spf_lookups=_lookups(world, rec))
        out.append(e)
    return out


def test_bodies_json_equals_truth(world_round) -> None:
    world, data = world_round
    r = runner.invoke(app, ["survey", "report", "--table", "bodies", "--format", "json", "--data-dir", str(data),
                            "--lang", "en"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["table"] == "bodies" and doc["total"] == N and len(doc["rows"]) == N
    keys = [c["key"] for c in doc["columns"]]
    assert keys[:4] == ["name", "region", "prefecture", "kind"]
    for got, exp in zip(doc["rows"], expected_rows(world), strict=True):
        for k in ("name", "region", "kind", "domain", "spf_domain", "spf_status", "dmarc_domain", "policy",
                  "dmarc_source"):
            assert got[k] == exp[k], (exp["name"], k, got[k], exp[k])
        assert bool(got["rua"]) == exp["rua_set"], exp["name"]
        if exp["spf_status"] == "valid":
            assert (got["spf_record"], got["spf_all"], got["spf_lookups"]) == \
                (exp["spf_record"], exp["spf_all"], exp["spf_lookups"]), exp["name"]
        elif exp["spf_status"] == "absent":
            assert got["spf_record"] == "" and got["spf_all"] == ""
        assert bool(got["dns_errors"]) == exp["broken"], exp["name"]
        if got["policy"] in RANK:
            assert f"p={got['policy']}" in got["dmarc_record"] or "sp=" in got["dmarc_record"]
    broken = [g for g in doc["rows"] if g["spf_status"] == "unknown"]
    assert broken and all("timeout" in g["dns_errors"] for g in broken)


def test_bodies_csv_and_xlsx_in_japanese(world_round, tmp_path: Path) -> None:
    world, data = world_round
    r = runner.invoke(app, ["survey", "report", "--table", "bodies", "--format", "csv", "--data-dir", str(data),
                            "--lang", "ja"])
    assert r.exit_code == 0
    raw = r.stdout_bytes
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM, like the other reports
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    head = rows[0]
    assert head[:5] == ["団体名", "地域", "都道府県", "種別", "ドメイン"]
    import re

    # no raw field names: only protocol names are left in Latin letters
    leftovers = [h for h in head if re.search(r"[A-Za-z]", re.sub(r"SPF|DMARC|DNS|JP|all|rua", "", h))]
    assert not leftovers, leftovers
    body = [dict(zip(head, x, strict=True)) for x in rows[1:]]
    exp = expected_rows(world)
    ja = {"valid": "有効", "invalid": "無効", "absent": "なし", "unknown": "不明 (DNS エラー)"}
    assert [b["SPF の状態"] for b in body] == [ja[e["spf_status"]] for e in exp]
    pol = {"absent": "なし", "unknown": "不明 (DNS エラー)"}
    assert [b["実効ポリシー"] for b in body] == [pol.get(e["policy"], e["policy"]) for e in exp]
    text = raw.decode("utf-8-sig")
    for word in ("unknown", "absent", "valid", "organizational", "no-all"):
        assert f",{word}," not in text and f",{word}\n" not in text, word
    # "-all" would be a formula in Excel: quoted
    assert all(not c.startswith(("=", "+", "-", "@")) for x in rows for c in x)

    out = tmp_path / "b.xlsx"
    r = runner.invoke(app, ["survey", "report", "--table", "bodies", "--format", "xlsx", "--data-dir", str(data),
                            "--lang", "ja", "-o", str(out)])
    assert r.exit_code == 0 and "分割" not in r.output
    wb = load_workbook(out)
    assert wb.sheetnames == ["概要", "団体別"]
    ws = wb["団体別"]
    assert ws.max_row == N + 1 and ws.cell(1, 1).value == "団体名"
    assert [ws.cell(i, 1).value for i in range(2, N + 2)] == [e["name"] for e in exp]


def test_bodies_split_above_the_row_limit(world_round, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world, data = world_round
    from mailposture.report import bodies as B

    monkeypatch.setattr(B, "EXCEL_MAX_ROWS", 101)  # 100 bodies per sheet + the header row
    out = tmp_path / "split.xlsx"
    r = runner.invoke(app, ["survey", "report", "--table", "bodies", "--format", "xlsx", "--data-dir", str(data),
                            "--lang", "en", "-o", str(out)])
    assert r.exit_code == 0
    assert "split over 3 sheets" in r.output
    wb = load_workbook(out)
    assert wb.sheetnames == ["Summary", "Bodies", "Bodies (2)", "Bodies (3)"]
    names = [ws.cell(i, 1).value for ws in wb.worksheets[1:] for i in range(2, ws.max_row + 1)]
    assert names == [row["name"] for row in world.rows]  # nothing lost, nothing twice, in list order
    assert [ws.max_row - 1 for ws in wb.worksheets[1:]] == [100, 100, N - 200]
    assert any("split over 3 sheets" in str(c.value) for c in wb["Summary"]["A"])
    assert all(ws.cell(1, 1).value == "Name" for ws in wb.worksheets[1:])


def test_bodies_bad_format_and_full_report_sheet(world_round, tmp_path: Path) -> None:
    _, data = world_round
    r = runner.invoke(app, ["survey", "report", "--table", "bodies", "--format", "png", "--data-dir", str(data)])
    assert r.exit_code == 2 and "xlsx, csv or json" in r.output
    r = runner.invoke(app, ["survey", "report", "--table", "bodies", "--by", "region", "--data-dir", str(data)])
    assert r.exit_code == 2 and "--by does not apply" in r.output
    r = runner.invoke(app, ["survey", "report", "--table", "nope", "--data-dir", str(data)])
    assert r.exit_code == 2 and "--table" in r.output
    out = tmp_path / "full.xlsx"
    r = runner.invoke(app, ["survey", "report", "--format", "xlsx", "--data-dir", str(data), "--lang", "ja",
                            "-o", str(out)])
    assert r.exit_code == 0
    ws = load_workbook(out)["団体別"]
    header = [c.value for c in ws[3]]
    assert "団体名" in header and "name" not in header and "実効ポリシー" in header


def test_full_xlsx_leaves_out_a_bodies_sheet_too_long(world_round, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, data = world_round
    from mailposture.report import bodies as B

    monkeypatch.setattr(B, "EXCEL_MAX_ROWS", N + 2)  # N rows + 3 header rows no longer fit
    out = tmp_path / "full.xlsx"
    r = runner.invoke(app, ["survey", "report", "--format", "xlsx", "--data-dir", str(data), "--lang", "en",
                            "-o", str(out)])
    assert r.exit_code == 0 and "--table bodies" in r.output
    assert "Bodies" not in load_workbook(out).sheetnames
