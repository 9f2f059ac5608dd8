"""The owner's page and the admin page through FastAPI's TestClient: auth, CSRF, sessions, limits, actions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from mailposture.guard.store import AuditEntry, UserState
from mailposture.web.app import WebSettings
from mailposture.web.auth import AuthResult, AuthUnavailable, Verdict
from test_web_common import (
    ADMIN,
    ADMIN_PW,
    OWNER,
    OWNER_PW,
    FakeClock,
    SmtpSink,
    csrf_of,
    login,
    make_cfg,
    make_client,
)


@pytest.fixture()
def sink():
    with SmtpSink() as s:
        yield s


@pytest.fixture()
def web(tmp_path, sink):
    cfg = make_cfg(tmp_path, sink.port)
    client, store, clock = make_client(cfg)
    with client:
        yield client, store, clock, cfg


def owner_page(client) -> tuple[str, str]:
    r = client.get("/abroad")
    assert r.status_code == 200, r.text
    return r.text, csrf_of(r.text)


def state_shown(html: str) -> str:
    m = re.search(r'data-state="([a-z_]+)"', html)
    assert m
    return m.group(1)


# ------------------------------------------------------------------------------------------------- login

def test_login_success_rotates_session_and_shows_restricted(web):
    client, _store, _, _ = web
    page = client.get("/abroad/login")
    pre = client.cookies.get("mp_owner")
    token = csrf_of(page.text)
    r = client.post("/abroad/login", data={"csrf": token, "username": "  Alice@Example.TEST ", "password": OWNER_PW})
    assert r.status_code == 303 and r.headers["location"] == "/abroad"
    post = client.cookies.get("mp_owner")
    assert post and pre and post != pre
    html, new_token = owner_page(client)
    assert new_token != token                       # a fresh CSRF token after login
    assert state_shown(html) == "restricted"
    assert "alice@example.test" in html
    # the pre-login session id is dead: presenting it again (alone: no other session cookie) does not log in
    client.cookies.clear()
    client.cookies.set("mp_owner", pre)
    assert client.get("/abroad").status_code == 303


def test_bad_password_and_unknown_user_get_the_same_generic_message(web):
    client, *_ = web
    r1 = login(client, OWNER, "wrong password")
    r2 = login(client, "nobody@example.test", "wrong password")
    assert r1.status_code == r2.status_code == 401
    for r in (r1, r2):
        assert "メールアドレスまたはパスワードが正しくありません" in r.text
    strip = lambda s: re.sub(r'value="[^"]*"', "", s)  # noqa: E731  (token and echoed name differ)
    assert strip(r1.text) == strip(r2.text)
    assert "wrong password" not in r1.text          # the password is never echoed


def test_login_without_or_with_wrong_csrf_is_403(web):
    client, *_ = web
    client.get("/abroad/login")
    r = client.post("/abroad/login", data={"username": OWNER, "password": OWNER_PW})
    assert r.status_code == 403
    r = client.post("/abroad/login", data={"csrf": "x" * 43, "username": OWNER, "password": OWNER_PW})
    assert r.status_code == 403
    assert client.get("/abroad").status_code == 303   # not logged in


def test_account_rate_limit_then_try_later_even_with_right_password(tmp_path, sink):
    cfg = make_cfg(tmp_path, sink.port)
    client, _, clock = make_client(cfg)
    for _ in range(5):
        assert login(client, OWNER, "bad").status_code == 401
    r = login(client, OWNER, OWNER_PW)
    assert r.status_code == 429
    assert "15 分ほど後に" in r.text
    assert client.get("/abroad").status_code == 303
    # other accounts from the same address still work (the per-IP limit is higher)
    assert login(client, "bob@example.test", "bob-password").status_code == 303
    clock.advance(minutes=16)
    client.cookies.clear()
    assert login(client, OWNER, OWNER_PW).status_code == 303


def test_ip_rate_limit_across_accounts(tmp_path, sink):
    cfg = make_cfg(tmp_path, sink.port)
    client, _, _ = make_client(cfg, settings=WebSettings(ip_failures=4, account_failures=100))
    for i in range(4):
        assert login(client, f"user{i}@example.test", "bad").status_code == 401
    r = login(client, OWNER, OWNER_PW)
    assert r.status_code == 429


def test_rate_limited_login_does_not_reach_the_authenticator(tmp_path, sink):
    calls = []

    class Counting:
        async def authenticate(self, username, password, client_ip, *, secured):
            calls.append((username, client_ip, secured))
            return AuthResult(Verdict.FAIL, username)

    cfg = make_cfg(tmp_path, sink.port)
    client, _, _ = make_client(cfg, authenticator=Counting())
    for _ in range(7):
        login(client, OWNER, "bad")
    assert len(calls) == 5
    assert calls[0] == (OWNER, "133.1.1.1", False)


def test_auth_service_down_is_a_clear_503_not_a_traceback(tmp_path, sink):
    class Down:
        async def authenticate(self, *a, **k):
            raise AuthUnavailable("Dovecot auth socket /nonexistent does not exist")

    cfg = make_cfg(tmp_path, sink.port)
    client, _, _ = make_client(cfg, authenticator=Down())
    r = login(client)
    assert r.status_code == 503
    assert "認証サービスに接続できません" in r.text
    assert "/nonexistent" not in r.text            # internals stay in the log


def test_cookie_flags_secure_config(tmp_path, sink):
    cfg = make_cfg(tmp_path, sink.port, cookie_secure=True)
    client, _, _ = make_client(cfg, base_url="https://testserver")
    r = client.get("/abroad/login")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-mp_owner=")
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=strict"):
        assert flag.lower() in cookie.lower()
    assert "domain=" not in cookie.lower()
    assert "Strict-Transport-Security" in r.headers
    r = login(client)
    assert r.status_code == 303
    assert "secure" in r.headers["set-cookie"].lower()
    assert client.get("/abroad").status_code == 200


def test_security_headers_and_no_store(web):
    client, *_ = web
    login(client)
    r = client.get("/abroad")
    csp = r.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    assert "<script" not in r.text and "style=" not in r.text
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("cache-control", "")
    assert "http" not in re.sub(r"https?://mail\.example\.test\S*", "", r.text).replace("https://", "")


def test_idle_and_absolute_timeouts_and_logout(web):
    client, _, clock, _ = web
    login(client)
    clock.advance(minutes=14)
    assert client.get("/abroad").status_code == 200
    clock.advance(minutes=16)                        # idle > 15 min
    assert client.get("/abroad").status_code == 303
    login(client)
    for _ in range(40):                              # active all along, but 8 h is the absolute limit
        clock.advance(minutes=13)
        if client.get("/abroad").status_code != 200:
            break
    else:
        pytest.fail("session outlived its absolute lifetime")
    login(client)
    _, token = owner_page(client)
    r = client.post("/abroad/logout", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/abroad/login?out=1"
    assert "max-age=0" in r.headers["set-cookie"].lower() or "expires" in r.headers["set-cookie"].lower()
    assert client.get("/abroad").status_code == 303
    assert "ログアウトしました" in client.get("/abroad/login?out=1").text


def test_logout_needs_csrf(web):
    client, *_ = web
    login(client)
    assert client.post("/abroad/logout", data={}).status_code == 403
    assert client.get("/abroad").status_code == 200


# ------------------------------------------------------------------------------------------------ actions

def test_allow_seven_days_reaches_store_and_notice(web, sink):
    client, store, clock, _ = web
    login(client)
    _, token = owner_page(client)
    r = client.post("/abroad/allow", data={"csrf": token, "days": "7"})
    assert r.status_code == 303
    rec = store.get_user(OWNER)
    assert rec.state == UserState.ABROAD_UNTIL
    assert rec.abroad_until == (clock.now + timedelta(days=7)).replace(microsecond=0)
    assert rec.updated_by == f"web:{OWNER}"
    html, _ = owner_page(client)
    assert state_shown(html) == "abroad_until"
    assert "2026年12月8日(火) 21:00 JST" in html     # 12:00 UTC + 7 days, shown in JST
    assert "あと 7 日" in html
    assert len(sink.messages) == 1
    mail_from, rcpts, msg = sink.messages[0]
    assert mail_from == "postmaster@example.test" and rcpts == [OWNER]
    assert "国外からの送信設定" in msg["Subject"] and "sending-from-abroad" in msg["Subject"]
    body = msg.get_content()
    assert "2026年12月8日 21:00 (日本時間 JST) まで許可しました" in body
    assert "2026-12-08 12:00 UTC" in body
    assert body.index("様") < body.index("Dear")     # Japanese first
    assert OWNER_PW not in body


def test_switch_off_reaches_store_and_notice_in_english(web, sink):
    client, store, _, _ = web
    client.get("/abroad/login?lang=en")
    login(client)
    _, token = owner_page(client)
    client.post("/abroad/allow", data={"csrf": token, "days": "3"})
    r = client.post("/abroad/off", data={"csrf": token})
    assert r.status_code == 303
    assert store.get_user(OWNER).state == UserState.RESTRICTED
    html, _ = owner_page(client)
    assert "Sending from abroad: off" in html and "switched off" in html
    assert [m.get_content().split("\n")[0] for _, _, m in sink.messages] == [f"Dear {OWNER},"] * 2
    assert "now switched off" in sink.messages[1][2].get_content()


@pytest.mark.parametrize("days", ["0", "31", "abc", "", "7.5", "-1", "１", "9" * 50, " 7 x"])
def test_days_out_of_bounds_is_a_clear_error(web, sink, days):
    client, store, _, _ = web
    login(client)
    _, token = owner_page(client)
    r = client.post("/abroad/allow", data={"csrf": token, "days": days})
    assert r.status_code == 400
    assert "日数は 1 から 30 までの整数で指定してください" in r.text
    assert 'href="/abroad?lang=en"' in r.text                # the language link leads to a page, not the form
    assert store.get_user(OWNER).state == UserState.RESTRICTED
    assert not sink.messages


@pytest.mark.parametrize("days", ["1", "30", " 30 "])
def test_days_bounds_accepted(web, days):
    client, store, clock, _ = web
    login(client)
    _, token = owner_page(client)
    assert client.post("/abroad/allow", data={"csrf": token, "days": days}).status_code == 303
    assert store.get_user(OWNER).abroad_until == clock.now + timedelta(days=int(days))


def test_action_csrf_missing_or_wrong_is_403_and_changes_nothing(web, sink):
    client, store, _, _ = web
    login(client)
    _, token = owner_page(client)
    assert client.post("/abroad/allow", data={"days": "7"}).status_code == 403
    assert client.post("/abroad/allow", data={"csrf": token[:-1] + ("A" if token[-1] != "A" else "B"), "days": "7"}).status_code == 403
    assert client.post("/abroad/allow", data={"csrf": "", "days": "7"}).status_code == 403
    assert store.get_user(OWNER).state == UserState.RESTRICTED
    assert not sink.messages


def test_token_of_another_session_is_refused(tmp_path, sink):
    cfg = make_cfg(tmp_path, sink.port)
    a, _store, _clock = make_client(cfg)
    login(a)
    _, token_a = owner_page(a)
    from fastapi.testclient import TestClient

    b = TestClient(a.app, follow_redirects=False)   # same server, second browser
    login(b, "bob@example.test", "bob-password")
    assert b.post("/abroad/allow", data={"csrf": token_a, "days": "7"}).status_code == 403


def test_expired_period_shows_restricted(web):
    client, store, clock, _ = web
    login(client)
    _, token = owner_page(client)
    client.post("/abroad/allow", data={"csrf": token, "days": "1"})
    assert state_shown(owner_page(client)[0]) == "abroad_until"
    store.allow_abroad(OWNER, clock.now + timedelta(minutes=5), by="test")
    clock.advance(minutes=6)
    assert state_shown(owner_page(client)[0]) == "restricted"


def test_locked_account_cannot_change(web, sink):
    client, store, _, _ = web
    store.lock(OWNER, by="admin:x", note="stolen password")
    login(client)
    html, token = owner_page(client)
    assert state_shown(html) == "locked" and 'action="/abroad/allow"' not in html
    r = client.post("/abroad/allow", data={"csrf": token, "days": "7"})
    assert r.status_code == 409
    assert client.post("/abroad/off", data={"csrf": token}).status_code == 409
    assert store.get_user(OWNER).state == UserState.LOCKED
    assert not sink.messages


def test_recent_refusals_are_listed(web):
    client, store, clock, _ = web
    store.add_audit([AuditEntry(clock.now - timedelta(hours=1), OWNER, "203.0.113.5", "US", "refused", "foreign"),
                     AuditEntry(clock.now - timedelta(hours=2), OWNER, "2001:db8::1", None, "refused", "unknown"),
                     AuditEntry(clock.now, "bob@example.test", "198.51.100.9", "CN", "refused", "foreign")])
    login(client)
    html, _ = owner_page(client)
    assert "203.0.113.5" in html and "2001:db8::1" in html and "198.51.100.9" not in html
    assert "2026-12-01 20:00 JST" in html and "不明" in html


def test_store_failure_is_a_clear_page(tmp_path, sink):
    class Broken:
        def get_user(self, name):
            raise RuntimeError("database is locked")

    cfg = make_cfg(tmp_path, sink.port)
    client, _, _ = make_client(cfg, store=Broken())
    login(client)
    r = client.get("/abroad")
    assert r.status_code == 503 and "保存できませんでした" in r.text and "database is locked" not in r.text


def test_notice_relay_down_does_not_break_the_action(tmp_path, caplog):
    from conftest import free_port

    cfg = make_cfg(tmp_path, free_port())   # nothing listens there
    client, store, _ = make_client(cfg)
    login(client)
    _, token = owner_page(client)
    assert client.post("/abroad/allow", data={"csrf": token, "days": "2"}).status_code == 303
    assert store.get_user(OWNER).state == UserState.ABROAD_UNTIL
    assert any("not sent" in r.getMessage() for r in caplog.records)
    assert OWNER_PW not in caplog.text


# ----------------------------------------------------------------------------------------------- language

def test_language_switch_is_remembered(web):
    client, *_ = web
    r = client.get("/abroad/login", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in r.text
    r = client.get("/abroad/login")
    assert '<html lang="ja">' in r.text or '<html lang="en">' in r.text
    r = client.get("/abroad/login?lang=en")
    assert '<html lang="en">' in r.text and "mp_lang=en" in r.headers["set-cookie"]
    r = client.get("/abroad/login", headers={"accept-language": "ja"})
    assert '<html lang="en">' in r.text                  # the cookie wins over the header
    r = client.get("/abroad/login?lang=ja")
    assert '<html lang="ja">' in r.text
    r = client.get("/abroad/login?lang=xx", headers={"accept-language": "fr"})
    assert '<html lang="ja">' in r.text


def test_japanese_is_the_default(tmp_path, sink):
    client, _, _ = make_client(make_cfg(tmp_path, sink.port))
    assert '<html lang="ja">' in client.get("/abroad/login").text
    assert '<html lang="ja">' in client.get("/abroad/login", headers={"accept-language": "fr, de"}).text
    assert '<html lang="en">' in client.get("/abroad/login", headers={"accept-language": "ja;q=0.2, en"}).text


# ---------------------------------------------------------------------------------------------- hostile

def test_huge_form_is_refused_without_reading_it_all(web):
    client, *_ = web
    page = client.get("/abroad/login")
    token = csrf_of(page.text)
    r = client.post("/abroad/login", data={"csrf": token, "username": "a" * 100_000, "password": "x"})
    assert r.status_code == 413
    r = client.post("/abroad/login", content=b"csrf=" + b"x" * 20000,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


def test_wrong_content_type_and_bad_encoding(web):
    client, *_ = web
    client.get("/abroad/login")
    r = client.post("/abroad/login", files={"username": ("u", b"x")})
    assert r.status_code == 415
    r = client.post("/abroad/login", content=b"username=%ff%fe&password=x",
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    r = client.post("/abroad/login", content=b"&".join(b"f%d=1" % i for i in range(200)),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400


@pytest.mark.parametrize("name", ["alice@example.test\x00", "alice\t@example.test", "al\nice@example.test",
                                  "\u202eliceexample.test", "ａｌｉｃｅ@example.test", "ΑΛΙΚΗ@παράδειγμα.δοκιμή",
                                  "a" * 300, "", "🙂@example.test", "alice@example.test:extra",
                                  "\ufeffalice@example.test"])
def test_odd_usernames_get_the_generic_answer(web, name):
    client, *_ = web
    page = client.get("/abroad/login")
    r = client.post("/abroad/login", data={"csrf": csrf_of(page.text), "username": name, "password": OWNER_PW})
    assert r.status_code == 401
    assert "メールアドレスまたはパスワードが正しくありません" in r.text
    assert client.get("/abroad").status_code == 303


def test_html_in_username_is_escaped(web):
    client, *_ = web
    page = client.get("/abroad/login")
    r = client.post("/abroad/login", data={"csrf": csrf_of(page.text), "username": "<b>x</b>@e.test\"'",
                                           "password": "p"})
    assert r.status_code == 401
    assert "<b>x</b>" not in r.text and "&lt;b&gt;x&lt;/b&gt;" in r.text


def test_forged_or_garbage_cookies_are_ignored(web):
    client, *_ = web
    for value in ("x", "a.b", "." * 500, "%C3%A9t%C3%A9", "abc." + "0" * 32):
        client.cookies.set("mp_owner", value)
        assert client.get("/abroad").status_code == 303


def test_unknown_paths_and_methods(web):
    client, *_ = web
    r = client.get("/abroad/nope")
    assert r.status_code == 404 and "ページが見つかりません" in r.text
    assert client.get("/abroad/allow").status_code == 405
    assert client.get("/").headers["location"] == "/abroad"


# -------------------------------------------------------------------------------------------------- admin

def admin_page(client) -> tuple[str, str]:
    r = client.get("/admin")
    assert r.status_code == 200, r.text
    return r.text, csrf_of(r.text)


def test_admin_auth_is_separate_from_owner_auth(web):
    client, *_ = web
    assert login(client, OWNER, OWNER_PW, realm="admin").status_code == 401   # owner password: not an admin
    assert login(client, OWNER, OWNER_PW).status_code == 303
    assert client.get("/admin").status_code == 303                         # owner session opens no admin page
    owner_cookie = client.cookies.get("mp_owner")
    client.cookies.set("mp_admin", owner_cookie)                           # nor does its id under the admin name
    assert client.get("/admin").status_code == 303
    client.cookies.delete("mp_admin")
    assert login(client, ADMIN, ADMIN_PW, realm="admin").status_code == 303
    assert client.get("/admin").status_code == 200
    client.cookies.delete("mp_owner")
    assert client.get("/abroad").status_code == 303                        # admin session opens no owner page
    assert login(client, ADMIN, ADMIN_PW).status_code == 401               # admin is not a mailbox


def test_admin_actions_reach_the_store_and_notify(web, sink):
    client, store, _clock, _ = web
    login(client, ADMIN, ADMIN_PW, realm="admin")
    html, token = admin_page(client)
    r = client.get("/admin/user", params={"u": "Bob@Example.test"})
    assert r.status_code == 200 and "bob@example.test" in r.text and state_shown(r.text) == "restricted"
    steps = [({"action": "allow_days", "days": "10"}, UserState.ABROAD_UNTIL),
             ({"action": "allow_always"}, UserState.ABROAD_ALWAYS),
             ({"action": "lock", "note": "phishing victim"}, UserState.LOCKED),
             ({"action": "unlock"}, UserState.RESTRICTED),
             ({"action": "allow_days", "days": "30"}, UserState.ABROAD_UNTIL),
             ({"action": "restrict"}, UserState.RESTRICTED)]
    for form, expected in steps:
        r = client.post("/admin/user", data={"csrf": token, "u": "bob@example.test", **form})
        assert r.status_code == 303, r.text
        assert client.get(r.headers["location"]).status_code == 200
        rec = store.get_user("bob@example.test")
        assert rec.state == expected
        assert rec.updated_by == f"admin:{ADMIN}"
    assert [m[1] for m in sink.messages] == [["bob@example.test"]] * len(steps)
    assert "管理者" in sink.messages[2][2].get_content()
    store.lock("carol@example.test", by="admin:x", note="n")
    html, _ = admin_page(client)
    assert "carol@example.test" in html and "bob@example.test" not in html


def test_admin_bad_inputs(web):
    client, store, _, _ = web
    login(client, ADMIN, ADMIN_PW, realm="admin")
    _, token = admin_page(client)
    r = client.post("/admin/user", data={"csrf": token, "u": "bob@example.test", "action": "allow_days", "days": "31"})
    assert r.status_code == 400 and "1 から 30" in r.text
    r = client.post("/admin/user", data={"csrf": token, "u": "bob@example.test", "action": "drop_tables"})
    assert r.status_code == 400
    r = client.post("/admin/user", data={"csrf": token, "u": "bad\x00name", "action": "restrict"})
    assert r.status_code == 400
    assert client.get("/admin/user", params={"u": "x\ny"}).status_code == 400
    assert client.post("/admin/user", data={"u": "bob@example.test", "action": "lock"}).status_code == 403
    assert store.get_user("bob@example.test").state == UserState.RESTRICTED


def test_admin_allowlist(web):
    client, store, _, _ = web
    login(client, ADMIN, ADMIN_PW, realm="admin")
    _, token = admin_page(client)
    assert client.post("/admin/allowlist/add", data={"csrf": token, "entry": "192.0.2.7/24",
                                                     "note": "office"}).status_code == 303
    assert client.post("/admin/allowlist/add", data={"csrf": token, "entry": ".Google.com"}).status_code == 303
    assert ("192.0.2.0/24", "office") in store.allowlist()
    html, _ = admin_page(client)
    assert "192.0.2.0/24" in html and "google.com" in html and "office" in html
    for bad in ("not a host!", "0.0.0.0/0", "", "<script>"):
        r = client.post("/admin/allowlist/add", data={"csrf": token, "entry": bad})
        assert r.status_code == 400 and "CIDR" in r.text
    r = client.post("/admin/allowlist/remove", data={"csrf": token, "entry": "192.0.2.0/24"})
    assert r.status_code == 303 and "192.0.2.0/24" not in [e for e, _ in store.allowlist()]
    client.post("/admin/allowlist/remove", data={"csrf": token, "entry": "198.51.100.0/24"})
    assert "登録されていません" in client.get("/admin").text
    assert client.post("/admin/allowlist/add", data={"entry": "10.0.0.0/8"}).status_code == 403


def test_admin_statistics_and_geo(web):
    client, store, clock, _ = web
    now = clock.now
    store.add_audit([AuditEntry(now - timedelta(days=d), f"u{i}@example.test", "203.0.113.5", cc, "refused", "f")
                     for d, i, cc in [(0, 1, "US"), (0, 2, "US"), (1, 3, "US"), (1, 4, "CN"), (2, 5, None),
                                      (40, 6, "RU")]])
    login(client, ADMIN, ADMIN_PW, realm="admin")
    html, _ = admin_page(client)
    rows = re.findall(r'<th scope="row">([^<]+)</th><td><span class="bar w(\d+)"[^>]*></span><span class="num">(\d+)',
                      html)
    by_country = [(k, int(w), int(n)) for k, w, n in rows if not k.startswith("20")]
    assert by_country[0] == ("US", 100, 3)
    assert ("CN", 35, 1) in by_country and all(k != "RU" for k, _, _ in by_country)   # 40 days ago: outside
    by_day = [(k, int(n)) for k, _, n in rows if k.startswith("20")]
    assert sum(n for _, n in by_day) == 5
    assert "iptocc" in html
    assert "style=" not in html


def test_admin_login_rate_limit_is_separate(web):
    client, *_ = web
    for _ in range(5):
        login(client, ADMIN, "bad", realm="admin")
    assert login(client, ADMIN, ADMIN_PW, realm="admin").status_code == 429
    assert login(client, OWNER, OWNER_PW).status_code == 303     # owner realm unaffected


def test_fresh_clock_default_is_real_time(tmp_path, sink):
    cfg = make_cfg(tmp_path, sink.port)
    from mailposture.guard.store import Store
    from mailposture.web.app import create_app

    app = create_app(cfg, Store(cfg.store_url))
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as c:
        assert c.get("/healthz").text == "ok\n"
    assert (tmp_path / "web.key").stat().st_mode & 0o777 == 0o600
    assert FakeClock().now.tzinfo is not None


def test_no_password_in_logs(web, caplog):
    import logging

    client, *_ = web
    caplog.set_level(logging.DEBUG)
    login(client, OWNER, "typo-" + OWNER_PW)
    login(client, OWNER, OWNER_PW)
    login(client, ADMIN, ADMIN_PW, realm="admin")
    assert "login failed" in caplog.text and "login: user=" in caplog.text
    for secret in (OWNER_PW, ADMIN_PW, "typo-"):
        assert secret not in caplog.text


def test_admin_page_without_admin_users_file_is_closed(tmp_path, sink):
    cfg = make_cfg(tmp_path, sink.port, admin_users_file=None)
    client, _, _ = make_client(cfg)
    r = login(client, ADMIN, ADMIN_PW, realm="admin")
    assert r.status_code == 503 and "認証サービスに接続できません" in r.text
    assert client.get("/admin").status_code == 303
    assert login(client).status_code == 303                  # owners are not affected


def test_redirects_are_relative_whatever_the_host_header(web):
    client, *_ = web
    r = client.get("/abroad", headers={"host": "evil.example"})
    assert r.headers["location"] == "/abroad/login"
    r = login(client)
    assert r.headers["location"] == "/abroad"
    r = client.get("/abroad/login?lang=en&x=%22%3E%3Cb%3E", headers={"host": "evil.example"})
    assert "evil.example" not in r.text and "<b>" not in r.text


def test_language_link_never_leaves_the_site(web):
    client, *_ = web
    r = client.get("/%2Fevil.example/x")                      # the path decodes to //evil.example/x
    assert r.status_code == 404
    assert 'href="//evil.example' not in r.text and 'href="/abroad?lang=en"' in r.text


def test_switching_off_when_already_off_stores_and_mails_nothing(web, sink):
    client, store, _, _ = web
    login(client)
    _, token = owner_page(client)
    assert client.post("/abroad/off", data={"csrf": token}).status_code == 303
    assert store.get_user(OWNER).updated_at is None            # never written
    assert not sink.messages
    assert "すでに停止しています" in client.get("/abroad").text
