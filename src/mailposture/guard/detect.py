"""Compromised-account detection, online: one ``Detector`` fed event by event (``guard analyze`` replays the
logs through it, ``guard watch`` feeds it live lines). Pure: no I/O, time comes from the events.

No single signal separates abuse from the benign look-alikes (home-routed roaming phones flip between Japan and
the destination within minutes; VPN users hop countries; shops send from foreign cloud ranges every day;
sprayed accounts show failures from many addresses and then their owner's success). So signals are combined
against each account's own baseline:

* access signals: a new country (only once the account has history), several countries in 24 h, impossible
  travel, many distinct IPs in 24 h (vs the account's own daily maximum), distributed password guessing from
  unknown networks followed by a success from a network the account never used;
* volume signals: messages per clock hour and recipients per day far above the account's own maxima of the
  previous days (absolute floors while the account has little history).

Each signal counts for a while after it fired (``Thresholds.hold_*``). An account is flagged when
``score >= flag_score`` and a volume signal is active, or when ``score >= flag_score_access`` (a take-over seen
before the spam run). Weights and thresholds come from the ``[detect]`` table of guard.toml.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from sys import intern
from typing import Any

from mailposture.guard.centroids import CENTROIDS
from mailposture.guard.reasons import REASONS

DAY = 86400.0
_U32 = 0xFFFFFFFF


@dataclass
class Thresholds:
    flag_score: float = 4.0
    flag_score_access: float = 7.0
    w_new_country: float = 1.5
    w_multi_country: float = 1.5
    w_impossible_travel: float = 1.0
    w_many_ips: float = 2.0
    w_guess_then_success: float = 2.5
    w_burst: float = 2.0
    w_fanout: float = 2.0
    w_severe: float = 1.0  # added to a volume signal at ``severe_factor`` x the baseline and ``severe_min``
    severe_factor: float = 10.0
    severe_burst_min: int = 100
    severe_fanout_min: int = 500
    history_days: float = 2.0  # an account's history needed before "new country" / baselines count
    multi_country_n: int = 3
    multi_country_hours: float = 24.0
    travel_kmh: float = 1000.0
    travel_min_km: float = 800.0
    many_ips_min: int = 6  # distinct networks (IPv4 /16, IPv6 /32) in 24 h
    many_ips_factor: float = 3.0
    guess_failures: int = 10
    guess_ips: int = 5
    guess_days: float = 7.0
    burst_min: int = 30
    burst_factor: float = 4.0
    burst_cold: int = 100  # messages per hour with too little history
    fanout_min: int = 150
    fanout_factor: float = 4.0
    fanout_cold: int = 600
    hold_hours: float = 48.0  # how long a signal keeps counting after it fired

    def weight(self, code: str) -> float:
        return {"GD_NEW_COUNTRY": self.w_new_country, "GD_MULTI_COUNTRY": self.w_multi_country,
                "GD_IMPOSSIBLE_TRAVEL": self.w_impossible_travel, "GD_MANY_IPS": self.w_many_ips,
                "GD_GUESS_THEN_SUCCESS": self.w_guess_then_success, "GD_BURST": self.w_burst,
                "GD_FANOUT": self.w_fanout}[code]


def thresholds_from_dict(data: dict[str, Any], src: str = "detect") -> Thresholds:
    """Validated thresholds from the ``[detect]`` table; unknown keys and bad values raise ValueError."""
    th = Thresholds()
    known = {f.name: f for f in fields(Thresholds)}
    for k, v in data.items():
        if k not in known:
            raise ValueError(f"{src}: unknown key '{k}' (known: {', '.join(sorted(known))})")
        default = getattr(th, k)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ValueError(f"{src}: key '{k}' must be a non-negative number, got {v!r}")
        if isinstance(default, int) and not isinstance(v, int):
            raise ValueError(f"{src}: key '{k}' must be a whole number, got {v!r}")
        setattr(th, k, type(default)(v))
    return th


_NETS: dict[str, str] = {}  # address -> its network (the same addresses come back all the time)


def net_of(ip: str) -> str:
    """The network an address is judged by for "a network this account used before": IPv4 /16, IPv6 /32
    (dynamic addresses of one provider stay inside)."""
    net = _NETS.get(ip)
    if net is None:
        if ":" in ip:
            net = intern(":".join(ip.split(":", 2)[:2]))
        else:
            net = intern(ip.rsplit(".", 2)[0])  # shared by the many accounts of one provider's range
        if len(_NETS) >= 200_000:
            _NETS.clear()
        _NETS[ip] = net
    return net


def _seen_ip(a: Acct, h: int, t: float) -> bool:
    """Record a success at time ``t`` from the address whose hash is ``h``; False when the address is new in the
    last 24 h. The arrays stay in order of last success (an address seen again moves to its place, nearly always
    the end), so the old ones are a prefix: counted and dropped by bisection."""
    rh, rt = a.rip_h, a.rip_t
    try:
        i = rh.index(h)
    except ValueError:
        known = False
    else:
        known = True
        if i == len(rh) - 1 and (i == 0 or rt[i - 1] <= t):
            rt[i] = t
            return True
        del rh[i]
        del rt[i]
    if not rt or rt[-1] <= t:
        rh.append(h)
        rt.append(t)
    else:  # a time before the latest (lines of two hosts merged slightly out of order): keep the order
        k = bisect_right(rt, t)
        rh.insert(k, h)
        rt.insert(k, t)
    return known


def _prune_ips(a: Acct, cut: float) -> None:
    k = bisect_left(a.rip_t, cut)
    if k:
        del a.rip_h[:k]
        del a.rip_t[:k]


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean earth radius 6371 km)."""
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371 * math.asin(min(1.0, math.sqrt(h)))


