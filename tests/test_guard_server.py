"""The asyncio policy server on 127.0.0.1: reuse, concurrency, hostile peers, cache invalidation, degraded store."""

from __future__ import annotations

import asyncio
import gc
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailposture.guard.config import GuardConfig
from mailposture.guard.geo import StaticGeo
from mailposture.guard.server import GuardServer, ListenError, parse_listen
from mailposture.guard.store import Store, UserState

GEO = StaticGeo({"8.8.8.8": "US", "133.1.1.1": "JP"})


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Run finalizers of closed transports and database connections now, not during a later ast.parse
    (CPython 3.11 raises "AST constructor recursion depth mismatch" when a finalizer runs inside it)."""
    yield
    gc.collect()


def request(user: str, ip: str, **extra: str) -> bytes:
    attrs = {"request": "smtpd_access_policy", "protocol_state": "RCPT", "protocol_name": "ESMTP",
             "client_address": ip, "client_name": "unknown", "reverse_client_name": "unknown",
             "helo_name": "client.example", "sender": user, "recipient": "x@example.jp", "recipient_count": "0",
             "sasl_method": "PLAIN", "sasl_username": user, **extra}
    return "".join(f"{k}={v}\n" for k, v in attrs.items()).encode() + b"\n"


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> str:
    writer.write(data)
    await writer.drain()
    return (await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)).decode()


class Running:
    def __init__(self, server: GuardServer, store: Store | None) -> None:
        self.server, self.store = server, store
        host, port = server.addresses[0].rsplit(":", 1)
        self.host, self.port = host, int(port)

    async def connect(self):
        return await asyncio.open_connection(self.host, self.port)


@pytest.fixture
async def running(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path}/g.db")
    cfg = GuardConfig(poll_interval=0.05, request_timeout=0.4, audit_flush_interval=0.05, cache_ttl=5.0)
    server = GuardServer(cfg, store, GEO)
    await server.start("127.0.0.1:0")
    try:
        yield Running(server, store)
    finally:
        await server.close()
        store.close()


async def test_connection_reuse_and_decisions(running: Running) -> None:
    r, w = await running.connect()
    assert (await ask(r, w, request("alice@x", "8.8.8.8"))).startswith("action=REJECT ")
    assert await ask(r, w, request("alice@x", "133.1.1.1")) == "action=DUNNO\n\n"
    assert await ask(r, w, request("", "8.8.8.8")) == "action=DUNNO\n\n"
    # Several requests in one write: answered in order.
    w.write(request("alice@x", "133.1.1.1") + request("alice@x", "8.8.8.8") + request("alice@x", "127.0.0.1"))
    answers = [(await r.readuntil(b"\n\n")).decode() for _ in range(3)]
    assert answers[0] == "action=DUNNO\n\n" and answers[1].startswith("action=REJECT") and answers[2] == "action=DUNNO\n\n"
    w.close()


async def test_state_change_reaches_the_server_within_a_poll(running: Running) -> None:
    r, w = await running.connect()
    assert (await ask(r, w, request("bob@x", "8.8.8.8"))).startswith("action=REJECT")
    running.store.allow_abroad("bob@x", datetime.now(UTC) + timedelta(days=1), by="owner")
    await asyncio.sleep(0.3)
    assert (await ask(r, w, request("bob@x", "8.8.8.8"))).startswith("action=PREPEND X-Submission-Country: US")
    running.store.lock("bob@x", by="admin")
    await asyncio.sleep(0.3)
    assert "locked" in await ask(r, w, request("bob@x", "133.1.1.1"))
    running.store.unlock("bob@x", by="admin")
    await asyncio.sleep(0.3)
    assert await ask(r, w, request("bob@x", "133.1.1.1")) == "action=DUNNO\n\n"
    assert "bob@x" not in running.server.cache.users
    # Allow-list changes too.
    running.store.allowlist_add("8.8.8.0/24")
    await asyncio.sleep(0.3)
    assert await ask(r, w, request("carol@x", "8.8.8.8")) == "action=DUNNO\n\n"
    w.close()


async def test_audit_and_counters_are_written_off_the_hot_path(running: Running) -> None:
    r, w = await running.connect()
    for _ in range(3):
        await ask(r, w, request("alice@x", "8.8.8.8"))
    await ask(r, w, request("alice@x", "133.1.1.1"))
    for _ in range(40):
        if len(running.store.recent_refusals("alice@x")) >= 3:
            break
        await asyncio.sleep(0.05)
    refusals = running.store.recent_refusals("alice@x")
    assert len(refusals) == 3 and refusals[0].country == "US" and refusals[0].reason == "restricted"
    assert running.server.recorder.totals["allowed:home"] == 1
    await running.server.recorder.flush_counts()
    assert running.store.counts("2000-01-01") == {"allowed:home": 1}
    w.close()


async def _closed_without_answer(running: Running, data: bytes, eof: bool = False) -> bytes:
    r, w = await running.connect()
    w.write(data)
    if eof:
        w.write_eof()
    got = await asyncio.wait_for(r.read(), 5)
    w.close()
    return got


@pytest.mark.parametrize("data", [
    b"request=smtpd_access_policy\nno equals\n\n",
    os.urandom(2000).replace(b"\n", b"") + b"\n\n",
    b"\x00\x01\x02garbage\n\n",
    b"request=smtpd_access_policy\nhelo_name=" + b"a" * (65 * 1024),
    b"request=other\n\n",
])
async def test_hostile_input_closes_without_an_answer(running: Running, data: bytes) -> None:
    assert await _closed_without_answer(running, data) == b""
    # The server is still fine afterwards.
    r, w = await running.connect()
    assert (await ask(r, w, request("alice@x", "8.8.8.8"))).startswith("action=REJECT")
    w.close()


async def test_missing_blank_line_then_eof(running: Running) -> None:
    assert await _closed_without_answer(running, request("alice@x", "133.1.1.1")[:-1], eof=True) == b""


async def test_slowloris_is_cut_off(running: Running) -> None:
    r, w = await running.connect()
    w.write(b"request=smtpd_access_policy\nsasl_user")
    start = asyncio.get_running_loop().time()
    got = await asyncio.wait_for(r.read(), 5)
    assert got == b"" and asyncio.get_running_loop().time() - start < 3
    w.close()
    assert running.server.protocol_errors >= 1


async def test_many_concurrent_connections(running: Running) -> None:
    async def client(i: int) -> list[str]:
        r, w = await running.connect()
        out = []
        for j in range(5):
            ip = "8.8.8.8" if (i + j) % 2 else "133.1.1.1"
            out.append(await ask(r, w, request(f"user{i}@x", ip)))
        w.close()
        return out

    results = await asyncio.gather(*(client(i) for i in range(200)))
    flat = [a for res in results for a in res]
    assert len(flat) == 1000
    assert sum(a.startswith("action=REJECT") for a in flat) == 500
    assert sum(a == "action=DUNNO\n\n" for a in flat) == 500


async def test_store_outage_degrades_as_configured(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/g.db")
    store.allow_always("bob@x", by="t")
    cfg = GuardConfig(poll_interval=0.05, cache_ttl=1.0, store_timeout=0.5)
    server = GuardServer(cfg, store, GEO)
    await server.start("127.0.0.1:0")
    host, port = server.addresses[0].rsplit(":", 1)
    try:
        r, w = await asyncio.open_connection(host, int(port))
        assert (await ask(r, w, request("bob@x", "8.8.8.8"))).startswith("action=PREPEND")

        def broken(*_a, **_k):
            from mailposture.guard.store import StoreError
            raise StoreError("store sqlite:///x: cannot poll for changes: database is locked")
        store.changes_since = broken  # type: ignore[method-assign]
        for _ in range(100):  # until the last good poll is older than cache_ttl
            if server.cache.last_error and not server.cache.user_state("bob@x")[1]:
                break
            await asyncio.sleep(0.05)
        assert server.cache.last_error and "locked" in server.cache.last_error
        # Foreign: fail-closed -> temporary refusal; domestic: unaffected.
        assert (await ask(r, w, request("bob@x", "8.8.8.8"))).startswith("action=451 4.3.0 ")
        assert await ask(r, w, request("alice@x", "133.1.1.1")) == "action=DUNNO\n\n"
        server.policy.cfg.on_store_error = "fail-open"
        assert await ask(r, w, request("alice@x", "8.8.8.8")) == "action=DUNNO\n\n"
        w.close()
    finally:
        await server.close()


async def test_unreachable_store_at_start_still_serves_domestic(tmp_path: Path) -> None:
    class DeadStore:
        safe_url = "dead"

        def changes_since(self, *a, **k):
            import time
            time.sleep(1)
            raise OSError("no route")

        def add_audit(self, entries):
            raise OSError("no route")

    server = GuardServer(GuardConfig(store_timeout=0.1, cache_ttl=1), DeadStore(), GEO)  # type: ignore[arg-type]
    await server.start("127.0.0.1:0")
    host, port = server.addresses[0].rsplit(":", 1)
    try:
        r, w = await asyncio.open_connection(host, int(port))
        assert await ask(r, w, request("a@x", "133.1.1.1")) == "action=DUNNO\n\n"
        assert (await ask(r, w, request("a@x", "8.8.8.8"))).startswith("action=451 ")
        w.close()
    finally:
        await server.close()


async def test_unix_socket_listener(tmp_path: Path) -> None:
    path = str(tmp_path / "guard.sock")
    server = GuardServer(GuardConfig(), None, GEO)
    assert await server.start(f"unix:{path}") == [f"unix:{path}"]
    try:
        r, w = await asyncio.open_unix_connection(path)
        assert (await ask(r, w, request("a@x", "8.8.8.8"))).startswith("action=REJECT")
        w.close()
    finally:
        await server.close()
    assert not (tmp_path / "guard.sock").exists()


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:10040") == ("tcp", ("127.0.0.1", 10040))
    assert parse_listen("inet:127.0.0.1:10040") == ("tcp", ("127.0.0.1", 10040))
    assert parse_listen("[::1]:10040") == ("tcp", ("::1", 10040))
    assert parse_listen("unix:/run/guard.sock") == ("unix", "/run/guard.sock")
    for bad in ("10040", "host:", "host:99999", "unix:", ":10040"):
        with pytest.raises(ListenError):
            parse_listen(bad)


async def test_state_mirror_only_keeps_non_default_users(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/g.db")
    store.restrict("r@x", by="t")
    store.lock("l@x", by="t")
    server = GuardServer(GuardConfig(), store, GEO)
    await server.start("127.0.0.1:0")
    try:
        assert set(server.cache.users) == {"l@x"}
        assert server.cache.users["l@x"].state is UserState.LOCKED
    finally:
        await server.close()


async def test_slow_poll_is_not_restarted_but_completes(tmp_path: Path) -> None:
    """A poll slower than store_timeout keeps running and its result is used (a big first load finishes)."""
    import time as _time

    from mailposture.guard.cache import StateCache

    store = Store(f"sqlite:///{tmp_path}/g.db")
    store.allow_always("bob@x", by="t")
    calls = []
    real = store.changes_since

    def slow(*a, **k):
        calls.append(1)
        _time.sleep(0.4)
        return real(*a, **k)

    store.changes_since = slow  # type: ignore[method-assign]
    cache = StateCache(store, store_timeout=0.1, ttl=5)
    results = [await cache.poll() for _ in range(8)]
    assert results[0] is False and True in results
    assert cache.users["bob@x"].state is UserState.ABROAD_ALWAYS
    assert len(calls) <= 3  # not one new thread per poll
    if cache._pending is not None:  # let the last slow call finish before the test ends
        await asyncio.wait({cache._pending}, timeout=5)


async def test_internal_error_closes_without_an_answer(running: Running) -> None:
    def boom(*_a, **_k):
        raise RuntimeError("bug")

    running.server.policy.decide = boom  # type: ignore[method-assign]
    r, w = await running.connect()
    w.write(request("alice@x", "8.8.8.8"))
    assert await asyncio.wait_for(r.read(), 5) == b""  # never a permissive answer
    w.close()


@pytest.mark.parametrize("mode, lines", [("none", 0), ("refused", 1), ("all", 2)])
async def test_decision_log_lines(tmp_path: Path, caplog, mode: str, lines: int) -> None:
    """Issue 17: by default no INFO line per foreign decision (the audit table has them)."""
    import logging

    caplog.set_level(logging.INFO, logger="mailposture.guard.server")
    store = Store(f"sqlite:///{tmp_path}/g.db")
    store.allow_abroad("bob@example.jp", datetime.now(UTC) + timedelta(days=1), by="t")
    server = GuardServer(GuardConfig(poll_interval=0.05, log_decisions=mode), store, GEO)
    await server.start("127.0.0.1:0")
    try:
        host, port = server.addresses[0].rsplit(":", 1)
        r, w = await asyncio.open_connection(host, int(port))
        assert "REJECT" in await ask(r, w, request("alice@example.jp", "8.8.8.8"))
        assert "PREPEND" in await ask(r, w, request("bob@example.jp", "8.8.8.8"))
        assert "DUNNO" in await ask(r, w, request("carol@example.jp", "133.1.1.1"))   # domestic: never a line
        w.close()
    finally:
        await server.close()
    logged = [rec for rec in caplog.records if "reason=" in rec.getMessage()]
    assert len(logged) == lines
