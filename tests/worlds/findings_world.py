"""One DNS world in which every finding code that DNS can trigger has a domain built to trigger it.

Zones (all served by one NSD): ``test`` (the TLD: the DMARC tree walk asks ``_dmarc.test``, and a few
registrable domains of their own live here), ``world.test`` (one domain per code, named after it:
``spf-lookup-limit.world.test``), ``provider.test`` (shared includes, report receivers, mail hosts; another
organizational domain, so DMARC report destinations there are external) and ``alias.test`` (CNAME hops, so a
chain crosses three zones).

Faults are described here and applied by a :class:`~mailposture.dns.server.FaultyProxy` in front of NSD:
``servfail`` and ``drop`` (every try) per (name, type), ``drop_first`` (the first try only: the retry must
succeed). ``secure`` names get the AD bit from :class:`worlds.relays.AdRelay`.

Every address in the world is loopback or a documentation range (RFC 5737, RFC 3849): the HTTPS fetch refuses
those, and the hosts named in BIMI/MTA-STS URLs do not exist at all, so a scan with ``--fetch`` stops at DNS.
"""

from __future__ import annotations

import base64
import ipaddress
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mailposture.findings import CATALOG

ORIGINS = ["test", "world.test", "provider.test", "alias.test"]
SELECTORS = ("s1", "s2")   # the DKIM selectors probed (a --dkim-selectors file): small, so the scan stays fast
LOGO = "https://logo.nowhere.provider.test/logo.svg"      # never resolves: fetches end at DNS
VMC = "https://vmc.nowhere.provider.test/vmc.pem"

# Codes that no DNS world can produce, each with why. The HTTPS side cannot be played on 127.0.0.1 either: the
# scan's fetcher refuses loopback and private addresses (and always uses port 443), so only the "fetch failed"
# codes are reachable here, through names that do not resolve.
NOT_FROM_DNS: dict[str, str] = {
    **{c: "needs the BIMI logo served over HTTPS (SVG checks run on a fetched body)" for c in (
        "BIMI_SVG_CONTENT_TYPE", "BIMI_SVG_TOO_LARGE", "BIMI_SVG_NOT_XML", "BIMI_SVG_PROFILE", "BIMI_SVG_NO_TITLE",
        "BIMI_SVG_FORBIDDEN", "BIMI_SVG_EXTERNAL_REF", "BIMI_SVG_NOT_SQUARE", "BIMI_SVG_VALID")},
    **{c: "needs the VMC/CMC evidence document served over HTTPS (certificate checks run on a fetched body)"
       for c in ("BIMI_EVIDENCE_INVALID", "BIMI_EVIDENCE_EXPIRED", "BIMI_EVIDENCE_NOT_BIMI", "BIMI_EVIDENCE_DOMAIN",
                 "BIMI_EVIDENCE_OK")},
    **{c: "needs an HTTP response from the MTA-STS policy host (status, headers or policy body)" for c in (
        "MTASTS_POLICY_REDIRECT", "MTASTS_POLICY_HTTP_STATUS", "MTASTS_POLICY_CONTENT_TYPE",
        "MTASTS_POLICY_TOO_LARGE", "MTASTS_POLICY_SYNTAX", "MTASTS_POLICY_FIELD_MISSING",
        "MTASTS_POLICY_BAD_VALUE", "MTASTS_POLICY_DUPLICATE_FIELD", "MTASTS_MAX_AGE_SHORT", "MTASTS_MODE_TESTING",
        "MTASTS_MODE_NONE", "MTASTS_NO_MX_PATTERN", "MTASTS_MX_NOT_COVERED")},
    # issue 14: findings about one received message (`message check`), covered by tests/test_message_*.py
    **{c: "reported on a received message by `message check`, not by a domain scan" for c in CATALOG
       if c.startswith(("MSG_", "ARC_"))},

    "RESOLVER_SUSPECT": "a verdict on a whole run (the share of domains failing or NXDOMAIN), never on one domain; "
                        "tests/test_survey_health.py plays it with dead, NXDOMAIN and SERVFAIL resolvers",
}