@dataclass
class Flag:
    user: str
    score: float
    reasons: dict[str, tuple[float, dict[str, Any]]]  # code -> (time fired, params)
    first_abuse: float
    flagged_at: float
    countries: set[str] = field(default_factory=set)
    messages: int = 0  # since first_abuse
    recipients: int = 0


class Acct:
    __slots__ = (
        "base",
        "countries",
        "day",
        "day_cc",
        "day_ips",
        "day_max_hour",
        "day_msgs",
        "day_rcpt",
        "fails",
        "first_t",
        "flag",
        "hist",
        "hour",
        "hour_msgs",
        "last_ip",
        "last_loc",
        "nets",
        "rip_h",
        "rip_t",
        "sig",
        "timeline",
    )

    def __init__(self, t: float) -> None:
        self.first_t = t
        # per-account state is most of the memory of a 100k-account analysis: small containers only
        self.countries: dict[str, tuple[float, float]] = {}  # country -> (first, last success from it)
        self.nets: dict[str, float] = {}  # network (net_of) -> last success from it; at most 64, least recent out
        # addresses of the last 24 h: the hashes of their texts (64 bits; the state lives in one process) and
        # the last success from each, as two arrays in order of that time (about a quarter of a dict of strings)
        self.rip_h = array("q")
        self.rip_t = array("d")
        self.last_loc: tuple[float, str, tuple[float, float]] | None = None
        self.last_ip: str | None = None  # the address of the previous success (fast path for repeats)
        self.day = -1
        self.day_msgs = self.day_rcpt = self.hour_msgs = self.day_max_hour = 0
        self.day_ips = 0
        self.day_cc: tuple[str, ...] = ()  # today's countries (interned codes): smaller than a set
        self.hour = -1
        # last 14 days, flat: (max msgs/hour, recipients, distinct networks, distinct countries) per day, as a
        # compact array (a list of tuples costs about 1 KB per account)
        self.hist = array("I")
        self.base: tuple[int, int, int, int] = (0, 0, 0, 0)  # maxima over hist
        self.fails: list[tuple[float, str]] | None = None
        self.sig: dict[str, tuple[float, dict[str, Any]]] | None = None
        self.flag: Flag | None = None
        self.timeline: list[tuple[float, str, str]] | None = None


