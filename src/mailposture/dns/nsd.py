"""Run Debian's NSD on 127.0.0.1 as a throw-away authoritative server for tests and benchmarks.

    with NsdServer.from_records(world, origins) as ns:
        engine = Engine([ns.address])

Everything lives in a temporary work directory (config, zones, pid, log); no chroot, no privilege drop,
response-rate limiting off (``rrl-ratelimit: 0``: NSD's default RRL silently drops part of a one-source
benchmark's answers). The server is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mailposture.dns import wire
from mailposture.dns.zonefile import infer_origins, write_zones, zone_filename

__all__ = ["NsdError", "NsdServer", "find_nsd"]


class NsdError(RuntimeError):
    """NSD is missing, refused its configuration or did not start."""


def find_nsd() -> str:
    path = shutil.which("nsd") or next((p for p in ("/usr/sbin/nsd", "/usr/local/sbin/nsd") if os.access(p, os.X_OK)),
                                        None)
    if not path:
        raise NsdError("nsd is not installed (Debian/Ubuntu: apt-get install nsd)")
    return path


def _free_port() -> int:
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
    raise NsdError("no free port on 127.0.0.1")


class NsdServer:
    """NSD serving the given zones on ``127.0.0.1:port``. Use as a context manager or start()/stop()."""

    def __init__(self, zones: Mapping[str, str] | None = None, *, zone_files: Mapping[str, str | Path] | None = None,
                 port: int | None = None, server_count: int = 1, workdir: str | Path | None = None,
                 nsd_path: str | None = None, startup_timeout: float = 15.0, extra_conf: str = "") -> None:
        if not zones and not zone_files:
            raise ValueError("NsdServer needs at least one zone")
        self.nsd_path = nsd_path or find_nsd()
        self._port_given = bool(port)
        self.port = port or _free_port()
        self.server_count = server_count
        self.startup_timeout = startup_timeout
        self.extra_conf = extra_conf
        self._own_tmp = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="mailposture-nsd-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.zone_files: dict[str, Path] = {}
        for origin, text in (zones or {}).items():
            o = origin.rstrip(".").lower()
            p = self.workdir / zone_filename(o)
            p.write_text(text, encoding="ascii", errors="backslashreplace")
            self.zone_files[o] = p
        for origin, path in (zone_files or {}).items():
            self.zone_files[origin.rstrip(".").lower()] = Path(path).resolve()
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_records(cls, records: Mapping[str, Iterable[tuple[str, Any]]], origins: Iterable[str] | None = None,
                     *, ttl: int = 300, **kw: Any) -> NsdServer:
        """Serve a FakeResolver-format world (zones written to files, streaming)."""
        given = kw.pop("workdir", None)
        workdir = Path(given or tempfile.mkdtemp(prefix="mailposture-nsd-"))
        origins = list(origins) if origins is not None else infer_origins(records)
        files = write_zones(records, origins, workdir / "zones", ttl=ttl)
        server = cls(zone_files=files, workdir=workdir, **kw)
        server._own_tmp = given is None
        return server

    # ------------------------------------------------------------------------------------------------ files

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def conf_path(self) -> Path:
        return self.workdir / "nsd.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "nsd.log"

    @property
    def pid_path(self) -> Path:
        return self.workdir / "nsd.pid"

    def config_text(self) -> str:
        w = self.workdir
        lines = [
            "server:",
            f"    ip-address: 127.0.0.1@{self.port}",
            f"    port: {self.port}",
            "    do-ip6: no",
            f"    server-count: {self.server_count}",
            '    username: ""',
            '    chroot: ""',
            f'    zonesdir: "{w}"',
            '    database: ""',
            f'    zonelistfile: "{w}/zone.list"',
            f'    xfrdfile: "{w}/xfrd.state"',
            f'    xfrdir: "{w}"',
            f'    pidfile: "{self.pid_path}"',
            f'    logfile: "{self.log_path}"',
            "    rrl-ratelimit: 0",
            "    hide-version: yes",
            "    verbosity: 1",
            "    tcp-count: 200",
            "    refuse-any: yes",
        ]
        if self.extra_conf:
            lines.append(self.extra_conf)
        lines += ["remote-control:", "    control-enable: no"]
        for origin, path in sorted(self.zone_files.items()):
            lines += ["zone:", f'    name: "{origin or "."}"', f'    zonefile: "{path}"']
        return "\n".join(lines) + "\n"

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            text = ""
        return text[-limit:]

    # ------------------------------------------------------------------------------------------------ life

    def start(self) -> NsdServer:
        if self.proc is not None:
            return self
        attempts = 1 if self._port_given else 3
        for attempt in range(attempts):
            try:
                return self._start_once()
            except NsdError as e:
                # a free port can be taken between the check and NSD's bind: try another one
                if attempt + 1 < attempts and ("bind" in str(e) or "in use" in str(e)):
                    self.port = _free_port()
                    continue
                self._cleanup()
                raise
        raise AssertionError("unreachable")

    def _start_once(self) -> NsdServer:
        self.conf_path.write_text(self.config_text())
        for stale in (self.log_path, self.workdir / "nsd.stdout"):
            stale.unlink(missing_ok=True)
        out = open(self.workdir / "nsd.stdout", "wb")
        self._out = out
        try:
            # -d: stay in the foreground so the PID we hold is NSD's main process
            self.proc = subprocess.Popen([self.nsd_path, "-d", "-c", str(self.conf_path)], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as e:
            self._kill()
            raise NsdError(f"cannot run {self.nsd_path}: {e}") from None
        probe = min(self.zone_files)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                msg = self._failure_text(f"nsd exited with status {self.proc.returncode}")
                self._kill()
                raise NsdError(msg)
            rcode = self._probe(probe)
            if rcode is not None:
                if " error: " in self._log_tail(1 << 20):
                    # NSD keeps running when a zone file is bad (the zone answers SERVFAIL): fail loudly instead
                    msg = self._failure_text("nsd reported errors in the configuration or zone files")
                    self._kill()
                    raise NsdError(msg)
                if rcode == 0:
                    return self
            time.sleep(0.05)
        msg = self._failure_text(f"nsd did not answer on {self.address} within {self.startup_timeout:g}s")
        self._kill()
        raise NsdError(msg)

    def _failure_text(self, head: str) -> str:
        try:
            stdout = (self.workdir / "nsd.stdout").read_text(errors="replace")[-4000:]
        except OSError:
            stdout = ""
        return f"{head}\n--- nsd output ---\n{stdout}\n--- nsd log ---\n{self._log_tail()}"

    def _probe(self, origin: str) -> int | None:
        """The rcode of an SOA query for ``origin``, or None when nothing answered."""
        q = wire.encode_query(0x4D50, origin or ".", wire.T_SOA, rd=False)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(q, ("127.0.0.1", self.port))
                data, _ = s.recvfrom(65535)
            except OSError:
                return None
        if len(data) < 4 or data[:2] != b"\x4d\x50":
            return None
        return data[3] & 0x0F

    def _kill(self) -> None:
        """Stop the process by its PID (SIGTERM, then SIGKILL) and close its output file."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        out = getattr(self, "_out", None)
        if out is not None:
            out.close()
            self._out = None

    def stop(self) -> None:
        self._kill()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._own_tmp and os.environ.get("MAILPOSTURE_KEEP_NSD") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> NsdServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