@dataclass(frozen=True, slots=True)
class Case:
    """``code`` must appear in ``section`` of the result for ``domain`` ("top" = the result's own findings)."""

    code: str
    domain: str
    section: str


@dataclass(slots=True)
class FindingsWorld:
    records: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    origins: list[str] = field(default_factory=lambda: list(ORIGINS))
    cases: list[Case] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)          # the scan's input lines, in order
    servfail: set[tuple[str, str]] = field(default_factory=set)
    drop: set[tuple[str, str]] = field(default_factory=set)
    drop_first: set[tuple[str, str]] = field(default_factory=set)
    secure: set[str] = field(default_factory=set)
    # domain -> sections whose lookup is made to fail: the domain's status is "error", each section's
    # status "error" and its "present" None (unknown), never False
    failed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    retried: set[str] = field(default_factory=set)           # domains whose names are dropped once, then answered
    expected_records: dict[str, str] = field(default_factory=dict)   # domain -> exact SPF text (TCP fallback)
    xfail: dict[str, str] = field(default_factory=dict)      # code -> why the pipeline does not produce it

    # -- building -------------------------------------------------------------------------------------------
    def add(self, name: str, rdtype: str, value: Any) -> None:
        self.records.setdefault(name.lower(), []).append((rdtype, value))

    def txt(self, name: str, *texts: str | bytes) -> None:
        for t in texts:
            self.add(name, "TXT", t)

    def scan(self, domain: str) -> str:
        if domain not in self.inputs:
            self.inputs.append(domain)
        return domain

    def case(self, code: str, section: str, domain: str | None = None) -> str:
        domain = domain or code_domain(code)
        self.cases.append(Case(code, self.scan(domain), section))
        return domain

    @property
    def covered(self) -> set[str]:
        return {c.code for c in self.cases}

    def check(self) -> None:
        """Fail early on a world that could make a scan with --fetch connect anywhere."""
        for name, entries in self.records.items():
            for rdtype, value in entries:
                if rdtype in ("A", "AAAA"):
                    ip = ipaddress.ip_address(value)
                    assert ip.is_private or ip.is_loopback, f"{name} {rdtype} {value}: not a test address"


def code_domain(code: str) -> str:
    return code.lower().replace("_", "-") + ".world.test"


