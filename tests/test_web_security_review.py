"""Adversarial review of the web pages: each test proves an attack that worked before its fix."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from datetime import UTC, datetime

import httpx
import pytest

from mailposture.guard.store import Store, UserRecord, UserState, normalise_username
from mailposture.web.app import WebSettings, create_app
from mailposture.web.auth import AuthResult, Verdict
from mailposture.web.security import FormError, read_form
from test_web_common import OWNER, OWNER_PW, FakeClock, SmtpSink, csrf_of, login, make_cfg, make_client


class SlowFail:
    """An authenticator that takes a while and always says no; counts the password checks it was asked for."""

    def __init__(self, delay: float = 0.05) -> None:
        self.calls = 0
        self.delay = delay

    async def authenticate(self, username, password, client_ip, *, secured):
        self.calls += 1
        await asyncio.sleep(self.delay)
        return AuthResult(Verdict.FAIL, username)


def _app(tmp_path, settings: WebSettings, auth=None, **cfg_over):
    cfg = make_cfg(tmp_path, **cfg_over)
    store = Store(cfg.store_url)
    return create_app(cfg, store, clock=FakeClock(), settings=settings, authenticator=auth, secret=b"k" * 32)


def _client(app, ip: str, port: int = 40000) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, port))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", follow_redirects=False)


async def _token(c: httpx.AsyncClient, realm: str = "abroad") -> str:
    return csrf_of((await c.get(f"/{realm}/login")).text)


# ------------------------------------------------------------------------------------------ rate limits

def test_concurrent_attempts_cannot_exceed_the_account_limit(tmp_path):
    """Before: the limit was checked before the (slow) password check and counted after it, so 30
    simultaneous guesses all passed the check and 30 passwords were tried against one account."""
    auth = SlowFail()
    app = _app(tmp_path, WebSettings(account_failures=5, ip_failures=1000), auth)

    async def main() -> list[int]:
        async with _client(app, "192.0.2.10") as c:
            token = await _token(c)
            rs = await asyncio.gather(*[c.post("/abroad/login", data={"csrf": token, "username": OWNER,
                                                                      "password": f"guess{i}"})
                                        for i in range(30)])
            return [r.status_code for r in rs]

    codes = asyncio.run(main())
    assert auth.calls <= 5, f"{auth.calls} passwords were tried against one account"
    assert codes.count(429) >= 25


def test_ipv6_clients_are_limited_per_64(tmp_path):
    """Before: each IPv6 address had its own counter, and one host owns 2^64 of them."""
    auth = SlowFail(0)
    app = _app(tmp_path, WebSettings(account_failures=1000, ip_failures=3), auth)

    async def attempt(ip: str, user: str) -> int:
        async with _client(app, ip) as c:
            token = await _token(c)
            r = await c.post("/abroad/login", data={"csrf": token, "username": user, "password": "x"})
            return r.status_code

    async def main() -> list[int]:
        return [await attempt(f"2001:db8:1:2::{i:x}", f"u{i}@example.test") for i in range(1, 8)]

    codes = asyncio.run(main())
    assert codes[:3] == [401, 401, 401]
    assert set(codes[3:]) == {429}, codes
    assert auth.calls == 3
    # another /64 is another client
    assert asyncio.run(attempt("2001:db8:1:3::1", "v@example.test")) == 401


def test_ipv4_mapped_ipv6_counts_as_the_ipv4_address(tmp_path):
    auth = SlowFail(0)
    app = _app(tmp_path, WebSettings(account_failures=1000, ip_failures=2), auth)

    async def attempt(ip: str, user: str) -> int:
        async with _client(app, ip) as c:
            token = await _token(c)
            return (await c.post("/abroad/login", data={"csrf": token, "username": user, "password": "x"})).status_code

    async def main() -> list[int]:
        return [await attempt("198.51.100.7", "a@example.test"), await attempt("::ffff:198.51.100.7", "b@example.test"),
                await attempt("198.51.100.7", "c@example.test")]

    assert asyncio.run(main()) == [401, 401, 429]


def test_account_limit_key_folds_unicode_compatibility_forms(tmp_path):
    """Full-width / compatibility forms of a name (which some password back-ends fold to the same account)
    share the account's failure counter."""
    auth = SlowFail(0)
    app = _app(tmp_path, WebSettings(account_failures=3, ip_failures=1000), auth)
    variants = ["ａｌｉｃｅ@example.test", "ALICE@EXAMPLE.TEST", "ａlice@ｅxample.test"]

    async def main() -> int:
        async with _client(app, "192.0.2.20") as c:
            for v in variants:
                token = await _token(c)
                assert (await c.post("/abroad/login", data={"csrf": token, "username": v,
                                                            "password": "x"})).status_code == 401
            token = await _token(c)
            return (await c.post("/abroad/login", data={"csrf": token, "username": OWNER,
                                                        "password": "x"})).status_code

    assert asyncio.run(main()) == 429


