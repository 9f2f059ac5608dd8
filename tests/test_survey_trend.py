"""``survey trend`` (issue 11): Δ points against the previous round, a note naming the bodies when the list
changed, and charts that stay readable with 47 groups. The expected figures come from the hand-made zones below."""

from __future__ import annotations

import asyncio
import json
import re
import struct
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailposture.cli import app
from mailposture.dns.fake import FakeResolver
from mailposture.survey.catalog import Catalog
from mailposture.survey.lists import PREFECTURES_JIS, parse_list
from mailposture.survey.rounds import run_round
from mailposture.survey.trend import build_trend, points, trend_table

runner = CliRunner()


def _list(second: bool) -> str:
    """Two bodies per prefecture (code PP0001 / PP0002); in round 2 body 010002 is gone, 470003 is new and
    020001 moved from b-02-1.example to b-02-1.lg.test."""
    lines = ["code,name,prefecture,domain\n"]
    for p, pref in enumerate(PREFECTURES_JIS, start=1):
        for k in (1, 2):
            code = f"{p:02d}000{k}"
            if second and code == "010002":
                continue
            dom = "b-02-1.lg.test" if second and code == "020001" else f"b-{p:02d}-{k}.example"
            lines.append(f"{code},{pref}第{k}市,{pref},{dom}\n")
    if second:
        lines.append(f"470003,{PREFECTURES_JIS[-1]}新市,{PREFECTURES_JIS[-1]},b-47-3.example\n")
    return "".join(lines)


def _has_spf(p: int, k: int, second: bool) -> bool:
    # round 1: body 1 of odd prefectures; round 2: body 1 of every prefecture and body 2 of prefectures 1-10
    return (k == 1 and (p % 2 == 1 or second)) or (second and k == 2 and p <= 10)


def _zone(second: bool) -> dict:
    z: dict = {}
    for p in range(1, 48):
        for k in (1, 2, 3):
            dom = "b-02-1.lg.test" if (second and (p, k) == (2, 1)) else f"b-{p:02d}-{k}.example"
            z[dom] = [("A", "192.0.2.1")] + ([("TXT", "v=spf1 -all")] if _has_spf(p, k, second) else [])
    return z


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("trend") / "data"
    cat = Catalog(d)

    async def go() -> None:
        for name, second in (("2025", False), ("2026", True)):
            info = await run_round(cat, parse_list(_list(second).encode(), "pref"), name,
                                   FakeResolver(_zone(second)), resolvers=["fake"])
            assert info.status == "complete"

    asyncio.run(go())
    return d


def _expected(p: int) -> tuple[Fraction, Fraction]:
    """SPF rate (%) of prefecture p in each round, from the design above."""
    bodies1 = [1, 2]
    bodies2 = [1] if p == 1 else ([1, 2, 3] if p == 47 else [1, 2])
    r1 = Fraction(100 * sum(_has_spf(p, k, False) for k in bodies1), len(bodies1))
    r2 = Fraction(100 * sum(_has_spf(p, k, True) for k in bodies2 if k != 3), len(bodies2))
    return r1, r2


def test_deltas_equal_the_design(data: Path) -> None:
    tr = build_trend(Catalog(data), "prefecture", lang="ja")
    groups = [s for s in tr["series"] if not s.get("overall")]
    assert [s["group"] for s in groups] == list(PREFECTURES_JIS)
    for p, s in enumerate(groups, start=1):
        r1, r2 = _expected(p)
        assert s["spf_delta"][0] is None
        assert s["spf_delta"][1] == pytest.approx(float(r2 - r1), abs=1e-9), s["group"]
    ov = tr["series"][-1]
    c1 = sum(_has_spf(p, k, False) for p in range(1, 48) for k in (1, 2))
    c2 = sum(_has_spf(p, k, True) for p in range(1, 48) for k in (1, 2) if (p, k) != (1, 2))
    assert ov["spf_delta"][1] == pytest.approx(float(Fraction(100 * c2, 94) - Fraction(100 * c1, 94)))
    cols, rows = trend_table(tr, "ja")
    assert cols[-2:] == ["2026 Δ SPF (ポイント)", "2026 Δ DMARC (ポイント)"]
    # 沖縄県: 1/2 -> 1/3 bodies with SPF = -16.666… points
    assert rows[46][0] == "沖縄県" and rows[46][-2] == "-16.7"
    # 北海道: 1/2 -> 1/1 = +50.0; 青森県 (even, ≤ 10): 0/2 -> 2/2 = +100.0; 沖縄県 has no DMARC: ±0.0
    assert rows[0][-2] == "+50.0" and rows[1][-2] == "+100.0" and rows[46][-1] == "±0.0"