def rsa_key_b64(bits: int) -> str:
    """A SubjectPublicKeyInfo of the given modulus size (a synthetic odd modulus: nobody signs with it)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    n = random.Random(bits).getrandbits(bits) | (1 << (bits - 1)) | 1
    der = rsa.RSAPublicNumbers(65537, n).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def _ip4s(count: int, prefix: str = "198.51.100") -> str:
    return " ".join(f"ip4:{prefix}.{i % 250 + 1}" for i in range(count))


# ------------------------------------------------------------------------------------------------ shared parts

def _providers(w: FindingsWorld) -> None:
    p = "provider.test"
    w.txt(f"spf.{p}", "v=spf1 ip4:198.51.100.0/24 -all")
    w.add(f"host.{p}", "A", "198.51.100.10")
    w.add(f"mx.{p}", "A", "198.51.100.25")
    w.add(f"mx.{p}", "AAAA", "2001:db8::25")
    for i in range(1, 12):
        w.add(f"mx{i}.{p}", "A", f"198.51.100.{30 + i}")
    w.txt(f"nospf.{p}", "this name publishes no SPF record")
    w.txt(f"broken.{p}", "v=spf1 ip4:300.1.1.1 -all")
    w.txt(f"explain.{p}", "Mail from %{d} is not accepted from this host.")
    w.txt(f"loop-b.{p}", f"v=spf1 include:{code_domain('SPF_INCLUDE_LOOP')} -all")
    for i in range(1, 13):  # an include chain deeper than the analysis follows (max depth 10)
        w.txt(f"deep{i}.{p}", f"v=spf1 include:deep{i + 1}.{p} -all" if i < 12 else "v=spf1 -all")
    w.txt(f"servfail-inc.{p}", "v=spf1 -all")  # answered SERVFAIL by the proxy
    w.servfail.add((f"servfail-inc.{p}", "TXT"))
    # DMARC report receivers
    w.add(f"reports.{p}", "MX", (10, f"mx.{p}"))
    w.txt(f"*._report._dmarc.reports.{p}", "v=DMARC1")   # RFC 7489 §7.1 wildcard authorization (RFC 4592)
    w.add(f"noauth.{p}", "MX", (10, f"mx.{p}"))
    w.add(f"nomail.{p}", "MX", (0, "."))
    w.add(f"rptfail.{p}", "MX", (10, f"mx.{p}"))
    w.txt(f"noaddr.{p}", "a host without address records")
    w.txt(f"dmarc-final.{p}", "v=DMARC1; p=reject; rua=mailto:agg@reports.provider.test")
    w.add(p, "MX", (10, f"mx.{p}"))
    # cross-zone CNAME hops: world.test -> alias.test -> provider.test
    w.add("dmarc.alias.test", "CNAME", f"dmarc-final.{p}")
    w.add("mxalias.alias.test", "CNAME", f"mx.{p}")


# ------------------------------------------------------------------------------------------------ sections

def _top(w: FindingsWorld) -> None:
    w.case("DOMAIN_NXDOMAIN", "top")                         # nothing is published: NXDOMAIN (RFC 8020)
    w.inputs.append("domain-invalid..world.test")            # rejected by the input reader (empty label)
    w.cases.append(Case("DOMAIN_INVALID", "domain-invalid..world.test", "top"))
    d = w.case("POSTURE_PROTECTED", "top")
    w.txt(d, "v=spf1 include:spf.provider.test -all")
    w.add(d, "MX", (10, "mx.provider.test"))
    w.txt(f"_dmarc.{d}", f"v=DMARC1; p=reject; rua=mailto:d@{d}")
    d = w.case("POSTURE_SPOOFABLE", "top")
    w.txt(d, "v=spf1 include:spf.provider.test -all")
    w.add(d, "MX", (10, "mx.provider.test"))
    d = w.case("PARKED_PROTECTED", "posture")
    w.add(d, "MX", (0, "."))
    w.txt(d, "v=spf1 -all")
    w.txt(f"_dmarc.{d}", "v=DMARC1; p=reject;")
    d = w.case("PARKED_SPOOFABLE", "posture")
    w.add(d, "MX", (0, "."))


def _spf(w: FindingsWorld) -> None:
    records = {
        "SPF_MULTIPLE_RECORDS": ["v=spf1 ip4:192.0.2.1 -all", "v=spf1 ip4:192.0.2.2 -all"],
        "SPF_SYNTAX": ["v=spf1 ip4:192.0.2.300 -all"],
        "SPF_DUPLICATE_MODIFIER": ["v=spf1 ip4:192.0.2.1 exp=explain.provider.test exp=explain.provider.test -all"],
        "SPF_LOOKUP_LIMIT": ["v=spf1 " + " ".join(["a:host.provider.test"] * 11) + " -all"],
        "SPF_VOID_LOOKUP_LIMIT": ["v=spf1 a:void1.provider.test a:void2.provider.test a:void3.provider.test -all"],
        "SPF_VOID_LOOKUP": ["v=spf1 a:void1.provider.test ip4:192.0.2.1 -all"],
        "SPF_INCLUDE_LOOP": ["v=spf1 include:loop-b.provider.test -all"],
        "SPF_INCLUDE_MISSING": ["v=spf1 include:nospf.provider.test -all"],
        "SPF_REDIRECT_MISSING": ["v=spf1 redirect=nospf.provider.test"],
        "SPF_INCLUDE_ERROR": ["v=spf1 include:broken.provider.test -all"],
        "SPF_PASS_ALL": ["v=spf1 +all"],
        "SPF_NEUTRAL_ALL": ["v=spf1 ip4:192.0.2.1 ?all"],
        "SPF_SOFTFAIL_ALL": ["v=spf1 ip4:192.0.2.1 ~all"],
        "SPF_NO_ALL": ["v=spf1 ip4:192.0.2.1"],
        "SPF_TERMS_AFTER_ALL": ["v=spf1 -all ip4:192.0.2.1"],
        "SPF_REDIRECT_WITH_ALL": ["v=spf1 ip4:192.0.2.1 -all redirect=spf.provider.test"],
        "SPF_PTR": ["v=spf1 ptr -all"],
        "SPF_EXP": ["v=spf1 ip4:192.0.2.1 -all exp=explain.provider.test"],
        "SPF_UNKNOWN_MODIFIER": ["v=spf1 ip4:192.0.2.1 -all survey=yes"],
        "SPF_RECORD_TOO_LONG": ["v=spf1 " + _ip4s(28) + " -all"],
        "SPF_MX_TOO_MANY": ["v=spf1 mx -all"],
        "SPF_OVERPERMISSIVE": ["v=spf1 ip4:0.0.0.0/1 -all"],
        "SPF_DNS_ERROR": ["v=spf1 include:servfail-inc.provider.test -all"],
        "SPF_IP_HOST_BITS": ["v=spf1 ip4:192.0.2.1/24 -all"],
        "SPF_MACRO_P": ["v=spf1 exists:%{p}.provider.test -all"],
        "SPF_NON_ASCII": ["v=spf1 a:café.provider.test -all".encode()],
        "SPF_MALFORMED_VERSION": [" v=spf1 -all"],  # §4.5: discarded (whitespace before v=spf1)
        "SPF_QUOTED": ['"v=spf1 -all"'],             # quotes stored as text (a control panel's own quotes added)
        "SPF_ANALYSIS_TRUNCATED": ["v=spf1 include:deep1.provider.test -all"],
    }
    # a catalogued shared provider (the demo world's fictitious LGWAN relay) authorizing 1,048,576 addresses
    records["SPF_SHARED_PROVIDER_SPACE"] = ["v=spf1 ip4:192.0.2.1 include:spf.lgwan-relay.test -all"]
    w.txt("spf.lgwan-relay.test", "v=spf1 ip4:100.64.0.0/12 -all")
    for code, texts in records.items():
        w.txt(w.case(code, "spf"), *texts)
    w.failed[code_domain("SPF_DNS_ERROR")] = ("spf.valid",)  # the include's lookup fails: validity unknown
    d = w.case("SPF_NONE", "spf")
    w.add(d, "MX", (10, "mx.provider.test"))
    for i in range(11):  # eleven MX records (one host, eleven preferences): over the 'mx' limit of 10
        w.add(code_domain("SPF_MX_TOO_MANY"), "MX", (i, "mx.provider.test"))
    d = w.case("SPF_TYPE99", "spf")
    w.txt(d, "v=spf1 ip4:192.0.2.1 -all")
    w.add(d, "SPF", "v=spf1 ip4:192.0.2.1 -all")
    d = w.case("DNS_ERROR", "spf")                            # the domain's own TXT lookup fails
    w.add(d, "MX", (10, "mx.provider.test"))
    w.servfail.add((d, "TXT"))
    w.failed[d] = ("spf",)
    # a TXT answer larger than 1,232 octets: UDP is truncated, the engine retries over TCP
    d = w.scan("tcp-fallback.world.test")
    text = "v=spf1 " + _ip4s(80, "203.0.113") + " -all"
    assert len(text) > 1300
    w.txt(d, text)
    w.expected_records[d] = text


def _dmarc(w: FindingsWorld) -> None:
    def own(code: str, *texts: str) -> str:
        d = w.case(code, "dmarc")
        w.txt(d, "v=spf1 -all")
        w.txt(f"_dmarc.{d}", *texts)
        return d

    own("DMARC_MULTIPLE_RECORDS", "v=DMARC1; p=reject", "v=DMARC1; p=none")
    own("DMARC_SYNTAX", "v=DMARC1; p=reject; justaword")
    own("DMARC_VERSION", "v=dmarc1; p=reject")
    own("DMARC_MISSING_P", "v=DMARC1; rua=mailto:d@dmarc-missing-p.world.test")
    own("DMARC_INVALID_VALUE", "v=DMARC1; p=reject; adkim=x")
    own("DMARC_DUPLICATE_TAG", "v=DMARC1; p=reject; p=none")
    own("DMARC_UNKNOWN_TAG", "v=DMARC1; p=reject; colour=blue")
    own("DMARC_DEPRECATED_TAG", "v=DMARC1; p=reject; ri=86400")
    own("DMARC_POLICY_NONE", "v=DMARC1; p=none; rua=mailto:d@dmarc-policy-none.world.test")
    own("DMARC_PCT_PARTIAL", "v=DMARC1; p=reject; pct=50")
    own("DMARC_RFC7489_INVALID", "v=DMARC1; p=reject; pct=200")
    own("DMARC_LEADING_SPACE", " v=DMARC1; p=reject")
    own("DMARC_QUOTED", '"v=DMARC1; p=reject"')
    own("DMARC_WEAK_SUBDOMAIN_POLICY", "v=DMARC1; p=reject; sp=none")
    own("DMARC_NO_RUA", "v=DMARC1; p=reject")
    own("DMARC_BAD_URI", "v=DMARC1; p=reject; rua=dmarc@dmarc-bad-uri.world.test")
    own("DMARC_EXTERNAL_UNAUTHORIZED", "v=DMARC1; p=reject; rua=mailto:agg@noauth.provider.test")
    own("DMARC_EXTERNAL_AUTHORIZED", "v=DMARC1; p=reject; rua=mailto:agg@reports.provider.test")
    own("DMARC_REPORT_DOMAIN_NO_MAIL", "v=DMARC1; p=reject; rua=mailto:agg@nomail.provider.test")
    d = own("DMARC_REPORT_DNS_ERROR", "v=DMARC1; p=reject; rua=mailto:agg@rptfail.provider.test")
    w.servfail.add((f"{d}._report._dmarc.rptfail.provider.test", "TXT"))
    own("DMARC_SPF_AT_DMARC", "v=DMARC1; p=reject", "v=spf1 -all")
    own("DMARC_OTHER_TXT", "v=DMARC1; p=reject", "site-verification=1234")
    own("DMARC_PSD_MISUSE", "v=DMARC1; p=reject; psd=y")
    own("DMARC_TEST_MODE", "v=DMARC1; p=reject; t=y")
    own("DMARC_FALLBACK_NONE", "v=DMARC1; p=bogus; rua=mailto:d@dmarc-fallback-none.world.test")
    own("DMARC_NOT_APPLIED", "v=DMARC1; p=bogus")
    own("DMARC_URI_UNSUPPORTED", "v=DMARC1; p=reject; rua=https://reports.provider.test/dmarc")
    own("DMARC_FO_WITHOUT_RUF", "v=DMARC1; p=reject; fo=1")
    d = w.case("DMARC_NONE", "dmarc")
    w.txt(d, "v=spf1 -all")
    # _dmarc.<domain> -> dmarc.alias.test -> dmarc-final.provider.test: a CNAME chain across three zones
    d = w.case("DMARC_CNAME", "dmarc")
    w.txt(d, "v=spf1 -all")
    w.add(f"_dmarc.{d}", "CNAME", "dmarc.alias.test")
    # inherited policies: the scanned name is a child of the domain that publishes the record; the PSL gives
    # world.test as organizational domain, the RFC 9989 tree walk the parent (a mismatch on purpose)
    for code, text in (("DMARC_INHERITED", "v=DMARC1; p=reject"),
                       ("DMARC_ORG_DOMAIN_MISMATCH", "v=DMARC1; p=quarantine"),
                       ("DMARC_NOT_ENFORCING", "v=DMARC1; p=none")):
        parent = code_domain(code)
        child = w.case(code, "dmarc", f"child.{parent}")
        w.add(child, "A", "192.0.2.10")
        w.txt(f"_dmarc.{parent}", text)
    d = w.case("DMARC_DNS_ERROR", "dmarc")
    w.txt(d, "v=spf1 -all")
    w.servfail.add((f"_dmarc.{d}", "TXT"))
    w.failed[d] = ("dmarc",)


def _mx(w: FindingsWorld) -> None:
    d = w.case("MX_NONE", "mx")                 # A only: implicit MX; its TXT is NODATA, not NXDOMAIN
    w.add(d, "A", "192.0.2.80")
    d = w.case("MX_NULL", "mx")
    w.add(d, "MX", (0, "."))
    d = w.case("MX_NULL_MIXED", "mx")
    w.add(d, "MX", (0, "."))
    w.add(d, "MX", (10, "mx.provider.test"))
    d = w.case("MX_CNAME", "mx")
    w.add(d, "MX", (10, "mxalias.alias.test"))
    d = w.case("MX_IP_LITERAL", "mx")
    w.add(d, "MX", (10, "192.0.2.25"))
    d = w.case("MX_NO_ADDRESS", "mx")
    w.add(d, "MX", (10, "noaddr.provider.test"))
    d = w.case("MX_NO_MAIL", "mx")
    w.txt(d, "v=spf1 -all")
    d = w.case("MX_NULL_PREFERENCE", "mx")
    w.add(d, "MX", (10, "."))
    d = w.case("MX_HOSTS_LIMIT", "mx")
    for i in range(1, 12):
        w.add(d, "MX", (i, f"mx{i}.provider.test"))
    d = w.case("MX_DNS_ERROR", "mx")            # the MX query never gets an answer (every try dropped)
    w.txt(d, "v=spf1 -all")
    w.add(d, "MX", (10, "mx.provider.test"))
    w.drop.add((d, "MX"))
    w.failed[d] = ("mx",)


def _dkim(w: FindingsWorld) -> None:
    k2048 = rsa_key_b64(2048)
    keys = {
        "DKIM_FOUND": [f"v=DKIM1; k=rsa; p={k2048}"],
        "DKIM_SYNTAX": [f"v=DKIM1; k=rsa; oops; p={k2048}"],
        "DKIM_VERSION": [f"k=rsa; v=DKIM1; p={k2048}"],
        "DKIM_NO_KEY": ["v=DKIM1; k=rsa"],
        "DKIM_REVOKED": ["v=DKIM1; k=rsa; p="],
        "DKIM_KEY_INVALID": ["v=DKIM1; k=rsa; p=not*base64"],
        "DKIM_KEY_TYPE_UNKNOWN": ["v=DKIM1; k=dsa; p=AAAA"],
        "DKIM_KEY_TOO_SHORT": [f"v=DKIM1; k=rsa; p={rsa_key_b64(512)}"],
        "DKIM_KEY_WEAK": [f"v=DKIM1; k=rsa; p={rsa_key_b64(1024)}"],
        "DKIM_KEY_TOO_LONG": [f"v=DKIM1; k=rsa; p={rsa_key_b64(4200)}"],
        "DKIM_TESTING": [f"v=DKIM1; t=y; p={k2048}"],
        "DKIM_SHA1_ONLY": [f"v=DKIM1; h=sha1; p={k2048}"],
        "DKIM_SERVICE_NOT_EMAIL": [f"v=DKIM1; s=tlsrpt; p={k2048}"],
        "DKIM_OBSOLETE_TAG": [f"v=DKIM1; g=*; p={k2048}"],
        "DKIM_MULTIPLE_RECORDS": [f"v=DKIM1; p={k2048}", f"v=DKIM1; k=rsa; p={k2048}"],
    }
    for code, texts in keys.items():
        d = w.case(code, "dkim")
        w.txt(d, "v=spf1 -all")
        w.txt(f"s1._domainkey.{d}", *texts)
    d = w.case("DKIM_NONE", "dkim")             # _domainkey.<domain> is NXDOMAIN: one query proves it
    w.txt(d, "v=spf1 -all")
    d = w.case("DKIM_NOT_FOUND", "dkim")        # a key under a selector that is not probed
    w.txt(f"unprobed._domainkey.{d}", f"v=DKIM1; p={k2048}")
    d = w.case("DKIM_WILDCARD", "dkim")
    w.txt(f"*._domainkey.{d}", f"v=DKIM1; p={k2048}")
    d = w.case("DKIM_LEGACY_RECORD", "dkim")
    w.txt(f"_domainkey.{d}", "o=~; r=postmaster@dkim-legacy-record.world.test")
    w.txt(f"s1._domainkey.{d}", f"v=DKIM1; p={k2048}")
    d = w.case("DKIM_DNS_ERROR", "dkim")
    w.txt(f"unprobed._domainkey.{d}", "v=DKIM1; p=")          # _domainkey exists; s1 fails, s2 is NXDOMAIN
    w.servfail.add((f"s1._domainkey.{d}", "TXT"))
    w.failed[d] = ("dkim",)


def _bimi(w: FindingsWorld) -> None:
    def rec(code: str, *texts: str, dmarc: str | None = "v=DMARC1; p=reject") -> str:
        d = w.case(code, "bimi")
        w.txt(d, "v=spf1 -all")
        if dmarc:
            w.txt(f"_dmarc.{d}", dmarc)
        w.txt(f"default._bimi.{d}", *texts)
        return d

    ok = f"v=BIMI1; l={LOGO}; a={VMC}"
    rec("BIMI_MULTIPLE_RECORDS", ok, f"v=BIMI1; l={LOGO}")
    rec("BIMI_SYNTAX", f"v=BIMI1; l={LOGO}; stray")
    rec("BIMI_VERSION", f"v=BIMI2; l={LOGO}")
    rec("BIMI_DUPLICATE_TAG", f"v=BIMI1; l={LOGO}; l={LOGO}")
    rec("BIMI_UNKNOWN_TAG", f"{ok}; colour=blue")
    rec("BIMI_DECLINED", "v=BIMI1; l=;")
    rec("BIMI_NO_LOCATION", f"v=BIMI1; a={VMC}")
    rec("BIMI_BAD_URL", "v=BIMI1; l=http://logo.nowhere.provider.test/logo.svg")
    rec("BIMI_NO_EVIDENCE", f"v=BIMI1; l={LOGO}")
    rec("BIMI_DMARC_NOT_ENFORCING", ok, dmarc=None)
    rec("BIMI_DMARC_PCT", ok, dmarc="v=DMARC1; p=reject; pct=50")
    rec("BIMI_SVG_FETCH_FAILED", f"v=BIMI1; l={LOGO}")        # --fetch: the logo host does not resolve
    rec("BIMI_EVIDENCE_FETCH_FAILED", ok)                      # --fetch: neither does the VMC host
    d = rec("BIMI_DMARC_UNKNOWN", ok, dmarc=None)
    w.servfail.add((f"_dmarc.{d}", "TXT"))
    w.failed[d] = ("dmarc",)
    d = w.case("BIMI_NONE", "bimi")
    w.txt(d, "v=spf1 -all")
    d = w.case("BIMI_DNS_ERROR", "bimi")
    w.txt(d, "v=spf1 -all")
    w.servfail.add((f"default._bimi.{d}", "TXT"))
    w.failed[d] = ("bimi",)
    # records at the organizational domain: registrable domains of their own under the TLD zone
    d = w.case("BIMI_INHERITED", "bimi", "sub.bimi-inherited.test")
    w.add(d, "A", "192.0.2.11")
    w.txt("_dmarc.bimi-inherited.test", "v=DMARC1; p=reject")
    w.txt("default._bimi.bimi-inherited.test", ok)
    d = w.case("BIMI_DMARC_ORG_NONE", "bimi", "sub.bimi-dmarc-org-none.test")
    w.add(d, "A", "192.0.2.12")
    w.txt(f"_dmarc.{d}", "v=DMARC1; p=reject")
    w.txt("_dmarc.bimi-dmarc-org-none.test", "v=DMARC1; p=none")
    w.txt(f"default._bimi.{d}", ok)


def _mta_sts_tls_rpt(w: FindingsWorld) -> None:
    for code, section, name, texts in (
            ("MTASTS_MULTIPLE_RECORDS", "mta_sts", "_mta-sts", ["v=STSv1; id=1", "v=STSv1; id=2"]),
            ("MTASTS_SYNTAX", "mta_sts", "_mta-sts", ["v=STSv1; id=not-valid!"]),
            ("MTASTS_POLICY_FETCH_FAILED", "mta_sts", "_mta-sts", ["v=STSv1; id=20260101"]),  # no mta-sts host
            ("TLSRPT_MULTIPLE_RECORDS", "tls_rpt", "_smtp._tls",
             ["v=TLSRPTv1; rua=mailto:tls@provider.test", "v=TLSRPTv1; rua=mailto:tls2@provider.test"]),
            ("TLSRPT_SYNTAX", "tls_rpt", "_smtp._tls", ["v=TLSRPTv1; rua=mailto:tls@provider.test; stray"]),
            ("TLSRPT_NO_RUA", "tls_rpt", "_smtp._tls", ["v=TLSRPTv1;"]),
            ("TLSRPT_BAD_URI", "tls_rpt", "_smtp._tls", ["v=TLSRPTv1; rua=ftp://reports.provider.test/tls"])):
        d = w.case(code, section)
        w.add(d, "MX", (10, "mx.provider.test"))
        w.txt(f"{name}.{d}", *texts)
    for code, section in (("MTASTS_NONE", "mta_sts"), ("TLSRPT_NONE", "tls_rpt")):
        w.add(w.case(code, section), "MX", (10, "mx.provider.test"))
    for code, section, name in (("MTASTS_DNS_ERROR", "mta_sts", "_mta-sts"),
                                ("TLSRPT_DNS_ERROR", "tls_rpt", "_smtp._tls")):
        d = w.case(code, section)
        w.add(d, "MX", (10, "mx.provider.test"))
        w.servfail.add((f"{name}.{d}", "TXT"))
        w.failed[d] = (section,)


def _dnssec(w: FindingsWorld) -> None:
    d = w.case("DNSSEC_SECURE", "dnssec")
    w.txt(d, "v=spf1 -all")
    w.secure.add(d)
    d = w.case("DNSSEC_INSECURE", "dnssec")
    w.txt(d, "v=spf1 -all")
    d = w.case("DNSSEC_UNKNOWN", "dnssec")      # the validating resolver answers SERVFAIL (bogus, or failing)
    w.add(d, "MX", (10, "mx.provider.test"))
    w.servfail.add((d, "TXT"))
    w.failed[d] = ("spf", "dnssec")


def _plumbing(w: FindingsWorld) -> None:
    """Not codes: NODATA at an empty non-terminal, and names dropped once that must succeed on the retry."""
    w.add("x.empty-non-terminal.world.test", "A", "192.0.2.13")
    w.scan("empty-non-terminal.world.test")
    d = w.scan("retry-ok.world.test")
    w.txt(d, "v=spf1 ip4:192.0.2.0/24 -all")
    w.add(d, "MX", (10, "mx.provider.test"))
    w.txt(f"_dmarc.{d}", "v=DMARC1; p=reject")
    w.drop_first |= {(d, "TXT"), (d, "MX"), (f"_dmarc.{d}", "TXT")}
    w.retried.add(d)


def build() -> FindingsWorld:
    w = FindingsWorld()
    _providers(w)
    for part in (_top, _spf, _dmarc, _mx, _dkim, _bimi, _mta_sts_tls_rpt, _dnssec, _plumbing):
        part(w)
    w.check()
    return w


def faulty_predicates(w: FindingsWorld, tries: Any) -> dict[str, Any]:
    """FaultyProxy keyword arguments for the world's faults; ``tries`` is the proxy's Counter of (name, type)."""

    def drop(name: str, rdtype: str) -> bool:
        key = (name.lower(), rdtype)
        return key in w.drop or (key in w.drop_first and tries[(name, rdtype)] <= 1)

    def servfail(name: str, rdtype: str) -> bool:
        return (name.lower(), rdtype) in w.servfail

    return {"drop": drop, "servfail": servfail}


def names(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return sorted(n for n, _ in pairs)