Locator = Callable[[str, str | None], tuple[float, float] | None]


def centroid_locator(_ip: str, cc: str | None) -> tuple[float, float] | None:
    return CENTROIDS.get(cc) if cc else None


class Detector:
    """Feed ``success``/``failure``/``submission``/``recipients``; each returns a Flag when the account is
    newly flagged (``on_flag`` is also called)."""

    TIMELINE_MAX = 60

    def __init__(self, th: Thresholds | None = None, locate: Locator = centroid_locator,
                 on_flag: Callable[[Flag], None] | None = None) -> None:
        self.th = th or Thresholds()
        self.locate = locate
        self.on_flag = on_flag
        self.accts: dict[str, Acct] = {}
        self.flags: dict[str, Flag] = {}

    # -- helpers -------------------------------------------------------------------------------------------
    def _acct(self, user: str, t: float) -> Acct:
        a = self.accts.get(user)
        if a is None:
            a = self.accts[user] = Acct(t)
        return a

    def _roll(self, a: Acct, t: float) -> None:
        d = int(t // DAY)
        if d != a.day:
            if a.day >= 0:
                a.hist.extend((min(max(a.day_max_hour, a.hour_msgs), _U32), min(a.day_rcpt, _U32),
                               min(a.day_ips, _U32), len(a.day_cc)))
                if len(a.hist) > 56:
                    del a.hist[:4]
                h = a.hist
                a.base = (max(h[0::4]), max(h[1::4]), max(h[2::4]), max(h[3::4]))
            a.day, a.day_msgs, a.day_rcpt, a.day_ips, a.day_max_hour, a.day_cc = d, 0, 0, 0, 0, ()
            a.hour, a.hour_msgs = -1, 0
            a.last_ip = None
            # forget 24 h windows' old entries now and then
            if a.rip_t:
                _prune_ips(a, t - DAY)
            if a.fails:
                fcut = t - self.th.guess_days * DAY
                a.fails = [f for f in a.fails if f[0] >= fcut] or None

    def _seasoned(self, a: Acct, t: float) -> bool:
        return t - a.first_t >= self.th.history_days * DAY

    def _note(self, a: Acct, t: float, what: str, detail: str) -> None:
        if a.timeline is None:
            a.timeline = []
        a.timeline.append((t, what, detail))
        if len(a.timeline) > self.TIMELINE_MAX:
            del a.timeline[: len(a.timeline) - self.TIMELINE_MAX]

    def _fire(self, user: str, a: Acct, t: float, code: str, params: dict[str, Any]) -> Flag | None:
        if a.sig is None:
            a.sig = {}
        a.sig[code] = (t, params)
        self._note(a, t, code, ", ".join(f"{k}={v}" for k, v in params.items()))
        return self._evaluate(user, a, t)

    def _evaluate(self, user: str, a: Acct, t: float) -> Flag | None:
        th = self.th
        hold = th.hold_hours * 3600
        active = {c: v for c, v in (a.sig or {}).items() if t - v[0] <= hold}
        score = sum(th.weight(c) + (th.w_severe if v[1].get("severe") else 0.0) for c, v in active.items())
        volume = any(REASONS[c][0] == "volume" for c in active)
        if a.flag is not None:
            f = a.flag
            for c, v in active.items():
                f.reasons.setdefault(c, v)
            f.score = max(f.score, score)
            return None
        if (volume and score >= th.flag_score) or score >= th.flag_score_access:
            first = min(v[0] for v in active.values())
            f = Flag(user, round(score, 2), dict(active), first, t)
            f.messages, f.recipients = a.day_msgs, a.day_rcpt  # from the start of the UTC day of detection
            f.countries = {cc for cc, ts in a.countries.items() if ts[0] >= first - 3600}
            a.flag = f
            self.flags[user] = f
            if self.on_flag:
                self.on_flag(f)
            return f
        return None

    # -- events --------------------------------------------------------------------------------------------
    def success(self, user: str, t: float, ip: str, cc: str | None, internal: bool) -> Flag | None:
        """A successful authentication (a Dovecot login or an authenticated submission)."""
        a = self.accts.get(user)
        if a is None:
            a = self.accts[user] = Acct(t)
        if int(t // DAY) != a.day:
            self._roll(a, t)
        th = self.th
        out: Flag | None = None
        if internal:
            return None
        if ip == a.last_ip:  # the same address as the previous success today: nothing new but the times
            _seen_ip(a, hash(ip), t)
            a.nets[net_of(ip)] = t
            if cc:
                seen = a.countries.get(cc)
                a.countries[cc] = (t if seen is None else seen[0], t)
                if a.last_loc is not None and a.last_loc[1] == cc:
                    a.last_loc = (t, cc, a.last_loc[2])
            if a.sig and a.flag is None:
                return self._evaluate(user, a, t)
            return None
        a.last_ip = ip
        net = net_of(ip)
        seasoned = t - a.first_t >= th.history_days * DAY
        nets = a.nets
        new_net = net not in nets
        if new_net and len(nets) >= 64:  # the least recently used network goes
            del nets[min(nets, key=nets.__getitem__)]
        nets[net] = t
        if not _seen_ip(a, hash(ip), t):  # an address new in the last 24 h
            cut = t - DAY
            if len(a.rip_h) > 256:
                _prune_ips(a, cut)
            n_nets = sum(1 for v in nets.values() if v >= cut)  # networks of the last 24 h
            if n_nets > a.day_ips:
                a.day_ips = n_nets
            base = a.base[2]
            floor = th.many_ips_min if len(a.hist) >= 4 * th.history_days else th.many_ips_min * 2
            if n_nets >= max(floor, th.many_ips_factor * base) and (
                    a.sig is None or "GD_MANY_IPS" not in a.sig or t - a.sig["GD_MANY_IPS"][0] > DAY):
                n_ips = len(a.rip_t) - bisect_left(a.rip_t, cut)
                out = self._fire(user, a, t, "GD_MANY_IPS", {"n": n_ips, "nets": n_nets,
                                                             "baseline": base}) or out
        if cc:
            seen = a.countries.get(cc)
            a.countries[cc] = (t if seen is None else seen[0], t)
            if seen is None and seasoned:
                out = self._fire(user, a, t, "GD_NEW_COUNTRY", {"country": cc}) or out
            if cc not in a.day_cc:
                a.day_cc += (cc,)
            win = th.multi_country_hours * 3600
            wcut = t - win
            need = max(th.multi_country_n, a.base[3] + 1)
            ccs = [c for c, v in a.countries.items() if v[1] >= wcut] if len(a.countries) >= need else ()
            if len(ccs) >= need and (
                    a.sig is None or "GD_MULTI_COUNTRY" not in a.sig or t - a.sig["GD_MULTI_COUNTRY"][0] > win):
                out = self._fire(user, a, t, "GD_MULTI_COUNTRY", {"n": len(ccs), "hours": int(th.multi_country_hours),
                                                                  "countries": " ".join(sorted(ccs))}) or out
            loc = self.locate(ip, cc)
            if loc is not None:
                last = a.last_loc
                if last is not None and last[1] != cc:
                    km = km_between(last[2], loc)
                    hours = max((t - last[0]) / 3600, 1 / 60)
                    if km >= th.travel_min_km and km / hours > th.travel_kmh:
                        out = self._fire(user, a, t, "GD_IMPOSSIBLE_TRAVEL", {
                            "from_cc": last[1], "to_cc": cc, "km": int(km), "minutes": int(hours * 60),
                            "kmh": int(km / hours)}) or out
                a.last_loc = (t, cc, loc)
        if new_net and a.fails:
            cut = t - th.guess_days * DAY
            fl = [f for f in a.fails if f[0] >= cut]
            ips = {f[1] for f in fl}
            if len(fl) >= th.guess_failures and len(ips) >= th.guess_ips:
                days = max(1, round((t - fl[0][0]) / DAY))
                out = self._fire(user, a, t, "GD_GUESS_THEN_SUCCESS", {
                    "failures": len(fl), "ips": len(ips), "days": days, "ip": ip}) or out
                a.fails = None
        if out is None and a.sig and a.flag is None:
            out = self._evaluate(user, a, t)
        return out

    def failure(self, user: str, t: float, ip: str, internal: bool, n: int = 1) -> None:
        """A failed authentication for ``user`` from ``ip``. Failures from networks the account used
        successfully (a stale password on the owner's old phone) do not count as guessing."""
        if not user or internal:
            return
        a = self.accts.get(user)
        if a is None:
            a = self._acct(user, t)
        if int(t // DAY) != a.day:
            self._roll(a, t)
        if net_of(ip) in a.nets:
            return
        if a.fails is None:
            a.fails = []
        for _ in range(min(n, 20)):
            a.fails.append((t, ip))
        if len(a.fails) > 400:
            del a.fails[:100]

    def submission(self, user: str, t: float, ip: str, cc: str | None, internal: bool) -> Flag | None:
        out = self.success(user, t, ip, cc, internal)
        a = self.accts[user]  # rolled to t by success()
        h = int(t // 3600)
        if h != a.hour:
            a.day_max_hour = max(a.day_max_hour, a.hour_msgs)
            a.hour, a.hour_msgs = h, 0
        a.hour_msgs += 1
        a.day_msgs += 1
        if a.flag is not None:
            a.flag.messages += 1
            if cc:
                a.flag.countries.add(cc)
        th = self.th
        seasoned = len(a.hist) >= 4 * th.history_days
        base = a.base[0]
        limit = max(th.burst_min, th.burst_factor * base) if seasoned else th.burst_cold
        if a.hour_msgs == int(limit) + 1:
            out = self._fire(user, a, t, "GD_BURST", {"n": a.hour_msgs, "baseline": base}) or out
        sev = max(th.severe_burst_min, th.severe_factor * base)
        if a.hour_msgs == int(max(sev, limit)) + 1:
            out = self._fire(user, a, t, "GD_BURST", {"n": a.hour_msgs, "baseline": base, "severe": True}) or out
        return out

    def recipients(self, user: str, t: float, n: int) -> Flag | None:
        a = self.accts.get(user)
        if a is None:
            return None
        if int(t // DAY) != a.day:
            self._roll(a, t)
        before = a.day_rcpt
        a.day_rcpt += n
        if a.flag is not None:
            a.flag.recipients += n
        th = self.th
        seasoned = len(a.hist) >= 4 * th.history_days
        base = a.base[1]
        limit = max(th.fanout_min, th.fanout_factor * base) if seasoned else th.fanout_cold
        out = None
        if before <= limit < a.day_rcpt:
            out = self._fire(user, a, t, "GD_FANOUT", {"n": a.day_rcpt, "baseline": base})
        sev = max(th.severe_fanout_min, th.severe_factor * base, limit)
        if before <= sev < a.day_rcpt:
            out = self._fire(user, a, t, "GD_FANOUT", {"n": a.day_rcpt, "baseline": base, "severe": True}) or out
        return out

    def note(self, user: str, t: float, what: str, detail: str) -> None:
        a = self.accts.get(user)
        if a is not None:
            self._note(a, t, what, detail)

    def timeline(self, user: str) -> list[tuple[float, str, str]]:
        a = self.accts.get(user)
        return list(a.timeline or []) if a else []

    def rearm(self) -> None:
        """Clear every flag but keep the signals: the next event of a flagged account whose signals still count
        flags it again (``guard watch`` after rebuilding baselines from lines it must not act on)."""
        for user in list(self.flags):
            a = self.accts.get(user)
            if a is not None:
                a.flag = None
        self.flags.clear()

    def forget(self, user: str) -> None:
        """Drop an account's flag (after an admin unlock: detection starts afresh, keeping the baseline)."""
        a = self.accts.get(user)
        if a is not None:
            a.flag = None
            a.sig = None
        self.flags.pop(user, None)
