"""A seeded generator of realistic Postfix + Dovecot logs for ``guard analyze`` / ``guard watch`` tests and the
bench, with the ground truth it knows (who was compromised, what the guard would have refused).

Two hosts write in two styles: ``mx1`` classic syslog timestamps in Asia/Tokyo (``maillog``, ``maillog.1``,
``maillog.2.gz`` … rotated every 7 days, Dovecot 2.3 lines), ``mx2`` RFC 3339 timestamps (``mail.log``,
``mail.log-YYYYMMDD.gz``, a second Postfix instance ``postfix-sub`` and Dovecot 2.4 lines). Each rotated file's
modification time is the time of its last line, as logrotate leaves it. Unknown lines and other programs'
lines are mixed in.

Accounts (fractions of ``users``), benign look-alikes first:

* ``domestic``: home ISP + mobile (CGNAT) + webmail (internal), a few messages a day;
* ``heavy``: many messages, now and then a legitimate mailing to hundreds of recipients from home;
* ``traveler``: one trip to one country, normal volume from hotel/Wi-Fi addresses;
* ``roaming``: a trip with a home-routed phone: Japan and the destination alternate within minutes;
* ``vpn``: part of the traffic through commercial VPN exits in several countries;
* ``shop``: an app sending from a foreign cloud range every day (half of them allow-listed);
* ``stale``: an old phone with a stale password failing from the owner's own network all day;
* ``sprayed`` (overlay on any of the above): password spraying, 1-3 failures per address, never a success;
* compromised kinds: ``spam_abroad`` (stolen password, burst from abroad), ``guess_then_spam`` (slow
  distributed guessing, success from a new network, spam), ``botnet`` (dozens of addresses in many
  countries), ``domestic_proxy`` (Japanese residential proxies, burst), ``slow_abroad`` (a few messages a
  day to many recipients from one foreign country).
"""

from __future__ import annotations

import gzip
import ipaddress
import os
import random
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
HOME = "JP"
TRAVEL = ["US", "KR", "TW", "TH", "SG", "FR", "DE", "GB", "AU", "VN", "HK", "IT", "ES", "CA", "PH"]
VPN = ["NL", "SE", "CH", "US", "SG", "DE", "GB"]
ATTACK = ["US", "CN", "RU", "BR", "VN", "IN", "NL", "DE", "ID", "TR", "UA", "NG", "FR", "PL", "AR"]
KINDS_BAD = ("spam_abroad", "guess_then_spam", "botnet", "domestic_proxy", "slow_abroad")
# the owners' IMAP clients as Dovecot's imap_id_log shows them (name, os); one account in ten sends no ID
DEVICES = [("iPhone Mail", "iOS"), ("Thunderbird", "Windows"), ("K-9 Mail", "Android"), ("Outlook", "Windows"),
           ("Apple Mail", "macOS"), ("Gmail", "Android"), None]
_HEX = "0123456789ABCDEF"


@dataclass
class Truth:
    users_total: set[str] = field(default_factory=set)
    users_refused: set[str] = field(default_factory=set)
    submitted_abroad: set[str] = field(default_factory=set)
    messages_refused: int = 0
    messages_total: int = 0
    compromised: dict[str, str] = field(default_factory=dict)  # user -> kind
    compromised_from: dict[str, datetime] = field(default_factory=dict)
    archetype: dict[str, str] = field(default_factory=dict)
    sprayed: set[str] = field(default_factory=set)
    allowlist: list[str] = field(default_factory=list)
    lines: int = 0
    unknown_lines: int = 0
    devices: dict[str, tuple[str, str] | None] = field(default_factory=dict)  # user -> the owner's IMAP client
    device_abroad: set[str] = field(default_factory=set)  # owners whose client announced itself from abroad
    files: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None