def test_points_round_half_away_from_zero() -> None:
    assert [points(x) for x in (6.25, -6.25, 0.04, -0.04, 0.05, None)] == \
        ["+6.3", "-6.3", "±0.0", "±0.0", "+0.1", ""]


def test_list_change_note_names_the_bodies(data: Path) -> None:
    tr = build_trend(Catalog(data), None, lang="ja")
    (ch,) = tr["list_changes"]
    assert (ch["from"], ch["to"]) == ("2025", "2026")
    assert [b["name"] for b in ch["added"]] == ["沖縄県新市"]
    assert [b["name"] for b in ch["removed"]] == ["北海道第2市"]
    assert [(b["name"], b["before"], b["after"]) for b in ch["moved"]] == \
        [("青森県第1市", "b-02-1.example", "b-02-1.lg.test")]
    r = runner.invoke(app, ["survey", "trend", "--by", "prefecture", "--lang", "ja", "--data-dir", str(data)],
                      env={"COLUMNS": "250"})
    assert r.exit_code == 0
    assert "リストの変更 (2025 → 2026)" in r.stdout and "沖縄県新市" in r.stdout and "北海道第2市" in r.stdout
    assert "b-02-1.lg.test" in r.stdout
    from ja_check import english_leftovers

    assert english_leftovers(r.stdout) == []
    r = runner.invoke(app, ["survey", "trend", "--format", "json", "--lang", "en", "--data-dir", str(data)])
    doc = json.loads(r.stdout)
    assert "1 added: 沖縄県新市" in doc["list_changes"][0]["note"] and doc["series"][-1]["spf_delta"][0] is None


def _viewbox(svg: str) -> tuple[float, float]:
    w, h = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups()
    return float(w), float(h)


def test_trend_svg_47_groups_small_multiples_nothing_clipped(data: Path) -> None:
    from mailposture.report.trendcharts import trend_svg

    tr = build_trend(Catalog(data), "prefecture", lang="ja")
    svg = trend_svg(tr, "spf", "ja")
    assert svg.count('class="panel"') == 47
    w, h = _viewbox(svg)
    ys = [float(y) for y in re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="70"', svg)]
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="150"', svg)]
    assert len(ys) == 47 and max(ys) + 70 <= h and max(xs) + 150 <= w
    assert "沖縄県 33.3% (-16.7)" in svg  # the panel title: latest rate and Δ


def test_trend_svg_few_groups_legend_fits(data: Path) -> None:
    from mailposture.report.trendcharts import trend_svg

    tr = build_trend(Catalog(data), "prefecture", lang="en")
    tr["series"] = tr["series"][:9] + tr["series"][-1:]  # 9 groups and the overall line: one chart
    svg = trend_svg(tr, "spf", "en")
    assert 'class="panel"' not in svg and svg.count("<polyline") == 10
    _, h = _viewbox(svg)
    ys = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" font-size="12" fill="#374151">', svg)]
    assert len(ys) == 10 and max(ys) < h


def test_trend_png_and_html(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    r = runner.invoke(app, ["survey", "trend", "--by", "prefecture", "--format", "png", "--lang", "ja", "-o", str(out),
                            "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    png = out.read_bytes()
    assert png[:4] == b"\x89PNG"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 1200 and height > 700  # 8 × 6 panels, not one squeezed chart
    html = tmp_path / "t.html"
    r = runner.invoke(app, ["survey", "trend", "--by", "prefecture", "--format", "html", "--lang", "ja", "-o",
                            str(html), "--data-dir", str(data)])
    page = html.read_text(encoding="utf-8")
    assert r.exit_code == 0 and "リストの変更" in page and "Δ SPF" in page and page.count('class="panel"') == 94
