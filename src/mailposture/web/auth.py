"""Password checks for the web pages: Dovecot's auth service, or an argon2 users file.

The mailbox owner logs in with the same address and password as for mail, so the first choice is to ask the
provider's own authentication: Dovecot's auth-client socket (protocol 1.2, the one Postfix and the login
processes speak). A small "user:argon2hash" file serves stand-alone installs and the admin page.

No password is kept after a check, and none is ever logged.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import ipaddress
import logging
import os
import secrets
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

MAX_USERNAME = 254   # RFC 5321 §4.5.3.1.3: a path is at most 256 octets incl. the brackets
MAX_PASSWORD = 1024


class AuthUnavailable(Exception):
    """The authentication service could not give an answer (socket missing, timeout, protocol error)."""


class Verdict(enum.Enum):
    OK = "ok"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class AuthResult:
    verdict: Verdict
    username: str = ""       # the canonical name the backend returned (Dovecot's user=), else the given one

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK


class Authenticator(Protocol):
    async def authenticate(self, username: str, password: str, client_ip: str, *, secured: bool) -> AuthResult:
        """OK or FAIL; raise AuthUnavailable when no answer could be had."""
        ...


def clean_username(raw: str) -> str | None:
    """NFC-normalised, stripped, lower-case user name, or None when it cannot be a mailbox name.

    Control characters (tab, newline, NUL…), which could smuggle fields into line protocols, are refused, as
    are names longer than a mail address may be.
    """
    name = unicodedata.normalize("NFC", raw).strip()
    if not name or len(name.encode("utf-8")) > MAX_USERNAME:
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in name):
        return None
    if any(ch.isspace() for ch in name) or ":" in name:
        return None
    return name.lower()


def password_acceptable(password: str) -> bool:
    """A password that can be passed on at all (SASL PLAIN cannot carry NUL, RFC 4616 §2)."""
    return 0 < len(password) <= MAX_PASSWORD and "\x00" not in password


# ---------------------------------------------------------------------------------------------------------
# Dovecot auth-client protocol 1.2 (doc: "Dovecot Authentication Protocol"; lines of TAB-separated fields).
# ---------------------------------------------------------------------------------------------------------

def tab_escape(value: str) -> str:
    """Dovecot's str_tabescape(): \\001 -> \\0011, TAB -> \\001t, CR -> \\001r, LF -> \\001n."""
    return (value.replace("\x01", "\x011").replace("\t", "\x01t").replace("\r", "\x01r")
            .replace("\n", "\x01n"))


