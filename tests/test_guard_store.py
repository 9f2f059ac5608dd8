"""Guard store (SQLite WAL): users, change tracking, allow-list, audit, counters, clear errors."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailposture.guard.config import ConfigError, config_from_dict, load_config
from mailposture.guard.store import AuditEntry, Store, StoreError, UserRecord, UserState


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path}/sub/guard.db")


def test_unknown_user_is_restricted_and_not_persisted(store: Store) -> None:
    rec = store.get_user("Nobody@Example.TEST")
    assert rec.username == "nobody@example.test" and rec.state is UserState.RESTRICTED
    assert store.list_users() == []


def test_state_changes_and_counter(store: Store, tmp_path: Path) -> None:
    c0 = store.change_counter()
    until = datetime.now(UTC) + timedelta(days=7)
    rec = store.allow_abroad("Bob@Example.test", until, by="owner")
    assert rec.username == "bob@example.test" and rec.state is UserState.ABROAD_UNTIL
    assert rec.abroad_until == until and rec.abroad_until.tzinfo is not None and rec.updated_by == "owner"
    assert store.change_counter() == c0 + 1
    assert store.lock("bob@example.test", by="admin", note="stolen").note == "stolen"
    assert store.get_user("BOB@example.test").state is UserState.LOCKED
    assert store.unlock("bob@example.test", by="admin").state is UserState.RESTRICTED
    assert store.allow_always("carol@x", by="admin").state is UserState.ABROAD_ALWAYS
    assert store.restrict("carol@x", by="admin").state is UserState.RESTRICTED
    assert store.change_counter() == c0 + 5
    assert [u.username for u in store.list_users()] == ["bob@example.test", "carol@x"]
    assert store.list_users(UserState.LOCKED) == []
    # WAL journal, so the web page's writes never block policy servers' reads.
    mode = sqlite3.connect(tmp_path / "sub/guard.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_effective_state_expires() -> None:
    now = datetime.now(UTC)
    rec = UserRecord("a", UserState.ABROAD_UNTIL, now + timedelta(seconds=5))
    assert rec.effective_state(now) is UserState.ABROAD_UNTIL
    assert rec.effective_state(now + timedelta(seconds=5)) is UserState.RESTRICTED
    assert UserRecord("a", UserState.LOCKED).effective_state(now) is UserState.LOCKED


def test_changes_since_is_incremental_and_sees_every_change(store: Store) -> None:
    seq, changed, av = store.changes_since(-1)
    assert changed == []
    store.allow_always("a@x", by="t")
    store.lock("b@x", by="t")
    seq2, changed, _ = store.changes_since(seq)
    assert seq2 == seq + 2 and {r.username for r in changed} == {"a@x", "b@x"}
    store.restrict("a@x", by="t")
    seq3, changed, _ = store.changes_since(seq2)
    assert [(r.username, r.state) for r in changed] == [("a@x", UserState.RESTRICTED)]
    # First full load skips rows in the default state.
    _, full, _ = store.changes_since(-1, include_restricted=False)
    assert [r.username for r in full] == ["b@x"]
    # Allow-list changes bump the counter and the allow-list version.
    store.allowlist_add("google.com", "send-as")
    seq4, changed, av2 = store.changes_since(seq3)
    assert seq4 == seq3 + 1 and changed == [] and av2 == av + 1


def test_second_store_on_same_file_sees_changes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/g.db"
    a, b = Store(url), Store(url)
    a.allow_always("x@y", by="t")
    assert b.get_user("x@y").state is UserState.ABROAD_ALWAYS
    assert b.change_counter() == a.change_counter()


def test_allowlist(store: Store) -> None:
    store.allowlist_add("203.0.113.9/24", "relay")
    store.allowlist_add(".Outlook.com")
    assert store.allowlist() == [("203.0.113.0/24", "relay"), ("outlook.com", None)]
    store.allowlist_add("outlook.com", "fetchers")  # re-adding updates the note
    assert ("outlook.com", "fetchers") in store.allowlist()
    assert store.allowlist_remove("203.0.113.0/24") is True
    assert store.allowlist_remove("203.0.113.0/24") is False
    with pytest.raises(ValueError, match="too broad"):
        store.allowlist_add("0.0.0.0/1")


def test_audit_queries(store: Store) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=2)
    store.add_audit([
        AuditEntry(now, "a@x", "8.8.8.8", "US", "refused", "restricted"),
        AuditEntry(now, "a@x", "81.2.69.142", "GB", "refused", "restricted"),
        AuditEntry(now, "b@x", "8.8.4.4", "US", "refused", "restricted"),
        AuditEntry(now, "b@x", "8.8.4.4", "US", "allowed", "abroad-until"),
        AuditEntry(old, "a@x", "1.2.3.4", None, "refused", "unknown-country"),
    ])
    assert store.refusals_by_country(now - timedelta(hours=24)) == [("US", 2), ("GB", 1)]
    assert [e.ip for e in store.recent_refusals("A@X", 10)][-1] == "1.2.3.4"
    assert len(store.recent_refusals("a@x", 2)) == 2
    days = dict(store.refusals_by_day(old - timedelta(hours=1)))
    assert sum(days.values()) == 4 and days[old.strftime("%Y-%m-%d")] == 1
    assert store.recent_audit("b@x")[0].time.tzinfo is not None


def test_counters_accumulate(store: Store) -> None:
    store.add_counts("2026-12-01", {"allowed:home": 5, "allowed:internal": 1})
    store.add_counts("2026-12-01", {"allowed:home": 2})
    store.add_counts("2026-11-30", {"allowed:home": 100})
    assert store.counts("2026-12-01") == {"allowed:home": 7, "allowed:internal": 1}


def test_bulk_set(store: Store) -> None:
    recs = [UserRecord(f"u{i}@x", UserState.ABROAD_ALWAYS if i % 2 else UserState.RESTRICTED) for i in range(1200)]
    assert store.bulk_set(recs) == 1200
    assert store.count_users()["abroad_always"] == 600
    assert store.bulk_set(recs[:10]) == 10  # replacing existing rows
    assert store.count_users()["restricted"] == 600


@pytest.mark.parametrize("url, msg", [
    ("nonsense", "bad store URL"),
    ("foo://x", "driver not available"),
    ("sqlite:////proc/no/such/dir/g.db", "cannot"),
])
def test_clear_store_errors(url: str, msg: str) -> None:
    with pytest.raises(StoreError, match=msg):
        Store(url)


def test_unreachable_file_database(tmp_path: Path) -> None:
    d = tmp_path / "ro"
    d.mkdir()
    (d / "g.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"not a database|file is not"):
        Store(f"sqlite:///{d}/g.db")


# -- config ---------------------------------------------------------------------------------------------
def test_config_defaults_and_file(tmp_path: Path) -> None:
    cfg = load_config(None)
    assert cfg.home_countries == {"JP"} and cfg.on_store_error == "fail-closed" and cfg.cache_ttl == 5.0
    p = tmp_path / "g.toml"
    p.write_text('[guard]\nhome_countries = ["jp", "KR"]\ninternal_networks = ["198.51.100.0/24"]\n'
                 'prepend_header = ""\ncache_ttl = 2\nunknown_country_action = "allow"\n', encoding="utf-8")
    cfg = load_config(str(p))
    assert cfg.home_countries == {"JP", "KR"} and cfg.prepend_header is None and cfg.cache_ttl == 2.0
    assert cfg.unknown_country_action == "allow"


@pytest.mark.parametrize("data, key", [
    ({"home_contries": ["JP"]}, "home_contries"),
    ({"home_countries": ["Japan"]}, "home_countries"),
    ({"internal_networks": ["10.0.0.0/33"]}, "internal_networks"),
    ({"on_store_error": "maybe"}, "on_store_error"),
    ({"cache_ttl": "5"}, "cache_ttl"),
    ({"cache_ttl": -1}, "cache_ttl"),
    ({"max_days": 3.5}, "max_days"),
    ({"cookie_secure": "yes"}, "cookie_secure"),
    ({"prepend_header": "X Bad: header"}, "prepend_header"),
    ({"default_days": 40}, "default_days"),
    ({"store_url": None}, "store_url"),
])
def test_config_errors_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        config_from_dict(data, "t.toml")


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("home_countries = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(str(bad))


def test_reject_text_is_one_line_and_bilingual() -> None:
    cfg = config_from_dict({"reject_text_en": "No\nsending from abroad: {url}", "owner_page_url": "https://h/p"})
    assert cfg.reject_text().startswith("No sending from abroad: https://h/p / ")
    assert "\n" not in cfg.reject_text() and "海外" in cfg.reject_text()


def test_two_processes_creating_one_new_store_at_once(tmp_path) -> None:
    """A server reopening a replaced file and the admin CLI may create the same new store concurrently."""
    import threading

    from mailposture.guard.store import Store

    url = f"sqlite:///{tmp_path}/race.db"
    errors: list[Exception] = []
    start = threading.Barrier(6)

    def create() -> None:
        start.wait()
        try:
            Store(url).change_counter()
        except Exception as e:  # pragma: no cover - the failure being tested
            errors.append(e)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
