"""Issue 11: no value of a result can overflow an output. Records such as ``v=spf1 +all`` and ``ip6:::/0``
authorize 2^64 IPv6 /64 networks (beyond int64); every numeric field of a real result is driven to its extremes
and written through every output format (jsonl, csv, parquet), then a whole ``survey run`` -> ``survey report``
runs over a list made of such records."""

from __future__ import annotations

import asyncio
import copy
import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailposture.checks.domain import check_domain
from mailposture.cli import app
from mailposture.dns.fake import FakeResolver
from mailposture.scan.outputs import COLUMNS, INT_RANGES, OutputSpec, flat_row, open_output
from mailposture.survey.catalog import Catalog
from mailposture.survey.lists import parse_list
from mailposture.survey.rounds import load_results, run_round

EXTREME_ZONE: dict[str, list[tuple[str, Any]]] = {
    "plus-all.example": [("TXT", "v=spf1 +all"), ("MX", (0, "mx.plus-all.example"))],
    "mx.plus-all.example": [("A", "192.0.2.1")],
    "_dmarc.plus-all.example": [("TXT", "v=DMARC1; p=none; pct=0")],
    "v6-all.example": [("TXT", "v=spf1 ip6:::/0 -all")],
    "_dmarc.v6-all.example": [("TXT", "v=DMARC1; p=reject; pct=100; rua=mailto:a@v6-all.example")],
    "both.example": [("TXT", "v=spf1 ip4:0.0.0.0/0 ip6:::/0 include:_spf.both.example ~all")],
    "_spf.both.example": [("TXT", "v=spf1 ip6:8000::/1 ip4:0.0.0.0/1 ?all")],
    "bare-all.example": [("TXT", "v=spf1 all")],
    "exists.example": [("TXT", "v=spf1 exists:exists.example -all"), ("A", "192.0.2.9")],
}
EXTREMES = (0, -1, (1 << 63) - 1, 1 << 63, 1 << 64, 10 ** 38 - 1, 10 ** 38, 1 << 200, -(1 << 200))


def _real_results() -> list[dict[str, Any]]:
    res = FakeResolver(EXTREME_ZONE)

    async def go():
        return [await check_domain(d, res) for d in sorted(n for n in EXTREME_ZONE
                                                               if not n.startswith(("_", "mx.")))]

    return asyncio.run(go())


def test_real_records_reach_the_extremes() -> None:
    by = {r["domain"]: r for r in _real_results()}
    assert by["plus-all.example"]["spf"]["authorized_ipv6_64"] == 1 << 64
    assert by["v6-all.example"]["spf"]["authorized_ipv6_64"] == 1 << 64
    assert by["both.example"]["spf"]["authorized_ipv4"] == 1 << 32


