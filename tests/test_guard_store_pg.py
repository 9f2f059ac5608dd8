"""The guard store on PostgreSQL: two policy-server "nodes" share one state through the change counter.

Starts a private PostgreSQL cluster (initdb under a temporary directory, 127.0.0.1 on a free port, run as
the ``postgres`` user) and stops it by PID. Needs root, the PostgreSQL server binaries and psycopg
(``pip install 'mailposture[postgres]'``).
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import free_port
from mailposture.guard.cache import StateCache
from mailposture.guard.store import AuditEntry, Store, StoreError, UserState

pytestmark = [pytest.mark.system]


def _pg_bin() -> Path:
    # psycopg is in the test extra (and the optional extra "postgres"); a missing
    # PostgreSQL server is a failure in CI like any other missing system program.
    pytest.importorskip("psycopg")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or os.geteuid() != 0:
        msg = "PostgreSQL server binaries and root are needed (apt-get install postgresql)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return Path(found[-1]).parent


@pytest.fixture(scope="module")
def pg_url():
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="guard-pg-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    shutil.chown(data, user="postgres", group="postgres")
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_pg, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen([*as_pg, str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                             "-k", str(data), "-c", "fsync=off"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 30
        while subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                             capture_output=True).returncode != 0:
            assert proc.poll() is None and time.monotonic() < end, "postgres did not start"
            time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        pid_file = data / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        if pid:
            os.kill(pid, signal.SIGINT)  # fast shutdown
        proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)


def test_two_nodes_share_state_through_postgresql(pg_url: str) -> None:
    a, b = Store(pg_url), Store(pg_url)  # e.g. the web page and one MTA node
    c0 = b.change_counter()
    a.allow_abroad("Alice@Example.jp", datetime.now(UTC) + timedelta(days=3), by="owner")
    a.lock("mallory@example.jp", by="admin", note="spam run")
    assert b.get_user("alice@example.jp").state is UserState.ABROAD_UNTIL
    seq, changed, _ = b.changes_since(c0)
    assert seq == c0 + 2 and {r.username for r in changed} == {"alice@example.jp", "mallory@example.jp"}
    a.allowlist_add("google.com")
    assert ("google.com", None) in b.allowlist()
    now = datetime.now(UTC)
    a.add_audit([AuditEntry(now, "alice@example.jp", "8.8.8.8", "US", "refused", "restricted")])
    assert b.refusals_by_country(now - timedelta(hours=1)) == [("US", 1)]
    a.add_counts("2026-12-01", {"allowed:home": 3})
    a.add_counts("2026-12-01", {"allowed:home": 2})
    assert b.counts("2026-12-01") == {"allowed:home": 5}


def test_policy_cache_follows_changes_made_on_another_node(pg_url: str) -> None:
    web, node = Store(pg_url), Store(pg_url)

    async def scenario() -> None:
        cache = StateCache(node, store_timeout=5)
        assert await cache.poll()
        assert cache.user_state("carol@example.jp")[0].state is UserState.RESTRICTED
        web.allow_always("carol@example.jp", by="admin")
        assert await cache.poll()
        assert cache.user_state("carol@example.jp")[0].state is UserState.ABROAD_ALWAYS
        web.restrict("carol@example.jp", by="admin")
        assert await cache.poll()
        assert "carol@example.jp" not in cache.users

    asyncio.run(scenario())


def test_concurrent_writers_get_distinct_sequence_numbers(pg_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    s = Store(pg_url)
    c0 = s.change_counter()
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: s.allow_always(f"u{i}@example.jp", by="t"), range(40)))
    seq, changed, _ = s.changes_since(c0)
    assert seq == c0 + 40 and len({r.username for r in changed}) == 40


def test_unreachable_postgresql_is_a_clear_error() -> None:
    _pg_bin()
    with pytest.raises(StoreError, match="cannot"):
        Store(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres", connect_timeout=1)


def _cluster_pids(pg_url: str) -> list[int]:
    """The client backends of the test cluster ("postgres: USER DB HOST(PORT) …"): stopping them freezes every
    open connection like a database that stopped answering (the postmaster and its helpers keep running, so
    the cluster still shuts down cleanly)."""
    import sqlalchemy as sa

    eng = sa.create_engine(pg_url)
    with eng.connect() as c:
        backend = int(c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
    eng.dispose()
    postmaster = _ppid(backend)
    assert postmaster is not None
    kids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == postmaster]
    return [k for k in kids if _cmdline(k).startswith("postgres: postgres postgres")]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _signal(pids: list[int], sig: int) -> None:
    import contextlib

    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, sig)


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_audit_batches_written_exactly_once_across_a_database_freeze(pg_url: str, caplog) -> None:
    """Issue 17: a PostgreSQL freeze made timed-out audit batches be written twice (24 duplicates in 720) and
    left "Future exception was never retrieved". Freeze the whole cluster (SIGSTOP) while decisions flow."""
    import gc
    import logging
    from concurrent.futures import ThreadPoolExecutor

    from mailposture.guard.decide import Decision
    from mailposture.guard.logs import Recorder

    caplog.set_level(logging.ERROR)
    store = Store(pg_url)
    tag = f"freeze{time.monotonic_ns()}"

    async def scenario() -> None:
        rec = Recorder(store, batch=40, store_timeout=0.3)
        pool = ThreadPoolExecutor(3)
        for i in range(720):
            rec.record(Decision("REJECT x", "refused", "restricted", f"{tag}-{i}@x", "8.8.8.8", "US", True),
                       datetime.now(UTC))
            if i % 40 == 39:
                if i == 199:
                    stopped.extend(_cluster_pids(pg_url))
                    _signal(stopped, signal.SIGSTOP)
                await rec.flush_audit(pool)
                if i == 359:
                    _signal(stopped, signal.SIGCONT)
        for _ in range(200):
            if not rec.queue and getattr(rec, "_inflight", None) is None:
                break
            await rec.flush_audit(pool)
            await asyncio.sleep(0.05)
        pool.shutdown(wait=True)

    stopped: list[int] = []
    try:
        asyncio.run(scenario())
    finally:
        _signal(stopped, signal.SIGCONT)  # never leave the cluster frozen
    rows = [e.username for e in store.recent_audit(limit=5000) if e.username.startswith(tag)]
    assert len(rows) == 720 and len(set(rows)) == 720
    gc.collect()
    assert "never retrieved" not in caplog.text
    assert "did not finish within" in caplog.text   # the freeze did happen
