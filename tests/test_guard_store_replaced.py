"""Issue 17 (medium): the SQLite store file deleted or replaced under a running `guard serve`. Before, the
server stayed on the deleted file: a `guard user lock` made afterwards (which creates a new file) was never
seen. The server checks the file's (device, inode) at each poll and reopens it, or fails as configured."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mailposture.guard.cli import register
from mailposture.guard.config import GuardConfig
from mailposture.guard.geo import StaticGeo
from mailposture.guard.server import GuardServer
from mailposture.guard.store import Store

GEO = StaticGeo({"133.1.1.1": "JP", "8.8.8.8": "US"})
cli = typer.Typer()
register(cli)


@cli.callback()
def _root() -> None:
    """root"""


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Finalizers of closed transports and connections run now, not inside a later ast.parse (CPython 3.11
    "AST constructor recursion depth mismatch"; see test_guard_server.py)."""
    yield
    gc.collect()


def _req(user: str, ip: str) -> bytes:
    return (f"request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username={user}\nclient_address={ip}\n"
            "client_name=unknown\nrecipient_count=0\n\n").encode()


async def _ask(port: int, data: bytes) -> str:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(data)
    await w.drain()
    out = (await asyncio.wait_for(r.readuntil(b"\n\n"), 5)).decode()
    w.close()
    return out


def _delete(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


def _lock_with_the_cli(url: str, user: str) -> None:
    res = CliRunner().invoke(cli, ["guard", "user", "lock", user, "--store", url, "--note", "stolen"])
    assert res.exit_code == 0, res.output


async def _start(tmp_path: Path, **cfg_kw):
    db = tmp_path / "g.db"
    url = f"sqlite:///{db}"
    cfg = GuardConfig(poll_interval=0.1, cache_ttl=1.0, audit_flush_interval=0.1, **cfg_kw)
    server = GuardServer(cfg, Store(url), GEO)
    await server.start("127.0.0.1:0")
    return server, db, url, int(server.addresses[0].rsplit(":", 1)[1])


async def test_deleted_store_then_cli_lock_is_enforced_within_5_s(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    server, db, url, port = await _start(tmp_path)
    try:
        assert "DUNNO" in await _ask(port, _req("alice@example.jp", "133.1.1.1"))
        _delete(db)
        await asyncio.to_thread(_lock_with_the_cli, url, "alice@example.jp")   # creates a new file
        t0 = time.monotonic()
        while "REJECT" not in await _ask(port, _req("alice@example.jp", "133.1.1.1")):
            assert time.monotonic() - t0 < 5, "the lock made in the new file was not seen within 5 s"
            await asyncio.sleep(0.1)
        # "deleted", or "replaced" when the CLI made the new file before the next poll
        assert "under the running server" in caplog.text
        # audit rows go to the new file, not to the deleted one
        await _ask(port, _req("bob@example.jp", "8.8.8.8"))
        t0 = time.monotonic()
        while not Store(url).recent_refusals("bob@example.jp"):
            assert time.monotonic() - t0 < 5
            await asyncio.sleep(0.1)
    finally:
        await server.close()
        gc.collect()


async def test_replaced_store_file_is_reopened_and_reloaded(tmp_path: Path) -> None:
    server, db, url, port = await _start(tmp_path)
    try:
        Store(url).lock("carol@example.jp", by="t")
        t0 = time.monotonic()
        while "REJECT" not in await _ask(port, _req("carol@example.jp", "133.1.1.1")):
            assert time.monotonic() - t0 < 5
            await asyncio.sleep(0.1)
        new = tmp_path / "new.db"          # another file (a restore from backup) renamed over the old one
        other = Store(f"sqlite:///{new}")
        other.lock("dave@example.jp", by="t")
        other.close()                      # the last connection checkpoints the WAL into the file
        new.replace(db)
        t0 = time.monotonic()
        while "REJECT" not in await _ask(port, _req("dave@example.jp", "133.1.1.1")):
            assert time.monotonic() - t0 < 5, (server.store.get_user("dave@example.jp"), Store(url).get_user(
                "dave@example.jp"), server.cache.users, server.cache.seq, server.store.change_counter(),
                os.listdir(tmp_path))
            await asyncio.sleep(0.1)
        assert "DUNNO" in await _ask(port, _req("carol@example.jp", "133.1.1.1"))  # the old file's lock is gone
    finally:
        await server.close()
        gc.collect()


@pytest.mark.parametrize("on_store_error, answer", [("fail-closed", "451"), ("fail-open", "DUNNO")])
async def test_fail_mode_treats_a_replaced_file_as_a_store_outage(tmp_path: Path, caplog, on_store_error: str,
                                                                  answer: str) -> None:
    caplog.set_level(logging.ERROR)
    server, db, url, port = await _start(tmp_path, on_store_replaced="fail", on_store_error=on_store_error)
    try:
        _delete(db)
        Store(url)  # a new, empty file
        t0 = time.monotonic()
        while answer not in await _ask(port, _req("erin@example.jp", "8.8.8.8")):
            assert time.monotonic() - t0 < 5
            await asyncio.sleep(0.1)
        assert 'on_store_replaced = "fail"' in caplog.text
    finally:
        await server.close()
        gc.collect()