def tab_unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\x01" and i + 1 < len(value):
            out.append({"1": "\x01", "t": "\t", "r": "\r", "n": "\n", "0": "\x00"}.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def plain_response(username: str, password: str) -> str:
    """SASL PLAIN initial response (RFC 4616 §2): authzid NUL authcid NUL passwd, empty authzid."""
    return base64.b64encode(b"\x00" + username.encode("utf-8") + b"\x00" + password.encode("utf-8")).decode()


def auth_request(request_id: int, mech: str, service: str, client_ip: str, resp: str, *, secured: bool) -> str:
    """The AUTH line; resp= must be the last parameter."""
    fields = ["AUTH", str(request_id), mech, "service=" + tab_escape(service)]
    if secured:
        fields.append("secured")
    if client_ip:
        fields.append("rip=" + tab_escape(client_ip))
    fields.append("resp=" + resp)
    return "\t".join(fields) + "\n"


@dataclass(slots=True)
class Handshake:
    version: tuple[int, int] | None = None
    mechs: dict[str, list[str]] | None = None
    done: bool = False


def parse_handshake_line(line: str, hs: Handshake) -> None:
    """Feed one server line of the handshake (VERSION, MECH, SPID, CUID, COOKIE, DONE)."""
    fields = line.split("\t")
    kind = fields[0]
    if kind == "VERSION":
        if len(fields) < 3 or not fields[1].isdigit() or not fields[2].isdigit():
            raise AuthUnavailable(f"Dovecot auth: malformed VERSION line {line[:80]!r}")
        hs.version = (int(fields[1]), int(fields[2]))
        if hs.version[0] != 1:
            raise AuthUnavailable(f"Dovecot auth: unsupported protocol version {hs.version[0]}.{hs.version[1]}")
    elif kind == "MECH":
        if len(fields) < 2:
            raise AuthUnavailable("Dovecot auth: malformed MECH line")
        if hs.mechs is None:
            hs.mechs = {}
        hs.mechs[fields[1].upper()] = fields[2:]
    elif kind == "DONE":
        if hs.version is None:
            raise AuthUnavailable("Dovecot auth: DONE before VERSION")
        hs.done = True
    # SPID, CUID, COOKIE and unknown lines are ignored (forward compatibility).


def parse_reply(line: str, request_id: int) -> tuple[str, dict[str, str], list[str]]:
    """Split an OK/FAIL/CONT line into (kind, key=value params, bare flags/data) for our request id."""
    fields = line.split("\t")
    if len(fields) < 2 or fields[0] not in ("OK", "FAIL", "CONT"):
        raise AuthUnavailable(f"Dovecot auth: unexpected reply {fields[0][:20]!r}")
    if fields[1] != str(request_id):
        raise AuthUnavailable("Dovecot auth: reply for another request id")
    params: dict[str, str] = {}
    bare: list[str] = []
    for f in fields[2:]:
        key, sep, value = f.partition("=")
        if sep:
            params[key] = tab_unescape(value)
        else:
            bare.append(f)
    return fields[0], params, bare


class DovecotAuthenticator:
    """Ask Dovecot's auth service over its UNIX socket (a `service auth { unix_listener … }`)."""

    # Dovecot delays answers to an address with recent failures (its auth penalty, up to 15 s): wait longer.
    def __init__(self, socket_path: str, *, service: str = "mailposture", timeout: float = 20.0) -> None:
        self.socket_path = socket_path
        self.service = service
        self.timeout = timeout
        self._next_id = 1

    async def authenticate(self, username: str, password: str, client_ip: str, *, secured: bool) -> AuthResult:
        try:
            return await asyncio.wait_for(self._authenticate(username, password, client_ip, secured),
                                          self.timeout)
        except TimeoutError:
            raise AuthUnavailable(f"Dovecot auth socket {self.socket_path} did not answer within "
                                  f"{self.timeout:g} s") from None

    async def _authenticate(self, username: str, password: str, client_ip: str, secured: bool) -> AuthResult:
        try:
            ipaddress.ip_address(client_ip)
        except ValueError:
            client_ip = ""
        try:
            reader, writer = await asyncio.open_unix_connection(self.socket_path, limit=65536)
        except FileNotFoundError:
            raise AuthUnavailable(f"Dovecot auth socket {self.socket_path} does not exist "
                                  "(is dovecot running, and is dovecot_auth_socket right?)") from None
        except PermissionError:
            raise AuthUnavailable(f"no permission to connect to the Dovecot auth socket {self.socket_path} "
                                  "(check the unix_listener's mode/user/group)") from None
        except OSError as exc:
            raise AuthUnavailable(f"cannot connect to the Dovecot auth socket {self.socket_path}: "
                                  f"{exc.strerror or exc}") from None
        try:
            writer.write(f"VERSION\t1\t2\nCPID\t{os.getpid()}\n".encode())
            await writer.drain()
            hs = Handshake()
            while not hs.done:
                parse_handshake_line(await self._readline(reader), hs)
            if "PLAIN" not in (hs.mechs or {}):
                raise AuthUnavailable("Dovecot auth offers no PLAIN mechanism (add it to auth_mechanisms)")
            request_id = self._next_id
            self._next_id = self._next_id % 2_000_000_000 + 1
            resp = plain_response(username, password)
            writer.write(auth_request(request_id, "PLAIN", self.service, client_ip, resp,
                                      secured=secured).encode())
            await writer.drain()
            sent_cont = False
            while True:
                kind, params, _bare = parse_reply(await self._readline(reader), request_id)
                if kind == "OK":
                    # A passdb `nologin` field (a disabled account, doc "Password database extra fields")
                    # comes back with OK: the password matched, but the account must not log in.
                    if "nologin" in _bare or "nologin" in params:
                        log.info("Dovecot auth: password matched but the account has nologin")
                        return AuthResult(Verdict.FAIL, username)
                    return AuthResult(Verdict.OK, params.get("user") or username)
                if kind == "FAIL":
                    if "temp" in _bare or "temp" in params:
                        raise AuthUnavailable("Dovecot auth: temporary failure (passdb unreachable?)")
                    return AuthResult(Verdict.FAIL, username)
                # CONT: a server that ignored the initial response asks for it once more.
                if sent_cont:
                    raise AuthUnavailable("Dovecot auth: unexpected second challenge for PLAIN")
                sent_cont = True
                writer.write(f"CONT\t{request_id}\t{resp}\n".encode())
                await writer.drain()
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    @staticmethod
    async def _readline(reader: asyncio.StreamReader) -> str:
        try:
            raw = await reader.readline()
        except (asyncio.LimitOverrunError, ValueError):
            raise AuthUnavailable("Dovecot auth: line too long") from None
        except OSError as exc:
            raise AuthUnavailable(f"Dovecot auth closed the connection ({exc.strerror or exc})") from None
        if not raw.endswith(b"\n"):
            raise AuthUnavailable("Dovecot auth closed the connection")
        return raw[:-1].decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------------------
# argon2 users file: "user:$argon2id$..." per line, '#' comments.
# ---------------------------------------------------------------------------------------------------------

def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


_DUMMY: dict[str, str] = {}


def _dummy_hash(like: str | None) -> str:
    """A hash of a random password with the same argon2 parameters as `like` (a real entry), verified for
    unknown users so that they cost the same time as known ones."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError

    key = like.rsplit("$", 2)[0] if like else ""
    if key not in _DUMMY:
        try:
            hasher = PasswordHasher.from_parameters(_extract(like)) if like else _hasher()
        except (InvalidHashError, ValueError):
            hasher = _hasher()
        _DUMMY[key] = hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY[key]


def _extract(hashed: str):
    from argon2 import extract_parameters

    return extract_parameters(hashed)


def hash_password(password: str) -> str:
    """An argon2id hash (argon2-cffi's defaults) for a users-file entry. Needs nothing else from mailposture."""
    if not password_acceptable(password):
        raise ValueError(f"a password must have 1 to {MAX_PASSWORD} characters and no NUL")
    return _hasher().hash(password)


def users_file_line(username: str, password: str) -> str:
    name = clean_username(username)
    if name is None:
        raise ValueError("user name is empty, too long, or has spaces, ':' or control characters")
    return f"{name}:{hash_password(password)}"


def set_user(path: str | os.PathLike[str], username: str, password: str) -> None:
    """Add or replace one entry in a users file (created 0600), written atomically."""
    line = users_file_line(username, password)
    name = line.split(":", 1)[0]
    p = Path(path)
    kept: list[str] = []
    if p.exists():
        for raw in p.read_text(encoding="utf-8").splitlines():
            if raw.split(":", 1)[0].strip().lower() != name or raw.lstrip().startswith("#"):
                kept.append(raw)
    kept.append(line)
    fd, tmp = tempfile.mkstemp(dir=p.parent or ".", prefix=".users.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(kept) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_users(text: str, source: str = "users file") -> tuple[dict[str, str], list[str]]:
    """(user -> hash, problems). A bad line is skipped and named, never fatal."""
    users: dict[str, str] = {}
    problems: list[str] = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        clean = clean_username(name)
        if not sep or clean is None:
            problems.append(f"{source} line {no}: expected 'user:argon2hash'")
        elif not hashed.startswith("$argon2"):
            problems.append(f"{source} line {no}: the hash for {clean!r} is not an argon2 hash")
        else:
            users[clean] = hashed
    return users, problems


class UsersFileAuthenticator:
    """Check passwords against an argon2 users file, re-read when it changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._users: dict[str, str] = {}
        self._stamp: tuple[float, int] | None = None

    def _load(self) -> dict[str, str]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise AuthUnavailable(f"users file {self.path} does not exist") from None
        except OSError as exc:
            raise AuthUnavailable(f"cannot read users file {self.path}: {exc.strerror or exc}") from None
        stamp = (st.st_mtime, st.st_size)
        if stamp != self._stamp:
            if st.st_mode & 0o077:   # password hashes are for offline guessing: keep them from other users
                log.warning("users file %s is readable by other users (mode %o); chmod 600 it",
                            self.path, st.st_mode & 0o777)
            try:
                text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise AuthUnavailable(f"cannot read users file {self.path}: {exc}") from None
            users, problems = parse_users(text, str(self.path))
            for p in problems:
                log.warning("%s", p)
            self._users, self._stamp = users, stamp
        return self._users

    def check(self, username: str, password: str) -> AuthResult:
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        users = self._load()
        hashed = users.get(username.lower())
        try:
            ok = _hasher().verify(hashed or _dummy_hash(next(iter(users.values()), None)), password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        return AuthResult(Verdict.OK if ok and hashed else Verdict.FAIL, username.lower())

    async def authenticate(self, username: str, password: str, client_ip: str, *, secured: bool) -> AuthResult:
        return await asyncio.to_thread(self.check, username, password)


class ChainAuthenticator:
    """Try each backend in order; the first OK wins. FAIL only when every backend answered; unavailable
    when one of them could not answer and none said OK."""

    def __init__(self, backends: Sequence[Authenticator]) -> None:
        self.backends = list(backends)

    async def authenticate(self, username: str, password: str, client_ip: str, *, secured: bool) -> AuthResult:
        errors: list[str] = []
        answered = False
        for backend in self.backends:
            try:
                res = await backend.authenticate(username, password, client_ip, secured=secured)
            except AuthUnavailable as exc:
                errors.append(str(exc))
                continue
            answered = True
            if res.ok:
                return res
        if not answered or errors:
            # A backend that could not answer (Dovecot down) may be the one that knows this password: a "no"
            # from the others (the users_file fallback) is then no wrong password, and must not count toward
            # the lockout. The page answers 503 "authentication unavailable".
            raise AuthUnavailable("; ".join(errors) or "no authentication backend is configured")
        return AuthResult(Verdict.FAIL, username)


def owner_authenticator(cfg) -> Authenticator:
    """Dovecot first when configured, then the users file; from a GuardConfig."""
    backends: list[Authenticator] = []
    if getattr(cfg, "dovecot_auth_socket", None):
        backends.append(DovecotAuthenticator(cfg.dovecot_auth_socket))
    if getattr(cfg, "users_file", None):
        backends.append(UsersFileAuthenticator(cfg.users_file))
    return ChainAuthenticator(backends)


def admin_authenticator(cfg) -> Authenticator:
    path = getattr(cfg, "admin_users_file", None)
    return ChainAuthenticator([UsersFileAuthenticator(path)] if path else [])
