"""One mail-log line -> one event (or None). Pure: text in, data out.

Line shapes accepted (everything else is counted as unknown by the reader, never an error):

* classic syslog (RFC 3164 §4.1.2): ``Dec  7 17:51:44 host prog[pid]: msg``; Postfix's own ``maillog_file``
  writes the same shape. No year and no zone: the year comes from the file's modification time (a line
  dated after the file was last written belongs to the year before, i.e. the file spans New Year), the zone
  from ``--tz``/``TZ``.
* RFC 3339 / RFC 5424 §6.2.3 timestamps (rsyslog high precision, ``journalctl -o short-iso``):
  ``2026-12-07T17:51:44.123456+09:00 host prog[pid]: msg`` (``+0900`` too).
* Dovecot's own ``log_path`` file: ``Dec 07 17:51:44 imap-login: Info: Login: …`` (no host).

Programs: Postfix under any ``syslog_name`` (``postfix/submission/smtpd``, ``postfix-out/qmgr`` of a second
instance: the instance is everything before the last component), Dovecot 2.3 and 2.4 (``dovecot: imap-login:``
or ``imap-login:``, ``Login:``, ``Disconnected (auth failed …)``, ``Login aborted: … (auth failed …)``,
``auth: passwd-file(user,rip[,<session>]): Password mismatch``).
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, tzinfo
from sys import intern
from typing import NamedTuple

# event kinds
SUBMIT = "submit"  # accepted authenticated submission (smtpd: qid: client=…, sasl_username=…)
AUTH_FAIL = "auth_fail"  # a failed authentication (Postfix SASL or Dovecot), user may be ""
LOGIN = "login"  # a successful Dovecot login (imap/pop3/submission/managesieve)
NRCPT = "nrcpt"  # qmgr: qid: from=<…>, nrcpt=N
DELIVERY = "delivery"  # qid: to=<…>, status=sent|deferred|bounced|expired
REMOVED = "removed"  # qid: removed
CLIENT_ID = "client_id"  # Dovecot imap_id_log: the client software a session announced (IMAP ID, RFC 2971)
IGNORED = "ignored"  # a known program's line that carries nothing we need


class Event(NamedTuple):
    kind: str
    t: float  # POSIX time (UTC)
    host: str = ""
    service: str = ""  # postfix service path (submission/smtpd) or dovecot protocol (imap, pop3, smtp …)
    user: str = ""
    ip: str = ""
    client_name: str = ""
    key: str = ""  # host/instance/queue-id for joining Postfix lines
    n: int = 0
    status: str = ""


_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), 1)}
_DOVECOT_PROGS = ("dovecot/", "imap-login", "pop3-login", "submission-login", "managesieve-login", "auth")
# short queue ids are upper-case hex; long ones (enable_long_queue_ids) use digits and consonants only, so a
# word such as "warning" is never taken for one (postconf(5) enable_long_queue_ids)
_QID_FULL = re.compile(r"[0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}|NOQUEUE")
_CLIENT = re.compile(r"client=([^\[\s,]*)\[([^\]]*)\]")
_SASL_USER = re.compile(r"sasl_username=([^,\s]+(?:[^,]*[^,\s])?)")
_NRCPT = re.compile(r"nrcpt=(\d+)")
_STATUS = re.compile(r"status=(\w+)")
_WARN_SASL = re.compile(r"warning: ([^\[\s]*)\[([^\]]*)\]: SASL \S+ authentication failed")
_DV_USER = re.compile(r"user=<([^>]*)>")
_DV_RIP = re.compile(r"rip=([0-9A-Fa-f.:]+)")
_DV_SESSION = re.compile(r"session=<([^>]*)>")
_POSTFIX_AGENTS = {"smtpd", "qmgr", "smtp", "lmtp", "local", "virtual", "cleanup", "pipe", "error", "bounce",
                   "pickup", "postscreen", "anvil", "master", "scache", "trivial-rewrite", "tlsmgr", "discard",
                   "showq", "postfix-script", "sendmail", "postdrop", "verify", "dnsblog", "tlsproxy", "oqmgr",
                   "proxymap", "flush", "spawn", "qmqpd", "retry", "postsuper", "postqueue", "postlog"}
_DOVECOT_LOGIN = ("imap-login", "pop3-login", "submission-login", "managesieve-login", "lmtp")


_IGN = Event(IGNORED, 0.0)  # the one IGNORED event (its time is not used)


class Clock:
    """Turns a classic syslog timestamp into POSIX time, for one file: year from the file's mtime, local
    zone ``tz`` (DST handled per hour through the zone's rules)."""

    def __init__(self, tz: tzinfo | None, mtime: float | None) -> None:
        self.tz = tz
        self.mtime = mtime if mtime is not None else time.time()
        self._hours: dict[tuple[int, int, int], float] = {}
        self.stamps: dict[str, float | None] = {}  # "Dec  7 17:51:44" -> time (lines of one second share it)
        self.minutes: dict[str, float] = {}  # "Dec  7 17:51" -> time of its second 0
        ref = datetime.fromtimestamp(self.mtime, tz) if tz else datetime.fromtimestamp(self.mtime)
        self.ref_year = ref.year

    def hour_start(self, mon: int, day: int, hour: int) -> float | None:
        k = (mon, day, hour)
        v = self._hours.get(k)
        if v is not None:
            return v
        try:
            dt = datetime(self.ref_year, mon, day, hour, tzinfo=self.tz)
            v = dt.timestamp()
            if v > self.mtime + 86400 * 2:  # dated after the file was last written: last year (New Year)
                dt = dt.replace(year=self.ref_year - 1)
                v = dt.timestamp()
        except ValueError:  # 29 Feb in a non-leap reference year
            try:
                v = datetime(self.ref_year - 1, mon, day, hour, tzinfo=self.tz).timestamp()
            except ValueError:
                return None
        if len(self._hours) > 20000:
            self._hours.clear()
        self._hours[k] = v
        return v


def _classic(line: str, clock: Clock) -> tuple[float, int] | None:
    """'Dec  7 17:51:44' or 'Dec 07 17:51:44' (optionally .123456) -> (time, index after the stamp)."""
    key = line[:15]
    cache = clock.stamps
    if key in cache:
        base_t = cache[key]
        if base_t is None:
            return None
        if len(line) > 15 and line[15] == ".":
            j = 16
            while j < len(line) and line[j].isdecimal():
                j += 1
            return base_t + (float(line[15:j]) if j > 16 else 0.0), j
        return base_t, 15
    # a second not seen yet: its minute probably was ("Dec  7 17:51" -> time of 17:51:00)
    mkey = line[:12]
    mins = clock.minutes
    base_m = mins.get(mkey, 0)
    ss = line[13:15]
    if base_m and line[12:13] == ":" and ss.isdecimal() and ss.isascii() and line[15:16] in (" ", ".") \
            and int(ss) < 60:
        res: tuple[float, int] | None = (base_m + int(ss), 15)
        if line[15] == ".":
            j = 16
            while j < len(line) and line[j].isdecimal():
                j += 1
            res = (base_m + int(ss) + (float(line[15:j]) if j > 16 else 0.0), j)
        whole: float | None = base_m + int(ss)
    else:
        parts = _classic_parts(line, clock)
        res, whole = (None, None) if parts is None else ((parts[0] + parts[1], parts[2]), parts[0])
        if whole is not None and base_m == 0:
            if len(mins) > 4096:
                mins.clear()
            mins[mkey] = whole - int(line[13:15])
    if len(cache) > 4096:
        cache.clear()
    cache[key] = whole  # the whole second (a fraction rounded up must not move it)
    return res


def _classic_parse(line: str, clock: Clock) -> tuple[float, int] | None:
    parts = _classic_parts(line, clock)
    return None if parts is None else (parts[0] + parts[1], parts[2])


def _classic_parts(line: str, clock: Clock) -> tuple[float, float, int] | None:
    """(time of the whole second, fraction, index after the stamp)."""
    mon = _MONTHS.get(line[:3])
    if mon is None or line[3:4] != " ":
        return None
    try:
        day = int(line[4:6])
        if line[6] != " " or line[9] != ":" or line[12] != ":":
            return None
        hh, mm, ss = int(line[7:9]), int(line[10:12]), int(line[13:15])
    except (ValueError, IndexError):
        return None
    base = clock.hour_start(mon, day, hh)
    if base is None:
        return None
    i = 15
    frac = 0.0
    if len(line) > i and line[i] == ".":
        j = i + 1
        while j < len(line) and line[j].isdecimal():
            j += 1
        frac = float(line[i:j]) if j > i + 1 else 0.0
        i = j
    return base + mm * 60 + ss, frac, i


_ISO_CACHE: dict[str, float | None] = {}  # "2026-12-07T17:51:44+09:00" (stamp without fraction) -> time


def _iso(line: str) -> tuple[float, int] | None:
    """RFC 3339 stamp -> (time, index after it). The stamp without its fraction is cached: lines of one second
    share it, and ``datetime.fromisoformat`` is the slow part."""
    sp = line.find(" ")
    if sp < 19:
        return None
    frac = 0.0
    if line[19] == ".":
        k = 20
        while k < sp and line[k].isdecimal():
            k += 1
        if k > 20:
            frac = float(line[19:k])
        key = line[:19] + line[k:sp]
    else:
        key = line[:sp]
    base = _ISO_CACHE.get(key, 0)
    if base == 0:
        try:
            dt = datetime.fromisoformat(key)
            base = None if dt.tzinfo is None else dt.timestamp()  # no zone: ambiguous, not RFC 3339
        except ValueError:
            base = None
        if len(_ISO_CACHE) > 4096:
            _ISO_CACHE.clear()
        _ISO_CACHE[key] = base
    if base is None:
        return None
    return base + frac, sp


def stamp(line: str, clock: Clock) -> float | None:
    """The POSIX time of a log line's timestamp (RFC 3339, or classic syslog read with ``clock``), or None."""
    if not line:
        return None
    ts = _iso(line) if line[0].isdecimal() else _classic(line, clock)
    return ts[0] if ts else None


_new = tuple.__new__  # builds an Event without NamedTuple's Python-level __new__ (the hot path)
_PROG_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+/-")

class LineParser:
    """Stateless apart from per-file clocks; ``parse(line, clock)`` returns an Event, IGNORED event or None
    (unknown)."""

    def __init__(self) -> None:
        # "program[pid]" head -> (family, instance, service, agent) with the pid stripped
        self._progs: dict[str, tuple[str, str, str, str] | None] = {}
        self._heads: dict[str, tuple[str, str, tuple[str, str, str, str]] | None] = {}  # see parse()

    def _prog(self, prog: str) -> tuple[str, str, str, str] | None:
        hit = self._progs.get(prog, ())
        if hit == ():
            if "(" in prog and _DV_PROCESS.fullmatch(prog):  # Dovecot's own file: "imap(user)<pid><session>"
                return ("dovecot", "", "", "")  # not cached: one name per session
            if not prog or not _PROG_CHARS.issuperset(prog):
                hit = None
            elif prog == "dovecot" or prog.startswith(_DOVECOT_PROGS):
                hit = ("dovecot", "", "", "")
            else:
                parts = prog.split("/")
                if len(parts) >= 2 and parts[0].startswith("postfix"):
                    hit = (("postfix", parts[0], "/".join(parts[1:]), parts[-1]) if parts[-1] in _POSTFIX_AGENTS
                           else ("unknown", "", "", ""))
                else:
                    hit = ("other", "", "", "")
            if len(self._progs) < 10000:
                self._progs[prog] = hit
        return hit

    def _head(self, head: str) -> tuple[str, str, tuple[str, str, str, str]] | None:
        """ "host prog[pid]" (or "prog") -> (host, program, its family tuple), or None when not a log head."""
        head = head.lstrip(" ")
        sp = head.find(" ")
        if sp < 0:
            host, prog = "", head
        else:
            host, prog = head[:sp], head[sp + 1:]
            if not host or ":" in host or " " in prog:
                return None
        if prog[-1:] == "]":
            b = prog.find("[")
            if b < 0 or not prog[b + 1:-1].isdecimal():
                return None
            prog = prog[:b]
        hit = self._prog(prog)
        return None if hit is None else (host, prog, hit)

    def parse(self, line: str, clock: Clock) -> Event | None:
        if not line:
            return None
        if line[0].isdecimal():
            ts = _iso(line)
        else:  # classic stamp: lines of one second share it (the common case, inline)
            base = clock.stamps.get(line[:15], 0)
            ts = (base, 15) if base and line[15:16] == " " else _classic(line, clock)
        if ts is None:
            return None
        t, i = ts
        # " host prog[pid]: msg" or (Dovecot's own file) " prog: msg"
        j = line.find(": ", i)
        if j < 0 or line[i:i + 1] != " ":
            return None
        key = line[i:j]
        heads = self._heads
        h = heads.get(key, 0)
        if h == 0:  # processes live long: their "host prog[pid]" repeats
            h = self._head(key)
            if len(heads) > 50_000:
                heads.clear()
            heads[key] = h
        if h is None:
            return None
        host, prog, hit = h
        family = hit[0]
        if family == "postfix":
            return _postfix(hit, line[j + 2:], t, host)
        if family == "dovecot":
            return dovecot_line(prog, line[j + 2:], t, host)
        if family == "other":
            return _IGN  # another program in the same file (cron, sshd …)
        return None


def _postfix(hit: tuple[str, str, str, str], msg: str, t: float, host: str) -> Event:
    q = msg.find(": ")
    if q >= 6:
        qid = msg[:q]
        if qid.isalnum() and _QID_FULL.fullmatch(qid):
            return postfix_queue_line(hit, qid, msg[q + 2:], t, host)
    return postfix_other_line(hit, msg, t, host)


def postfix_queue_line(hit: tuple[str, str, str, str], qid: str, body: str, t: float, host: str) -> Event:
    """A Postfix line ``qid: body`` (``qid`` already checked against the queue-id shapes)."""
    if qid == "NOQUEUE":
        return _IGN
    agent = hit[3]
    c0 = body[:1]
    if agent == "smtpd":
        if c0 == "c" and body.startswith("client=") and "sasl_username=" in body:
            cm = _CLIENT.match(body)
            um = _SASL_USER.search(body)
            if cm and um:
                return _new(Event, (SUBMIT, t, host, hit[2], um[1], cm[2], cm[1], f"{host}/{hit[1]}/{qid}", 0, ""))
        return _IGN
    if c0 == "t" or c0 == "o":
        if body.startswith(("to=<", "orig_to=<")):
            k = body.find("status=")
            if k >= 0:
                e = body.find(" ", k + 7)
                st = intern(body[k + 7:e] if e > 0 else body[k + 7:])
                if not st.isalnum():
                    sm = _STATUS.search(body)
                    if not sm:
                        return _IGN
                    st = intern(sm[1])
                return _new(Event, (DELIVERY, t, host, hit[2], "", "", "", f"{host}/{hit[1]}/{qid}", 1, st))
        return _IGN
    if c0 == "f":
        if body.startswith("from=<"):
            k = body.find("nrcpt=")
            if k >= 0:
                e = body.find(" ", k + 6)
                n = body[k + 6:e] if e > 0 else body[k + 6:]
                if not n.isdecimal():
                    nm = _NRCPT.search(body)
                    if not nm:
                        return _IGN
                    n = nm[1]
                return _new(Event, (NRCPT, t, host, hit[2], "", "", "", f"{host}/{hit[1]}/{qid}", int(n), ""))
        return _IGN
    if c0 == "r" and body.startswith("removed"):
        return _new(Event, (REMOVED, t, host, hit[2], "", "", "", f"{host}/{hit[1]}/{qid}", 0, ""))
    return _IGN


def postfix_other_line(hit: tuple[str, str, str, str], msg: str, t: float, host: str) -> Event:
    """A Postfix line without a queue id: a failed SASL authentication, or nothing we need."""
    agent, service = hit[3], hit[2]
    if agent == "smtpd" and msg.startswith("warning: "):
        wm = _WARN_SASL.match(msg)
        if wm:
            um = _SASL_USER.search(msg)
            return Event(AUTH_FAIL, t, host, "smtp:" + service, um[1] if um else "", wm[2], wm[1])
    return _IGN


_LEVELS = ("Info: ", "Warning: ", "Error: ", "Debug: ")
_DV_ATTEMPTS = re.compile(r"auth failed, (\d+) attempts")


def device_of(id_text: str) -> str:
    """The client software of an IMAP ID as Dovecot logs it (``name=Thunderbird, version=115.3.1, os=Windows``):
    name and operating system (RFC 2971 §3.3 fields), without the version (an update is the same device), at most
    120 characters; "" when the ID names no software (a proxy's ``x-originating-ip`` and other ``x-`` fields
    only)."""
    fields = {}
    for part in id_text.split(", "):
        k, eq, v = part.partition("=")
        if eq:
            fields.setdefault(k.strip().lower(), v.strip())
    name = fields.get("name") or fields.get("vendor") or ""
    osname = fields.get("os") or ""
    dev = f"{name} / {osname}" if name and osname else (name or osname)
    return intern(dev[:120])


def dovecot_line(prog: str, msg: str, t: float, host: str) -> Event:
    # syslog: "dovecot: imap-login: Info: Login: …"; own file: prog is "imap-login", msg "Info: Login: …"
    if prog == "dovecot" or prog.startswith("dovecot/"):
        sub = prog.partition("/")[2]
        if not sub:
            c = msg.find(": ")
            if c < 0:
                return _IGN
            sub, msg = msg[:c], msg[c + 2:]
    else:
        sub = prog
    full = sub
    p = sub.find("(")
    if p >= 0:
        sub = sub[:p]
    if msg.startswith(_LEVELS):
        msg = msg[msg.find(" ") + 1:]
    if msg.startswith("ID sent: "):  # imap_id_log: before login in imap-login, after it in imap(user)<pid><session>
        return _client_id(sub, full, msg[9:], t, host)
    if sub.endswith("-login"):
        proto = sub[:-6]
        if msg.startswith("Login: "):
            um, rm = _DV_USER.search(msg), _DV_RIP.search(msg)
            if um and rm:
                sm = _DV_SESSION.search(msg)
                return _new(Event, (LOGIN, t, host, proto, um[1], rm[1], "", f"{host}/{sm[1]}" if sm else "", 0,
                                    ""))
        elif "auth failed" in msg:
            um, rm = _DV_USER.search(msg), _DV_RIP.search(msg)
            if rm:
                n = 1
                am = _DV_ATTEMPTS.search(msg)
                if am:
                    n = int(am[1])
                return _new(Event, (AUTH_FAIL, t, host, proto, um[1] if um else "", rm[1], "", "", n, ""))
        return _IGN
    # auth: "passwd-file(user,rip): Password mismatch": the login process also logs the failed attempt;
    # it is counted once there, this line carries nothing more
    return _IGN


_DV_PROCESS = re.compile(r"(?:imap|pop3|submission|managesieve|lmtp|lda|doveadm|indexer-worker|imap-hibernate"
                         r"|imap-urlauth(?:-worker)?|quota-status)\(([^()]*)\)(?:<[0-9]+>)?(?:<([^<>]*)>)?")


def _client_id(sub: str, full: str, rest: str, t: float, host: str) -> Event:
    """``imap-login: ID sent: <id>: user=<>, rip=…, session=<s>`` or ``imap(user)<pid><s>: ID sent: <id>``
    (Dovecot 2.3/2.4 with ``imap_id_log = *``): a CLIENT_ID event keyed by the session, which the Login line
    carries too."""
    if sub.endswith("-login"):
        cut = rest.rfind(": user=<")
        if cut < 0:
            return _IGN
        tail = rest[cut:]
        sm, rm, um = _DV_SESSION.search(tail), _DV_RIP.search(tail), _DV_USER.search(tail)
        dev = device_of(rest[:cut])
        if not sm or not dev:
            return _IGN
        return _new(Event, (CLIENT_ID, t, host, sub[:-6], um[1] if um else "", rm[1] if rm else "", dev,
                            f"{host}/{sm[1]}", 0, ""))
    pm = _DV_PROCESS.fullmatch(full)
    dev = device_of(rest)
    if not pm or not pm[2] or not dev:
        return _IGN
    return _new(Event, (CLIENT_ID, t, host, sub, pm[1], "", dev, f"{host}/{pm[2]}", 0, ""))


def parse_tz(name: str | None) -> tzinfo | None:
    """``Asia/Tokyo``, ``UTC``, ``+09:00``; None means the machine's local zone."""
    if not name:
        return None
    n = name.strip()
    if n.upper() in ("UTC", "Z", "GMT"):
        from datetime import UTC
        return UTC
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", n)
    if m:
        from datetime import timezone
        off = timedelta(hours=int(m[2]), minutes=int(m[3]))
        return timezone(-off if m[1] == "-" else off)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(n)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. Asia/Tokyo, UTC, +09:00)") from None
