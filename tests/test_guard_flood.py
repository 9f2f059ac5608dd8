"""Issue 17 (medium): connection floods. Any local process could hold 2,000 idle connections to `guard serve`;
at the descriptor limit new connections (Postfix's too) were reset without an answer, so Postfix applied its
default_action, and nothing was logged. The server now raises its descriptor limit and closes the longest-idle
connections near it. Each test starts the real server in a child process with a given limit."""

from __future__ import annotations

import contextlib
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REQUEST = (b"request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=alice@example.jp\n"
           b"client_address=10.0.0.1\nclient_name=unknown\nrecipient_count=0\n\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(tmp_path: Path, soft: int, hard: int, loop: str = "auto"):
    port = _free_port()
    log = tmp_path / "serve.log"

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from mailposture.guard.cli import guard_app; guard_app()", "serve",
             "--listen", f"127.0.0.1:{port}", "--store", f"sqlite:///{tmp_path}/g.db", "--loop", loop],
            stdout=out, stderr=subprocess.STDOUT, preexec_fn=limits)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(log.read_text())
            time.sleep(0.1)
        yield port, log
    finally:
        proc.terminate()  # by PID
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _flood(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def _ask(port: int) -> tuple[bytes, float]:
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), 2) as s:
        s.settimeout(2)
        s.sendall(REQUEST)
        data = b""
        while not data.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data, time.monotonic() - t0


def _need(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n:
        pytest.skip(f"this test needs {n} descriptors (hard limit {hard})")
    if soft != resource.RLIM_INFINITY and soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


@pytest.mark.parametrize("loop", ["auto", "asyncio"])  # uvloop (the default) and the plain asyncio loop
def test_two_thousand_idle_connections_at_a_1024_limit_a_new_client_is_answered(tmp_path: Path, loop: str) -> None:
    _need(2300)
    with _server(tmp_path, 1024, 1024, loop) as (port, log):
        socks = _flood(port, 2000)
        try:
            time.sleep(0.5)
            answer, took = _ask(port)
            assert answer == b"action=DUNNO\n\n" and took < 2.0, (answer, took)
            closed = 0   # the longest-idle connections were closed by the server (Postfix would reconnect)
            for s in socks[:200]:
                s.settimeout(0.01)
                with contextlib.suppress(TimeoutError, BlockingIOError):
                    closed += s.recv(1) == b""
            assert closed > 0
        finally:
            for s in socks:
                s.close()
    text = log.read_text()
    assert "closed the longest-idle connections" in text
    assert "descriptor limit 1024 allows at most" in text
    assert "Too many open files" not in text and "out of system resource" not in text


def test_the_soft_limit_is_raised_to_the_hard_limit(tmp_path: Path) -> None:
    _need(4200)
    with _server(tmp_path, 1024, 4096) as (port, log):
        socks = _flood(port, 2000)
        try:
            time.sleep(0.5)
            answer, took = _ask(port)
            assert answer == b"action=DUNNO\n\n" and took < 2.0
        finally:
            for s in socks:
                s.close()
    text = log.read_text()
    assert "descriptor limit raised from 1024 to 4096" in text
    assert "allows at most" not in text       # 4096 descriptors hold max_connections (2000)
