"""Rounds without a network: resume after an interruption, the retry pass, catalog rules, trend and diff."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mailposture.dns.fake import FakeResolver
from mailposture.report.tables import aggregate
from mailposture.survey.catalog import Catalog, CatalogError
from mailposture.survey.diff import diff_rounds
from mailposture.survey.lists import parse_list
from mailposture.survey.rounds import ReplayResolver, load_results, read_results, run_round
from mailposture.survey.trend import build_trend, trend_table
from mailposture.survey.world import FlakyResolver, build_world


class Counting:
    """Counts apex TXT lookups per domain (one per check)."""

    def __init__(self, inner, domains, stop_after: int = 0) -> None:
        self.inner, self.domains, self.apex = inner, set(domains), []
        self.stop_after, self.reached = stop_after, asyncio.Event()

    async def query(self, name: str, rdtype: str):
        if rdtype == "TXT" and name in self.domains:
            self.apex.append(name)
            if self.stop_after and len(self.apex) >= self.stop_after:
                self.reached.set()
        await asyncio.sleep(0)
        return await self.inner.query(name, rdtype)


def _list(world):
    return parse_list(world.csv_text().encode(), "synthetic")


async def test_interrupted_round_resumes_without_rescanning(tmp_path: Path) -> None:
    world = build_world(120, seed=3)
    lst = _list(world)
    domains = lst.all_domains()
    cat = Catalog(tmp_path)
    first = Counting(FakeResolver(world.zone), domains, stop_after=50)
    task = asyncio.create_task(run_round(cat, lst, "r", first, resolvers=["fake"], concurrency=4))
    await first.reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    info = cat.get("r")
    assert info is not None and info.status == "running" and info.phase == "pass1"
    done = set(read_results(cat.gen_dir("r", 0) / "pass1.parquet"))
    assert 40 <= len(done) < len(domains)

    second = Counting(FakeResolver(world.zone), domains)
    info = await run_round(cat, lst, "r", second, resolvers=["fake"], concurrency=4)
    assert info.status == "complete"
    pass1_again = set(second.apex) - {d for d in domains if world.truth[d].broken}
    assert not (pass1_again & done), "finished domains were scanned again"
    assert set(load_results(cat, info)) == set(domains)


async def test_retry_pass_recovers_transient_failures(tmp_path: Path) -> None:
    world = build_world(80, seed=11)
    lst = _list(world)
    assert world.flaky
    cat = Catalog(tmp_path)
    res = FlakyResolver(FakeResolver(world.zone), world.flaky)
    info = await run_round(cat, lst, "r", res, resolvers=["fake"], concurrency=8)
    broken = {d for d, t in world.truth.items() if t.broken}
    assert info.retried == len(world.flaky | broken)
    assert info.errors == len(broken)
    first = read_results(cat.gen_dir("r", 0) / "pass1.parquet")
    final = load_results(cat, info)
    for d in world.flaky:
        assert first[d]["status"] == "error"       # pass 1 met the failure …
        assert final[d]["status"] == "ok"           # … the retry pass recovered it
        assert final[d]["spf"]["present"] == world.truth[d].spf


async def test_catalog_rules(tmp_path: Path) -> None:
    world = build_world(20, seed=5)
    lst = _list(world)
    cat = Catalog(tmp_path)
    await run_round(cat, lst, "2026-12", FakeResolver(world.zone), resolvers=["fake"])
    with pytest.raises(CatalogError, match="already complete"):
        await run_round(cat, lst, "2026-12", FakeResolver(world.zone), resolvers=["fake"])
    info = await run_round(cat, lst, "2026-12", FakeResolver(world.zone), resolvers=["fake"], replace=True)
    assert info.status == "complete"
    with pytest.raises(CatalogError, match="round name"):
        await run_round(cat, lst, "../x", FakeResolver(world.zone), resolvers=["fake"])
    with pytest.raises(CatalogError, match="no round named 'nope'"):
        cat.require("nope")
    with pytest.raises(CatalogError, match="no survey data"):
        Catalog(tmp_path / "empty").list()
    assert cat.latest().name == "2026-12"
    assert cat.count_parquet(str(cat.gen_dir("2026-12", 0) / "*.parquet")) >= len(lst.all_domains())


async def test_resume_with_another_list_is_refused(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    w1, w2 = build_world(20, seed=1), build_world(20, seed=2)
    res = Counting(FakeResolver(w1.zone), _list(w1).all_domains(), stop_after=5)
    task = asyncio.create_task(run_round(cat, _list(w1), "r", res, resolvers=["fake"], concurrency=1))
    await res.reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(CatalogError, match="another list"):
        await run_round(cat, _list(w2), "r", FakeResolver(w2.zone), resolvers=["fake"])


async def test_replay_resolver_marks_unrecorded_lookups_unknown() -> None:
    rr = ReplayResolver([{"name": "a.example", "type": "TXT", "status": "ok", "records": [["v=spf1 -all"]]}])
    ok = await rr.query("A.example.", "txt")
    assert ok.status == "ok" and ok.txt_strings() == ["v=spf1 -all"]
    missing = await rr.query("b.example", "TXT")
    assert missing.status == "error" and rr.missing == [("b.example", "TXT")]


async def test_trend_and_diff_between_two_rounds(tmp_path: Path) -> None:
    world = build_world(60, seed=21)
    lst = _list(world)
    cat = Catalog(tmp_path)
    await run_round(cat, lst, "2025", FakeResolver(world.zone), resolvers=["fake"])
    single = {r["domain"] for r in world.rows if not r["mail_domains"]}  # the diff is per body: one domain each
    ok = [d for d, t in world.truth.items() if not t.broken and not t.nxdomain and d in single]
    adopt = next(d for d in ok if not world.truth[d].spf)
    tighten = next(d for d in ok if world.truth[d].dmarc and world.truth[d].policy != "reject")
    dropped = next(d for d in ok if world.truth[d].spf and d != tighten)
    zone = {k: list(v) for k, v in world.zone.items()}
    zone[adopt] = [*zone.get(adopt, []), ("TXT", "v=spf1 -all")]
    zone[f"_dmarc.{tighten}"] = [("TXT", "v=DMARC1; p=reject")]
    zone[dropped] = [e for e in zone[dropped] if not (e[0] == "TXT" and str(e[1]).startswith("v=spf1"))]
    await run_round(cat, lst, "2026", FakeResolver(zone), resolvers=["fake"])

    d = diff_rounds(cat, "2025", "2026")
    changes = {(c["domain"], c["what"], c["change"]) for c in d["changes"]}
    assert changes == {(adopt, "spf", "adopted"), (dropped, "spf", "dropped"),
                       (tighten, "dmarc_policy", "policy")}
    assert {k: v for k, v in d["summary"].items() if v} == {"adopted": 1, "dropped": 1, "policy": 1}
    pol = next(c for c in d["changes"] if c["what"] == "dmarc_policy")
    assert (pol["before"], pol["after"]) == (world.truth[tighten].policy, "reject")

    tr = build_trend(cat, "region", lang="en")
    assert tr["rounds"] == ["2025", "2026"]
    overall = tr["series"][-1]
    assert overall["overall"] and overall["spf_count"][1] == overall["spf_count"][0]  # one adopted, one dropped
    r26 = aggregate(lst.bodies, load_results(cat, cat.require("2026")), by="region")
    for s, g in zip(tr["series"][:-1], r26["groups"], strict=True):
        assert s["group"] == g["group"] and s["spf"][1] == g["spf"]["rate"]
    cols, rows = trend_table(tr, "en")
    assert cols[:3] == ["Region", "2025 SPF (%)", "2025 DMARC (%)"] and rows[0][0] == "Hokkaido"
    from mailposture.report.html import render_trend_html

    html = render_trend_html(tr, {"synthetic": True}, "en")
    assert 'id="trend-spf"' in html and 'id="trend-dmarc"' in html and 'id="table-trend"' in html
    assert html.count("<polyline") == 2 * len(tr["series"]) and "fictitious" in html


async def test_round_begun_by_an_older_version_resumes_with_the_new_column(tmp_path: Path) -> None:
    # issue 10: dmarc_valid_rfc7489 was added to the Parquet columns; pass 1 written without it (by an older
    # version, here: the column dropped) must resume, and the catalog's SQL view must have the column for all rows
    import duckdb
    import orjson
    import pyarrow.parquet as pq

    from mailposture.scan.outputs import ADDED_COLUMNS

    world = build_world(60, seed=4)
    lst = _list(world)
    domains = lst.all_domains()
    cat = Catalog(tmp_path)
    first = Counting(FakeResolver(world.zone), domains, stop_after=20)
    task = asyncio.create_task(run_round(cat, lst, "r", first, resolvers=["fake"], concurrency=4))
    await first.reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    p1 = cat.gen_dir("r", 0) / "pass1.parquet"
    pq.write_table(pq.read_table(p1).drop_columns(sorted(ADDED_COLUMNS)), p1)
    old = set(read_results(p1))
    assert old

    info = await run_round(cat, lst, "r", FakeResolver(world.zone), resolvers=["fake"], concurrency=4)
    assert info.status == "complete" and set(load_results(cat, info)) == set(domains)
    con = duckdb.connect(str(cat.db))
    try:
        rows = con.execute('SELECT domain, dmarc_valid_rfc7489, result FROM "results_r"').fetchall()
    finally:
        con.close()
    assert {d for d, _, _ in rows} == set(domains)
    for dom, col, text in rows:   # old rows too: the value is the one in the stored result
        assert col == (orjson.loads(text).get("dmarc") or {}).get("valid_rfc7489"), dom
    assert any(col is not None for d, col, _ in rows if d in old)
