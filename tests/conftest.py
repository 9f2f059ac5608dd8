"""Shared test helpers.

System programs (nsd, postfix, dovecot, swaks, chromium) are installed by .ci/run. Outside CI a test that needs
a missing one is skipped; in CI (CI=true) a missing program fails the test, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def require_program(*names: str) -> dict[str, str]:
    """Return {name: path} for each program, or skip (fail in CI) when one is missing."""
    found: dict[str, str] = {}
    missing = []
    for name in names:
        path = shutil.which(name) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None)
        if path:
            found[name] = path
        else:
            missing.append(name)
    if missing:
        msg = f"system program(s) not installed: {', '.join(missing)} (.ci/run installs them)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return found


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def sigint_default() -> None:
    """``preexec_fn`` for a child that a test interrupts with SIGINT: Ctrl-C acts as at a terminal.

    A suite started in the background (``pytest &``, CI) inherits SIGINT as ignored, and an ignored signal stays
    ignored across exec: Python would then never raise KeyboardInterrupt in the child."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