def test_forwarded_for_trusted_only_from_configured_proxies(tmp_path):
    """X-Forwarded-For from a peer that is not a configured proxy is ignored (no bypass of the per-address
    limit by sending a new header each time); from a configured proxy, the client behind it is used, so one
    attacker behind the proxy cannot lock every other user out."""
    auth = SlowFail(0)
    app = _app(tmp_path, WebSettings(account_failures=1000, ip_failures=2), auth,
               trusted_proxies=["10.0.0.1/32"])

    async def attempt(peer: str, xff: str | None, user: str) -> int:
        async with _client(app, peer) as c:
            token = await _token(c)
            headers = {"X-Forwarded-For": xff} if xff else {}
            r = await c.post("/abroad/login", data={"csrf": token, "username": user, "password": "x"},
                             headers=headers)
            return r.status_code

    async def main() -> tuple[list[int], list[int]]:
        spoof = [await attempt("203.0.113.9", f"198.51.100.{i}", f"s{i}@example.test") for i in range(4)]
        proxied = [await attempt("10.0.0.1", f"203.0.113.{i}", f"p{i}@example.test") for i in range(4)]
        # the proxy appends the real peer: the client-supplied left part is ignored
        appended = [await attempt("10.0.0.1", f"192.0.2.{i}, 198.18.0.1", f"q{i}@example.test") for i in range(4)]
        return spoof, proxied + appended

    spoof, proxied = asyncio.run(main())
    assert spoof == [401, 401, 429, 429]
    assert proxied[:4] == [401] * 4
    assert proxied[4:] == [401, 401, 429, 429]


# ----------------------------------------------------------------------------------------- open redirect

@pytest.mark.parametrize("path", ["/%09/evil.example/", "/%0A/evil.example", "/%0D/evil.example",
                                  "/abroad/%09/%09/evil.example"])
def test_language_link_never_leaves_the_site(tmp_path, path):
    """Browsers drop TAB/CR/LF from URLs: a link "/<TAB>/evil.example" becomes "//evil.example"."""
    client, _store, _clock = make_client(make_cfg(tmp_path))
    with client:
        r = client.get(path)
    for href in re.findall(r'href="([^"]*)"', r.text):
        cleaned = re.sub(r"[\t\n\r]", "", href.replace("&#9;", "").replace("&#10;", "").replace("&#13;", ""))
        assert not cleaned.startswith("//") and not cleaned.startswith("/\\"), href
        assert not re.search(r"[\t\n\r]", href), href


# ------------------------------------------------------------------------------------ user-name matching

def test_store_key_is_the_same_for_nfc_and_nfd_names(tmp_path):
    """The web page NFC-normalises the login name, the policy server gets Postfix's sasl_username as sent:
    a lock set on the NFC key must be found when the policy server looks up the NFD spelling."""
    nfc = "jos\u00e9@example.test"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert normalise_username(nfd) == normalise_username(nfc)
    from mailposture.guard import decide

    assert decide.normalise_username is normalise_username   # one rule for both sides
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    store.lock(nfc, "admin:root")
    assert store.get_user(nfd).state is UserState.LOCKED


# ---------------------------------------------------------------------------------------- notice mails

def test_notice_goes_to_exactly_one_address(tmp_path):
    """A stored name like "a@x,victim@y" (admins may type any name) must not mail a second party."""
    from mailposture.guard.notices import send_notice

    with SmtpSink() as sink:
        cfg = make_cfg(tmp_path, sink.port)
        user = UserRecord("a@example.test,victim@example.org", UserState.LOCKED,
                          updated_at=datetime(2026, 12, 1, tzinfo=UTC), updated_by="admin:root")
        send_notice(cfg, user, "locked", "ja", timeout=5)
        for _from, rcpts, _msg in sink.messages:
            assert "victim@example.org" not in rcpts
            assert len(rcpts) == 1


def test_notice_sent_to_the_plain_name(tmp_path):
    from mailposture.guard.notices import send_notice

    with SmtpSink() as sink:
        cfg = make_cfg(tmp_path, sink.port)
        user = UserRecord(OWNER, UserState.RESTRICTED, updated_by="web:" + OWNER)
        assert send_notice(cfg, user, "restricted", "en", timeout=5)
        assert sink.messages and sink.messages[0][1] == [OWNER]


# --------------------------------------------------------------------------------------------- slow body

