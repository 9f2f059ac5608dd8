"""End to end: a synthetic world of a few hundred bodies served by NSD on 127.0.0.1, behind a fault-injecting
proxy (broken zones SERVFAIL; flaky ones fail more often than the engine retries, so only the round's retry pass
recovers them); the real engine scans it; the report must equal the truth computed from the world generator.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import require_program
from mailposture.cli import app
from mailposture.report.tables import aggregate
from mailposture.survey.catalog import Catalog
from mailposture.survey.lists import REGIONS_JA, parse_list
from mailposture.survey.rounds import load_results, load_round_list, recompute, run_round
from mailposture.survey.world import World, build_world

pytestmark = pytest.mark.system

N_BODIES = 300
RETRIES = 1
BOOL = ("spf", "spf_valid", "spf_fail_all", "spf_over_limit", "dmarc", "dmarc_covered", "rua", "mx")


def truth_table(world: World, count: str = "any") -> dict[str, dict]:
    """Expected counts per region and overall, straight from the generator's truth (no report code)."""
    out: dict[str, dict] = defaultdict(lambda: {"total": 0, "errors": 0, **{k: 0 for k in BOOL},
                                                **{f"{k}_unknown": 0 for k in BOOL},
                                                "none": 0, "quarantine": 0, "reject": 0})
    rank = {"none": 1, "quarantine": 2, "reject": 3}
    for row in world.rows:
        doms = [row["domain"], *row["mail_domains"].split()] if count == "any" else [row["domain"]]
        ts = [world.truth[d] for d in doms]
        for key in (row["region"], "*"):
            e = out[key]
            e["total"] += 1
            state = {}
            for k in BOOL:
                vals = [getattr(t, k) for t in ts]
                v = True if True in vals else (None if None in vals else False)
                state[k] = v
                if v:
                    e[k] += 1
                elif v is None:
                    e[f"{k}_unknown"] += 1
            pols = [t.policy for t in ts if t.dmarc_covered]
            if pols:
                e[max(pols, key=rank.get)] += 1
            if state["spf"] is None or state["dmarc"] is None:
                e["errors"] += 1
    return out


async def _round(cat: Catalog, world: World, name: str) -> object:
    from mailposture.dns.engine import Engine
    from mailposture.dns.nsd import NsdServer
    from mailposture.dns.server import FaultyProxy

    lst = parse_list(world.csv_text().encode(), "synthetic")
    with NsdServer.from_records(world.served_zone(), world.origins(),
                                extra_conf="    rrl-ratelimit: 0\n") as nsd:
        async with FaultyProxy(nsd.address, servfail=world.fault_rule(RETRIES + 1)) as proxy, \
                Engine([proxy.address], timeout=2.0, retries=RETRIES) as engine:
            return await run_round(cat, lst, name, engine, resolvers=[proxy.address], concurrency=50,
                                   synthetic=True)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory):
    require_program("nsd")
    world = build_world(N_BODIES, seed=7)
    cat = Catalog(tmp_path_factory.mktemp("survey") / "data")
    info = asyncio.run(_round(cat, world, "r1"))
    return world, cat, info


def test_world_has_the_cases_that_matter() -> None:
    w = build_world(N_BODIES, seed=7)
    ts = list(w.truth.values())
    assert sum(t.inherited_from is not None for t in ts) >= 10   # DMARC only at the organizational domain
    assert sum(t.broken for t in ts) >= 2 and sum(t.flaky for t in ts) >= 5
    assert sum(t.spf_valid is False and t.spf for t in ts) >= 10
    assert sum(bool(r["mail_domains"]) for r in w.rows) >= 20
    assert {r["region"] for r in w.rows} == set(REGIONS_JA)
    assert all(d.endswith((".example", ".test")) for d in w.truth)


def test_round_is_complete_and_retried(scanned) -> None:
    world, cat, info = scanned
    assert info.status == "complete" and info.phase == "done"
    assert info.domains == len(world.truth) and info.bodies == N_BODIES
    broken = sum(t.broken for t in world.truth.values())
    flaky = sum(t.flaky for t in world.truth.values())
    assert info.retried == broken + flaky    # every failing domain got a second pass
    assert info.errors == broken             # flaky ones recovered; broken ones stay unknown
    results = load_results(cat, info)
    assert set(results) == set(world.truth)
    one = results[world.rows[0]["domain"]]
    assert one["dns"]["answers"], "raw answers are kept for recompute"
    import duckdb  # the catalog's SQL view over the round's Parquet (retry pass overriding pass 1)

    con = duckdb.connect(str(cat.db), read_only=True)
    try:
        n, errors = con.execute('SELECT count(*), count(*) FILTER (WHERE status = \'error\') FROM "results_r1"'
                                ).fetchone()
    finally:
        con.close()
    assert (n, errors) == (len(world.truth), broken)


