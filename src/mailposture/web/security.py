"""Sessions, CSRF tokens, login rate limits, bounded form reading and security headers.

Sessions are server-side (an in-memory table in this process): the cookie carries only a random id signed
with the site secret, a new id is issued at every login (no fixation), and each session has an idle and an
absolute lifetime. One process serves the pages (`mailposture web serve`); several workers would each need
their own login.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import os
import secrets
import stat
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.requests import Request

Clock = Callable[[], float]   # seconds (epoch); tests pass a controllable one


class SetupError(RuntimeError):
    """The web pages cannot start (secret file, store, no password backend): the message says why."""


class FormError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------------------------- site secret

def load_or_create_secret(path: str | os.PathLike[str]) -> bytes:
    """The key that signs session cookies: read from `path`, or created there (0600) when missing."""
    p = Path(path).expanduser()
    try:
        if not p.parent.exists():
            p.parent.mkdir(mode=0o700, parents=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SetupError(f"cannot create web_secret_file {p}: {exc.strerror or exc}") from None
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    try:
        st = p.stat()
        data = p.read_bytes().strip()
    except OSError as exc:
        raise SetupError(f"cannot read web_secret_file {p}: {exc.strerror or exc}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SetupError(f"web_secret_file {p} is readable by others; chmod 600 it")
    if len(data) < 32:
        raise SetupError(f"web_secret_file {p} holds fewer than 32 bytes; delete it to have a new one made")
    return data


# ----------------------------------------------------------------------------------------------- sessions

@dataclass
class Session:
    sid: str
    realm: str                 # "owner" or "admin": a session of one realm never opens the other's pages
    csrf: str
    created: float
    last_seen: float
    username: str | None = None   # None before login (the session then only carries the login form's token)
    flash: list[tuple[str, str]] = field(default_factory=list)   # (kind, message) shown once
    data: dict[str, str] = field(default_factory=dict)   # small server-side values (a TOTP key being enrolled)


class SessionStore:
    """Server-side sessions with idle/absolute timeouts.

    Pre-login sessions (which only carry the login form's CSRF token) and logged-in ones are kept apart, each
    with its own cap, oldest dropped first: a flood of login-page requests can never push out the sessions of
    people who are logged in.
    """

    def __init__(self, secret: bytes, clock: Clock, *, idle: float = 900.0, absolute: float = 8 * 3600.0,
                 anon_idle: float = 1800.0, max_sessions: int = 20000, max_anon: int = 20000,
                 per_user: int = 10) -> None:
        self._secret = secret
        self._clock = clock
        self.idle, self.absolute, self.anon_idle = idle, absolute, anon_idle
        self.max_sessions, self.max_anon, self.per_user = max_sessions, max_anon, per_user
        self._auth: OrderedDict[str, Session] = OrderedDict()
        self._anon: OrderedDict[str, Session] = OrderedDict()
        self._spent: OrderedDict[str, None] = OrderedDict()   # pre-login ids used up by a login/logout

    def _sign(self, sid: str) -> str:
        return hmac.new(self._secret, sid.encode(), hashlib.sha256).hexdigest()[:32]

    def cookie_value(self, sess: Session) -> str:
        return f"{sess.sid}.{self._sign(sess.sid)}"

    def _anon_csrf(self, sid: str) -> str:
        return hmac.new(self._secret, b"login-csrf\x00" + sid.encode(), hashlib.sha256).hexdigest()

    def new(self, realm: str, username: str | None = None) -> Session:
        now = self._clock()
        if username:
            sess = Session(secrets.token_urlsafe(32), realm, secrets.token_urlsafe(32), now, now, username)
        else:
            # A pre-login id carries its realm and birth time, and its CSRF token is derived from it with the
            # site key: if a flood of login-page requests pushes it out of the table, it is rebuilt from the
            # (signed) cookie instead of failing the person's login (see get()).
            sid = f"{secrets.token_urlsafe(24)}~{realm}~{int(now):x}"
            sess = Session(sid, realm, self._anon_csrf(sid), now, now)
        table, cap = (self._auth, self.max_sessions) if username else (self._anon, self.max_anon)
        self._prune(table, now)
        if username:   # a few sessions per person (several browsers); the oldest goes first
            mine = [sid for sid, other in self._auth.items() if other.username == username
                     and other.realm == realm]
            for sid in mine[:max(0, len(mine) - self.per_user + 1)]:
                self._auth.pop(sid, None)
        table[sess.sid] = sess
        while len(table) > cap:
            table.popitem(last=False)
        return sess

    def get(self, cookie: str | None, realm: str) -> Session | None:
        if not cookie or len(cookie) > 200:
            return None
        sid, _, sig = cookie.partition(".")
        if not hmac.compare_digest(sig.encode("utf-8", "replace"), self._sign(sid).encode()):
            return None
        table = self._auth if sid in self._auth else self._anon
        sess = table.get(sid)
        if sess is None:
            sess = self._rebuild_anon(sid, realm)
        if sess is None or sess.realm != realm:
            return None
        now = self._clock()
        if self._expired(sess, now):
            table.pop(sid, None)
            return None
        sess.last_seen = now
        table.move_to_end(sid)
        return sess

    # -- known devices -------------------------------------------------------------------------------------
    DEVICE_LIFETIME = 90 * 86400.0

    def _device_mac(self, realm: str, account: str, born: int) -> str:
        msg = f"device\x00{realm}\x00{account}\x00{born:x}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:32]

    def device_token(self, realm: str, account: str) -> str:
        """A long-lived cookie value saying "this browser logged in as `account` before" (signed, no state)."""
        born = int(self._clock())
        return f"{born:x}.{self._device_mac(realm, account, born)}"

    def device_ok(self, token: str | None, realm: str, account: str) -> bool:
        if not token or len(token) > 100:
            return False
        born_hex, _, mac = token.partition(".")
        try:
            born = int(born_hex, 16)
        except ValueError:
            return False
        if not 0 <= self._clock() - born <= self.DEVICE_LIFETIME:
            return False
        return hmac.compare_digest(mac.encode("utf-8", "replace"),
                                   self._device_mac(realm, account, born).encode())

    def _rebuild_anon(self, sid: str, realm: str) -> Session | None:
        """A pre-login session no longer in the table (pushed out by others), from its signed id."""
        parts = sid.split("~")
        if len(parts) != 3 or parts[1] != realm:
            return None
        try:
            born = float(int(parts[2], 16))
        except ValueError:
            return None
        now = self._clock()
        if not 0 <= now - born <= self.anon_idle or sid in self._spent:
            return None
        sess = Session(sid, realm, self._anon_csrf(sid), born, now)
        self._anon[sid] = sess
        while len(self._anon) > self.max_anon:
            self._anon.popitem(last=False)
        return sess

    def rotate(self, old: Session | None, realm: str, username: str) -> Session:
        """Log in: drop the pre-login session, issue a fresh id and CSRF token (session fixation)."""
        self.drop(old)
        return self.new(realm, username)

    def drop(self, sess: Session | None) -> None:
        if sess is not None:
            self._auth.pop(sess.sid, None)
            self._anon.pop(sess.sid, None)
            if sess.username is None:   # never rebuilt from its cookie again
                self._spent[sess.sid] = None
                while len(self._spent) > self.max_anon:
                    self._spent.popitem(last=False)

    def _expired(self, sess: Session, now: float) -> bool:
        idle = self.idle if sess.username else self.anon_idle
        return now - sess.last_seen > idle or now - sess.created > self.absolute

    def _prune(self, table: OrderedDict[str, Session], now: float) -> None:
        # Kept in least-recently-used order, so expired sessions gather at the front.
        while table:
            sid, sess = next(iter(table.items()))
            if not self._expired(sess, now):
                break
            table.pop(sid)

    def __len__(self) -> int:
        return len(self._auth) + len(self._anon)


def csrf_ok(sess: Session | None, token: str | None) -> bool:
    """Constant-time comparison of the form's token with the session's."""
    if sess is None or not token:
        return False
    return hmac.compare_digest(token.encode("utf-8", "replace"), sess.csrf.encode())


# ------------------------------------------------------------------------------------------- rate limits

class RateLimiter:
    """At most `limit` failures per key within `window` seconds (sliding window), bounded memory."""

    def __init__(self, limit: int, window: float, clock: Clock, *, max_keys: int = 100000) -> None:
        self.limit, self.window = limit, window
        self._clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        q = self._hits.get(key)
        if q is None:
            return None
        while q and now - q[0] >= self.window:
            q.popleft()
        if not q:
            del self._hits[key]
            return None
        return q

    def blocked(self, key: str) -> bool:
        q = self._recent(key, self._clock())
        return q is not None and len(q) >= self.limit

    def fail(self, key: str) -> None:
        now = self._clock()
        q = self._recent(key, now)
        if q is None:
            q = self._hits[key] = deque(maxlen=self.limit)
        q.append(now)
        self._hits.move_to_end(key)
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)

    def acquire(self, key: str) -> bool:
        """Count an attempt *before* it is made: False (nothing counted) when the key is already at its limit.

        Checking first and counting after a slow password check let simultaneous attempts all pass the
        check; counting up front closes that race. A successful attempt gives its count back (refund)."""
        now = self._clock()
        q = self._recent(key, now)
        if q is not None and len(q) >= self.limit:
            return False
        self.fail(key)
        return True

    def refund(self, key: str) -> None:
        """Take back the most recent count of `key` (an attempt that turned out fine or could not be made)."""
        q = self._hits.get(key)
        if q:
            q.pop()
            if not q:
                del self._hits[key]

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)


# ------------------------------------------------------------------------------------- client addresses

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(specs: list[str] | tuple[str, ...]) -> list[Network]:
    """CIDR strings (or bare addresses) -> networks; ValueError names a bad one."""
    out: list[Network] = []
    for s in specs:
        try:
            out.append(ipaddress.ip_network(str(s).strip(), strict=False))
        except ValueError:
            raise ValueError(f"not a CIDR network or address: {s!r}") from None
    return out


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:          # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def resolve_client(peer: str, forwarded_for: list[str], trusted: list[Network]) -> str:
    """The client's address: the TCP peer, unless the peer is a configured proxy; then X-Forwarded-For is
    read from the right (each proxy appends the address it saw), skipping further trusted proxies, and the
    first untrusted address is the client. A header from anybody else is ignored (it is the client's own
    claim, and trusting it would let one client take a fresh address for every attempt)."""
    addr = _ip(peer)
    if addr is None:
        return peer
    hops = [h for line in forwarded_for for h in line.split(",")][-20:]
    while any(addr in net for net in trusted if net.version == addr.version) and hops:
        nxt = _ip(hops.pop())
        if nxt is None:      # garbage in the header: stop at the last address a trusted proxy vouched for
            break
        addr = nxt
    return str(addr)


def limit_key(ip: str) -> str:
    """The rate-limit key of a client address: an IPv4 address, or the /64 of an IPv6 address (one host or
    site usually holds a whole /64, RFC 4291 §2.5.1, so per-address counting would be no limit at all)."""
    addr = _ip(ip)
    if addr is None:
        return ip[:64]
    if addr.version == 6:
        return str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))
    return str(addr)


def monotonic_clock() -> float:
    return time.time()


# ------------------------------------------------------------------------------------------------- forms

MAX_FORM_BYTES = 8192
MAX_FIELDS = 16
FORM_TIMEOUT = 15.0   # seconds for the whole body (a client trickling its body must not hold the request)


async def read_form(request: Request, limit: int = MAX_FORM_BYTES,
                    timeout: float = FORM_TIMEOUT) -> dict[str, str]:  # noqa: ASYNC109
    """Read an application/x-www-form-urlencoded body of at most `limit` bytes within `timeout` seconds;
    first value per name."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not ctype and request.headers.get("content-length", "0") == "0":
        return {}   # an empty POST: no fields (so the CSRF check, not the media type, answers)
    if ctype != "application/x-www-form-urlencoded":
        raise FormError(415, "form must be sent as application/x-www-form-urlencoded")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise FormError(413, "form too large")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise FormError(413, "form too large")
    except TimeoutError:
        raise FormError(408, "form not received in time") from None
    try:
        text = bytes(body).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise FormError(400, "malformed form") from None
    out: dict[str, str] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


# ----------------------------------------------------------------------------------------------- headers

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
# The survey dashboard's pages load one script of the project's own, from /static (progressive enhancement:
# sorting and filtering tables); the guard's owner and admin pages run no script at all.
CSP_WITH_SCRIPTS = CSP.replace("default-src 'none'; ", "default-src 'none'; script-src 'self'; ")


def security_headers(*, https: bool, no_store: bool, scripts: bool = False) -> dict[str, str]:
    h = {
        "Content-Security-Policy": CSP_WITH_SCRIPTS if scripts else CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if no_store:
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
    if https:
        h["Strict-Transport-Security"] = "max-age=31536000"
    return h