def test_slow_form_body_times_out():
    """A client that sends headers and then trickles (or never sends) its body must not hold a worker."""
    from starlette.requests import Request

    async def receive():
        await asyncio.sleep(3600)
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/abroad/login", "headers": [
        (b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"100")],
        "query_string": b""}

    async def main() -> None:
        with pytest.raises(FormError) as ei:
            await read_form(Request(scope, receive), timeout=0.2)
        assert ei.value.status == 408

    asyncio.run(asyncio.wait_for(main(), 5))


# ------------------------------------------------------------------------------------------------- logs

def test_failed_login_logs_no_password_typed_as_the_name(tmp_path, caplog):
    """People type their password into the name field; a failed attempt's name that is not a mail address
    is not written to the log verbatim."""
    client, _store, _clock = make_client(make_cfg(tmp_path))
    caplog.set_level("DEBUG")
    with client:
        login(client, "Secret-Passw0rd!", OWNER_PW)
        login(client, OWNER, OWNER_PW)
    assert "Secret-Passw0rd!".lower() not in caplog.text.lower()
    assert OWNER_PW not in caplog.text


# ------------------------------------------------------------------------------------------- sessions

def test_login_page_flood_does_not_break_a_pending_login():
    """Before: a few thousand cheap GETs of the login page pushed every pending pre-login session out of
    the bounded table, so nobody's login form was accepted ("form expired") while the flood lasted."""
    from mailposture.web.security import SessionStore, csrf_ok

    t = [1000.0]
    store = SessionStore(b"k" * 32, lambda: t[0], max_anon=100, anon_idle=60)
    victim = store.new("owner")
    cookie = store.cookie_value(victim)
    for _ in range(1000):
        store.new("owner")
    assert len(store) <= 101                                   # memory stays bounded
    back = store.get(cookie, "owner")
    assert back is not None and csrf_ok(back, victim.csrf) and back.username is None
    assert store.get(cookie, "admin") is None                  # still bound to its realm
    sid, sig = cookie.split(".")
    forged = sid.rsplit("~", 1)[0] + "~" + format(int(t[0]) + 5, "x")
    assert store.get(f"{forged}.{sig}", "owner") is None        # the birth time is covered by the signature
    t[0] += 61
    for _ in range(200):
        store.new("owner")
    assert store.get(cookie, "owner") is None                  # and it still expires


# ------------------------------------------------------------------------------------------- allow-list

@pytest.mark.parametrize("entry", ["8.0.0.0/9", "133.0.0.0/12", "2001::/16", "2400::/20", "co.jp", "ne.jp",
                                   "com.cn", "co.uk", "0.0.0.0/0", "::/0"])
def test_allowlist_refuses_entries_that_open_a_country(tmp_path, entry):
    """An allow-list entry lets mail from abroad through for every account: a /9, an IPv6 /16 or "co.jp"
    (any company's host) must not be addable, neither through the store nor through the admin page."""
    from mailposture.web.admin import normalise_allowlist_entry

    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    with pytest.raises(ValueError):
        store.allowlist_add(entry)
    assert store.allowlist() == []
    key, problem = normalise_allowlist_entry(entry)
    assert key is None and problem


@pytest.mark.parametrize("entry,key", [("192.0.2.0/24", "192.0.2.0/24"), ("198.51.0.0/16", "198.51.0.0/16"),
                                       ("2001:db8::/32", "2001:db8::/32"), ("Outlook.com.", "outlook.com"),
                                       ("mail.example.co.jp", "mail.example.co.jp")])
def test_allowlist_still_takes_narrow_entries(tmp_path, entry, key):
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    store.allowlist_add(entry)
    assert [e for e, _ in store.allowlist()] == [key]


# ------------------------------------------------------------------------------------- owner's forms

def test_flash_messages_cannot_pile_up_in_a_session(tmp_path):
    """Before: each POST appended a message that only a GET took away, so a logged-in client looping over
    POSTs (never following the redirect) grew its server-side session without bound."""
    cfg = make_cfg(tmp_path)
    client, _store, _clock = make_client(cfg)
    with client:
        assert login(client).status_code == 303
        token = csrf_of(client.get("/abroad").text)
        for _ in range(40):
            assert client.post("/abroad/off", data={"csrf": token}).status_code == 303
        sessions = client.app.state.web.sessions
        assert all(len(s.flash) <= 5 for s in sessions._auth.values())


@pytest.mark.parametrize("raw", ["٣", "３", "³", "-1", "+3", "0", "31", "1e1", "3 ", " 3\x00", "0x3", "९",
                                 "1" * 5000])
def test_days_only_ascii_digits_in_range(raw):
    from mailposture.web.owner import parse_days

    expected = 3 if raw.strip() in ("3",) else None
    assert parse_days(raw, 30) == expected