def _numeric_paths(obj: Any, path: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _numeric_paths(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _numeric_paths(v, (*path, i))
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        out.append(path)
    return out


def _set(obj: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def _extreme_results(value: int) -> list[dict[str, Any]]:
    out = []
    for r in _real_results():
        r = copy.deepcopy(r)
        paths = _numeric_paths(r)
        assert paths
        for p in paths:
            _set(r, p, value)
        r["domain"] = f"{value}.{r['domain']}".replace("-", "m")
        out.append(r)
    return out


def _expected_cell(flat: dict[str, Any], name: str, kind: str) -> Any:
    v = flat.get(name)
    if kind in INT_RANGES and v is not None and not isinstance(v, bool):
        lo, hi = INT_RANGES[kind]
        return v if lo <= v <= hi else None
    return v


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_every_numeric_field_at_its_extremes_in_every_format(tmp_path: Path, fmt: str) -> None:
    results = [r for v in EXTREMES for r in _extreme_results(v)]
    path = tmp_path / f"out.{fmt}"
    w, _ = open_output(OutputSpec(str(path)), [])
    w.write(results)
    w.close()
    if fmt == "jsonl":
        back = [json.loads(line) for line in path.read_text().splitlines()]
        assert back == results  # exact, whatever the size
    elif fmt == "csv":
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        assert len(rows) == len(results)
        for r, row in zip(results, rows, strict=True):
            flat = flat_row(r)
            for name, kind in COLUMNS:
                if kind in INT_RANGES and flat.get(name) is not None:
                    assert int(row[name]) == flat[name], name  # CSV text holds any integer exactly
    else:
        import pyarrow.parquet as pq

        t = pq.read_table(path)
        assert t.num_rows == len(results)
        cols = t.to_pydict()
        for i, r in enumerate(results):
            assert json.loads(cols["result"][i]) == r  # the exact values are always kept here
            flat = flat_row(r)
            for name, kind in COLUMNS:
                got = cols[name][i]
                want = _expected_cell(flat, name, kind)
                if kind == "bigint" and got is not None:
                    got = int(got)
                if kind in INT_RANGES:
                    assert got == want, (name, flat.get(name))
        # the address-space counts are exact decimals, so 2^64 is stored as itself
        assert str(t.schema.field("spf_authorized_ipv6_64").type) == "decimal128(38, 0)"


def test_survey_run_and_every_report_format_with_extreme_records(tmp_path: Path) -> None:
    domains = sorted(n for n in EXTREME_ZONE if not n.startswith(("_", "mx.")))
    text = "name,region,prefecture,domain\n" + "".join(
        f"団体{i},関東,東浜都,{d}\n" for i, d in enumerate(domains))
    lst = parse_list(text.encode(), "extreme")
    cat = Catalog(tmp_path / "data")
    info = asyncio.run(run_round(cat, lst, "x", FakeResolver(EXTREME_ZONE), resolvers=["fake"], concurrency=4))
    assert info.status == "complete"
    results = load_results(cat, info)
    assert results["v6-all.example"]["spf"]["authorized_ipv6_64"] == 1 << 64
    data = ["--data-dir", str(cat.dir), "--round", "x"]
    runner = CliRunner()
    for fmt in ("md", "csv", "json", "html", "xlsx", "png", "svg"):
        for table in ("adoption", "dmarc-policy", "dmarc-tags", "dmarc-reports", "spf-all", "spf-providers",
                      "mistakes", "ipv4-space"):
            out = tmp_path / f"r-{table}.{fmt}"
            r = runner.invoke(app, ["survey", "report", "--table", table, "--by", "region", "-f", fmt, "-o",
                                    str(out), "--lang", "en", *data])
            assert r.exit_code == 0, (fmt, table, r.output)
            assert out.stat().st_size > 0
    r = runner.invoke(app, ["survey", "report", "--table", "ipv4-space", "-f", "json", *data])
    rows = {x["key"]: x["count"] for x in json.loads(r.stdout)["overall"]["rows"]}
    assert rows["over-16m"] == 4  # +all, bare all, ip4:0.0.0.0/0 and exists (matches every client)
    r = runner.invoke(app, ["survey", "report", "--table", "spf-all", "-f", "json", *data])
    rows = {x["key"]: x["count"] for x in json.loads(r.stdout)["overall"]["rows"]}
    assert rows["+all"] == 2 and rows["-all"] == 2 and rows["~all"] == 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_survey_run_cli_over_real_dns_with_extreme_records(tmp_path: Path, workers: str) -> None:
    """The command a WG member runs: `survey run` (one process, and worker processes that send each result as
    its JSON line) against a DNS server on 127.0.0.1 serving +all and ip6:::/0, then `survey report`."""
    import subprocess
    import sys

    from test_survey_cli import _ServerThread

    domains = sorted(n for n in EXTREME_ZONE if not n.startswith(("_", "mx.")))
    lst = tmp_path / "extreme.csv"
    lst.write_text("name,region,domain\n" + "".join(f"団体{i},関東,{d}\n" for i, d in enumerate(domains)),
                   encoding="utf-8")
    data = tmp_path / "data"
    with _ServerThread(EXTREME_ZONE, ["example"]) as srv:
        r = subprocess.run([sys.executable, "-m", "mailposture.cli", "survey", "run", str(lst), "--round", "x",
                            "--data-dir", str(data), "-n", srv.address, "--retry-delay", "0", "-q", "--workers",
                            workers, "--lang", "en"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "SPF record publication rate: 100.0% (5/5)" in r.stdout
    cat = Catalog(data)
    res = load_results(cat, cat.require("x"))
    assert res["v6-all.example"]["spf"]["authorized_ipv6_64"] == 1 << 64
    import duckdb  # the catalog's SQL view reads the exact DECIMAL column

    con = duckdb.connect(str(cat.db), read_only=True)
    try:
        got = con.execute('SELECT spf_authorized_ipv6_64::HUGEINT FROM "results_x" WHERE domain = '
                          "'v6-all.example'").fetchone()[0]
    finally:
        con.close()
    assert got == 1 << 64
    r = CliRunner().invoke(app, ["survey", "report", "--table", "spf-all", "-f", "json", "--data-dir", str(data)])
    assert r.exit_code == 0 and json.loads(r.stdout)["overall"]["total"] == 5
