"""A synthetic survey world: N domains with a realistic mix of SPF, DMARC and MX, streamed to one zone file.

Everything lives in one zone (default origin ``bench.test``) so NSD can serve millions of names. Each domain
``d<N>.bench.test`` is its own organizational domain only if the PSL says so; ``bench.test`` is not a public
suffix, so the organizational domain of every domain is ``bench.test``, which publishes a DMARC record: domains
without their own record inherit it, as many subdomain-style bodies do in the wild.

The mix (per domain, by a seeded RNG, so every run and every tool sees the same world):
SPF 80 % (of which: 45 % include a shared provider with nested includes, 20 % ip4 only, 10 % a/mx, 5 % ~all
on top, 3 % two records, 2 % syntax error, 2 % over the lookup limit, 1 % +all), DMARC 35 % (none 55 %,
quarantine 25 %, reject 20 %; 70 % with rua, 10 % of rua external), MX 88 % (2 % null MX), 2 % NXDOMAIN
(names in the input list that are not in the zone).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

PROVIDERS = {
    # provider include tree: name -> record; nested includes cost lookups like real ones
    "_spf.mailprov-a.bench.test": "v=spf1 include:_netblocks1.mailprov-a.bench.test "
                                  "include:_netblocks2.mailprov-a.bench.test ~all",
    "_netblocks1.mailprov-a.bench.test": "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.0/25 ~all",
    "_netblocks2.mailprov-a.bench.test": "v=spf1 ip6:2001:db8:1::/48 ip4:192.0.2.0/26 ~all",
    "spf.mailprov-b.bench.test": "v=spf1 ip4:100.64.0.0/16 ip4:100.65.0.0/20 -all",
    "spf.mailprov-c.bench.test": "v=spf1 include:spf1.mailprov-c.bench.test include:spf2.mailprov-c.bench.test -all",
    "spf1.mailprov-c.bench.test": "v=spf1 ip4:10.10.0.0/16 -all",
    "spf2.mailprov-c.bench.test": "v=spf1 ip4:10.20.0.0/16 a:relay.mailprov-c.bench.test -all",
    "spf.bigcloud.bench.test": "v=spf1 ip4:20.0.0.0/8 ip4:40.0.0.0/9 -all",
}
PROVIDER_INCLUDES = ["_spf.mailprov-a.bench.test", "spf.mailprov-b.bench.test", "spf.mailprov-c.bench.test",
                     "spf.bigcloud.bench.test"]


def _q(text: str) -> str:
    parts = [text[i:i + 250] for i in range(0, len(text), 250)] or [""]
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


def domain_records(i: int, origin: str, rng: random.Random) -> Iterator[tuple[str, str, str]]:
    """(owner, type, rdata-text) for domain number i."""
    d = f"d{i:07d}.{origin}"
    r = rng.random
    yield d, "A", f"192.0.2.{i % 250 + 1}"
    if r() < 0.80:
        kind = r()
        if kind < 0.45:
            rec = f"v=spf1 include:{rng.choice(PROVIDER_INCLUDES)} -all"
        elif kind < 0.65:
            rec = f"v=spf1 ip4:198.18.{i % 256}.0/24 -all"
        elif kind < 0.75:
            rec = "v=spf1 a mx -all"
        elif kind < 0.80:
            rec = f"v=spf1 ip4:198.18.{i % 256}.0/24 include:{rng.choice(PROVIDER_INCLUDES)} ~all"
        elif kind < 0.83:
            yield d, "TXT", _q("v=spf1 ip4:198.18.0.1 -all")
            rec = "v=spf1 mx -all"
        elif kind < 0.85:
            rec = "v=spf1 ip4:198.18.0.300 -all"
        elif kind < 0.87:
            rec = "v=spf1 " + " ".join(f"include:{p}" for p in PROVIDER_INCLUDES) + " a mx ptr exists:x.bench.test -all"
        elif kind < 0.88:
            rec = "v=spf1 +all"
        else:
            rec = f"v=spf1 mx include:{rng.choice(PROVIDER_INCLUDES)} ~all"
        yield d, "TXT", _q(rec)
    if r() < 0.5:
        yield d, "TXT", _q(f"google-site-verification=bench{i}")
    if r() < 0.35:
        p = rng.choices(["none", "quarantine", "reject"], [55, 25, 20])[0]
        rec = f"v=DMARC1; p={p}"
        if r() < 0.7:
            rec += f"; rua=mailto:dmarc@{d}" if r() < 0.9 else "; rua=mailto:reports@dmarc-vendor.bench.test"
        yield f"_dmarc.{d}", "TXT", _q(rec)
    m = r()
    if m < 0.86:
        yield d, "MX", f"10 mx.{d}."
        yield f"mx.{d}", "A", f"192.0.2.{i % 250 + 1}"
    elif m < 0.88:
        yield d, "MX", "0 ."


def parent_zone(origin: str = "bench.test") -> tuple[str, str]:
    """The zone above the world (``test``), so that lookups above it (the RFC 9989 tree walk) get NXDOMAIN, as
    they would from a recursive resolver, instead of REFUSED."""
    parent = origin.split(".", 1)[1]
    return parent, (f"$ORIGIN {parent}.\n$TTL 3600\n@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n"
                    f"@ NS ns.{origin}.\n")


def write_world(path: Path, n: int, *, origin: str = "bench.test", seed: int = 1) -> list[str]:
    """Write the zone file for ``origin`` and return the input list (with ~2 % names that do not exist)."""
    rng = random.Random(seed)
    names: list[str] = []
    with path.open("w") as fh:
        fh.write(f"$ORIGIN {origin}.\n$TTL 3600\n@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n"
                 f"@ NS ns.{origin}.\nns A 127.0.0.1\n")
        fh.write(f'@ TXT "v=spf1 -all"\n_dmarc TXT "v=DMARC1; p=none; rua=mailto:dmarc@{origin}"\n')
        fh.write(f"{origin}. MX 10 mx.{origin}.\nmx A 192.0.2.250\n")
        fh.write(f'*._report._dmarc.dmarc-vendor TXT "v=DMARC1"\ndmarc-vendor MX 10 mx.{origin}.\n')
        fh.write("relay.mailprov-c A 10.20.0.1\n")
        for name, rec in PROVIDERS.items():
            fh.write(f"{name}. TXT {_q(rec)}\n")
        for i in range(n):
            for owner, rtype, rdata in domain_records(i, origin, rng):
                fh.write(f"{owner}. {rtype} {rdata}\n")
            names.append(f"d{i:07d}.{origin}")
            if rng.random() < 0.02:
                names.append(f"gone{i:07d}.{origin}")
    return names


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/bench.zone")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    names = write_world(out, n)
    print(f"wrote {out} with {n} domains; input list has {len(names)} names")
