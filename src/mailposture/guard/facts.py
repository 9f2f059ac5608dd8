"""``guard analyze``: abuse facts, the acceptance estimate and detection from mail logs (pure aggregation over
the events of ``mailposture.logs``; the guard's own decision code judges every address).

Definitions (issue 12; JSON keys in brackets):

* [users.total] distinct SASL user names (normalised as the guard does) with at least one accepted
  authenticated submission (an smtpd line with ``sasl_username=`` and a queue id).
* [acceptance.users_refused] of those, the users with at least one such submission from an address the
  guard would refuse if overseas submission were off for everybody: not internal (non-global ranges and
  ``internal_networks``), not allow-listed, country not a home country; an unknown country is refused, as the
  policy server does. [acceptance.messages_refused] the number of such submissions.
* [acceptance.ci95] Wilson score interval (95 %) of users_refused / users.total: the share this period's
  users stand for when the same population is observed again.
* [users.submitted_abroad] users with a submission from an address whose country is known and not a home
  country (allow-listed addresses included, internal ones not).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from mailposture.guard.config import GuardConfig
from mailposture.guard.decide import REFUSED, AllowList, Policy
from mailposture.guard.detect import Detector, Flag, Thresholds, centroid_locator
from mailposture.guard.geo import GeoSource
from mailposture.guard.reasons import reason_text
from mailposture.guard.store import UserRecord, UserState, normalise_username
from mailposture.logs.chunks import DELIVERY_SUM
from mailposture.logs.parse import AUTH_FAIL, CLIENT_ID, DELIVERY, LOGIN, NRCPT, REMOVED, SUBMIT, Event

INTERNAL, ALLOWLISTED, UNKNOWN = "internal", "allowlisted", "??"
_PENDING_MAX = 200_000  # queue ids waiting for their qmgr/delivery lines (bounded memory)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (E. B. Wilson 1927)."""
    if n <= 0:
        return (0.0, 0.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


class UserSum:
    __slots__ = (
        "abroad",
        "cc_month",
        "messages",
        "recipients",
        "refused",
        "sent",
        "status",
    )

    def __init__(self) -> None:
        self.messages = self.recipients = self.refused = 0
        self.cc_month: dict[str, str] = {}  # label (country, internal, ??) -> last month it was used
        self.sent = 0  # deliveries with status=sent; the other statuses in ``status`` (rare: saves a dict)
        self.abroad = False
        self.status: Counter[str] | None = None


    def delivery(self) -> dict[str, int]:
        out = {"sent": self.sent} if self.sent else {}
        out.update(self.status or {})
        return out


TRAVEL_KINDS = ("same_device", "new_device", "device_unknown", "unusual_volume")  # acceptance.travel_detail


def _restricted(user: str) -> tuple[UserRecord, bool]:
    return UserRecord(user, UserState.RESTRICTED), True


def _month(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m")


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z") if t is not None else None


class Analyzer:
    def __init__(self, cfg: GuardConfig, geo: GeoSource, allow: AllowList | None = None,
                 th: Thresholds | None = None, locate=None, asn=None) -> None:
        self.cfg = cfg
        self.asn = asn  # ip -> (number, organisation) | None, from an ASN .mmdb when configured
        self.asn_msgs: Counter[tuple[int, str]] = Counter()
        self._asn_cache: dict[str, tuple[int, str] | None] = {}
        self.geo = geo
        self.policy = Policy(cfg, geo, allow or AllowList())
        self.home = self.policy.home
        self.det = Detector(th or Thresholds(), locate or centroid_locator)
        self.sums: dict[str, UserSum] = {}
        self.pending: OrderedDict[str, str] = OrderedDict()  # queue key -> user
        self.month_cc: Counter[tuple[str, str]] = Counter()
        self.month_cc_users: Counter[tuple[str, str]] = Counter()
        self.cc_users: Counter[str] = Counter()
        self.fail_cc: Counter[str] = Counter()
        self.logins_ok = self.logins_failed = 0
        # user -> [successful logins, failed authentications, failing addresses (at most 100)]
        self.login_stats: dict[str, list] = {}
        self.submissions = Counter()  # by decision class
        self._norm: dict[str, str] = {}
        self._cc_cache: dict[str, tuple[str, bool]] = {}
        self._decisions: dict[tuple[str, str], tuple[bool, str]] = {}
        self._months: dict[int, str] = {}
        self._now = datetime.now(UTC)
        # devices (Dovecot imap_id_log: IMAP ID client name and OS) joined to logins by session; user -> (devices
        # seen from home, devices seen from abroad), at most 8 each, as tuples (smaller than sets: most hold one)
        self.devices: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._sess_dev: OrderedDict[str, str] = OrderedDict()  # session -> device, an ID before its Login
        self._sess_login: OrderedDict[str, tuple[str, bool]] = OrderedDict()  # session -> (user, abroad)

    # -- helpers -------------------------------------------------------------------------------------------
    def _user(self, raw: str) -> str:
        u = self._norm.get(raw)
        if u is None:
            u = normalise_username(raw)
            if len(self._norm) > 50_000:
                self._norm.clear()
            self._norm[raw] = u
        return u

    def where(self, ip: str) -> tuple[str, bool]:
        """(country code or INTERNAL/UNKNOWN, internal?) for detection and tables; allow-listed addresses are
        geolocated too (they are still abroad, only exempted)."""
        hit = self._cc_cache.get(ip)
        if hit is not None:
            return hit
        info = self.policy.classify(ip)
        if info is None:
            res = (UNKNOWN, False)
        elif info[1]:
            res = (INTERNAL, True)
        else:
            cc = info[3] if not info[2] else self.geo.lookup(info[0])
            res = (cc or UNKNOWN, False)
        if len(self._cc_cache) > 50_000:
            self._cc_cache.clear()
        self._cc_cache[ip] = res
        return res

    # -- events --------------------------------------------------------------------------------------------
    def feed(self, events: Iterable[Event]) -> None:
        """Events in time order: ``Event`` named tuples or plain tuples of the same fields (``LogReader(raw=True)``:
        the workers' events need no wrapping)."""
        pending = self.pending
        event = self.event
        for ev in events:
            k = ev[0]  # the queue lines of mail nobody submitted here are most of a log: handled inline
            if k == DELIVERY or k == REMOVED:
                if ev[7] in pending:
                    event(ev)
            else:
                event(ev)

    def event(self, ev: Event | tuple) -> Flag | None:
        k, t, _host, service, raw_user, ip, client, key, n, status = ev
        if k == DELIVERY:
            user = self.pending.get(key)
            if user is not None:
                s = self.sums[user]
                if status == "sent":
                    s.sent += 1
                else:
                    if s.status is None:
                        s.status = Counter()
                    s.status[status] += 1
            return None
        if k == REMOVED:
            self.pending.pop(key, None)
            return None
        if k == NRCPT:  # joined to its submission here, or already where the lines were read (raw_user)
            user = self._user(raw_user) if raw_user else self.pending.get(key)
            if user is not None and user in self.sums:
                self.sums[user].recipients += n
                return self.det.recipients(user, t, n)
            return None
        if k == SUBMIT:
            return self._submit(t, raw_user, ip, client, key, n)
        if k == DELIVERY_SUM:  # delivery statuses of this user's messages, summed where the lines were read
            s = self.sums.get(self._user(raw_user))
            if s is not None:
                if status == "sent":
                    s.sent += n
                else:
                    if s.status is None:
                        s.status = Counter()
                    s.status[status] += n
            return None
        if k == LOGIN:
            user = self._user(raw_user)
            cc, internal = self.where(ip)
            self.logins_ok += 1
            ls = self.login_stats.get(user)
            if ls is None:
                ls = self.login_stats[user] = [0, 0, None]
            ls[0] += 1
            abroad = not internal and cc not in self.home
            dev = self._login_device(key, user, abroad) if key else None
            if abroad:
                self.det.note(user, t, "login", f"{service} {ip} {cc}" + (f" [{dev}]" if dev else ""))
            return self.det.success(user, t, ip, None if cc == UNKNOWN else cc, internal)
        if k == CLIENT_ID:
            self._client_id(key, client)
            return None
        if k == AUTH_FAIL:
            cc, internal = self.where(ip)
            n = max(1, n)
            self.logins_failed += n
            self.fail_cc[cc] += n
            if raw_user:
                user = self._user(raw_user)
                ls = self.login_stats.get(user)
                if ls is None:
                    ls = self.login_stats[user] = [0, 0, None]
                ls[1] += n
                if ls[2] is None:
                    ls[2] = set()
                if len(ls[2]) < 100:
                    ls[2].add(ip)
                self.det.failure(user, t, ip, internal, n)
        return None

    # -- devices (IMAP ID) -------------------------------------------------------------------------------------
    _SESSIONS_MAX = 20_000

    def _client_id(self, session: str, device: str) -> None:
        login = self._sess_login.pop(session, None)
        if login is not None:
            self._device(login[0], device, login[1])
            return
        sd = self._sess_dev  # an ID before its Login (the usual order in the file)
        if len(sd) >= self._SESSIONS_MAX:
            sd.popitem(last=False)
        sd[session] = device

    def _login_device(self, session: str, user: str, abroad: bool) -> str | None:
        dev = self._sess_dev.pop(session, None)
        if dev is not None:
            self._device(user, dev, abroad)
            return dev
        sl = self._sess_login  # the client may announce itself after login: the imap process logs it then
        if len(sl) >= self._SESSIONS_MAX:
            sl.popitem(last=False)
        sl[session] = (user, abroad)
        return None

    def _device(self, user: str, device: str, abroad: bool) -> None:
        home, away = self.devices.get(user, ((), ()))
        if abroad:
            if device not in away and len(away) < 8:
                self.devices[user] = (home, (*away, device))
        elif device not in home and len(home) < 8:
            self.devices[user] = ((*home, device), away)

    def _travel_kind(self, user: str) -> str:
        """For a refused user seen abroad in one country and not flagged: ``unusual_volume`` when a volume signal
        (burst, fan-out) fired for the account, else by the devices of its IMAP sessions: ``same_device`` (a
        client seen abroad was seen from home too), ``new_device`` (only unknown ones abroad) or
        ``device_unknown`` (no IMAP ID logged abroad)."""
        a = self.det.accts.get(user)
        if a is not None and a.sig and any(c in a.sig for c in ("GD_BURST", "GD_FANOUT")):
            return "unusual_volume"
        d = self.devices.get(user)
        if d is None or not d[1]:
            return "device_unknown"
        return "same_device" if any(x in d[0] for x in d[1]) else "new_device"

    def _submit(self, t: float, raw_user: str, ip: str, client: str, key: str, n: int) -> Flag | None:
        user = self._user(raw_user)
        s = self.sums.get(user)
        if s is None:
            s = self.sums[user] = UserSum()
        s.messages += 1
        refused, reason = self._decision(ip, client)
        cc, internal = self.where(ip)
        if refused:
            s.refused += 1
            self.submissions["refused"] += 1
        self.submissions[reason] += 1
        if not internal and cc != UNKNOWN and cc not in self.home:
            s.abroad = True
            asn = self._asn(ip)
            if asn is not None:
                self.asn_msgs[asn] += 1
            self.det.note(user, t, "submit", f"{ip} {cc}" + (f" AS{asn[0]} {asn[1]}" if asn else "")
                          + (" (allow-list)" if reason == "allowlist" else ""))
        label = INTERNAL if internal else cc
        day = int(t // 86400)
        m = self._months.get(day)
        if m is None:
            m = self._months[day] = _month(t)
        self.month_cc[(m, label)] += 1
        if s.cc_month.get(label) != m:
            if label not in s.cc_month:
                self.cc_users[label] += 1
            s.cc_month[label] = m
            self.month_cc_users[(m, label)] += 1
        if n != 1:  # n == 1: its queue lines were joined where they were read (logs.chunks), none to wait for
            p = self.pending
            p[key] = user
            if len(p) > _PENDING_MAX:
                p.popitem(last=False)
        return self.det.submission(user, t, ip, None if cc in (UNKNOWN, INTERNAL) else cc, internal)

    def _asn(self, ip: str) -> tuple[int, str] | None:
        if self.asn is None:
            return None
        if ip not in self._asn_cache:
            if len(self._asn_cache) > 100_000:
                self._asn_cache.clear()
            self._asn_cache[ip] = self.asn(ip)
        return self._asn_cache[ip]

    def _decision(self, ip: str, client_name: str) -> tuple[bool, str]:
        """The guard's own decision for a restricted (default) user submitting from ``ip``: it depends only on
        the address and the verified client name, so it is cached per (address, name)."""
        key = (ip, client_name)
        hit = self._decisions.get(key)
        if hit is None:
            d = self.policy.decide({"sasl_username": "x", "client_address": ip, "client_name": client_name},
                                   _restricted, self._now)
            hit = (d.verdict == REFUSED, d.reason)
            if len(self._decisions) > 50_000:
                self._decisions.clear()
            self._decisions[key] = hit
        return hit

    # -- the report ----------------------------------------------------------------------------------------
    def report(self, stats: Any = None, lang: str = "en", files: list[str] | None = None) -> dict[str, Any]:
        sums = self.sums
        total = len(sums)
        refused_users = [u for u, s in sums.items() if s.refused]
        msgs_refused = sum(s.refused for s in sums.values())
        msgs_total = sum(s.messages for s in sums.values())
        lo, hi = wilson(len(refused_users), total)
        flagged = self.det.flags
        breakdown = Counter()
        travel = Counter()
        for u in refused_users:
            s = sums[u]
            foreign = {c for c in s.cc_month if c not in self.home and c != INTERNAL}
            if u in flagged:
                breakdown["abuse"] += 1
            elif len(foreign) <= 1:
                breakdown["travel_one_country"] += 1
                travel[self._travel_kind(u)] += 1
            else:
                breakdown["several_countries"] += 1
        out_flags = []
        for u, f in sorted(flagged.items(), key=lambda kv: (-kv[1].score, kv[0])):
            out_flags.append({
                "user": u, "score": f.score,
                "reasons": [{"code": c, "detail": reason_text(c, p, lang), "time": _iso(t), "params": p}
                            for c, (t, p) in sorted(f.reasons.items(), key=lambda kv: kv[1][0])],
                "first_abuse": _iso(f.first_abuse), "flagged_at": _iso(f.flagged_at),
                "countries": sorted(f.countries), "messages": f.messages, "recipients": f.recipients,
                "messages_total": sums[u].messages if u in sums else 0,
                "delivery": sums[u].delivery() if u in sums else {},
                "timeline": [{"time": _iso(t), "event": w, "detail": d} for t, w, d in self.det.timeline(u)],
            })
        months = sorted({m for m, _ in self.month_cc})
        by_country = sorted(({"country": c, "messages": sum(n for (m, cc), n in self.month_cc.items() if cc == c),
                              "users": self.cc_users[c]} for c in self.cc_users), key=lambda r: -r["messages"])
        rep: dict[str, Any] = {
            "period": {"from": _iso(stats.first if stats else None), "to": _iso(stats.last if stats else None)},
            "lines": stats.to_json() if stats else {"read": 0, "used": 0, "ignored": 0, "unknown": 0},
            "files": files or [],
            "geo": self.geo.describe(),
            "policy": {"home_countries": sorted(self.home), "allowlist_size": len(self.policy.allow),
                       "internal_networks": list(self.cfg.internal_networks),
                       "unknown_country": self.cfg.unknown_country_action},
            "users": {"total": total, "submitted_abroad": sum(1 for s in sums.values() if s.abroad),
                      "flagged": len(flagged)},
            "submissions": {"total": msgs_total, **{k: v for k, v in sorted(self.submissions.items())}},
            "acceptance": {
                "users_refused": len(refused_users),
                "users_refused_share": (len(refused_users) / total) if total else 0.0,
                "messages_refused": msgs_refused,
                "messages_refused_share": (msgs_refused / msgs_total) if msgs_total else 0.0,
                "ci95": [round(lo, 6), round(hi, 6)],
                "refused_breakdown": {k: breakdown.get(k, 0) for k in
                                      ("abuse", "travel_one_country", "several_countries")},
                # travel_one_country split (sums to it): legitimate-looking travel is same_device
                "travel_detail": {k: travel.get(k, 0) for k in TRAVEL_KINDS},
                "devices_logged_users": len(self.devices),
            },
            "by_country": by_country,
            "by_month": [{"month": m, "country": c, "messages": n, "users": self.month_cc_users[(m, c)]}
                         for (m, c), n in sorted(self.month_cc.items())],
            "months": months,
            "by_asn_abroad": [{"asn": a, "org": o, "messages": n} for (a, o), n in self.asn_msgs.most_common(30)],
            "logins": {"ok": self.logins_ok, "failed": self.logins_failed,
                       "failed_by_country": [{"country": c, "failures": n} for c, n in self.fail_cc.most_common(20)],
                       "most_failed_users": [
                           {"user": u, "ok": v[0], "failed": v[1], "failing_addresses": len(v[2] or ())}
                           for u, v in sorted(self.login_stats.items(), key=lambda kv: -kv[1][1])[:50] if v[1]]},
            "flagged": out_flags,
        }
        return rep
