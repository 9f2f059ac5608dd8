"""The survey dashboard's members: accounts with roles, and the shared state several server processes read.

Accounts live in a members file, one per line (written 0600, atomically, by ``mailposture web user add``)::

    name:$argon2id$…:role[:body]

``name`` is a plain name or a mail address (the rules of :func:`mailposture.web.auth.clean_username`), the hash
is the project's argon2id hash (:func:`mailposture.web.auth.hash_password`), ``role`` is ``viewer`` (reads the
tables), ``editor`` (also starts rounds and edits lists) or ``admin`` (also sees the audit log and manages share
links), and ``body`` restricts the login to one body of the list (its ``code`` column, or its primary domain):
a municipality's IT staff see their own body and nothing else.

Sessions, login failures, the audit log and share links are rows in the shared store (SQLite or PostgreSQL through
SQLAlchemy, the store URL of the guard), so that several processes behind a proxy serve the same logins.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mailposture.web.auth import AuthUnavailable, clean_username, hash_password, password_acceptable

ROLES = ("viewer", "editor", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}


class MembersError(ValueError):
    """A members-file problem with a message naming it."""


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    role: str
    body: str = ""          # "" = every body

    def may(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


# ---------------------------------------------------------------------------------------------------------------
# The members file

def parse_members(text: str, source: str = "members file") -> tuple[dict[str, tuple[str, Member]], list[str]]:
    """(name -> (hash, Member), problems). A bad line is named and skipped, never fatal."""
    out: dict[str, tuple[str, Member]] = {}
    problems: list[str] = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":", 3)
        if len(parts) < 3:
            problems.append(f"{source} line {no}: expected 'name:argon2hash:role[:body]'")
            continue
        name = clean_username(parts[0])
        if name is None:
            problems.append(f"{source} line {no}: the name is empty or has spaces or control characters")
        elif not parts[1].startswith("$argon2"):
            problems.append(f"{source} line {no}: the hash for {name!r} is not an argon2 hash")
        elif parts[2] not in ROLES:
            problems.append(f"{source} line {no}: role {parts[2]!r} is not one of {', '.join(ROLES)}")
        else:
            out[name] = (parts[1], Member(name, parts[2], parts[3].strip() if len(parts) > 3 else ""))
    return out, problems


def _check_body(body: str) -> str:
    body = body.strip()
    if any(c in body for c in "\r\n\x00") or len(body) > 200:
        raise MembersError("--body: a code or domain of at most 200 characters on one line")
    return body


def _write(path: Path, lines: list[str]) -> None:
    path = Path(path)
    if not path.parent.is_dir():
        raise MembersError(f"{path}: the directory {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".members.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(x + "\n" for x in lines))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_lines(path: Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []
    except (OSError, UnicodeDecodeError) as exc:
        raise MembersError(f"cannot read {path}: {exc}") from None


def add_member(path: str | os.PathLike[str], name: str, password: str, role: str, body: str = "") -> Member:
    """Add or replace one account (argon2id hash), writing the file atomically with mode 0600."""
    clean = clean_username(name)
    if clean is None:
        raise MembersError("the name is empty, too long, or has spaces, ':' or control characters")
    if role not in ROLES:
        raise MembersError(f"--role must be one of {', '.join(ROLES)}")
    if not password_acceptable(password):
        raise MembersError("a password must have 1 to 1024 characters and no NUL")
    body = _check_body(body)
    kept = [ln for ln in _read_lines(Path(path)) if ln.strip().startswith("#")
            or clean_username(ln.split(":", 1)[0]) != clean]
    kept.append(f"{clean}:{hash_password(password)}:{role}" + (f":{body}" if body else ""))
    _write(Path(path), kept)
    return Member(clean, role, body)


def remove_member(path: str | os.PathLike[str], name: str) -> bool:
    """Remove an account; False when there was none of that name."""
    clean = clean_username(name)
    lines = _read_lines(Path(path))
    kept = [ln for ln in lines if ln.strip().startswith("#") or clean_username(ln.split(":", 1)[0]) != clean]
    if len(kept) == len(lines):
        return False
    _write(Path(path), kept)
    return True


def list_members(path: str | os.PathLike[str]) -> tuple[list[Member], list[str]]:
    members, problems = parse_members("\n".join(_read_lines(Path(path))), str(path))
    return sorted((m for _, m in members.values()), key=lambda m: m.name), problems


class MembersFile:
    """Password checks against the members file (re-read when it changes); unknown names cost the same time."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._members: dict[str, tuple[str, Member]] = {}
        self._stamp: tuple[float, int] | None = None

    def load(self) -> dict[str, tuple[str, Member]]:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise AuthUnavailable(f"members file {self.path}: {exc.strerror or exc}") from None
        stamp = (st.st_mtime, st.st_size)
        if stamp != self._stamp:
            try:
                text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise AuthUnavailable(f"cannot read members file {self.path}: {exc}") from None
            self._members, _ = parse_members(text, str(self.path))
            self._stamp = stamp
        return self._members

    def member(self, name: str) -> Member | None:
        """The account as the file says now (a removed account or a changed role takes effect at once)."""
        try:
            entry = self.load().get(name)
        except AuthUnavailable:
            return None
        return entry[1] if entry else None

    def check(self, name: str, password: str) -> Member | None:
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        from mailposture.web.auth import _dummy_hash, _hasher

        members = self.load()
        entry = members.get(name)
        like = next(iter(members.values()))[0] if members else None
        try:
            ok = _hasher().verify(entry[0] if entry else _dummy_hash(like), password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        return entry[1] if ok and entry else None


# ---------------------------------------------------------------------------------------------------------------
# Shared state: sessions, login failures, audit, share links

META = sa.MetaData()
SESSIONS = sa.Table(
    "dash_sessions", META,
    sa.Column("sid_hash", sa.String(64), primary_key=True),     # sha256 of the id: a leaked table opens nothing
    sa.Column("username", sa.String(254), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
)
FAILURES = sa.Table(
    "dash_login_failures", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
)
AUDIT = sa.Table(
    "dash_audit", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("username", sa.String(254), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
)
SHARES = sa.Table(
    "dash_shares", META,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("round", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(254), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(slots=True)
class DashSession:
    sid: str
    csrf: str
    username: str | None
    created: float


class SharedState:
    """Sessions (idle and absolute lifetime), login limits, audit and share links in one SQL database.

    Before login nothing is stored: the login form's CSRF token is derived from a random cookie with the site key,
    so a flood of login-page requests writes nothing."""

    def __init__(self, url: str, secret: bytes, clock: Callable[[], float] = time.time, *, idle: float = 900.0,
                 absolute: float = 8 * 3600.0, account_failures: int = 5, ip_failures: int = 20,
                 window: float = 900.0) -> None:
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
        self.engine = sa.create_engine(url, **kwargs)
        META.create_all(self.engine)
        self.secret, self.clock = secret, clock
        self.idle, self.absolute = idle, absolute
        self.account_failures, self.ip_failures, self.window = account_failures, ip_failures, window

    def close(self) -> None:
        self.engine.dispose()

    # -- cookies -----------------------------------------------------------------------------------------------
    def _sign(self, value: str) -> str:
        return hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()[:32]

    def _unsign(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 200:
            return None
        value, _, sig = cookie.rpartition(".")
        if not value or not hmac.compare_digest(sig.encode("utf-8", "replace"), self._sign(value).encode()):
            return None
        return value

    def cookie_value(self, sess: DashSession) -> str:
        return f"{sess.sid}.{self._sign(sess.sid)}"

    def anon(self) -> DashSession:
        now = self.clock()
        sid = f"a~{secrets.token_urlsafe(24)}~{int(now):x}"
        return DashSession(sid, self._sign("csrf\x00" + sid), None, now)

    # -- sessions ----------------------------------------------------------------------------------------------
    def get(self, cookie: str | None) -> DashSession | None:
        sid = self._unsign(cookie)
        if sid is None:
            return None
        now = self.clock()
        if sid.startswith("a~"):
            try:
                born = int(sid.rsplit("~", 1)[1], 16)
            except ValueError:
                return None
            return DashSession(sid, self._sign("csrf\x00" + sid), None, born) if 0 <= now - born <= 1800 else None
        with self.engine.begin() as c:
            row = c.execute(sa.select(SESSIONS).where(SESSIONS.c.sid_hash == _h(sid))).first()
            if row is None:
                return None
            if now - row.last_seen > self.idle or now - row.created > self.absolute:
                c.execute(sa.delete(SESSIONS).where(SESSIONS.c.sid_hash == _h(sid)))
                return None
            if now - row.last_seen > 30:   # fewer writes: the idle clock moves in 30-second steps
                c.execute(sa.update(SESSIONS).where(SESSIONS.c.sid_hash == _h(sid)).values(last_seen=now))
        return DashSession(sid, row.csrf, row.username, row.created)

    def login(self, username: str) -> DashSession:
        """A fresh session id and CSRF token (never the pre-login one: no fixation)."""
        now = self.clock()
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as c:
            c.execute(sa.delete(SESSIONS).where(SESSIONS.c.last_seen < now - self.idle))
            c.execute(sa.insert(SESSIONS).values(sid_hash=_h(sid), username=username, csrf=csrf, created=now,
                                                 last_seen=now))
        return DashSession(sid, csrf, username, now)

    def logout(self, sess: DashSession | None) -> None:
        if sess is not None and sess.username:
            with self.engine.begin() as c:
                c.execute(sa.delete(SESSIONS).where(SESSIONS.c.sid_hash == _h(sess.sid)))

    def count_sessions(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(SESSIONS)).scalar_one())

    # -- login limits (counted before the slow password check; a success gives its count back) -----------------
    def acquire(self, key: str, limit: int) -> int | None:
        now = self.clock()
        with self.engine.begin() as c:
            c.execute(sa.delete(FAILURES).where(FAILURES.c.at < now - self.window))
            n = c.execute(sa.select(sa.func.count()).select_from(FAILURES).where(FAILURES.c.key == key)).scalar_one()
            if n >= limit:
                return None
            return int(c.execute(sa.insert(FAILURES).values(key=key, at=now)).inserted_primary_key[0])

    def refund(self, ticket: int | None) -> None:
        if ticket is not None:
            with self.engine.begin() as c:
                c.execute(sa.delete(FAILURES).where(FAILURES.c.id == ticket))

    def reset(self, key: str) -> None:
        with self.engine.begin() as c:
            c.execute(sa.delete(FAILURES).where(FAILURES.c.key == key))

    # -- audit -------------------------------------------------------------------------------------------------
    def audit(self, username: str, action: str, detail: str, ip: str) -> None:
        with self.engine.begin() as c:
            c.execute(sa.insert(AUDIT).values(at=self.clock(), username=username[:254], action=action[:40],
                                              detail=detail[:500], ip=ip[:64]))

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    # -- share links -------------------------------------------------------------------------------------------
    def share(self, round_name: str, by: str) -> str:
        token = secrets.token_urlsafe(24)
        with self.engine.begin() as c:
            c.execute(sa.insert(SHARES).values(token_hash=_h(token), round=round_name, created_by=by,
                                               created=self.clock(), revoked=False))
        return token

    def shared_round(self, token: str) -> str | None:
        if not token or len(token) > 100:
            return None
        with self.engine.connect() as c:
            row = c.execute(sa.select(SHARES).where(SHARES.c.token_hash == _h(token))).first()
        return row.round if row is not None and not row.revoked else None

    def shares(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(SHARES).order_by(SHARES.c.created.desc())).all()
        return [dict(r._mapping) for r in rows]

    def revoke(self, token_hash: str) -> bool:
        with self.engine.begin() as c:
            return bool(c.execute(sa.update(SHARES).where(SHARES.c.token_hash == token_hash)
                                  .values(revoked=True)).rowcount)
