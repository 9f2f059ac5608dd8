"""Issue 17 (high): a thief who holds the mailbox password must not be able to switch on sending from abroad.

Each test replays the attack: the thief logs in to /abroad from abroad (directly, or through the TLS proxy on
127.0.0.1 that puts the client 8.8.8.8 in X-Forwarded-For) and asks to allow sending from abroad.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from mailposture.guard import totp
from mailposture.guard.decide import Policy
from mailposture.guard.store import UserState
from test_web_common import (
    ABROAD_IP,
    GEO,
    HOME_IP,
    OWNER,
    OWNER_PW,
    SmtpSink,
    csrf_of,
    login,
    make_cfg,
    make_client,
)

ALT = "hanako.backup@example.net"


@pytest.fixture()
def sink():
    with SmtpSink() as s:
        yield s


def _client(tmp_path, sink, client_addr=HOME_IP, headers=None, **cfg_kw):
    cfg = make_cfg(tmp_path, sink.port, **cfg_kw)
    client, store, clock = make_client(cfg, client_addr=client_addr)
    if headers:
        client.headers.update(headers)
    return client, store, clock, cfg


def _allow(client, days="30", **extra):
    token = csrf_of(client.get("/abroad").text)
    return client.post("/abroad/allow", data={"csrf": token, "days": days, **extra})


def _policy_answer(cfg, store, ip):
    p = Policy(cfg, GEO)
    return p.decide({"sasl_username": OWNER, "client_address": ip}, lambda u: (store.get_user(u), True),
                    datetime.now(UTC))


def test_thief_through_the_tls_proxy_cannot_opt_in(tmp_path, sink):
    client, store, _clock, cfg = _client(tmp_path, sink, "127.0.0.1", {"X-Forwarded-For": ABROAD_IP})
    store.set_alt_contact(OWNER, ALT)
    assert login(client).status_code == 303
    page = client.get("/abroad").text
    assert 'data-home="no"' in page and "日本国内からのみ設定できます" in page   # no allow form is offered
    r = _allow(client)
    assert r.status_code == 403
    assert "日本国内からのみ設定できます" in r.text and ABROAD_IP in r.text and "US" in r.text
    assert store.get_user(OWNER).state is UserState.RESTRICTED
    # the policy server still refuses the thief's mail from abroad
    assert _policy_answer(cfg, store, ABROAD_IP).verdict == "refused"
    # audited (shown to the owner as a refused setting change) and notified to the mailbox AND the contact
    audit = store.recent_refusals(OWNER)
    assert [(a.ip, a.country, a.reason) for a in audit] == [(ABROAD_IP, "US", "web-change-abroad")]
    assert "設定変更" in client.get("/abroad").text
    rcpts = sorted(r for _, rs, _ in sink.messages for r in rs)
    assert rcpts == sorted([OWNER, ALT])
    body = sink.messages[0][2].get_content()
    assert "拒否しました" in body and ABROAD_IP in body and "設定は変更されていません" in body


def test_the_explanation_is_in_the_users_language(tmp_path, sink):
    client, _store, *_ = _client(tmp_path, sink, ABROAD_IP)
    client.get("/abroad/login?lang=en")
    login(client)
    r = _allow(client, "7")
    assert r.status_code == 403
    assert "can be allowed (or extended) only from Japan" in r.text and "before you leave" in r.text
    assert "日本国内" not in r.text
    assert "A change of your sending-from-abroad setting was refused" in sink.messages[0][2]["Subject"]


def test_extending_from_abroad_is_refused_switching_off_is_not(tmp_path, sink):
    client, store, clock, _ = _client(tmp_path, sink, ABROAD_IP)
    until = (clock.now + timedelta(days=2)).replace(microsecond=0)
    store.allow_abroad(OWNER, until, by="web:" + OWNER)       # set at home before leaving
    login(client)
    assert _allow(client, "30").status_code == 403
    assert store.get_user(OWNER).abroad_until == until         # not extended
    token = csrf_of(client.get("/abroad").text)
    assert client.post("/abroad/off", data={"csrf": token}).status_code == 303
    assert store.get_user(OWNER).state is UserState.RESTRICTED


def test_at_home_and_from_allow_listed_networks_it_works(tmp_path, sink):
    client, store, _clock, _cfg = _client(tmp_path, sink)
    login(client)
    assert _allow(client, "7").status_code == 303
    assert store.get_user(OWNER).state is UserState.ABROAD_UNTIL
    # the same allow-list as the policy server: a CIDR entry covers a web client abroad
    store.restrict(OWNER, by="t")
    client2, *_ = _client(tmp_path, sink, "81.2.69.142")
    store.allowlist_add("81.2.69.0/24")
    login(client2)
    assert _allow(client2, "7").status_code == 303
    assert store.get_user(OWNER).state is UserState.ABROAD_UNTIL


def test_web_change_from_anywhere_restores_the_old_behaviour(tmp_path, sink):
    client, store, *_ = _client(tmp_path, sink, ABROAD_IP, web_change_from="anywhere")
    login(client)
    assert _allow(client, "7").status_code == 303
    assert store.get_user(OWNER).state is UserState.ABROAD_UNTIL


def test_a_forged_forwarded_for_from_the_client_is_ignored(tmp_path, sink):
    # the client is abroad and claims a Japanese address: only a trusted proxy's header is believed, and only
    # the hop the proxy appended (read from the right)
    client, store, *_ = _client(tmp_path, sink, ABROAD_IP, {"X-Forwarded-For": HOME_IP})
    login(client)
    assert _allow(client).status_code == 403
    proxied, _store2, *_ = _client(tmp_path, sink, "127.0.0.1", {"X-Forwarded-For": f"{HOME_IP}, {ABROAD_IP}"})
    login(proxied)
    assert _allow(proxied).status_code == 403
    assert store.get_user(OWNER).state is UserState.RESTRICTED


def test_totp_second_factor(tmp_path, sink):
    client, store, clock, _ = _client(tmp_path, sink, web_second_factor="totp")
    login(client)
    page = client.get("/abroad").text
    assert 'action="/abroad/allow"' not in page                    # nothing to allow before enrolment
    key = re.search(r'data-totp-key="([A-Z2-7]+)"', page).group(1)
    token = csrf_of(page)
    now = clock.now.timestamp()
    assert client.post("/abroad/totp", data={"csrf": token, "code": "000000"}).status_code in (400,)
    assert client.post("/abroad/totp", data={"csrf": token, "code": totp.totp(key, now)}).status_code == 303
    assert store.get_contact(OWNER).totp_secret == key
    assert 'data-totp="enrolled"' in client.get("/abroad").text
    # the code used for enrolment cannot be replayed; a wrong one is refused, audited and notified
    assert _allow(client, "7", code=totp.totp(key, now)).status_code == 403
    assert _allow(client, "7", code="123456" if totp.totp(key, now + 30) != "123456" else "654321").status_code == 403
    assert store.get_user(OWNER).state is UserState.RESTRICTED
    assert {a.reason for a in store.recent_refusals(OWNER)} == {"web-change-bad-code"}
    clock.advance(seconds=30)
    assert _allow(client, "7", code=totp.totp(key, now + 30)).status_code == 303
    assert store.get_user(OWNER).state is UserState.ABROAD_UNTIL


def test_totp_cannot_be_enrolled_from_abroad(tmp_path, sink):
    client, store, _clock, _ = _client(tmp_path, sink, ABROAD_IP, web_second_factor="totp")
    login(client)
    page = client.get("/abroad").text
    assert "data-totp-key" not in page and "認証アプリの登録は日本国内からのみできます" in page
    r = client.post("/abroad/totp", data={"csrf": csrf_of(page), "code": "123456"})
    assert r.status_code == 403 and store.get_contact(OWNER).totp_secret is None


def test_contact_confirmation_link(tmp_path, sink):
    client, store, _clock, _cfg = _client(tmp_path, sink, web_second_factor="contact")
    login(client)
    assert _allow(client, "7").status_code == 403                  # no alternate contact registered
    store.set_alt_contact(OWNER, ALT)
    r = _allow(client, "7")
    assert r.status_code == 303
    assert "ha***@example.net" in client.get("/abroad").text
    assert _allow(client, "7").status_code == 303           # asked again at once: no second mail
    assert store.get_user(OWNER).state is UserState.RESTRICTED     # nothing changes before the confirmation
    (_mail_from, rcpts, msg), = sink.messages
    assert rcpts == [ALT]
    link = re.search(r"https://mail\.example\.test/abroad/confirm\?t=(\S+)", msg.get_content())
    assert link, msg.get_content()
    from fastapi.testclient import TestClient

    stranger = TestClient(client.app, follow_redirects=False, client=(ABROAD_IP, 1))   # the contact's phone
    page = stranger.get("/abroad/confirm?t=" + link.group(1))
    assert page.status_code == 200 and store.get_user(OWNER).state is UserState.RESTRICTED  # GET changes nothing
    assert stranger.post("/abroad/confirm", data={"t": "x" * 43}).status_code == 404
    assert stranger.post("/abroad/confirm", data={"t": link.group(1)}).status_code == 200
    assert store.get_user(OWNER).state is UserState.ABROAD_UNTIL
    assert sorted(r for _, rs, _ in sink.messages[1:] for r in rs) == sorted([OWNER, ALT])
    assert stranger.post("/abroad/confirm", data={"t": link.group(1)}).status_code == 404   # used once


def test_contact_link_expires(tmp_path, sink):
    client, store, clock, _cfg = _client(tmp_path, sink, web_second_factor="contact")
    store.set_alt_contact(OWNER, ALT)
    login(client)
    _allow(client, "7")
    token = re.search(r"confirm\?t=(\S+)", sink.messages[0][2].get_content()).group(1)
    clock.advance(minutes=31)
    assert client.post("/abroad/confirm", data={"t": token}).status_code == 404
    assert store.get_user(OWNER).state is UserState.RESTRICTED


def test_dovecot_outage_with_users_file_fallback_is_503_not_a_counted_failure(tmp_path, sink, caplog):
    """Issue 17: a Dovecot outage looked like a wrong password (401, counted toward the lockout)."""
    from mailposture.web.auth import ChainAuthenticator, DovecotAuthenticator, UsersFileAuthenticator

    cfg = make_cfg(tmp_path, sink.port)
    auth = ChainAuthenticator([DovecotAuthenticator(str(tmp_path / "no-such-socket")),
                               UsersFileAuthenticator(cfg.users_file)])
    client, *_ = make_client(cfg, authenticator=auth)
    for _ in range(7):   # more than the 5 failures per account that would lock it
        r = login(client, "carol@example.test", "whatever")   # known only to Dovecot
        assert r.status_code == 503 and "認証サービスに接続できません" in r.text
    assert "authentication unavailable" in caplog.text and "no-such-socket" in caplog.text
    assert login(client, OWNER, OWNER_PW).status_code == 303   # the users_file still lets its users in


def test_warning_when_a_trusted_proxy_sends_no_forwarded_for(tmp_path, sink, caplog):
    """Issue 17 (proxy trust): without the header every client looks like the proxy (one login budget)."""
    client, *_ = _client(tmp_path, sink, "127.0.0.1")
    client.get("/abroad/login")
    client.get("/abroad/login")
    login(client)
    warnings = [r for r in caplog.records if "without X-Forwarded-For" in r.getMessage()]
    assert len(warnings) == 1 and "127.0.0.1" in warnings[0].getMessage()
    caplog.clear()
    proxied, *_ = _client(tmp_path, sink, "127.0.0.1", {"X-Forwarded-For": HOME_IP})
    login(proxied)
    assert "without X-Forwarded-For" not in caplog.text


def test_admin_registers_the_alternate_contact_and_resets_totp(tmp_path, sink):
    from test_web_common import ADMIN, ADMIN_PW

    client, store, *_ = _client(tmp_path, sink)
    login(client, ADMIN, ADMIN_PW, realm="admin")
    page = client.get("/admin/user", params={"u": OWNER}).text
    token = csrf_of(page)
    assert 'data-contact=""' in page and 'data-totp="no"' in page
    for bad in ("a@x,b@y", OWNER, "no-at-sign"):
        r = client.post("/admin/user", data={"csrf": token, "u": OWNER, "action": "contact", "contact": bad})
        assert r.status_code == 400 and "このメールボックス以外" in r.text
    r = client.post("/admin/user", data={"csrf": token, "u": OWNER, "action": "contact", "contact": ALT})
    assert r.status_code == 303 and store.get_contact(OWNER).alt_contact == ALT
    assert f'data-contact="{ALT}"' in client.get("/admin/user", params={"u": OWNER}).text
    # admin actions notify the alternate contact too
    client.post("/admin/user", data={"csrf": token, "u": OWNER, "action": "lock"})
    assert sorted(r for _, rs, _ in sink.messages for r in rs) == sorted([OWNER, ALT])
    store.set_totp(OWNER, totp.new_secret())
    assert 'data-totp="yes"' in client.get("/admin/user", params={"u": OWNER}).text
    r = client.post("/admin/user", data={"csrf": token, "u": OWNER, "action": "totp_reset"})
    assert r.status_code == 303 and store.get_contact(OWNER).totp_secret is None
    r = client.post("/admin/user", data={"csrf": token, "u": OWNER, "action": "contact", "contact": ""})
    assert store.get_contact(OWNER).alt_contact is None


def test_a_trusted_proxy_without_forwarded_for_never_counts_as_home(tmp_path, sink):
    """Without the header the client is unknown; taking the proxy's own address (127.0.0.1, internal) would let
    a thief abroad opt in through a proxy that forgot the header."""
    client, store, *_ = _client(tmp_path, sink, "127.0.0.1")
    login(client)
    r = _allow(client)
    assert r.status_code == 403 and "X-Forwarded-For missing" in r.text
    assert store.get_user(OWNER).state is UserState.RESTRICTED
    client.headers["X-Forwarded-For"] = "8.8.8.8, not-an-address"    # garbage where the proxy's entry belongs
    assert _allow(client).status_code == 403
    assert store.get_user(OWNER).state is UserState.RESTRICTED
    direct, *_ = _client(tmp_path, sink, "127.0.0.1", trusted_proxies=[])   # no proxy configured: a local client
    login(direct)
    assert _allow(direct).status_code == 303


def test_guessing_totp_codes_is_limited_and_notices_do_not_flood(tmp_path, sink):
    client, store, clock, _ = _client(tmp_path, sink, web_second_factor="totp")
    key = totp.new_secret()
    store.set_totp(OWNER, key)
    login(client)
    now = clock.now.timestamp()
    good = totp.totp(key, now)
    wrong = [c for c in (f"{i:06d}" for i in range(20)) if totp.match(key, c, now) is None][:5]
    for code in wrong:
        assert _allow(client, "7", code=code).status_code == 403
    r = _allow(client, "7", code=good)          # the right code, but only after 15 minutes
    assert r.status_code == 429 and "15 分ほど" in r.text
    assert store.get_user(OWNER).state is UserState.RESTRICTED
    assert len(store.recent_refusals(OWNER)) == 5          # every wrong code audited …
    assert len(sink.messages) == 1                         # … one notice, not five
    clock.advance(minutes=16)
    login(client)                                          # (the 15-minute idle session ended meanwhile)
    later = totp.totp(key, now + 16 * 60)
    assert _allow(client, "7", code=later).status_code == 303
    assert store.get_user(OWNER).state is UserState.ABROAD_UNTIL


def test_broken_geo_data_refuses_switching_on_but_keeps_the_page_and_switching_off(tmp_path, sink):
    from mailposture.guard.geo import GeoError

    class Broken:
        def lookup(self, ip):
            raise GeoError("geo database not found: /var/lib/GeoIP/x.mmdb")

    cfg = make_cfg(tmp_path, sink.port)
    client, store, clock = make_client(cfg, geo=Broken())
    store.allow_abroad(OWNER, clock.now + timedelta(days=3), by="t")
    login(client)
    page = client.get("/abroad")
    assert page.status_code == 200 and 'data-home="no"' in page.text
    assert _allow(client).status_code == 403
    assert client.post("/abroad/off", data={"csrf": csrf_of(page.text)}).status_code == 303
    assert store.get_user(OWNER).state is UserState.RESTRICTED


def test_resolve_client_reads_from_the_right_past_trusted_hops_only():
    from mailposture.web.security import parse_networks, resolve_client

    trusted = parse_networks(["127.0.0.1/32", "::1/128", "198.51.100.0/24"])   # local proxy and a CDN
    # the proxy appended the address it saw; whatever the client wrote is further left and never read
    assert resolve_client("127.0.0.1", ["133.1.1.1, 8.8.8.8"], trusted) == "8.8.8.8"
    assert resolve_client("127.0.0.1", ["133.1.1.1", "8.8.8.8"], trusted) == "8.8.8.8"      # two header lines
    # CDN -> local proxy: skip both trusted hops, stop at the first untrusted one
    assert resolve_client("127.0.0.1", ["133.1.1.1, 8.8.8.8, 198.51.100.7"], trusted) == "8.8.8.8"
    # a peer that is not a trusted proxy: its header is its own claim
    assert resolve_client("8.8.8.8", ["133.1.1.1"], trusted) == "8.8.8.8"
    # garbage to the right of a trusted hop: the last address a trusted proxy vouched for
    assert resolve_client("127.0.0.1", ["8.8.8.8, not-an-ip"], trusted) == "127.0.0.1"
    assert resolve_client("::1", ["2001:4860:4860::8888"], trusted) == "2001:4860:4860::8888"
    assert resolve_client("127.0.0.1", [], trusted) == "127.0.0.1"
