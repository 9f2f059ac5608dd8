"""A synthetic DNS world for a FICTITIOUS list of bodies: the demo's data and the end-to-end tests' ground truth.

Every name lives under ``.example`` or ``.test`` (RFC 2606: never real). The mix is meant to look like a real
survey: the consortium's 8 regions with different adoption, bodies whose web and mail domains differ, DMARC
records only at the organizational domain (inherited, sometimes with a weaker ``sp=``), broken SPF (two records,
a syntax error, over the 10-lookup limit), shared provider includes of very different IP space, and DNS failures
(a zone that never answers, and a few that fail once and answer on a retry).

``truth`` is written here from the generator's own choices, never from the checks' output: tests compare the
report with it.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mailposture.dns.types import Answer
from mailposture.survey.lists import REGIONS_JA

# Fictitious prefectures per region (2-4 each) — names invented for the demo.
PREFS: dict[str, tuple[str, ...]] = {
    "北海道": ("北海道",),
    "東北": ("青原県", "白岳県", "緑川県"),
    "関東": ("東浜都", "若葉県", "大森県", "桜台県"),
    "中部": ("雪峰県", "金沢野県", "富士見県", "茶原県"),
    "近畿": ("古都府", "浪花府", "湖北県"),
    "中国": ("砂丘県", "瀬戸県"),
    "四国": ("藍島県", "柑橘県"),
    "九州沖縄": ("火山県", "南海県", "珊瑚県"),
}
# SPF / DMARC adoption targets per region (north to south), roughly like published surveys but varied.
RATES: dict[str, tuple[float, float]] = {
    "北海道": (0.66, 0.22), "東北": (0.74, 0.28), "関東": (0.86, 0.45), "中部": (0.80, 0.35),
    "近畿": (0.82, 0.40), "中国": (0.72, 0.25), "四国": (0.70, 0.20), "九州沖縄": (0.76, 0.30),
}
STEMS = ("青葉", "川根", "桜井", "松原", "高森", "大野", "緑ヶ丘", "白石", "北浜", "南原", "東山", "西岡", "若松",
         "朝日", "星川", "月見", "花園", "石橋", "森本", "泉", "港", "山田", "本宮", "小林", "宮前", "中島", "新田",
         "岩清水", "柳川", "富岡")
ROMA = ("aoba", "kawane", "sakurai", "matsubara", "takamori", "ono", "midorigaoka", "shiraishi", "kitahama",
        "minamihara", "higashiyama", "nishioka", "wakamatsu", "asahi", "hoshikawa", "tsukimi", "hanazono",
        "ishibashi", "morimoto", "izumi", "minato", "yamada", "motomiya", "kobayashi", "miyamae", "nakajima",
        "nitta", "iwashimizu", "yanagawa", "tomioka")
KINDS = (("市", "city"), ("町", "town"), ("村", "vill"))

# Shared mail providers (fictitious): include target -> (record, label)
PROVIDERS: dict[str, tuple[str, str]] = {
    "_spf.kumo-mail.example": ("v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.0/25 -all", "KumoMail"),
    "spf.lgwan-relay.test": ("v=spf1 ip4:192.0.2.0/26 -all", "LGWAN relay"),
    "_spf.bigcloud.example": ("v=spf1 include:_nb.bigcloud.example ~all", "BigCloud"),
    "_nb.bigcloud.example": ("v=spf1 ip4:100.64.0.0/12 ip4:198.18.0.0/15 -all", "BigCloud netblocks"),
    "spf.isp-hosting.test": ("v=spf1 ip4:172.16.0.0/12 ?all", "ISP hosting"),
}
DIRECT_INCLUDES = ("_spf.kumo-mail.example", "spf.lgwan-relay.test", "_spf.bigcloud.example", "spf.isp-hosting.test")
CHAIN = [f"s{i}.spf-chain.test" for i in range(12)]  # for the over-the-limit records
REPORTS = "dmarc-watch.test"          # authorizes every domain's reports (RFC 7489 §7.1, a wildcard)
NOAUTH_REPORTS = "report-sink.test"   # receives mail but publishes no authorization record
# IPv4 networks behind each include target (the PROVIDERS records above, nested include followed)
PROVIDER_NETS: dict[str, tuple[str, ...]] = {
    "_spf.kumo-mail.example": ("198.51.100.0/24", "203.0.113.0/25"),
    "spf.lgwan-relay.test": ("192.0.2.0/26",),
    "_spf.bigcloud.example": ("100.64.0.0/12", "198.18.0.0/15"),
    "spf.isp-hosting.test": ("172.16.0.0/12",),
}


def _count_ipv4(nets: list[str]) -> int:
    import ipaddress

    v4 = [ipaddress.ip_network(n, strict=False) for n in nets]
    return sum(n.num_addresses for n in ipaddress.collapse_addresses(v4))


@dataclass(slots=True)
class DomainTruth:
    """What the generator put in DNS for one domain. ``None`` = unknowable (the zone never answers)."""

    domain: str
    spf: bool | None = False            # a v=spf1 record published at the domain
    spf_valid: bool | None = False
    spf_fail_all: bool | None = False   # ends in -all
    spf_over_limit: bool | None = False
    dmarc: bool | None = False          # record at _dmarc.<domain>
    dmarc_covered: bool | None = False  # own or organizational
    policy: str | None = None           # effective policy when covered
    rua: bool | None = False
    mx: bool | None = False
    includes: tuple[str, ...] = ()
    inherited_from: str | None = None
    broken: bool = False                # every lookup fails (permanent)
    flaky: bool = False                 # the first lookup of each name fails, a retry answers
    nxdomain: bool = False
    # the configuration-content survey (issue 11), from the generator's choices
    spf_all: str = "absent"             # a key of the spf-all table
    ipv4: int | None = None             # IPv4 addresses the record authorizes (None: no SPF or unknown)
    providers: frozenset[str] = frozenset()   # spf-providers keys
    dmarc_tags: frozenset[str] = frozenset()  # dmarc-tags / dmarc-reports keys
    rua_destinations: frozenset[str] = frozenset()
    mistakes: frozenset[str] = frozenset()    # a few finding codes that follow from the records alone


@dataclass(slots=True)
class World:
    rows: list[dict[str, str]]
    zone: dict[str, list[tuple[str, Any]]]
    truth: dict[str, DomainTruth]
    flaky: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)   # zones (domain and org) whose servers always fail

    def fault_rule(self, fail_tries: int) -> Callable[[str, str], bool]:
        """A predicate for :class:`mailposture.dns.server.FaultyProxy` (``servfail=``): every query under a broken
        zone fails; at a flaky domain (apex, ``_dmarc``) the first ``fail_tries`` tries of each (name, type) fail (more than the
        engine's own retries, so only the round's retry pass recovers them)."""
        tries: dict[tuple[str, str], int] = {}

        def under(name: str, zones: set[str]) -> bool:
            n = name
            while "." in n:
                if n in zones:
                    return True
                n = n.split(".", 1)[1]
            return False

        def rule(name: str, rdtype: str) -> bool:
            name = name.lower().rstrip(".")
            if under(name, self.broken):
                return True
            # flaky: the names every check asks first (the apex and _dmarc), so pass 1 always meets the failure
            if name in self.flaky or (name.startswith("_dmarc.") and name[7:] in self.flaky):
                k = (name, rdtype)
                tries[k] = tries.get(k, 0) + 1
                return tries[k] <= fail_tries
            return False

        return rule

    def origins(self) -> list[str]:
        """Zones to serve: one per registrable domain, plus the TLDs ``example`` and ``test`` themselves, so that
        a DMARC tree walk up to ``_dmarc.test`` gets NXDOMAIN as from the real root, not REFUSED."""
        from mailposture.dns.zonefile import infer_origins

        served = self.served_zone()
        return [*infer_origins(served), "example", "test"]

    def served_zone(self) -> dict[str, list[tuple[str, Any]]]:
        """The zone without the FakeResolver-only TIMEOUT markers (for a real server behind a FaultyProxy)."""
        return {n: e for n, e in self.zone.items() if not any(t == "TIMEOUT" for t, _ in e)}

    def csv_text(self) -> str:
        buf = io.StringIO()
        cols = ["name", "region", "prefecture", "kind", "domain", "mail_domains"]
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({c: r.get(c, "") for c in cols})
        return buf.getvalue()


def _add(zone: dict[str, list[tuple[str, Any]]], name: str, rdtype: str, value: Any) -> None:
    zone.setdefault(name, []).append((rdtype, value))


def build_world(n_bodies: int = 300, seed: int = 2017) -> World:
    rnd = random.Random(seed)
    zone: dict[str, list[tuple[str, Any]]] = {}
    truth: dict[str, DomainTruth] = {}
    rows: list[dict[str, str]] = []
    flaky: set[str] = set()
    broken: set[str] = set()
    for inc, (rec, _) in PROVIDERS.items():
        _add(zone, inc, "TXT", rec)
    for i, name in enumerate(CHAIN):
        _add(zone, name, "TXT", f"v=spf1 ip4:192.0.2.{128 + i} -all")
    _add(zone, f"*._report._dmarc.{REPORTS}", "TXT", "v=DMARC1")
    _add(zone, REPORTS, "MX", (10, f"mx.{REPORTS}"))
    _add(zone, f"mx.{REPORTS}", "A", "192.0.2.200")
    _add(zone, NOAUTH_REPORTS, "MX", (10, f"mx.{REPORTS}"))
    for prov, ip in (("kumo-mail.example", "198.51.100.25"), ("lgwan-relay.test", "192.0.2.25"),
                     ("bigcloud.example", "198.18.0.25")):
        _add(zone, f"mx1.{prov}", "A", ip)

    # org domains that publish a DMARC record covering their subdomains: org -> (record, effective policy)
    org_policies: dict[str, tuple[str, str, bool, frozenset[str]]] = {}
    used: set[str] = set()
    weights = [180, 233, 323, 325, 234, 112, 99, 282]
    regions = rnd.choices(REGIONS_JA, weights=weights, k=n_bodies)
    for idx in range(n_bodies):
        region = regions[idx]
        pref = rnd.choice(PREFS[region])
        kind_ja, kind_en = rnd.choices(KINDS, weights=(5, 4, 1))[0]
        # each body gets its own organizational domain (base.tld), so inherited policies never leak to others
        for _ in range(10000):
            s = rnd.randrange(len(STEMS))
            tld = rnd.choice(("example", "test"))
            base = f"{ROMA[s]}{rnd.randrange(1, 999)}"
            if f"{base}.{tld}" not in used and f"{base}-{kind_en}.test" not in used:
                break
        else:
            raise ValueError("too many bodies for the synthetic name space")
        dom = f"{kind_en}.{base}.{tld}"
        used.update((f"{base}.{tld}", f"{base}-{kind_en}.test"))
        jname = f"{STEMS[s]}{kind_ja}"
        spf_rate, dmarc_rate = RATES[region]
        mail: list[str] = []
        if rnd.random() < 0.15:  # a separate mail domain (e.g. a .lg.jp-style sibling)
            mail.append(f"mail.{base}-{kind_en}.test")
        rows.append({"name": f"{pref}{jname}" if pref != "北海道" else f"北海道{jname}", "region": region,
                     "prefecture": pref, "kind": kind_ja, "domain": dom, "mail_domains": " ".join(mail)})
        doms = [dom, *mail]
        for j, d in enumerate(doms):
            # with a separate mail domain, the web domain often has nothing and the mail domain everything
            t = _make_domain(rnd, zone, d, spf_rate if not (mail and j == 0) else spf_rate * 0.3,
                             dmarc_rate if not (mail and j == 0) else dmarc_rate * 0.3, org_policies)
            truth[d] = t
            if t.flaky:
                flaky.add(d)
            if t.broken:
                broken.update((d, ".".join(d.split(".")[-2:])))
    return World(rows=rows, zone=zone, truth=truth, flaky=flaky, broken=broken)


def _make_domain(rnd: random.Random, zone: dict[str, list[tuple[str, Any]]], d: str, spf_rate: float,
                 dmarc_rate: float, org_policies: dict[str, tuple[str, str, bool, frozenset[str]]]) -> DomainTruth:
    t = DomainTruth(d)
    org = ".".join(d.split(".")[-2:])
    roll = rnd.random()
    if roll < 0.02:  # the zone's servers never answer: everything is unknown, not absent
        t.broken = True
        for n in {d, f"_dmarc.{d}", org, f"_dmarc.{org}"}:
            zone.pop(n, None)
            _add(zone, n, "TIMEOUT", None)
        t.spf = t.spf_valid = t.spf_fail_all = t.spf_over_limit = None
        t.dmarc = t.dmarc_covered = t.rua = t.mx = None
        t.spf_all = "unknown"
        return t
    if roll < 0.03:  # a stale entry: the domain no longer exists
        t.nxdomain = True
        return t
    t.flaky = roll < 0.06
    # web presence
    _add(zone, d, "A", f"192.0.2.{rnd.randrange(1, 120)}")
    # MX
    mx_hosts: list[tuple[int, str]] = []
    if rnd.random() < 0.9:
        prov = rnd.choice(("kumo-mail.example", "lgwan-relay.test", "bigcloud.example", None))
        mx_hosts.append((10, f"mx1.{prov}" if prov else f"mail.{d}"))
        if prov:
            _add(zone, d, "MX", (10, f"mx1.{prov}"))
        else:
            _add(zone, d, "MX", (10, f"mail.{d}"))
            _add(zone, f"mail.{d}", "A", f"203.0.113.{rnd.randrange(130, 250)}")
        t.mx = True
    # SPF (RFC 7208)
    if rnd.random() < spf_rate:
        t.spf = True
        kind = rnd.random()
        if kind < 0.05:       # two records: permerror (RFC 7208 §4.5)
            _add(zone, d, "TXT", "v=spf1 ip4:203.0.113.10 -all")
            _add(zone, d, "TXT", "v=spf1 include:_spf.kumo-mail.example -all")
            t.spf_valid = False
            t.spf_all, t.ipv4, t.mistakes = "invalid", 0, frozenset({"SPF_MULTIPLE_RECORDS"})
        elif kind < 0.09:     # unknown mechanism 'ipv4:' (RFC 7208 §4.6 / §12)
            _add(zone, d, "TXT", "v=spf1 ipv4:203.0.113.10 -all")
            t.spf_valid = False
            t.spf_all, t.ipv4, t.mistakes = "invalid", 0, frozenset({"SPF_SYNTAX"})
        elif kind < 0.12:     # 11 includes: over the 10-lookup limit (RFC 7208 §4.6.4)
            _add(zone, d, "TXT", "v=spf1 " + " ".join(f"include:{c}" for c in CHAIN[:11]) + " -all")
            t.spf_valid, t.spf_over_limit = False, True
            t.includes = tuple(CHAIN[:11])
            t.spf_all, t.ipv4, t.providers = "invalid", 11, frozenset({"spf-chain.test"})
            t.mistakes = frozenset({"SPF_LOOKUP_LIMIT"})
        elif kind < 0.135:    # pass everything (RFC 7208 §5.1)
            _add(zone, d, "TXT", "v=spf1 +all")
            t.spf_valid, t.spf_all, t.ipv4, t.mistakes = True, "+all", 1 << 32, frozenset({"SPF_PASS_ALL"})
        elif kind < 0.15:     # no all, a redirect to a provider (RFC 7208 §6.1)
            _add(zone, d, "TXT", "v=spf1 redirect=_spf.kumo-mail.example")
            t.spf_valid, t.spf_all = True, "redirect"
            t.ipv4 = _count_ipv4(list(PROVIDER_NETS["_spf.kumo-mail.example"]))
            t.providers = frozenset({"_spf.kumo-mail.example"})
        elif kind < 0.16:     # neither all nor redirect: the default result is neutral (RFC 7208 §4.7)
            _add(zone, d, "TXT", "v=spf1 ip4:203.0.113.77")
            t.spf_valid, t.spf_all, t.ipv4, t.mistakes = True, "no-all", 1, frozenset({"SPF_NO_ALL"})
        else:
            terms = []
            nets: list[str] = []
            if rnd.random() < 0.5:
                ip = f"203.0.113.{rnd.randrange(1, 120)}"
                terms.append(f"ip4:{ip}")
                nets.append(ip)
            incs = rnd.sample(DIRECT_INCLUDES, k=rnd.choice((0, 1, 1, 1, 2)))
            terms += [f"include:{i}" for i in incs]
            for i in incs:
                nets += PROVIDER_NETS[i]
            if not terms:
                terms.append("mx" if t.mx else "a")
                nets += [str(v) for n in ([h for _p, h in mx_hosts] if t.mx else [d])
                         for rt, v in zone.get(n, ()) if rt == "A"]
            qual = rnd.choices(("-all", "~all", "?all"), weights=(55, 40, 5))[0]
            _add(zone, d, "TXT", "v=spf1 " + " ".join(terms) + " " + qual)
            t.spf_valid, t.spf_fail_all, t.includes = True, qual == "-all", tuple(incs)
            t.spf_all, t.ipv4, t.providers = qual, _count_ipv4(nets), frozenset(incs)
            if qual == "?all":
                t.mistakes = frozenset({"SPF_NEUTRAL_ALL"})
    elif rnd.random() < 0.2:
        _add(zone, d, "TXT", "google-site-verification=abcdefghijklmnop")  # not SPF
    # DMARC (RFC 7489 §6.6.3: own record first, then the organizational domain)
    if rnd.random() < dmarc_rate:
        own = rnd.random() < 0.75 or org == d
        if own:
            pol = rnd.choices(("none", "quarantine", "reject"), weights=(60, 20, 20))[0]
            rua = rnd.random() < 0.7
            dest = rnd.random()
            rua_to = (f"dmarc@{org}" if dest < 0.5 else f"{org.split('.')[0]}@{REPORTS}" if dest < 0.85
                      else f"{org.split('.')[0]}@{NOAUTH_REPORTS}")
            extra = rnd.random()
            tail = "; pct=50" if extra < 0.08 else "; t=y" if extra < 0.14 else \
                f"; ruf=mailto:f@{org}" if extra < 0.22 else ""
            rec = f"v=DMARC1; p={pol}" + (f"; rua=mailto:{rua_to}" if rua else "") + tail
            _add(zone, f"_dmarc.{d}", "TXT", rec)
            t.dmarc = t.dmarc_covered = True
            t.policy, t.rua = pol, rua
            tags = {"source:own"}
            if rua:
                tags.add("rua")
                host = rua_to.split("@")[1]
                tags.add("rua:same-organization" if host == org else "rua:external-authorized"
                         if host == REPORTS else "rua:external-unauthorized")
                t.rua_destinations = frozenset({host})
                if host == org:
                    _add(zone, org, "MX", (10, "mx1.kumo-mail.example"))
            tags |= {"pct<100"} if "pct=50" in tail else {"t=y"} if "t=y" in tail else \
                {"ruf"} if "ruf=" in tail else set()
            t.dmarc_tags = frozenset(tags)
        else:
            if org not in org_policies:
                p = rnd.choice(("none", "quarantine", "reject"))
                sp = rnd.choice((None, "none", "quarantine")) if p != "none" else None
                rua = rnd.random() < 0.5
                rec = f"v=DMARC1; p={p}" + (f"; sp={sp}" if sp else "") + (
                    f"; rua=mailto:{org.split('.')[0]}@{REPORTS}" if rua else "")
                tags = {"source:organizational"} | ({f"sp:{sp}"} if sp else set())
                if rua:
                    tags |= {"rua", "rua:external-authorized"}
                org_policies[org] = (rec, sp or p, rua, frozenset(tags))
                _add(zone, f"_dmarc.{org}", "TXT", rec)
            _, eff, rua, tags = org_policies[org]
            t.dmarc, t.dmarc_covered = False, True
            t.policy, t.rua, t.inherited_from = eff, rua, org
            t.dmarc_tags = tags
            t.rua_destinations = frozenset({REPORTS}) if rua else frozenset()
    return t


class FlakyResolver:
    """Wraps a resolver: the first lookup of every name under a flaky domain fails (timeout), later ones answer.

    Models transient failures that the round's second pass must recover.
    """

    def __init__(self, inner: Any, flaky_domains: set[str]) -> None:
        self.inner = inner
        self.flaky = flaky_domains
        self.failed: set[tuple[str, str]] = set()

    def _is_flaky(self, name: str) -> bool:
        return any(name == d or name.endswith("." + d) for d in self.flaky)

    async def query(self, name: str, rdtype: str) -> Answer:
        key = (name.lower().rstrip("."), rdtype.upper())
        if self._is_flaky(key[0]) and key not in self.failed:
            self.failed.add(key)
            return Answer(key[0], key[1], "error", rcode="", error="timeout")
        return await self.inner.query(name, rdtype)
