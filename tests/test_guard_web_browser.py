"""The owner's flow in a real headless Chromium (Debian's, driven by Playwright) against uvicorn on loopback:
log in, see "restricted", allow 7 days, see the end date, switch off, log out. Also the admin page renders."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from conftest import free_port, require_program
from mailposture.guard.store import AuditEntry, Store, UserState
from mailposture.web.i18n import JST
from test_web_common import ADMIN, ADMIN_PW, OWNER, OWNER_PW, SmtpSink, make_cfg

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = os.environ.get("MAILPOSTURE_SHOTS")  # a folder to keep screenshots in (development)

pytestmark = [pytest.mark.system]


class Server:
    """uvicorn in a thread on 127.0.0.1:free_port, stopped through should_exit."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture()
def browser():
    progs = require_program("chromium")
    path = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else progs["chromium"]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (Python package) is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def site(tmp_path):
    from mailposture.web.app import create_app

    with SmtpSink() as sink:
        cfg = make_cfg(tmp_path, sink.port, trusted_proxies=[])   # no proxy: the browser's address is the client
        store = Store(cfg.store_url)
        with Server(create_app(cfg, store)) as server:
            yield server, store, sink


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_owner_flow_in_chromium(browser, site):
    server, store, sink = site
    store.add_audit([AuditEntry(store_now(), OWNER, "203.0.113.5", "US", "refused", "foreign")])
    ctx = browser.new_context(locale="ja-JP", viewport={"width": 1000, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server.url + "/abroad")
    assert page.url.endswith("/abroad/login")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.get_by_label("メールアドレス").fill(OWNER)
    page.get_by_label("パスワード").fill(OWNER_PW)
    shot(page, "1-login")
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(server.url + "/abroad")
    state = page.locator("[data-state]")
    assert state.get_attribute("data-state") == "restricted"
    assert "停止中" in state.inner_text()
    assert "203.0.113.5" in page.content()
    shot(page, "2-restricted")

    assert page.get_by_label("許可する日数 (1〜30 日)").input_value() == "7"
    page.get_by_role("button", name="許可する").click()
    page.wait_for_load_state()
    assert state.get_attribute("data-state") == "abroad_until"
    rec = store.get_user(OWNER)
    assert rec.state == UserState.ABROAD_UNTIL
    until_text = page.locator(".until strong").inner_text()
    assert until_text.endswith("JST")
    j = rec.abroad_until.astimezone(JST)
    assert f"{j.year}年{j.month}月{j.day}日" in until_text and f"{j:%H:%M}" in until_text
    shot(page, "3-allowed")

    page.get_by_role("button", name="停止する").click()
    page.wait_for_load_state()
    assert state.get_attribute("data-state") == "restricted"
    assert store.get_user(OWNER).state == UserState.RESTRICTED

    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Sending from abroad: off" in page.locator("[data-state]").inner_text()
    shot(page, "4-english")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/abroad/login?out=1")
    assert "You have logged out" in page.content()
    page.goto(server.url + "/abroad")
    assert page.url.endswith("/abroad/login")
    assert [m[1] for m in sink.messages] == [[OWNER], [OWNER]]
    assert not errors, errors                    # e.g. CSP violations would show here
    cookies = {c["name"]: c for c in ctx.cookies()}
    assert cookies["mp_owner"]["httpOnly"] and cookies["mp_owner"]["sameSite"] == "Strict"
    ctx.close()


def test_days_validation_message_in_browser(browser, site):
    server, store, _ = site
    page = browser.new_page(locale="en-US")
    page.goto(server.url + "/abroad/login?lang=en")
    page.get_by_label("Mail address").fill(OWNER)
    page.get_by_label("Password").fill(OWNER_PW)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/abroad")
    # bypass the browser's own min/max check to see the server's answer
    page.locator("#days").evaluate("e => { e.removeAttribute('max'); e.value = '31'; }")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_load_state()
    assert "whole number from 1 to 30" in page.locator("[role=alert]").inner_text()
    assert store.get_user(OWNER).state == UserState.RESTRICTED


def test_admin_page_in_chromium(browser, site):
    server, store, _ = site
    now = store_now()
    store.add_audit([AuditEntry(now, f"u{i}@example.test", "203.0.113.5", cc, "refused", "foreign")
                     for i, cc in enumerate(["US"] * 6 + ["CN"] * 3 + ["GB"])])
    store.allow_always("ceo@example.test", by="admin:x")
    store.allowlist_add("192.0.2.0/24", "office")
    page = browser.new_page(locale="ja-JP", viewport={"width": 1000, "height": 900})
    page.goto(server.url + "/admin")
    page.get_by_label("管理者名").fill(ADMIN)
    page.get_by_label("パスワード").fill(ADMIN_PW)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(server.url + "/admin")
    assert "ceo@example.test" in page.content() and "192.0.2.0/24" in page.content()
    widths = page.locator(".bars .bar").evaluate_all("els => els.map(e => e.getBoundingClientRect().width)")
    assert widths[0] > widths[1] > widths[2] > 0          # US > CN > GB, drawn by CSS alone
    shot(page, "5-admin")
    page.get_by_label("メールアドレス").fill("ceo@example.test")
    page.get_by_role("button", name="表示").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="ロックする").click()
    page.wait_for_load_state()
    assert store.get_user("ceo@example.test").state == UserState.LOCKED
    shot(page, "6-admin-user")


def store_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
