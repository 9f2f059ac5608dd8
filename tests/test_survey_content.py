"""Issue 11: the configuration-content survey. Every table, in every format, ja and en, on a generated 1,788-body
world and on the demo world; the expected counts per group come from the world generator's own truth
(mailposture.survey.world), computed here without the report code."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.dns.fake import FakeResolver
from mailposture.report.content import TABLE_NAMES, content_report
from mailposture.survey.catalog import Catalog
from mailposture.survey.lists import REGIONS_JA, parse_list
from mailposture.survey.rounds import load_results, load_round_list, run_round
from mailposture.survey.world import FlakyResolver, World, build_world

N = 1788
TABLES = [t for t in TABLE_NAMES if t != "adoption"]
FORMATS = ("md", "csv", "json", "html", "xlsx", "png", "svg")
# English words that must not appear in a Japanese rendering of these tables
ENGLISH = re.compile(r"\b(unknown|Unknown|no record|Bodies|Overall|external|authorized|Definitions|share of|"
                     r"fictitious|bodies|Provider|Finding code|same organization|monitor only|pass all|"
                     r"destination|Rates are|level|count|item|slide)\b")


def half_up(c: int, n: int) -> str:
    return f"{(Decimal(c) * 100 / Decimal(n)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):.1f}" if n else "0.0"


# ---------------------------------------------------------------------------------------------------------------
# The truth, from the generator

POLICY_ORDER = ("reject", "quarantine", "none", "unknown", "absent")
SPF_ORDER = ("-all", "~all", "?all", "+all", "redirect", "no-all", "invalid", "unknown", "absent")
IPV4_ORDER = ("0", "<=256", "<=65536", "<=16m", "over-16m", "unknown", "absent")


def _policy(t) -> str:
    if t.broken:
        return "unknown"
    return t.policy if t.dmarc_covered else "absent"


def _ipv4(t) -> str:
    if t.broken:
        return "unknown"
    if not t.spf:
        return "absent"
    n = t.ipv4
    return ("0" if n == 0 else "<=256" if n <= 256 else "<=65536" if n <= 65536 else "<=16m" if n <= 1 << 24
            else "over-16m")


def truth_keys(world: World, table: str, domains: list[str]) -> set[str]:
    ts = [world.truth[d] for d in domains]
    if table == "dmarc-policy":
        return {min((_policy(t) for t in ts), key=POLICY_ORDER.index)}
    if table == "spf-all":
        return {min((t.spf_all for t in ts), key=SPF_ORDER.index)}
    if table == "ipv4-space":
        return {min((_ipv4(t) for t in ts), key=IPV4_ORDER.index)}
    out: set[str] = set()
    for t in ts:
        if table == "dmarc-tags":
            out |= {k for k in t.dmarc_tags if k != "rua:same-organization"}
        elif table == "dmarc-reports":
            out |= {k for k in t.dmarc_tags if k.startswith(("rua", "ruf"))}
            out |= {f"dest:{d}" for d in t.rua_destinations}
        elif table == "spf-providers":
            out |= t.providers
        elif table == "mistakes":
            out |= t.mistakes
    return out


def truth_counts(world: World, table: str, count: str = "any") -> dict[tuple, dict]:
    """{(region,) / (region, prefecture) / (): {"total": n, key: count}} straight from the generator."""
    out: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for row in world.rows:
        doms = [row["domain"], *row["mail_domains"].split()] if count == "any" else [row["domain"]]
        keys = truth_keys(world, table, doms)
        for g in ((), (row["region"],), (row["region"], row["prefecture"])):
            out[g]["total"] += 1
            for k in keys:
                out[g][k] += 1
    return out


def check_report(rep: dict, world: World, table: str, count: str = "any") -> None:
    exp = truth_counts(world, table, count)
    got_groups = [(tuple(g["group"].values()), g) for g in rep["groups"]] + [((), rep["overall"])]
    assert len(got_groups) == len({k for k in exp if len(k) <= len(rep["by"])})
    fixed_truth_only = table == "mistakes"  # the world knows a few codes; the scan finds more
    truth_keys_all = {k for e in exp.values() for k in e if k != "total"}
    for key, g in got_groups:
        e = exp[key]
        assert g["total"] == e["total"], (table, key)
        rows = {r["key"]: r for r in g["rows"]}
        for k in truth_keys_all:
            assert rows.get(k, {"count": 0})["count"] == e.get(k, 0), (table, key, k)
        for k, r in rows.items():
            if not fixed_truth_only and not (table == "dmarc-tags" and k.startswith(("np:", "psd:", "source:tree"))):
                assert r["count"] == e.get(k, 0), (table, key, k)
            assert r["rate"] == (r["count"] / g["total"] if g["total"] else 0.0)
            assert r["pct"] == half_up(r["count"], g["total"])
        if TABLE_SPEC_EXCLUSIVE[table]:
            assert sum(r["count"] for r in g["rows"]) == g["total"]


TABLE_SPEC_EXCLUSIVE = {"dmarc-policy": True, "spf-all": True, "ipv4-space": True, "dmarc-tags": False,
                        "dmarc-reports": False, "spf-providers": False, "mistakes": False}


# ---------------------------------------------------------------------------------------------------------------
# Rounds

@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory):
    world = build_world(N, seed=11)
    lst = parse_list(world.csv_text().encode(), "synthetic-1788")
    cat = Catalog(tmp_path_factory.mktemp("content") / "data")
    res = FlakyResolver(FakeResolver(world.zone), world.flaky)
    info = asyncio.run(run_round(cat, lst, "r1788", res, resolvers=["fake"], concurrency=100, synthetic=True,
                                 retry_delay=0))
    assert info.status == "complete" and info.bodies == N
    return world, cat, info


def test_world_has_every_key(big) -> None:
    world, _, _ = big
    ts = world.truth.values()
    assert {t.spf_all for t in ts} == set(SPF_ORDER)
    assert {_policy(t) for t in ts} == set(POLICY_ORDER)
    tags = {k for t in ts for k in t.dmarc_tags}
    assert {"rua:external-authorized", "rua:external-unauthorized", "rua:same-organization", "pct<100", "t=y",
            "ruf", "sp:none", "source:organizational"} <= tags


@pytest.mark.parametrize("table", TABLES)
def test_every_table_equals_the_truth_per_group(big, table: str) -> None:
    world, cat, info = big
    lst = load_round_list(cat, info)
    results = load_results(cat, info)
    rep = content_report(lst.bodies, results, table, by=["region", "prefecture"], round_name=info.name)
    assert rep["by"] == ["region", "prefecture"] and rep["table"] == table
    levels = [g["level"] for g in rep["groups"]]
    assert levels[0] == 1 and 2 in levels
    assert [next(iter(g["group"].values())) for g in rep["groups"] if g["level"] == 1] == \
        [r for r in REGIONS_JA if any(row["region"] == r for row in world.rows)]
    check_report(rep, world, table)
    if table == "mistakes":  # and who has each code: the bodies the generator gave it
        for r in rep["overall"]["rows"]:
            assert len(r["bodies"]) == r["count"]
            if r["key"] == "SPF_PASS_ALL":
                want = {row["domain"] for row in world.rows
                        if "SPF_PASS_ALL" in truth_keys(world, table, [row["domain"], *row["mail_domains"].split()])}
                assert {b["domain"] for b in r["bodies"]} == want and want
    rep = content_report(lst.bodies, results, table, by=["region"], count="primary", round_name=info.name)
    check_report(rep, world, table, "primary")


def test_provider_names_and_destinations(big) -> None:
    _, cat, info = big
    lst = load_round_list(cat, info)
    results = load_results(cat, info)
    rep = content_report(lst.bodies, results, "spf-providers", lang="ja")
    labels = {r["key"]: r["label"] for r in rep["overall"]["rows"]}
    assert labels["_spf.bigcloud.example"].startswith("ビッグクラウド (架空)")
    assert labels["spf-chain.test"] == "spf-chain.test"  # an unknown domain is shown as itself
    assert "bigcloud.example" not in labels  # the provider's nested include is not another provider
    rep = content_report(lst.bodies, results, "dmarc-reports", lang="en")
    labels = {r["key"]: r["label"] for r in rep["overall"]["rows"]}
    assert labels["dest:dmarc-watch.test"] == "DMARC Watch (fictitious) (dmarc-watch.test)"


def _cli(cat: Catalog, *args: str):
    return CliRunner().invoke(app, ["survey", "report", "--data-dir", str(cat.dir), *args])


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("table", TABLES)
def test_every_format_in_both_languages(big, tmp_path: Path, table: str, lang: str) -> None:
    world, cat, _ = big
    exp = truth_counts(world, table)
    total = exp[()]["total"]
    for fmt in FORMATS:
        out = tmp_path / f"t.{fmt}"
        args = ["--table", table, "--by", "region", "-f", fmt, "--lang", lang, "-o", str(out)]
        if fmt in ("png", "svg"):
            args += ["--size", "1280x720", "--dpi", "100"]
        r = _cli(cat, *args)
        assert r.exit_code == 0, (fmt, r.output)
        data = out.read_bytes()
        if fmt == "json":
            rep = json.loads(data)
            assert set(rep) >= {"round", "table", "by", "groups", "overall", "definitions"}
            assert rep["by"] == ["region"] and rep["groups"][0]["group"] == {"region": "北海道"}
            check_report(rep, world, table)
        elif fmt == "csv":
            assert data.startswith("\ufeff".encode())
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
            head = rows[0]
            key_i = head.index("キー" if lang == "ja" else "key")
            cnt_i = head.index("該当数" if lang == "ja" else "count")
            nat = [r for r in rows[1:] if r[head.index("階層" if lang == "ja" else "level")] == "0"]
            for r in nat:
                if table != "mistakes" or r[key_i] in exp[()]:
                    assert int(r[cnt_i]) == exp[()].get(r[key_i], 0), r
            if lang == "ja":
                assert not ENGLISH.search(",".join(head))
        elif fmt == "md":
            text = data.decode()
            assert f"/{total})" in text
            if lang == "ja":
                assert not ENGLISH.search(text), ENGLISH.search(text)
            else:
                assert ENGLISH.search(text)  # the check above does find English
        elif fmt == "html":
            text = data.decode()
            assert "<svg" in text and f"/{total})" in text
            assert ("架空" if lang == "ja" else "fictitious") in text
            if lang == "ja":
                visible = re.sub(r"<style.*?</style>|<svg.*?</svg>|<[^>]+>", " ", text, flags=re.S)
                assert not ENGLISH.search(visible), ENGLISH.search(visible)
        elif fmt == "xlsx":
            from openpyxl import load_workbook

            wb = load_workbook(io.BytesIO(data))
            ws = wb.worksheets[1]
            header = [c.value for c in ws[3]]
            slide = [i for i, h in enumerate(header) if h and ("表示用" in h if lang == "ja" else "(slide)" in h)]
            assert slide, header
            cells = list(ws.iter_rows(min_row=4, values_only=True))
            for row in cells:
                for i in slide:  # '78.4% (1402/1788)': the rate, the count and the denominator of its cell
                    m = re.fullmatch(r"(\d+\.\d)% \((\d+)/(\d+)\)", row[i])
                    assert m and row[i - 3] == pytest.approx(float(m[1]) / 100)
                    assert (row[i - 2], row[i - 1]) == (int(m[2]), int(m[3]))
                    assert m[1] == half_up(int(m[2]), int(m[3]))
            if lang == "ja":
                assert not ENGLISH.search(" ".join(str(h) for h in header if h))
        elif fmt == "png":
            assert data[:4] == b"\x89PNG"
            import struct

            w, h = struct.unpack(">II", data[16:24])
            assert (w, h) == (1280, 720)
        else:
            text = data.decode()
            assert text.lstrip().startswith(("<?xml", "<svg"))
            assert f"n = {total:,}" in text or f"(n={total:,})" in text
            assert "Hiragino Sans" in text and text.index("Hiragino Sans") < text.index("Noto Sans CJK JP")
            if lang == "ja":
                words = " ".join(re.findall(r">([^<>]+)</text>", text))
                assert not ENGLISH.search(words), ENGLISH.search(words)


def test_json_on_stdout_and_bad_options(big) -> None:
    _, cat, _ = big
    r = _cli(cat, "--table", "spf-all", "-f", "json")
    assert r.exit_code == 0
    rep = json.loads(r.stdout)
    assert rep["groups"] == [] and rep["overall"]["total"] == N
    assert sum(x["count"] for x in rep["overall"]["rows"]) == N
    r = _cli(cat, "--table", "nope")
    assert r.exit_code == 2 and "--table must be one of" in r.output
    r = _cli(cat, "--table", "spf-all", "-f", "png", "--size", "12x9000000", "-o", "/tmp/x.png")
    assert r.exit_code == 2 and "--size" in r.output
    r = _cli(cat, "--table", "spf-all", "--by", "region,nope")
    assert r.exit_code == 2 and "no column 'nope'" in r.output


def test_adoption_keeps_its_shape_and_gains_rows(big) -> None:
    _, cat, _ = big
    r = _cli(cat, "--by", "region", "-f", "json")
    rep = json.loads(r.stdout)
    assert rep["by"] == "region" and rep["groups"][0]["group"] == "北海道"  # the current shape
    assert isinstance(rep["groups"][0]["spf"]["rate"], float)
    g = rep["groups"][0]
    rows = {x["key"]: x for x in g["rows"]}  # and the content-survey one beside it
    assert rows["spf"]["count"] == g["spf"]["count"] and rows["spf"]["rate"] == g["spf"]["count"] / g["total"]
    assert rep["table"] == "adoption" and rep["group_by"] == ["region"]
    r = _cli(cat, "--by", "region,prefecture", "-f", "md", "--lang", "en")
    assert r.exit_code == 0 and "Region / Prefecture" in r.stdout
    import struct

    for fmt in ("png", "svg"):  # the adoption chart honours --size and --dpi too
        out = Path(cat.dir) / f"adoption.{fmt}"
        r = _cli(cat, "--by", "region", "-f", fmt, "--size", "1280x720", "--dpi", "100", "-o", str(out))
        assert r.exit_code == 0, r.output
        data = out.read_bytes()
        if fmt == "png":
            assert struct.unpack(">II", data[16:24]) == (1280, 720)
        else:
            assert b'width="921.6pt" height="518.4pt"' in data and b"Hiragino Sans" in data
    r = _cli(cat, "--table", "spf-all", "--by", "region,prefecture", "-f", "png", "-o", str(out.with_suffix(".png")))
    assert r.exit_code == 0 and struct.unpack(">II", out.with_suffix(".png").read_bytes()[16:24])[1] > 900


def test_rates_round_half_up_everywhere() -> None:
    """6.25 is shown as 6.3 in every format (Python's round() and %-formatting give 6.2)."""
    from mailposture.report.content import pct1
    from mailposture.report.tables import rate
    from mailposture.report.xlsx import slide_text

    assert pct1(1, 16) == "6.3" and rate(1, 16) == 6.3 and f"{rate(1, 16):.1f}" == "6.3"
    assert slide_text({"count": 1, "total": 16}) == "6.3% (1/16)"
    assert pct1(1, 8) == "12.5" and pct1(1, 3) == "33.3" and pct1(2, 3) == "66.7" and pct1(0, 0) == "0.0"


def test_demo_world_content_and_html(tmp_path: Path) -> None:
    from mailposture.survey.demo import run_demo

    res = run_demo(tmp_path / "demo", n_bodies=120, seed=5, lang="ja")
    html = res["html"].read_text(encoding="utf-8")
    for t in TABLES:
        assert f'id="content-{t}"' in html
    world = build_world(120, seed=5)
    cat = Catalog(tmp_path / "demo" / "data")
    info = cat.require("demo")
    lst = load_round_list(cat, info)
    results = load_results(cat, info)
    for t in TABLES:
        check_report(content_report(lst.bodies, results, t, by=["region"], round_name="demo"), world, t)


def test_adoption_in_japanese_has_no_english(big, tmp_path: Path) -> None:
    _, cat, _ = big
    for fmt in ("md", "csv", "html"):
        out = tmp_path / f"a.{fmt}"
        r = _cli(cat, "--by", "region,prefecture", "-f", fmt, "--lang", "ja", "-o", str(out))
        assert r.exit_code == 0, r.output
        text = out.read_text(encoding="utf-8-sig")
        visible = re.sub(r"<style.*?</style>|<svg.*?</svg>|<[^>]+>", " ", text, flags=re.S)
        assert not ENGLISH.search(visible), (fmt, ENGLISH.search(visible))
        assert not re.search(r"\b(warning|error|group|total)\b", visible), fmt
