"""A world of sending domains for `domains hunt`: wildcard-SPF spam domains and lookalike benign ones.

``zone()`` is the DNS (FakeResolver format, also served by LocalDnsServer); ``observations()`` the names an
operator's logs would show, with times and client addresses; ``TRUTH`` the verdict each domain must get.
Seeded: the same world every run.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TRUTH = {
    "spamwild.test": "random-subdomain-spf",      # random labels right under the domain, wildcard SPF
    "spamdeep.test": "random-subdomain-spf",      # random labels under a fixed label: *.mta.spamdeep.test
    "spamseen.test": "suspicious",                # random labels, SPF on each seen name, no wildcard
    "cdnhash.test": "benign",                     # hashed labels, wildcard A, no SPF
    "ispdyn.test": "benign",                      # dynamic host names of an ISP, no SPF
    "shortlink.test": "benign",                   # random short-link hosts, wildcard A and MX, no SPF
    "mailprov.test": "benign",                    # per-customer subdomains with SPF, words seen many times
    "dkimheavy.test": "benign",                   # many DKIM selectors
    "parkedall.test": "benign",                   # random labels, wildcard "v=spf1 -all" (authorizes nothing)
    "small.test": "benign",                       # three names
    "spamwords.test": "random-subdomain-spf",     # two dictionary words a label, each seen once, wildcard SPF
    "wordsseen.test": "benign",                   # the same kind of labels, SPF on the seen names only: no proof
    "custwild.test": "benign",                    # customer words under a wildcard SPF, most seen several times
}
WORDS = ("blue horse river stone green apple silver cloud orange tiger maple field summer light north garden "
         "castle forest ocean paper").split()


def _rand(rnd: random.Random, n: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    return rnd.choice("abcdefghijklmnopqrstuvwxyz") + "".join(rnd.choice(alphabet) for _ in range(n - 1))


def observations(seed: int = 7) -> list[tuple[str, datetime, str | None]]:
    rnd = random.Random(seed)
    out: list[tuple[str, datetime, str | None]] = []

    def at(i: int) -> datetime:
        return T0 + timedelta(minutes=17 * i + rnd.randint(0, 9))

    for i in range(40):
        out.append((f"{_rand(rnd, rnd.randint(6, 10))}.spamwild.test", at(i), f"192.0.2.{1 + i % 20}"))
        out.append((f"{_rand(rnd, 8)}.mta.spamdeep.test", at(i), "198.51.100.7"))
        out.append((f"{_rand(rnd, 7)}.spamseen.test", at(i), None))
        out.append((f"{_rand(rnd, 12, '0123456789abcdef')}.cdnhash.test", at(i), None))
        out.append((f"p{rnd.randint(1000, 99999)}-ipngn{rnd.randint(100, 999)}tokyo.ispdyn.test", at(i), None))
        out.append((f"{_rand(rnd, 6)}.shortlink.test", at(i), None))
        out.append((f"{_rand(rnd, 9, 'bcdfghjklmnpqrstvwxz')}.parkedall.test", at(i), None))
    pairs = rnd.sample([a + b for a in WORDS for b in WORDS if a != b], 80)
    for i, lab in enumerate(pairs[:40]):
        out.append((f"{lab}.spamwords.test", at(i), f"192.0.2.{100 + i % 20}"))
    for i, lab in enumerate(pairs[40:]):
        out.append((f"{lab}.wordsseen.test", at(i), None))
    for i, cust in enumerate([*WORDS, "acme", "sakura", "nagoya", "kobe", "sendai"]):
        for k in range(1 + i % 3):
            out.append((f"{cust}.custwild.test", at(i + k), "203.0.113.9"))
    for i, cust in enumerate(["acme", "sakura", "tokyo-shop", "nagoya", "kyoto-books", "mail", "news", "shop",
                              "osaka", "fukuoka", "sendai", "kobe"]):
        for k in range(6):
            out.append((f"{cust}.mailprov.test", at(i * 6 + k), "203.0.113.5"))
    for sel in ["selector1", "selector2", "google", "k1", "k2", "s1", "s2", "s1024", "s2048", "mail", "dkim",
                "default", "smtp", "mx"]:
        out.append((f"{sel}._domainkey.dkimheavy.test", at(3), None))
        out.append((f"{sel}._domainkey.dkimheavy.test", at(4), None))
    for name in ("www.small.test", "mail.small.test", "small.test"):
        out.append((name, at(1), None))
    out.append(("co.jp", at(1), None))                       # a public suffix: no output at all
    out.append(("abc123xyz.blogspot.com", at(1), None))       # a private suffix: its own registrable domain
    out.append(("qq9zt7.blogspot.com", at(2), None))
    rnd.shuffle(out)
    return out


def zone(seen: list[str]) -> dict[str, list[tuple[str, object]]]:
    z: dict[str, list[tuple[str, object]]] = {}

    def add(name: str, rtype: str, value: object) -> None:
        z.setdefault(name, []).append((rtype, value))

    for dom in TRUTH:
        add(dom, "NS", f"ns1.{dom}")
        add(dom, "A", "192.0.2.250")
        add(f"ns1.{dom}", "A", "192.0.2.53")
    add("spamwild.test", "SOA", "ns1.spamwild.test. hostmaster.spamwild.test. 2026110101 3600 600 86400 300")
    add("*.spamwild.test", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
    add("*.spamwild.test", "A", "192.0.2.10")
    add("*.mta.spamdeep.test", "TXT", "v=spf1 ip4:198.51.100.0/24 ~all")
    add("mta.spamdeep.test", "A", "198.51.100.1")
    for name in seen:
        if name.endswith(".spamseen.test"):
            add(name, "TXT", "v=spf1 ip4:203.0.113.0/24 -all")
        if name.endswith(".ispdyn.test"):
            add(name, "A", "192.0.2.77")
        if name.endswith(".wordsseen.test"):
            add(name, "TXT", "v=spf1 ip4:203.0.113.0/24 -all")
        if name.endswith(".mailprov.test"):
            add(name, "TXT", "v=spf1 include:_spf.mailprov.test -all")
    add("*.cdnhash.test", "A", "192.0.2.80")
    add("*.shortlink.test", "A", "192.0.2.81")
    add("*.shortlink.test", "MX", (10, "mx.shortlink.test"))
    add("*.parkedall.test", "TXT", "v=spf1 -all")
    add("*.spamwords.test", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
    add("*.custwild.test", "TXT", "v=spf1 ip4:203.0.113.0/24 -all")
    add("_spf.mailprov.test", "TXT", "v=spf1 ip4:203.0.113.0/24 -all")
    for sel in ["selector1", "selector2", "google"]:
        add(f"{sel}._domainkey.dkimheavy.test", "TXT", "v=DKIM1; k=rsa; p=MIIB")
    return z
