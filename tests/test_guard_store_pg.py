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