# ------------------------------------------------------------------------------------------ error pages

def test_unexpected_error_shows_no_traceback_and_keeps_the_security_headers(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from mailposture.web import login as web_login

    cfg = make_cfg(tmp_path)
    app = create_app(cfg, Store(cfg.store_url), clock=FakeClock(), secret=b"k" * 32)

    def boom(*a, **kw):
        raise RuntimeError("secret detail /etc/mailposture/web.key")

    monkeypatch.setattr(web_login, "login_form", boom)  # the login page's renderer, shared by both realms
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/abroad/login")
    assert r.status_code == 500
    assert "secret detail" not in r.text and "Traceback" not in r.text
    assert r.headers.get("cache-control") == "no-store"
    assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", "")
    assert r.headers.get("x-content-type-options") == "nosniff"


def test_strangers_failures_do_not_lock_out_a_browser_that_logged_in_before(tmp_path):
    """Before: five wrong passwords from anywhere locked the owner out of the page for 15 minutes, every
    15 minutes (per-account limit). A browser that logged in to the account before keeps its own budget."""
    from fastapi.testclient import TestClient

    cfg = make_cfg(tmp_path)
    app = create_app(cfg, Store(cfg.store_url), clock=FakeClock(), secret=b"k" * 32)
    owner = TestClient(app, follow_redirects=False)
    attacker = TestClient(app, follow_redirects=False)       # the same server, another browser
    with owner, attacker:
        assert login(owner).status_code == 303
        token = csrf_of(owner.get("/abroad").text)
        assert owner.post("/abroad/logout", data={"csrf": token}).status_code == 303
        assert owner.cookies.get("mp_owner_dev")
        for _ in range(5):
            assert login(attacker, OWNER, "guess").status_code == 401
        assert login(attacker, OWNER, OWNER_PW).status_code == 429     # the account is blocked for strangers
        assert login(owner, OWNER, OWNER_PW).status_code == 303        # not for its owner's browser
        # a copied device cookie only shares the owner's own budget (binding: see the next test)
        attacker.cookies.set("mp_owner_dev", owner.cookies.get("mp_owner_dev"))
        assert login(attacker, OWNER, OWNER_PW).status_code == 303     # (stolen cookie: the owner's budget)


def test_device_cookie_is_bound_to_account_realm_and_time():
    from mailposture.web.security import SessionStore

    t = [1_000_000.0]
    s = SessionStore(b"k" * 32, lambda: t[0])
    tok = s.device_token("owner", "alice@example.test")
    assert s.device_ok(tok, "owner", "alice@example.test")
    assert not s.device_ok(tok, "owner", "bob@example.test")
    assert not s.device_ok(tok, "admin", "alice@example.test")
    assert not s.device_ok(tok[:-1] + ("0" if tok[-1] != "0" else "1"), "owner", "alice@example.test")
    assert not SessionStore(b"x" * 32, lambda: t[0]).device_ok(tok, "owner", "alice@example.test")
    t[0] += 91 * 86400
    assert not s.device_ok(tok, "owner", "alice@example.test")


def test_trusted_proxies_config_is_validated(tmp_path):
    from mailposture.guard.config import ConfigError, config_from_dict
    from mailposture.web.security import SetupError

    assert config_from_dict({}).trusted_proxies == ["127.0.0.1/32", "::1/128"]
    assert config_from_dict({"trusted_proxies": ["10.0.0.0/8"]}).trusted_proxies == ["10.0.0.0/8"]
    assert config_from_dict({"trusted_proxies": []}).trusted_proxies == []
    for bad in (["proxy.example"], "10.0.0.1", [1]):
        with pytest.raises(ConfigError, match="trusted_proxies"):
            config_from_dict({"trusted_proxies": bad})
    cfg = make_cfg(tmp_path, trusted_proxies=["not-an-address"])
    with pytest.raises(SetupError, match="trusted_proxies"):
        create_app(cfg, Store(cfg.store_url), secret=b"k" * 32)


def test_no_trusted_proxies_means_the_peer_address_only(tmp_path):
    auth = SlowFail(0)
    app = _app(tmp_path, WebSettings(account_failures=1000, ip_failures=1), auth, trusted_proxies=[])

    async def attempt(xff: str, user: str) -> int:
        async with _client(app, "127.0.0.1") as c:
            token = await _token(c)
            return (await c.post("/abroad/login", data={"csrf": token, "username": user, "password": "x"},
                                 headers={"X-Forwarded-For": xff})).status_code

    async def main() -> list[int]:
        return [await attempt("198.51.100.1", "a@example.test"), await attempt("198.51.100.2", "b@example.test")]

    assert asyncio.run(main()) == [401, 429]
