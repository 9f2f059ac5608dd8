"""The survey dashboard in a real headless Chromium (Debian's, driven by Playwright) against the quick start
``mailposture web serve --data-dir DIR --users FILE --port P`` run as a process on 127.0.0.1 (stopped by its PID):
log in, open the region table and compare every number with ``survey report --format json``, drill down to one body,
switch language, download the xlsx, and check that no request left 127.0.0.1 and that the page had no console
error (a CSP violation would be one). Screenshots are kept in the test's folder (and in $MAILPOSTURE_SHOTS)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from conftest import free_port
from mailposture.cli import app as cli_app
from mailposture.survey.catalog import Catalog
from mailposture.survey.demo import demo_round
from mailposture.survey.rounds import run_sync
from mailposture.web.members import add_member
from test_guard_web_browser import browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.system]
SHOTS = os.environ.get("MAILPOSTURE_SHOTS")
PW = "browser-pw-1"


@pytest.fixture()
def quick_start(tmp_path):
    data = tmp_path / "data"
    run_sync(demo_round(Catalog(data), 120, 2017, lang="ja"))
    users = tmp_path / "members"
    add_member(users, "member@example.jp", PW, "viewer")
    port = free_port()
    env = {**os.environ, "LANG": "C.UTF-8"}
    proc = subprocess.Popen([sys.executable, "-m", "mailposture.cli", "web", "serve", "--data-dir", str(data),
                             "--users", str(users), "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the dashboard did not start: " + proc.stderr.read().decode()[-2000:])
        time.sleep(0.2)
    try:
        yield url, data, tmp_path
    finally:
        os.kill(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
            proc.wait(5)
        proc.stderr.close()


def shot(page, folder: Path, name: str) -> None:
    path = folder / "shots" / f"{name}.png"
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)


def test_dashboard_in_chromium(quick_start, browser):  # noqa: F811  (the round is made before the browser's loop runs)
    url, data, folder = quick_start
    r = CliRunner().invoke(cli_app, ["survey", "report", "--data-dir", str(data), "--round", "demo", "--by",
                                     "region", "--format", "json", "--lang", "ja"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)

    ctx = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    hosts: set[str] = set()
    errors: list[str] = []
    page.on("request", lambda req: hosts.add(urlsplit(req.url).hostname or req.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(url + "/survey/")
    assert "/survey/login" in page.url and page.locator("html").get_attribute("lang") == "ja"
    page.get_by_label("ユーザー名またはメールアドレス").fill("member@example.jp")
    page.get_by_label("パスワード").fill(PW)
    shot(page, folder, "dashboard-1-login")
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(url + "/survey/")
    assert page.locator("#rounds").is_visible()
    shot(page, folder, "dashboard-2-rounds")

    # the region table, chosen with the form (no script on the page)
    page.get_by_role("link", name="demo", exact=True).click()
    page.get_by_label("集計単位").select_option("region")
    page.get_by_role("button", name="表示").click()
    page.wait_for_url("**/survey/r/demo?*by=region*")
    rows = page.locator("#table-headline tbody tr")
    want = [(g["label"], g["spf"], g["dmarc"], g["total"]) for g in rep["groups"]] + \
        [("全国", rep["overall"]["spf"], rep["overall"]["dmarc"], rep["overall"]["total"])]
    assert rows.count() == len(want) >= 3
    for i, (label, spf, dmarc, total) in enumerate(want):
        row = rows.nth(i)
        assert row.locator("th").inner_text().strip() == label
        tds = row.locator("td")
        assert tds.nth(0).inner_text().strip() == f"{spf['rate']:.1f} ({spf['count']}/{total})"
        assert tds.nth(1).inner_text().strip() == f"{dmarc['rate']:.1f} ({dmarc['count']}/{total})"
    chart = page.locator(".chart img")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, folder, "dashboard-3-region-table")

    # with scripts (survey.js): a header sorts the rows on the page, the total row stays last; a filter box
    def spf_column() -> list[float]:
        return [float(rows.nth(i).locator("td").nth(0).inner_text().split()[0]) for i in range(rows.count() - 1)]

    spf_head = page.locator("#table-headline thead th").nth(1)
    spf_head.get_by_role("button").click()
    assert spf_head.get_attribute("aria-sort") == "ascending" and spf_column() == sorted(spf_column())
    spf_head.get_by_role("button").click()
    assert spf_head.get_attribute("aria-sort") == "descending"
    assert spf_column() == sorted(spf_column(), reverse=True)
    assert rows.nth(rows.count() - 1).locator("th").inner_text().strip() == "全国"
    first = want[0][0]
    page.get_by_label("この表を絞り込む").first.fill(first)
    visible = [rows.nth(i).locator("th").inner_text().strip() for i in range(rows.count()) if rows.nth(i).is_visible()]
    assert visible == [first, "全国"], visible
    page.reload()                                      # the server's order again for the steps below

    # a content-survey table (issue 11) through the same form, where installed
    from mailposture.web.survey_data import table_names

    if "dmarc-policy" in table_names():
        r = CliRunner().invoke(cli_app, ["survey", "report", "--data-dir", str(data), "--round", "demo", "--by",
                                         "region", "--table", "dmarc-policy", "--format", "json", "--lang", "ja"])
        pol = json.loads(r.stdout)
        page.get_by_label("集計表").select_option("dmarc-policy")
        page.get_by_role("button", name="表示").click()
        page.wait_for_url("**table=dmarc-policy*")
        last = page.locator("#table-dmarc-policy tbody tr").last.locator("td")
        o = pol["overall"]
        assert [last.nth(i + 1).inner_text().strip() for i in range(len(o["rows"]))] == \
            [f"{x['pct']} ({x['count']}/{o['total']})" for x in o["rows"]]
        assert page.locator(".chart img").evaluate("img => img.complete && img.naturalWidth > 0")
        shot(page, folder, "dashboard-3b-dmarc-policy")
        page.get_by_label("集計表").select_option("adoption")
        page.get_by_role("button", name="表示").click()
        page.wait_for_url("**table=adoption*")

    # download the xlsx (the file the CLI writes)
    with page.expect_download() as dl:
        page.locator("#dl-xlsx").click()
    saved = folder / "dl.xlsx"
    dl.value.save_as(saved)
    from openpyxl import load_workbook

    wb = load_workbook(saved)
    assert len(wb.sheetnames) >= 2 and dl.value.suggested_filename == "demo-region.xlsx"

    # drill down: the first region -> its bodies -> one body
    first = rep["groups"][0]
    page.locator("#table-headline tbody tr").first.locator("th a").click()
    page.wait_for_url("**/bodies?*")
    body_rows = page.locator("#bodies tbody tr")
    assert body_rows.count() == first["total"]
    shot(page, folder, "dashboard-4-bodies")
    name = body_rows.first.locator("th").inner_text().strip()
    body_rows.first.locator("th a").click()
    page.wait_for_url("**/body/**")
    assert page.locator("#body-name").inner_text().strip() == name
    assert page.locator("#history tbody tr").count() == 1
    assert page.get_by_role("heading", name="検出事項").first.is_visible()
    shot(page, folder, "dashboard-5-body")

    # switch language
    page.locator("#lang-switch").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Raw DNS answers").first.is_visible()
    shot(page, folder, "dashboard-6-body-en")

    # keyboard: the skip link is the first stop and leads to the content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"

    assert hosts == {"127.0.0.1"}, hosts
    assert not errors, errors
    cookies = {c["name"]: c for c in ctx.cookies()}
    assert cookies["mp_survey"]["httpOnly"] and cookies["mp_survey"]["sameSite"] == "Strict"
    ctx.close()
