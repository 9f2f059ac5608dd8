"""Rendering: the self-contained HTML page in headless Chromium, PNG charts with Japanese labels, XLSX, demo."""

from __future__ import annotations

import os
import re
import subprocess
import warnings
from pathlib import Path

import pytest

from conftest import require_program
from mailposture.report import charts
from mailposture.report.html import render_html
from mailposture.report.tables import aggregate
from mailposture.survey.demo import run_demo
from mailposture.survey.rounds import load_results, load_round_list


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, n_bodies=120, seed=5, lang="ja")


def test_demo_writes_a_synthetic_report_quickly(demo) -> None:
    html = demo["html"].read_text(encoding="utf-8")
    info = demo["info"]
    assert info.status == "complete" and info.synthetic and info.bodies == 120
    assert "架空のリスト" in html and "実在の団体のデータではありません" in html
    assert demo["seconds"] < 60
    assert "全国での SPF レコード宣言率" in html


def test_html_is_self_contained(demo) -> None:
    html = demo["html"].read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html), "external asset"
    assert "@import" not in html and "url(" not in html
    # the adoption charts, then one chart per table of the configuration-content survey
    assert html.count("<svg") == 2 + 7 and html.count("<table") >= 6 + 7
    for t in ("dmarc-policy", "dmarc-tags", "dmarc-reports", "spf-all", "spf-providers", "mistakes", "ipv4-space"):
        assert f'id="content-{t}"' in html


def test_html_in_headless_chromium(demo, tmp_path: Path) -> None:
    exe = require_program("chromium")["chromium"]
    shot = tmp_path / "page.png"
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000"]
    url = demo["html"].resolve().as_uri()
    dom = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=90,
                         env={**os.environ, "HOME": str(tmp_path)})
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    assert 'id="table-headline"' in text and 'id="chart-adoption"' in text and 'id="chart-policy"' in text
    assert text.count("<rect") > 30           # the bars were parsed as SVG elements
    assert "北海道" in text and "九州沖縄" in text and 'id="synthetic-notice"' in text
    shot_run = subprocess.run([*args, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=90,
                              env={**os.environ, "HOME": str(tmp_path)})
    assert shot_run.returncode == 0, shot_run.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a drawn page, not a blank one


def _report(demo):
    from mailposture.survey.catalog import Catalog

    cat = Catalog(demo["html"].parent / "data")
    info = cat.require("demo")
    lst = load_round_list(cat, info)
    return aggregate(lst.bodies, load_results(cat, info), by="region", round_name="demo", lang="ja")


def test_png_with_japanese_labels_has_no_missing_glyphs(demo) -> None:
    if charts.cjk_font() is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("fonts-noto-cjk is not installed (.ci/run installs it)")
        pytest.skip("no Noto CJK font here")
    rep = _report(demo)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.bars_png(rep, "ja", title="送信ドメイン認証の普及状況 — 地域別")
    glyph = [str(w.message) for w in caught if "glyph" in str(w.message).lower() or "font" in str(w.message).lower()]
    assert not glyph, glyph
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_png_without_a_cjk_font_warns_cleanly(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    rep = _report(demo)
    with pytest.warns(RuntimeWarning, match="fonts-noto-cjk"):
        png = charts.bars_png(rep, "en")
    assert png[:4] == b"\x89PNG"


def test_html_in_english(demo) -> None:
    rep = _report(demo)
    html = render_html(rep, {"synthetic": True}, "en")
    assert "<html lang=\"en\">" in html and "Hokkaido" in html and "Kyushu-Okinawa" in html
    assert "fictitious" in html and "Definitions" in html


def test_trend_chart_svg_and_png() -> None:
    trend = {"rounds": ["2017", "2026"], "series": [
        {"group": "北海道", "label": "北海道", "spf": [67.2, 90.0], "dmarc": [0.0, 40.0]},
        {"group": "", "label": "全国", "overall": True, "spf": [78.4, 95.1], "dmarc": [0.1, None]}]}
    from mailposture.report import trendcharts

    svg = trendcharts.trend_svg(trend, "spf", "ja")
    assert svg.count("<polyline") == 2 and "北海道" in svg and "全国" in svg
    svg2 = trendcharts.trend_svg(trend, "dmarc", "ja")
    assert svg2.count("<polyline") == 1  # a series with one point draws a dot, not a line
    if charts.cjk_font() is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            png = trendcharts.trend_png(trend, "spf", "ja", title="SPF の推移")
        assert not [w for w in caught if "glyph" in str(w.message).lower()]
        assert png[:4] == b"\x89PNG"