@pytest.mark.parametrize("count", ["any", "primary"])
def test_report_equals_truth(scanned, count: str) -> None:
    world, cat, info = scanned
    lst = load_round_list(cat, info)
    rep = aggregate(lst.bodies, load_results(cat, info), by="region", count=count, round_name="r1")
    exp = truth_table(world, count)
    assert [g["group"] for g in rep["groups"]] == [r for r in REGIONS_JA if r in exp]
    for g in [*rep["groups"], {**rep["overall"], "group": "*"}]:
        e = exp[g["group"]]
        assert g["total"] == e["total"]
        for k in BOOL:
            key = "dmarc_rua" if k == "rua" else k
            assert (g[key]["count"], g[key]["unknown"]) == (e[k], e[f"{k}_unknown"]), (g["group"], k)
            # half-up, as every format shows it (6.25 -> 6.3)
            want = (Decimal(e[k]) * 100 / Decimal(e["total"])).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            assert g[key]["rate"] == float(want)
        assert {p: g["policy"][p]["count"] for p in ("none", "quarantine", "reject")} == \
            {p: e[p] for p in ("none", "quarantine", "reject")}
        assert g["errors"]["count"] == e["errors"]


def test_recompute_from_stored_answers_gives_the_same_report(scanned) -> None:
    _, cat, info = scanned
    lst = load_round_list(cat, info)
    before = aggregate(lst.bodies, load_results(cat, info), by="region")
    info2, missing = asyncio.run(recompute(cat, "r1"))
    assert info2.generation == info.generation + 1 and missing == 0
    after = aggregate(lst.bodies, load_results(cat, info2), by="region")
    assert after["groups"] == before["groups"] and after["overall"] == before["overall"]


def test_cli_report_json_and_xlsx(scanned, tmp_path: Path) -> None:
    world, cat, _ = scanned
    r = CliRunner().invoke(app, ["survey", "report", "--by", "region", "--format", "json", "--data-dir",
                                 str(cat.dir), "--round", "r1"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    exp = truth_table(world)
    assert out["round"] == "r1" and out["by"] == "region"
    assert out["overall"]["spf"]["count"] == exp["*"]["spf"]
    assert out["overall"]["dmarc"]["count"] == exp["*"]["dmarc"]
    assert out["meta"]["synthetic"] is True
    x = tmp_path / "r.xlsx"
    r = CliRunner().invoke(app, ["survey", "report", "--by", "region", "--format", "xlsx", "-o", str(x),
                                 "--lang", "ja", "--data-dir", str(cat.dir)])
    assert r.exit_code == 0, r.output
    from openpyxl import load_workbook

    wb = load_workbook(x)
    ws = wb["宣言率"]
    assert ws["A4"].value == "北海道"
    # SPF rate as a number formatted as a percentage, then its count and denominator
    rate, cnt, tot = ws["B4"].value, ws["C4"].value, ws["D4"].value
    assert ws["B4"].number_format == "0.0%" and isinstance(cnt, int) and isinstance(tot, int)
    # the rate as shown (rounded half-up to 0.1 %), so Excel displays what every other format shows
    assert rate == pytest.approx(float((Decimal(cnt) * 100 / Decimal(tot)).quantize(Decimal("0.1"),
                                                                                     rounding=ROUND_HALF_UP)) / 100)
    assert ws["E4"].value == f"{rate * 100:.1f}% ({cnt}/{tot})"  # the slide form
    assert tot == Counter(r["region"] for r in world.rows)["北海道"]
    per_body = wb["団体別"]
    header = [c.value for c in per_body[3]]
    assert per_body.max_row == 3 + N_BODIES
    rows = {r[header.index("ドメイン")]: r for r in per_body.iter_rows(min_row=4, values_only=True)}
    inherited = next(r for r in world.rows if not r["mail_domains"]
                     and world.truth[r["domain"]].inherited_from)
    row = rows[inherited["domain"]]
    assert row[header.index("DMARC の取得元")] == "組織ドメイン"
    assert row[header.index("実効ポリシー")] == world.truth[inherited["domain"]].policy
    broken = next(r for r in world.rows if not r["mail_domains"] and world.truth[r["domain"]].broken)
    assert rows[broken["domain"]][header.index("SPF の状態")] == "不明 (DNS エラー)"
    assert rows[broken["domain"]][header.index("DNS エラー")]
