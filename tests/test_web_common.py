"""Helpers for the web tests (imported by tests/test_guard_web*.py): an SMTP sink, a settable clock, an app."""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from mailposture.guard.config import GuardConfig
from mailposture.guard.geo import StaticGeo
from mailposture.guard.store import Store
from mailposture.web.app import create_app

OWNER, OWNER_PW = "alice@example.test", "correct horse 電池"
ADMIN, ADMIN_PW = "root-admin", "admin pass phrase"


class SmtpSink:
    """A tiny SMTP server on 127.0.0.1 (enough of RFC 5321 for smtplib) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                mail_from, rcpts = "", []
                self.wfile.write(b"220 sink ESMTP\r\n")
                while True:
                    line = self.rfile.readline(4096)
                    if not line:
                        return
                    cmd = line.decode("ascii", "replace").strip()
                    verb = cmd[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250-sink\r\n250 8BITMIME\r\n")
                    elif verb == "MAIL":
                        mail_from, rcpts = cmd[10:].strip("<> "), []
                        self.wfile.write(b"250 ok\r\n")
                    elif verb == "RCPT":
                        rcpts.append(cmd[8:].strip("<> "))
                        self.wfile.write(b"250 ok\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go\r\n")
                        data = bytearray()
                        while True:
                            ln = self.rfile.readline(65536)
                            if not ln or ln == b".\r\n":
                                break
                            data += ln[1:] if ln.startswith(b"..") else ln
                        msg = message_from_bytes(bytes(data).replace(b"\r\n", b"\n"), policy=policy.default)
                        sink.messages.append((mail_from, rcpts, msg))  # type: ignore[arg-type]
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> SmtpSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


_FILES: dict[str, str] = {}


def _users_files(tmp_path: Path) -> tuple[Path, Path]:
    """Users files (argon2 hashing is slow on purpose: made once per test run, copied per test)."""
    if not _FILES:
        # Cheap argon2 parameters keep the tests fast; a hash carries its parameters, so checks work the same.
        quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        _FILES["users"] = (f"# test users\n{OWNER}:{quick.hash(OWNER_PW)}\n"
                           f"bob@example.test:{quick.hash('bob-password')}\n")
        _FILES["admins"] = f"{ADMIN}:{quick.hash(ADMIN_PW)}\n"
    for name, text in _FILES.items():
        (tmp_path / name).write_text(text)
    return tmp_path / "users", tmp_path / "admins"


def make_cfg(tmp_path: Path, smtp_port: int = 9, **overrides) -> GuardConfig:
    users, admins = _users_files(tmp_path)
    cfg = GuardConfig(store_url=f"sqlite:///{tmp_path / 'guard.db'}", web_secret_file=str(tmp_path / "web.key"),
                      cookie_secure=False, users_file=str(users), admin_users_file=str(admins),
                      smtp_relay=f"127.0.0.1:{smtp_port}", notice_from="postmaster@example.test",
                      owner_page_url="https://mail.example.test/abroad")
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


# The web client addresses of the tests and their countries (the owner is at home in Japan by default).
HOME_IP, ABROAD_IP = "133.1.1.1", "8.8.8.8"
GEO = StaticGeo({HOME_IP: "JP", ABROAD_IP: "US", "81.2.69.142": "GB", "2400:4050::1": "JP"})


def make_client(cfg: GuardConfig, store: Store | None = None, clock: FakeClock | None = None,
                base_url: str = "http://testserver", client_addr: str = HOME_IP,
                **kw) -> tuple[TestClient, Store, FakeClock]:
    store = store or Store(cfg.store_url)
    clock = clock or FakeClock()
    kw.setdefault("geo", GEO)
    app = create_app(cfg, store, clock=clock, **kw)
    return (TestClient(app, base_url=base_url, follow_redirects=False, client=(client_addr, 50000)), store,
            clock)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def login(client: TestClient, user: str = OWNER, password: str = OWNER_PW, realm: str = "abroad"):
    page = client.get(f"/{realm}/login")
    token = csrf_of(page.text)
    return client.post(f"/{realm}/login", data={"csrf": token, "username": user, "password": password})