class Pools:
    """Addresses per country, each checked against iptocc (the analyser's default geo source), so the truth
    and the analysis agree on every address's country."""

    def __init__(self, rng: random.Random) -> None:
        from iptocc import country_code

        self._cc = country_code
        self.rng = rng
        want = set(TRAVEL) | set(VPN) | set(ATTACK) | {HOME}
        self.by_cc: dict[str, list[str]] = defaultdict(list)
        self.unknown: list[str] = []
        tries = 0
        while tries < 400_000 and (any(len(self.by_cc[c]) < 40 for c in want) or len(self.unknown) < 20):
            tries += 1
            a = ipaddress.IPv4Address(rng.getrandbits(32))
            if not a.is_global or a.is_multicast or a.is_reserved:
                continue
            s = str(a)
            cc = self.country(s)
            if cc is None:
                if len(self.unknown) < 20:
                    self.unknown.append(s)
            elif cc in want and len(self.by_cc[cc]) < 400:
                self.by_cc[cc].append(s)
        self.jp_nets = sorted({".".join(ip.split(".")[:2]) for ip in self.by_cc[HOME]})
        self.v6_jp = self._v6("2400::", 12, HOME, 30)

    def country(self, ip: str) -> str | None:
        try:
            cc = self._cc(ip)
        except Exception:
            return None
        return cc.upper() if cc else None

    def _v6(self, base: str, plen: int, cc: str, n: int) -> list[str]:
        out: list[str] = []
        net = ipaddress.IPv6Network(f"{base}/{plen}")
        for _ in range(20000):
            a = net[self.rng.getrandbits(128 - plen)]
            if a.is_global and self.country(str(a)) == cc:
                out.append(str(a))
                if len(out) >= n:
                    break
        return out

    def pick(self, cc: str) -> str:
        return self.rng.choice(self.by_cc[cc])

    def in_net(self, net: str, cc: str, rng: random.Random) -> str:
        for _ in range(50):
            ip = f"{net}.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
            if self.country(ip) == cc:
                return ip
        return self.pick(cc)


@dataclass
class Acct:
    name: str  # as logged (may differ in case from the normalised name)
    key: str  # normalised
    kind: str
    home_ip: str
    mobile_net: str
    v6: str  # the home line's IPv6 address
    rate: float  # messages per day
    rcpt: int  # typical recipients per message
    host: str
    trip: tuple[int, int, str] | None = None  # (first day, last day, country)
    trip_ips: list[str] = field(default_factory=list)  # hotel, cafe, local SIM …
    vpn: list[str] = field(default_factory=list)
    cloud: list[str] = field(default_factory=list)
    spray: tuple[int, int] | None = None  # (first day, last day)
    bad: tuple[int, str] | None = None  # (day of compromise, attacker country)
    odd: tuple[int, str] | None = None  # (day, address whose country is unknown)
    device: tuple[str, str] | None = None  # the owner's IMAP client (IMAP ID): from the key's hash, no draw
    id_after_login: bool = False  # the client sends its ID after LOGIN (logged by imap(user)<pid><session>)


