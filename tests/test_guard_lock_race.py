"""A lock set by an admin is never overwritten by the owner's page, even when it lands between the page's read
and its write (the store's conditional update decides, not the page's earlier read)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailposture.guard.store import Store, UserLocked, UserState, utcnow
from test_guard_web import owner_page, sink, web  # noqa: F401  (fixtures)
from test_web_common import OWNER, login


def test_store_conditional_changes(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    until = utcnow() + timedelta(days=7)
    # unknown user: inserted
    assert store.allow_abroad("new@example.test", until, "web", unless_locked=True).state == UserState.ABROAD_UNTIL
    # restricted/opted-in user: updated
    assert store.restrict("new@example.test", "web", unless_locked=True).state == UserState.RESTRICTED
    store.lock("new@example.test", "admin")
    before = store.change_counter()
    with pytest.raises(UserLocked):
        store.allow_abroad("new@example.test", until, "web", unless_locked=True)
    with pytest.raises(UserLocked):
        store.restrict("new@example.test", "web", unless_locked=True)
    assert store.get_user("new@example.test").state == UserState.LOCKED
    assert store.change_counter() == before  # refused changes leave no trace
    # the admin path is unconditional
    assert store.allow_abroad("new@example.test", until, "admin").state == UserState.ABROAD_UNTIL


@pytest.mark.parametrize("action", ["allow", "off"])
def test_lock_between_read_and_write_wins(web, sink, monkeypatch, action) -> None:  # noqa: F811
    client, store, _, _ = web
    if action == "off":  # "off" only writes when sending abroad is on
        store.allow_abroad(OWNER, utcnow() + timedelta(days=3), "web")
    login(client)
    _html, token = owner_page(client)
    real_get = store.get_user

    def get_then_admin_locks(name: str):
        rec = real_get(name)       # the page reads "not locked" …
        store.lock(name, "admin")  # … and an admin locks the account before the page writes
        return rec

    monkeypatch.setattr(store, "get_user", get_then_admin_locks)
    data = {"csrf": token, "days": "7"} if action == "allow" else {"csrf": token}
    r = client.post(f"/abroad/{action}", data=data)
    assert r.status_code == 409
    assert real_get(OWNER).state == UserState.LOCKED
    assert not sink.messages
