"""Pure pieces of the web pages: sessions, rate limits, secret file, language choice, dates, notices."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from mailposture.guard.config import GuardConfig
from mailposture.guard.notices import build_message, notice_text, parse_relay, send_notice
from mailposture.guard.store import UserRecord, UserState
from mailposture.web.auth import clean_username, hash_password, password_acceptable, users_file_line
from mailposture.web.i18n import TEXT, fmt_time, pick_lang
from mailposture.web.security import RateLimiter, SessionStore, SetupError, csrf_ok, load_or_create_secret


class Tick:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


# ------------------------------------------------------------------------------------------------ sessions

def test_session_signature_realm_and_rotation():
    clock = Tick()
    store = SessionStore(b"k" * 32, clock)
    anon = store.new("owner")
    cookie = store.cookie_value(anon)
    assert store.get(cookie, "owner") is anon
    assert store.get(cookie, "admin") is None                     # realms never mix
    sid, sig = cookie.split(".")
    assert store.get(f"{sid}.{'0' * len(sig)}", "owner") is None  # forged signature
    other = SessionStore(b"x" * 32, clock)
    assert other.get(cookie, "owner") is None                     # another key
    user = store.rotate(anon, "owner", "alice")
    assert user.sid != anon.sid and user.csrf != anon.csrf
    assert store.get(cookie, "owner") is None                     # the old id is gone
    assert store.get(store.cookie_value(user), "owner").username == "alice"


def test_session_timeouts():
    clock = Tick()
    store = SessionStore(b"k" * 32, clock, idle=100, absolute=250, anon_idle=50)
    s = store.new("owner", "alice")
    c = store.cookie_value(s)
    for _ in range(2):
        clock.t += 99
        assert store.get(c, "owner") is s
    clock.t += 99                                                  # 297 s old: past the absolute limit
    assert store.get(c, "owner") is None
    a = store.new("owner")
    clock.t += 51
    assert store.get(store.cookie_value(a), "owner") is None


def test_login_page_flood_cannot_evict_logged_in_sessions():
    clock = Tick()
    store = SessionStore(b"k" * 32, clock, max_anon=100, max_sessions=100)
    users = [store.new("owner", f"u{i}") for i in range(50)]
    for _ in range(1000):
        store.new("owner")
    assert len(store) == 150
    assert all(store.get(store.cookie_value(u), "owner") is u for u in users)


def test_csrf_compare():
    clock = Tick()
    s = SessionStore(b"k" * 32, clock).new("owner")
    assert csrf_ok(s, s.csrf)
    assert not csrf_ok(s, s.csrf + "x") and not csrf_ok(s, "") and not csrf_ok(None, s.csrf)
    assert not csrf_ok(s, None) and not csrf_ok(s, "é" * 43)


# --------------------------------------------------------------------------------------------- rate limits

def test_rate_limiter_sliding_window_and_reset():
    clock = Tick()
    rl = RateLimiter(3, 60, clock)
    for _ in range(3):
        assert not rl.blocked("k")
        rl.fail("k")
        clock.t += 10
    assert rl.blocked("k") and not rl.blocked("other")
    clock.t += 31                                                  # the first failure is now 61 s old
    assert not rl.blocked("k")
    rl.fail("k")
    assert rl.blocked("k")
    rl.reset("k")
    assert not rl.blocked("k")


def test_rate_limiter_memory_is_bounded():
    rl = RateLimiter(5, 60, Tick(), max_keys=1000)
    for i in range(5000):
        rl.fail(f"user{i}")
    assert len(rl._hits) == 1000


# ---------------------------------------------------------------------------------------------- secret file

def test_secret_file_created_0600_and_reused(tmp_path):
    path = tmp_path / "sub" / "web.key"
    key = load_or_create_secret(path)
    assert len(key) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == key
    path.chmod(0o644)
    with pytest.raises(SetupError, match="readable by others"):
        load_or_create_secret(path)
    path.chmod(0o600)
    path.write_text("short")
    with pytest.raises(SetupError, match="fewer than 32"):
        load_or_create_secret(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_secret_file_unwritable_dir(tmp_path):
    d = tmp_path / "ro"
    d.mkdir(mode=0o500)
    with pytest.raises(SetupError, match="cannot create"):
        load_or_create_secret(d / "web.key")


def test_serve_refuses_without_a_password_check(tmp_path):
    from mailposture.web.app import serve

    cfg = GuardConfig(store_url=f"sqlite:///{tmp_path}/g.db", web_secret_file=str(tmp_path / "k"))
    with pytest.raises(SetupError, match="dovecot_auth_socket or users_file"):
        serve(cfg, "127.0.0.1", 1)
    cfg.users_file = str(tmp_path / "users")
    cfg.store_url = "nosuchdb://x"
    with pytest.raises(SetupError, match="store"):
        serve(cfg, "127.0.0.1", 1)


# ------------------------------------------------------------------------------------------------ language

@pytest.mark.parametrize("query,cookie,header,expected", [
    (None, None, None, "ja"),
    (None, None, "en-GB,en;q=0.8", "en"),
    (None, None, "fr-FR, de;q=0.5", "ja"),
    (None, None, "en;q=0.4, ja;q=0.9", "ja"),
    (None, None, "ja;q=0, en;q=0", "ja"),
    (None, None, "EN", "en"),
    (None, "en", "ja", "en"),
    ("ja", "en", "en", "ja"),
    ("xx", None, "en", "en"),
    (None, "zz", None, "ja"),
    (None, None, "en;q=abc", "ja"),
    (None, None, "," * 10000 + "en", "ja"),
])
def test_pick_lang(query, cookie, header, expected):
    assert pick_lang(query, cookie, header) == expected


def test_texts_have_both_languages_and_same_placeholders():
    import string

    for key, (ja, en) in TEXT.items():
        assert ja and en, key
        names = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}  # noqa: E731
        assert names(ja) == names(en), key


def test_fmt_time_jst_and_utc():
    dt = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)               # 2027-01-01 00:30 in Japan
    assert fmt_time(dt, "ja") == "2027年1月1日(金) 00:30 JST"
    assert fmt_time(dt, "en") == "Fri 1 Jan 2027, 00:30 JST (15:30 UTC)"
    assert fmt_time(None, "ja") == ""


# ------------------------------------------------------------------------------------------------- users

@pytest.mark.parametrize("raw,expected", [
    ("  Alice@Example.JP ", "alice@example.jp"),
    ("ｕｓｅｒ@example.jp", "ｕｓｅｒ@example.jp"),
    ("cafe\u0301@example.jp", "café@example.jp"),                # NFC
    ("a b@example.jp", None), ("a:b", None), ("a\x00b", None), ("a\tb", None), ("a\u200bb", None),
    ("x" * 255, None), ("", None), ("   ", None),
])
def test_clean_username(raw, expected):
    assert clean_username(raw) == expected


def test_password_rules_and_hashes():
    assert password_acceptable("p") and not password_acceptable("") and not password_acceptable("a\x00b")
    assert not password_acceptable("x" * 1025)
    h = hash_password("secret")
    assert h.startswith("$argon2id$") and "secret" not in h
    assert users_file_line("Bob@Example.jp", "pw").startswith("bob@example.jp:$argon2id$")
    with pytest.raises(ValueError):
        hash_password("")


# ------------------------------------------------------------------------------------------------ notices

def _rec(state=UserState.ABROAD_UNTIL, by="web:alice@example.jp", until=None):
    until = until or datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    return UserRecord("alice@example.jp", state, until if state == UserState.ABROAD_UNTIL else None,
                      datetime(2026, 12, 1, 12, 0, tzinfo=UTC), by, None)


def test_notice_text_each_event():
    cfg = GuardConfig(owner_page_url="https://mail.example.jp/abroad")
    for event, ja_phrase, en_phrase in [
        ("abroad_allowed", "2026年12月8日 21:00 (日本時間 JST) まで許可", "allowed until 2026-12-08 21:00 JST"),
        ("abroad_always", "期限なしで許可", "no end date"),
        ("restricted", "停止しました", "switched off"),
        ("locked", "管理者が停止", "locked sending"),
        ("unlocked", "ロックを解除", "unlocked"),
    ]:
        subject, body = notice_text(cfg, _rec(), event, "ja")
        assert ja_phrase in body and en_phrase in body, event
        assert "https://mail.example.jp/abroad" in body and "国外" in subject
    _, ja_first = notice_text(cfg, _rec(), "restricted", "ja")
    _, en_first = notice_text(cfg, _rec(), "restricted", "en")
    assert ja_first.index("様") < ja_first.index("Dear") and en_first.index("Dear") < en_first.index("様")
    assert "ご本人" in ja_first and "管理者" in notice_text(cfg, _rec(by="admin:root"), "locked")[1]
    with pytest.raises(ValueError):
        notice_text(cfg, _rec(), "exploded")


def test_notice_message_headers():
    cfg = GuardConfig(notice_from="postmaster@example.jp")
    msg = build_message(cfg, _rec(), "restricted")
    assert msg["To"] == "alice@example.jp" and msg["From"] == "postmaster@example.jp"
    assert msg["Auto-Submitted"] == "auto-generated" and "@example.jp>" in msg["Message-ID"]
    assert msg.get_content_charset() == "utf-8"


def test_send_notice_never_raises(caplog):
    bad_name = UserRecord("evil@example.jp\r\nBcc: victim@example.jp", UserState.RESTRICTED)
    cfg = GuardConfig(smtp_relay="127.0.0.1:1")
    assert send_notice(cfg, bad_name, "restricted") is False       # header injection refused, no crash
    assert send_notice(GuardConfig(smtp_relay="not a relay:x"), _rec(), "restricted") is False
    assert send_notice(cfg, _rec(), "nonsense") is False
    assert "not sent" in caplog.text


@pytest.mark.parametrize("relay,expected", [
    ("127.0.0.1:25", ("127.0.0.1", 25)), ("mail.example.jp", ("mail.example.jp", 25)),
    ("[::1]:2525", ("::1", 2525)), ("[::1]", ("::1", 25)), ("h:587", ("h", 587)),
])
def test_parse_relay(relay, expected):
    assert parse_relay(relay) == expected


@pytest.mark.parametrize("relay", ["", ":25", "h:0", "h:99999", "h:x", "[::1]x"])
def test_parse_relay_bad(relay):
    with pytest.raises(ValueError):
        parse_relay(relay)


def test_notice_sent_through_a_sink():
    from test_web_common import SmtpSink

    with SmtpSink() as sink:
        cfg = GuardConfig(smtp_relay=f"127.0.0.1:{sink.port}", notice_from="pm@example.jp")
        until = datetime.now(UTC) + timedelta(days=3)
        assert send_notice(cfg, _rec(until=until), "abroad_allowed", "en") is True
    (mail_from, rcpts, msg), = sink.messages
    assert mail_from == "pm@example.jp" and rcpts == ["alice@example.jp"]
    assert msg.get_content().startswith("Dear alice@example.jp,")


def test_fmt_remaining():
    from mailposture.web.i18n import fmt_remaining

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert fmt_remaining(now + timedelta(days=7), now, "ja") == "あと 7 日"
    assert fmt_remaining(now + timedelta(days=1), now, "en") == "1 day left"
    assert fmt_remaining(now + timedelta(hours=5, minutes=10), now, "en") == "5 hours left"
    assert fmt_remaining(now + timedelta(seconds=20), now, "ja") == "あと 1 分"
    assert fmt_remaining(now - timedelta(seconds=1), now, "ja") == "" and fmt_remaining(None, now, "en") == ""


def test_sessions_per_user_are_capped_oldest_first():
    clock = Tick()
    store = SessionStore(b"k" * 32, clock, per_user=3)
    other = store.new("owner", "bob")
    mine = []
    for _ in range(5):
        clock.t += 1
        mine.append(store.new("owner", "alice"))
    alive = [s for s in mine if store.get(store.cookie_value(s), "owner") is s]
    assert alive == mine[-3:]
    assert store.get(store.cookie_value(other), "owner") is other
    admin = store.new("admin", "alice")                            # another realm: counted apart
    assert store.get(store.cookie_value(admin), "admin") is admin
    assert store.get(store.cookie_value(mine[-1]), "owner") is mine[-1]