class Gen:
    def __init__(self, users: int, days: int, seed: int, start: datetime, compromised_share: float = 0.012) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.days = days
        self.start = start
        self.pools = Pools(random.Random(seed ^ 0x5EED))
        self.truth = Truth(start=start, end=start + timedelta(days=days))
        self.accts: list[Acct] = []
        self.allow_nets: list[ipaddress.IPv4Network] = []
        self.allow_prefixes: set[str] = set()
        self.qseq = 0
        self._truth_cache: dict[str, tuple[bool, bool]] = {}
        self._plan(users, compromised_share)

    # -- the population ---------------------------------------------------------------------------------------
    def _plan(self, n: int, bad_share: float) -> None:
        r = self.rng
        p = self.pools
        shares = [("heavy", 0.05), ("traveler", 0.06), ("roaming", 0.03), ("vpn", 0.02), ("shop", 0.01),
                  ("stale", 0.03)]
        n_bad = max(len(KINDS_BAD), round(n * bad_share))
        kinds: list[str] = []
        for k, s in shares:
            kinds += [k] * round(n * s)
        kinds += [KINDS_BAD[i % len(KINDS_BAD)] for i in range(n_bad)]
        kinds += ["domestic"] * max(0, n - len(kinds))
        kinds = kinds[:n]
        r.shuffle(kinds)
        for i, kind in enumerate(kinds):
            key = f"u{i:05d}@example.jp"
            name = key.upper() if i % 97 == 0 else key  # a few clients send the name in upper case
            home = p.pick(HOME)
            a = Acct(name, key, kind, home, r.choice(p.jp_nets), r.choice(p.v6_jp),
                     rate=r.choice([0.5, 1, 2, 3, 5, 8]), rcpt=r.choice([1, 1, 1, 2, 3]), host=r.choice(["mx1", "mx2"]))
            if kind == "heavy":
                a.rate, a.rcpt = r.uniform(20, 60), r.choice([2, 3, 5])
            if kind in ("traveler", "roaming"):
                d0 = r.randrange(1, max(2, self.days - 4))
                a.trip = (d0, min(self.days - 1, d0 + r.randrange(2, 10)), r.choice(TRAVEL))
                a.trip_ips = [p.pick(a.trip[2]) for _ in range(r.randrange(2, 6))]
            if kind == "vpn":
                a.vpn = [p.pick(c) for c in r.sample(VPN, r.randrange(2, 5)) for _ in range(2)]
            if kind == "shop":
                a.cloud = [p.pick("US") for _ in range(r.randrange(1, 4))]
                a.rate, a.rcpt = r.uniform(40, 250), 1
                if i % 2 == 0:
                    for ip in a.cloud:
                        net = ipaddress.ip_network(f"{ip}/24", strict=False)
                        self.allow_nets.append(net)
                        self.allow_prefixes.add(ip.rsplit(".", 1)[0])
                        self.truth.allowlist.append(str(net))
            if kind in KINDS_BAD:
                a.bad = (r.randrange(min(5, self.days - 2), max(6, self.days - 1)), r.choice(ATTACK))
                self.truth.compromised[key] = kind
                self.truth.compromised_from[key] = self.start + timedelta(days=a.bad[0])
            if kind == "guess_then_spam":
                a.spray = (max(0, a.bad[0] - r.randrange(3, 6)), a.bad[0])
            elif kind not in KINDS_BAD and r.random() < 0.10:
                d0 = r.randrange(0, max(1, self.days - 5))
                a.spray = (d0, d0 + r.randrange(2, 6))
                self.truth.sprayed.add(key)
            if kind == "domestic" and r.random() < 0.01:  # one message from an address without a country
                a.odd = (r.randrange(self.days), r.choice(p.unknown))
            self.truth.archetype[key] = kind
            h = zlib.crc32(key.encode())  # not from self.rng: the other draws stay as they were
            a.device = DEVICES[h % len(DEVICES)] if h % 10 else None
            a.id_after_login = bool(h & 0x100)
            self.truth.devices[key] = a.device
            self.accts.append(a)

    # -- one account's day ----------------------------------------------------------------------------------
    def day_events(self, a: Acct, day: int, out: list) -> None:
        r = random.Random(zlib.crc32(f"{self.seed}/{a.key}/{day}".encode()))
        p = self.pools
        t0 = (self.start + timedelta(days=day)).timestamp()

        def at() -> float:  # waking hours JST, roughly
            return t0 + r.uniform(7, 23.5) * 3600

        def mobile() -> str:
            return p.in_net(a.mobile_net, HOME, r)

        trip = a.trip is not None and a.trip[0] <= day <= a.trip[1]
        n = _poisson(r, a.rate)
        for _ in range(n):
            t = at()
            if a.kind == "shop":
                ip = r.choice(a.cloud)
                t = t0 + r.uniform(0, 24) * 3600
            elif trip and a.trip:
                if a.kind == "roaming" and r.random() < 0.5:
                    ip = mobile()  # home-routed: the phone's address is in Japan
                else:
                    ip = r.choice(a.trip_ips)
            elif a.kind == "vpn" and r.random() < 0.35:
                ip = r.choice(a.vpn)
            else:
                x = r.random()
                ip = a.home_ip if x < 0.45 else mobile() if x < 0.8 else (
                    f"10.1.{r.randrange(256)}.{r.randrange(1, 255)}" if x < 0.93 else a.v6)
            rc = max(1, int(r.expovariate(1 / a.rcpt))) if a.rcpt > 1 else 1
            if a.kind == "heavy" and r.random() < 0.01:
                rc = r.randrange(100, 320)  # a legitimate mailing from home
            out.append((t, a.host, "submit", a, ip, rc, "sent"))
            if trip and a.trip and a.kind == "roaming" and r.random() < 0.6:  # the phone flips within minutes
                other = mobile() if p.country(ip) != HOME else r.choice(a.trip_ips)
                out.append((t + r.uniform(60, 600), a.host, "login", a, other, 0, "imap"))
        if a.odd and a.odd[0] == day:
            out.append((at(), a.host, "submit", a, a.odd[1], 1, "sent"))
        # mail reading
        for _ in range(_poisson(r, 4)):
            t = at()
            if trip and a.trip:
                ip = mobile() if (a.kind == "roaming" and r.random() < 0.5) else r.choice(a.trip_ips)
            elif a.kind == "vpn" and r.random() < 0.35:
                ip = r.choice(a.vpn)
            elif a.kind == "shop":
                continue
            else:
                ip = a.home_ip if r.random() < 0.5 else mobile()
            out.append((t, a.host, "login", a, ip, 0, r.choice(["imap", "imap", "pop3"])))
        if a.kind == "stale":
            for k in range(r.randrange(10, 40)):
                out.append((t0 + k * 1800 + r.uniform(0, 600), a.host, "fail", a, a.home_ip, 1, "imap"))
        if a.spray and a.spray[0] <= day <= a.spray[1]:
            for _ in range(r.randrange(3, 10)):
                cc = r.choice([*ATTACK, HOME])
                out.append((t0 + r.uniform(0, 86400), a.host, "fail", a, p.pick(cc), r.choice([1, 1, 2, 3]),
                            r.choice(["imap", "smtp", "pop3"])))
        if a.bad and day >= a.bad[0]:
            self._abuse(a, day, t0, r, out)

    def _abuse(self, a: Acct, day: int, t0: float, r: random.Random, out: list) -> None:
        p = self.pools
        d0, cc = a.bad or (0, "US")
        since = day - d0
        kind = a.kind
        if kind == "spam_abroad" and since < 2:
            ips = [p.pick(cc) for _ in range(2)]
            ts = t0 + r.uniform(0, 20) * 3600
            out.append((ts, a.host, "login", a, ips[0], -1, "imap"))  # n -1: the thief's client
            for k in range(r.randrange(80, 300)):
                out.append((ts + 60 + k * r.uniform(5, 30), a.host, "submit", a, r.choice(ips),
                            r.randrange(20, 50), "bounced" if r.random() < 0.3 else "sent"))
        elif kind == "guess_then_spam" and since < 2:
            ip = p.pick(cc)
            ts = t0 + r.uniform(0, 20) * 3600
            out.append((ts, a.host, "login", a, ip, -1, "imap"))
            for _ in range(r.randrange(30, 60)):
                out.append((ts + r.uniform(60, 10 * 3600), a.host, "submit", a, ip, r.randrange(10, 30), "sent"))
        elif kind == "botnet" and since < 2:
            ccs = r.sample(ATTACK, r.randrange(5, 12))
            ips = [p.pick(c) for c in ccs for _ in range(r.randrange(2, 5))]
            ts = t0 + r.uniform(0, 12) * 3600
            for ip in ips:
                for _ in range(r.randrange(2, 6)):
                    out.append((ts + r.uniform(0, 8 * 3600), a.host, "submit", a, ip, r.randrange(5, 20), "sent"))
        elif kind == "domestic_proxy" and since < 2:
            ts = t0 + r.uniform(0, 18) * 3600
            ips = [p.pick(HOME) for _ in range(r.randrange(10, 30))]
            for k in range(r.randrange(100, 250)):
                out.append((ts + k * r.uniform(10, 40), a.host, "submit", a, r.choice(ips), r.randrange(10, 40),
                            "sent"))
        elif kind == "slow_abroad" and since < 5:
            ip = p.pick(cc)
            for _ in range(r.randrange(12, 20)):
                out.append((t0 + r.uniform(0, 86400), a.host, "submit", a, ip, r.randrange(40, 70), "sent"))

    # -- lines --------------------------------------------------------------------------------------------------
    def _qid(self, host: str) -> str:
        self.qseq += 1
        x = (self.qseq * 2654435761) & 0xFFFFFFFFFF
        return "".join(_HEX[(x >> (4 * i)) & 15] for i in range(10))

    def _truth_of(self, ip: str) -> tuple[bool, bool]:
        """(refused by the guard's defaults + the generator's allow-list, submitted from abroad)."""
        hit = self._truth_cache.get(ip)
        if hit is None:
            addr = ipaddress.ip_address(ip)
            cc = self.pools.country(ip)
            if not addr.is_global:
                hit = (False, False)
            elif ip.rsplit(".", 1)[0] in self.allow_prefixes:  # the allow-list holds /24s
                hit = (False, bool(cc and cc != HOME))
            else:
                hit = (cc != HOME, cc is not None and cc != HOME)
            self._truth_cache[ip] = hit
        return hit

    def _record_truth(self, a: Acct, ip: str) -> None:
        tr = self.truth
        tr.users_total.add(a.key)
        tr.messages_total += 1
        refused, abroad = self._truth_of(ip)
        if refused:
            tr.users_refused.add(a.key)
            tr.messages_refused += 1
        if abroad:
            tr.submitted_abroad.add(a.key)

    def lines(self, ev: tuple, r: random.Random) -> list[tuple[float, str]]:
        t, host, kind, a, ip, n, extra = ev
        pid = r.randrange(1000, 60000)
        name = "unknown"
        ip_log = ip
        if kind == "submit":
            self._record_truth(a, ip)
            q = self._qid(host)
            inst = "postfix" if host == "mx1" else "postfix-sub"
            out = [(t, f"{inst}/submission/smtpd[{pid}]: connect from {name}[{ip_log}]"),
                   (t + 0.2, f"{inst}/submission/smtpd[{pid}]: {q}: client={name}[{ip_log}], sasl_method=PLAIN, "
                             f"sasl_username={a.name}"),
                   (t + 0.3, f"{inst}/cleanup[{pid + 1}]: {q}: message-id=<{q}.{pid}@example.jp>"),
                   (t + 0.4, f"{inst}/qmgr[900]: {q}: from=<{a.key}>, size={r.randrange(900, 90000)}, nrcpt={n} "
                             "(queue active)"),
                   (t + 0.5, f"{inst}/submission/smtpd[{pid}]: disconnect from {name}[{ip_log}] ehlo=2 auth=1 "
                             f"mail=1 rcpt={n} data=1 quit=1 commands=7")]
            for k in range(min(n, 3)):
                st = extra if k == 0 else "sent"
                dsn = "2.0.0" if st == "sent" else "5.1.1"
                out.append((t + 1 + k * 0.01, f"{inst}/smtp[{pid + 2}]: {q}: to=<r{k}@example.net>, "
                                             f"relay=mx.example.net[192.0.2.25]:25, delay=1.2, delays=0.1/0/0.5/0.6, "
                                             f"dsn={dsn}, status={st} (250 2.0.0 Ok)"))
            out.append((t + 1.2, f"{inst}/qmgr[900]: {q}: removed"))
            return out
        lip = "192.0.2.1"
        sess = f"{r.getrandbits(64):016x}"
        if kind == "login":
            login = (t, f"dovecot: {extra}-login: Login: user=<{a.name}>, method=PLAIN, rip={ip}, lip={lip}, "
                        f"mpid={pid}, TLS, session=<{sess}>")
            if extra != "imap" or n < 0 or a.device is None:  # POP3 has no ID; the thief's script sends none
                return [login]
            if self._truth_of(ip)[1]:
                self.truth.device_abroad.add(a.key)
            id_text = f"name={a.device[0]}, version={zlib.crc32(a.key.encode()) % 40 + 100}.0, os={a.device[1]}"
            if a.id_after_login:  # the imap process logs it; in Dovecot's file it comes just before the Login
                return [(t - 0.01, f"dovecot: imap({a.name})<{pid}><{sess}>: ID sent: {id_text}"), login]
            return [(t - 0.05, f"dovecot: imap-login: ID sent: {id_text}: user=<>, rip={ip}, lip={lip}, TLS, "
                               f"session=<{sess}>"), login]
        if kind == "fail":
            if extra == "smtp":
                inst = "postfix" if host == "mx1" else "postfix-sub"
                return [(t, f"{inst}/submission/smtpd[{pid}]: warning: unknown[{ip}]: SASL LOGIN authentication "
                            f"failed: UGFzc3dvcmQ6, sasl_username={a.name}")]
            if host == "mx1":  # Dovecot 2.3
                return [(t - 1.5, f"dovecot: auth: passwd-file({a.name},{ip}): Password mismatch"),
                        (t, f"dovecot: {extra}-login: Disconnected (auth failed, {n} attempts in {2 * n} secs): "
                            f"user=<{a.name}>, method=PLAIN, rip={ip}, lip={lip}, TLS, session=<{sess}>")]
            return [(t - 1.5, f"dovecot: auth: passwd-file({a.name},{ip},<{sess}>): Password mismatch"),
                    (t, f"dovecot: {extra}-login: Login aborted: Connection closed (auth failed, {n} attempts in "
                        f"{2 * n} secs) (auth_failed): user=<{a.name}>, method=PLAIN, rip={ip}, lip={lip}, TLS, "
                        f"session=<{sess}>")]
        return []

    # -- files --------------------------------------------------------------------------------------------------
    def write(self, outdir: Path, rotate_days: int = 7) -> Truth:
        outdir.mkdir(parents=True, exist_ok=True)
        writers = {"mx1": _Chain(outdir, "maillog", classic=True, rotate_days=rotate_days, start=self.start),
                   "mx2": _Chain(outdir, "mail.log", classic=False, rotate_days=rotate_days, start=self.start)}
        r = random.Random(self.seed + 7)
        for day in range(self.days):
            evs: list = []
            for a in self.accts:
                self.day_events(a, day, evs)
            t0 = (self.start + timedelta(days=day)).timestamp()
            for _ in range(max(3, len(evs) // 500)):  # other programs and unknown lines
                evs.append((t0 + r.uniform(0, 86400), r.choice(["mx1", "mx2"]), "noise", None, "", 0, ""))
            evs.sort(key=lambda e: e[0])
            per_host: dict[str, list[tuple[float, str]]] = defaultdict(list)
            for ev in evs:
                if ev[2] == "noise":
                    per_host[ev[1]].extend(self._noise(ev[0], r))
                else:
                    per_host[ev[1]].extend(self.lines(ev, r))
            for host, lines in per_host.items():
                lines.sort(key=lambda x: x[0])
                writers[host].write_day(day, host, lines)
        for w in writers.values():
            w.close()
            self.truth.files += w.files
            self.truth.lines += w.count
        self.truth.unknown_lines = sum(w.unknown for w in writers.values())
        return self.truth

    def _noise(self, t: float, r: random.Random) -> list[tuple[float, str]]:
        x = r.random()
        if x < 0.4:
            return [(t, f"CRON[{r.randrange(1000, 9999)}]: (root) CMD (run-parts /etc/cron.hourly)")]
        if x < 0.6:
            return [(t, f"postfix/anvil[{r.randrange(1000, 9999)}]: statistics: max connection rate 1/60s")]
        if x < 0.8:
            return [(t, "\x00UNKNOWN")]  # unknown: not a program line
        return [(t, "-- MARK --")]


class _Chain:
    def __init__(self, outdir: Path, base: str, classic: bool, rotate_days: int, start: datetime) -> None:
        self.outdir, self.base, self.classic, self.rotate_days, self.start = outdir, base, classic, rotate_days, start
        self.segments: list[tuple[Path, float]] = []
        self.fh = None
        self.seg = -1
        self.last_t = 0.0
        self.count = 0
        self.unknown = 0
        self.files: list[str] = []

    def _open(self, seg: int) -> None:
        self._close_seg()
        self.seg = seg
        path = self.outdir / f".{self.base}.seg{seg}"
        self.fh = open(path, "w", encoding="utf-8")
        self.segments.append((path, 0.0))

    def _close_seg(self) -> None:
        if self.fh is not None:
            self.fh.close()
            path, _ = self.segments[-1]
            self.segments[-1] = (path, self.last_t)
            self.fh = None

    def write_day(self, day: int, host: str, lines: list[tuple[float, str]]) -> None:
        seg = day // self.rotate_days
        if seg != self.seg:
            self._open(seg)
        assert self.fh is not None
        buf = []
        last_sec, base = -1, ""
        for t, text in lines:
            sec = int(t)
            if sec != last_sec:
                dt = datetime.fromtimestamp(sec, JST)
                base = f"{dt:%b} {dt.day:2d} {dt:%H:%M:%S}" if self.classic else dt.isoformat()
                last_sec = sec
            if self.classic:
                stamp = base
            else:  # 2026-11-09T00:24:11.744191+09:00
                stamp = f"{base[:19]}.{int((t - sec) * 1e6):06d}{base[19:]}"
            if text.startswith(("\x00", "-- MARK")):
                self.unknown += 1
                buf.append(f"{stamp} {host} {text}\n" if text.startswith("--") else text[1:] + " garbage\n")
            else:
                buf.append(f"{stamp} {host} {text}\n")
            self.last_t = t
        self.count += len(buf)
        self.fh.write("".join(buf))

    def close(self) -> None:
        self._close_seg()
        n = len(self.segments)
        for i, (path, last_t) in enumerate(self.segments):
            age = n - 1 - i  # 0 = live file
            if age == 0:
                dest = self.outdir / self.base
                path.rename(dest)
            elif self.classic:
                dest = self.outdir / (f"{self.base}.{age}" if age == 1 else f"{self.base}.{age}.gz")
                if age == 1:
                    path.rename(dest)
                else:
                    with open(path, "rb") as src, gzip.open(dest, "wb", compresslevel=1) as dst:
                        dst.write(src.read())
                    path.unlink()
            else:
                stamp = datetime.fromtimestamp(last_t + 1, JST).strftime("%Y%m%d")
                dest = self.outdir / f"{self.base}-{stamp}.gz"
                with open(path, "rb") as src, gzip.open(dest, "wb", compresslevel=1) as dst:
                    dst.write(src.read())
                path.unlink()
            os.utime(dest, (last_t + 1, last_t + 1))
            self.files.append(str(dest))


def _poisson(r: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(r.gauss(lam, lam ** 0.5)))
    import math
    L, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= L:
            return k
        k += 1


def generate(outdir: Path, users: int = 1500, days: int = 21, seed: int = 12,
             start: datetime | None = None, compromised_share: float = 0.012) -> Truth:
    """Write the logs under ``outdir`` and return what the generator knows."""
    start = start or datetime(2026, 11, 9, tzinfo=JST)
    g = Gen(users, days, seed, start.astimezone(UTC), compromised_share)
    return g.write(outdir)
