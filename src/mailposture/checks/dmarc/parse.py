"""DMARC record parser (RFC 7489 §6.3-§6.4, RFC 9989 §4.7-§4.8): pure, collects every problem of a record.

``parse_record(text)`` never raises: each problem becomes a :class:`~mailposture.findings.Finding` with a stable
code, and parsing continues with the next tag so that a record with three problems yields three findings.

Leniency asked for by RFC 9989 (and practised by receivers): tag names and keyword values are case-insensitive,
whitespace around tags, ``=`` and ``,`` is ignored, a trailing ``;`` is allowed. The version value ``DMARC1``
itself is case-sensitive (RFC 7489 §6.4 and RFC 9989 §4.8 ``%s"DMARC1"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from mailposture.findings import Finding, finding

POLICIES = ("none", "quarantine", "reject")
_STRENGTH = {"none": 0, "quarantine": 1, "reject": 2}
KNOWN_TAGS = ("v", "p", "sp", "np", "psd", "t", "adkim", "aspf", "fo", "rua", "ruf", "pct", "rf", "ri")
DEPRECATED_TAGS = ("pct", "rf", "ri")  # removed by RFC 9989 §4.7 (see its Appendix on changes from RFC 7489)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

# dmarc-version = "v" *WSP "=" *WSP %s"DMARC1" (RFC 9989 §4.8); the tag name is case-insensitive (RFC 5234 §2.3)
_VERSION_RE = re.compile(r"^[ \t\r\n]*[vV][ \t]*=[ \t]*DMARC1[ \t\r\n]*(;|$)")
_LOOKS_DMARC_RE = re.compile(r"^\s*v\s*=\s*dmarc", re.IGNORECASE)
_SPF_RE = re.compile(r"^\s*v\s*=\s*spf1(\s|$)", re.IGNORECASE)
_TAG_NAME_RE = re.compile(r"^[A-Za-z]+$")                      # dmarc-tag = 1*ALPHA equals 1*dmarc-value
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(.*)$", re.DOTALL)  # RFC 3986 §3.1
_SIZE_RE = re.compile(r"^([0-9]+)([kmgtKMGT]?)$")              # RFC 7489 §6.2: "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]
_URI_CHARS_RE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@$&'()*+;=%]*$")  # RFC 3986 §2 (without "!" and ",")
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9_\-]{1,63}(?<!-)$")
_KEYWORD_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?$")  # RFC 5321 §4.1.2 Keyword (Ldh-str)


def is_dmarc_text(text: str) -> bool:
    """True when a TXT string starts with ``v=DMARC1`` (RFC 7489 §6.6.3 step 2: other records are discarded)."""
    return bool(_VERSION_RE.match(text))


def looks_like_dmarc(text: str) -> bool:
    """A record meant as DMARC but with a wrong version tag (``v=dmarc1``, ``v=DMARC2``…)."""
    return bool(_LOOKS_DMARC_RE.match(text)) and not is_dmarc_text(text)


def is_spf_text(text: str) -> bool:
    return bool(_SPF_RE.match(text))


def valid_hostname(name: str) -> bool:
    """LDH labels of 1-63 octets, at most 253 octets in all (RFC 1035 §2.3.4; '_' tolerated as in practice)."""
    name = name.rstrip(".")
    if not name or len(name) > 253:
        return False
    return all(_LABEL_RE.match(label) for label in name.split("."))


@dataclass(frozen=True, slots=True)
class ReportUri:
    """One element of a ``rua``/``ruf`` list (RFC 7489 §6.2)."""

    text: str                  # as written, without surrounding whitespace
    tag: str                   # "rua" or "ruf"
    valid: bool
    scheme: str | None = None  # lower-cased
    address: str | None = None  # mailto: addr-spec (percent-decoded)
    domain: str | None = None  # host part of a mailto: address, lower-cased
    max_size: int | None = None  # the "!size" limit in octets
    reason: str | None = None  # why it is not valid

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"uri": self.text, "tag": self.tag, "valid": self.valid}
        for key in ("scheme", "address", "domain", "max_size", "reason"):
            val = getattr(self, key)
            if val is not None:
                d[key] = val
        return d


@dataclass(slots=True)
class DmarcRecord:
    """A parsed DMARC record. ``policy`` is what a receiver applies for the record's own domain."""

    text: str
    tags: dict[str, str] = field(default_factory=dict)   # tag -> raw value (first occurrence), lower-case names
    findings: list[Finding] = field(default_factory=list)
    dmarc: bool = False              # v=DMARC1 present and first: receivers treat it as a DMARC record
    p: str | None = None             # valid values only; None when absent or invalid
    sp: str | None = None
    np: str | None = None
    psd: str = "u"                   # RFC 9989 §4.7 default 'u'
    t: str = "n"                     # RFC 9989 §4.7 default 'n'
    adkim: str = "r"                 # default relaxed (RFC 7489 §6.3)
    aspf: str = "r"
    fo: tuple[str, ...] = ("0",)
    pct: int | None = None
    rf: tuple[str, ...] = ()
    ri: int | None = None
    rua: list[ReportUri] = field(default_factory=list)
    ruf: list[ReportUri] = field(default_factory=list)
    fallback: str | None = None      # "none": acts as p=none (§6.6.3); "ignored": no DMARC processing
    policy_error: bool = False       # p missing/invalid or sp/np invalid

    @property
    def valid(self) -> bool:
        """A DMARC record without any error-severity finding."""
        return self.dmarc and not any(f.severity == "error" for f in self.findings)

    @property
    def policy(self) -> str | None:
        """The policy for the record's own domain: p, or 'none' on the rua fallback, None when not applied."""
        if not self.dmarc or self.fallback == "ignored":
            return None
        if self.fallback == "none":
            return "none"
        return self.p

    def policy_for(self, relation: str) -> str | None:
        """Effective policy for ``relation`` = "domain" | "subdomain" | "nonexistent" (RFC 9989 §4.10.1:
        sp for existing subdomains, np for non-existent ones, falling back to sp and then p)."""
        base = self.policy
        if base is None or self.fallback:
            return base
        if relation == "nonexistent":
            return self.np or self.sp or self.p
        if relation == "subdomain":
            return self.sp or self.p
        return self.p

    def mailto(self) -> list[ReportUri]:
        return [u for u in (*self.rua, *self.ruf) if u.valid and u.scheme == "mailto"]

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        return {"record": self.text, "valid": self.valid, "dmarc": self.dmarc, "tags": dict(self.tags),
                "policy": self.policy, "p": self.p, "sp": self.sp, "np": self.np, "psd": self.psd, "t": self.t,
                "adkim": self.adkim, "aspf": self.aspf, "pct": self.pct,
                "rua": [u.to_json() for u in self.rua], "ruf": [u.to_json() for u in self.ruf],
                "findings": [f.to_json(lang) for f in self.findings]}


def _expected(values: tuple[str, ...] | list[str]) -> str:
    return " (" + " | ".join(values) + ")"


def parse_uri(text: str, tag: str) -> ReportUri:
    """One DMARC URI: ``URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]`` (RFC 7489 §6.2)."""
    raw = text
    max_size = None
    if not text:
        return ReportUri(raw, tag, False, reason="empty element (a stray comma?)")
    if "!" in text:
        # "!" inside the URI itself must be %-encoded (RFC 7489 §6.2), so the last "!" starts the size limit
        text, size = text.rsplit("!", 1)
        m = _SIZE_RE.match(size)
        if not m:
            return ReportUri(raw, tag, False, reason=f"bad size limit '!{size}' (digits then k, m, g or t)")
        max_size = int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    m = _SCHEME_RE.match(text)
    if not m:
        if "@" in text:
            return ReportUri(raw, tag, False, reason="the 'mailto:' prefix is missing")
        return ReportUri(raw, tag, False, reason="not a URI")
    scheme, rest = m.group(1).lower(), m.group(2)
    if not rest or not _URI_CHARS_RE.match(rest):
        return ReportUri(raw, tag, False, scheme=scheme, reason="characters not allowed in a URI")
    if scheme != "mailto":
        return ReportUri(raw, tag, True, scheme=scheme, max_size=max_size)
    addr = unquote(rest.split("?", 1)[0])  # RFC 6068 §2: hfields after "?" are allowed
    if addr.count("@") != 1:
        return ReportUri(raw, tag, False, scheme=scheme, reason="a mailto: URI needs exactly one address local@domain")
    local, domain = addr.split("@")
    domain = domain.rstrip(".").lower()
    if not local or not valid_hostname(domain) or "." not in domain:
        return ReportUri(raw, tag, False, scheme=scheme, address=addr,
                         reason="the address is not of the form local@domain.example")
    return ReportUri(raw, tag, True, scheme=scheme, address=addr, domain=domain, max_size=max_size)


def _parse_uris(value: str, tag: str, out: list[Finding]) -> list[ReportUri]:
    # dmarc-urilist = dmarc-uri *(*WSP "," *WSP dmarc-uri) (RFC 9989 §4.8)
    uris = []
    for part in value.split(","):
        uri = parse_uri(part.strip(" \t"), tag)
        uris.append(uri)
        if not uri.valid:
            out.append(finding("DMARC_BAD_URI", uri=uri.text, tag=tag, reason=uri.reason))
        elif uri.scheme != "mailto":
            out.append(finding("DMARC_URI_UNSUPPORTED", uri=uri.text, tag=tag, scheme=uri.scheme))
    return uris


def _keyword(rec: DmarcRecord, tag: str, value: str, allowed: tuple[str, ...], out: list[Finding]) -> str | None:
    low = value.lower()
    if low in allowed:
        return low
    out.append(finding("DMARC_INVALID_VALUE", tag=tag, value=value, expected=_expected(allowed)))
    return None


def _apply_tag(rec: DmarcRecord, tag: str, value: str, out: list[Finding]) -> None:
    if tag in ("p", "sp", "np"):       # dmarc-request (RFC 7489 §6.3 p/sp; RFC 9989 §4.7 np)
        val = _keyword(rec, tag, value, POLICIES, out)
        setattr(rec, tag, val)
        if val is None:
            rec.policy_error = True
    elif tag in ("adkim", "aspf"):     # dmarc-rors (RFC 7489 §6.3)
        setattr(rec, tag, _keyword(rec, tag, value, ("r", "s"), out) or "r")
    elif tag == "t":                   # dmarc-yorn (RFC 9989 §4.7)
        rec.t = _keyword(rec, tag, value, ("y", "n"), out) or "n"
    elif tag == "psd":                 # dmarc-psd (RFC 9989 §4.7)
        rec.psd = _keyword(rec, tag, value, ("y", "n", "u"), out) or "u"
    elif tag == "fo":                  # "0" / "1" / "d" / "s", colon-separated (RFC 7489 §6.3, §6.4)
        opts = [o.strip(" \t").lower() for o in value.split(":")]
        if all(o in ("0", "1", "d", "s") for o in opts):
            rec.fo = tuple(opts)
        else:
            out.append(finding("DMARC_INVALID_VALUE", tag=tag, value=value,
                               expected=" (0 | 1 | d | s, colon-separated)"))
    elif tag == "pct":                 # 1*3DIGIT, 0-100 (RFC 7489 §6.3)
        if value.isascii() and value.isdigit() and len(value) <= 3 and int(value) <= 100:
            rec.pct = int(value)
        else:
            out.append(finding("DMARC_INVALID_VALUE", tag=tag, value=value, expected=" (0-100)"))
    elif tag == "ri":                  # 1*32DIGIT, a 32-bit unsigned interval in seconds (RFC 7489 §6.3)
        if value.isascii() and value.isdigit() and int(value) <= 0xFFFFFFFF:
            rec.ri = int(value)
        else:
            out.append(finding("DMARC_INVALID_VALUE", tag=tag, value=value, expected=" (0-4294967295 seconds)"))
    elif tag == "rf":                  # Keyword *(":" Keyword); only "afrf" is defined (RFC 7489 §6.3)
        fmts = [f.strip(" \t") for f in value.split(":")]
        if not all(_KEYWORD_RE.match(f) for f in fmts):
            out.append(finding("DMARC_INVALID_VALUE", tag=tag, value=value, expected=" (afrf)"))
        else:
            rec.rf = tuple(f.lower() for f in fmts)
            if "afrf" not in rec.rf:
                out.append(finding("DMARC_INVALID_VALUE", "warning", tag=tag, value=value, expected=" (afrf)"))
    elif tag in ("rua", "ruf"):
        setattr(rec, tag, _parse_uris(value, tag, out))


def parse_record(text: str) -> DmarcRecord:
    """Parse one DMARC record (the joined TXT strings). Never raises; every problem becomes a finding."""
    rec = DmarcRecord(text=text)
    out = rec.findings
    seen: set[str] = set()
    duplicates: set[str] = set()
    terms = text.split(";")
    first = True
    version_reported = False
    for raw in terms:
        term = raw.strip(" \t\r\n")
        if not term:
            # a trailing ";" is allowed (RFC 9989 §4.8 dmarc-record); empty terms elsewhere are tolerated too
            continue
        if "=" not in term:
            if first:
                out.append(finding("DMARC_VERSION", found=term[:40]))
                version_reported = True
            out.append(finding("DMARC_SYNTAX", term=term[:60], reason="'tag=value' expected"))
            first = False
            continue
        name, value = (s.strip(" \t\r\n") for s in term.split("=", 1))
        tag = name.lower()
        if first:
            first = False
            # v MUST be the first tag and MUST be exactly "DMARC1" (RFC 7489 §6.3, RFC 9989 §4.7)
            if tag == "v" and value == "DMARC1":
                rec.dmarc = True
                rec.tags["v"] = value
                seen.add("v")
                continue
            out.append(finding("DMARC_VERSION", found=term[:40]))
            version_reported = True
            if tag == "v":
                rec.tags["v"] = value
                seen.add("v")
                continue
        if not _TAG_NAME_RE.match(name):
            out.append(finding("DMARC_SYNTAX", term=term[:60], reason="a tag name is letters only"))
            continue
        if not value:
            out.append(finding("DMARC_SYNTAX", term=term[:60], reason="the value is empty"))
            continue
        if not all(0x20 <= ord(c) <= 0x7E for c in value):  # dmarc-value = %x20-3A / %x3C-7E (RFC 9989 §4.8)
            out.append(finding("DMARC_SYNTAX", term=term[:60], reason="non-ASCII or control character in the value"))
            continue
        if tag in seen:
            # DMARC uses the DKIM tag-list syntax: duplicate tags make the tag-list invalid (RFC 6376 §3.2)
            if tag not in duplicates:
                duplicates.add(tag)
                out.append(finding("DMARC_DUPLICATE_TAG", tag=tag))
            continue
        seen.add(tag)
        rec.tags[tag] = value
        if tag == "v":
            if not version_reported:  # v must be the first tag (RFC 7489 §6.3)
                out.append(finding("DMARC_VERSION", found=term[:40]))
            continue
        if tag not in KNOWN_TAGS:
            out.append(finding("DMARC_UNKNOWN_TAG", tag=name))  # unknown tags MUST be ignored (RFC 7489 §6.3)
            continue
        if tag in DEPRECATED_TAGS:
            out.append(finding("DMARC_DEPRECATED_TAG", tag=tag))  # RFC 9989 §4.7
        _apply_tag(rec, tag, value, out)
    if first:  # nothing at all
        out.append(finding("DMARC_VERSION", found=text.strip()[:40]))
    _record_level(rec, out)
    return rec


CACHED_TEXT_MAX = 1024  # longer (unusual, possibly hostile) records are parsed each time, never kept


def parse_record_cached(text: str) -> DmarcRecord:
    """:func:`parse_record` memoized by text (parsing is pure): the organizational domain's record is met for
    subdomain after subdomain. The record is shared between callers: read it, never modify it. Kept small:
    most domains publish a record of their own, met once, and every cached record is heap the GC walks."""
    if len(text) > CACHED_TEXT_MAX:
        return parse_record(text)
    return _parse_record_lru(text)


@lru_cache(maxsize=512)
def _parse_record_lru(text: str) -> DmarcRecord:
    return parse_record(text)


def _record_level(rec: DmarcRecord, out: list[Finding]) -> None:
    """Checks that need the whole record."""
    if not rec.dmarc:
        return
    reasons = []
    # A tag-list with a duplicate tag or a malformed tag is invalid as a whole (RFC 6376 §3.2, used by RFC 7489
    # §6.4 / RFC 9989 §4.8): its p= is not trusted; the §6.6.3 fallback below decides what still applies.
    dups = sorted({f.params["tag"] for f in out if f.code == "DMARC_DUPLICATE_TAG"})
    if dups:
        rec.policy_error = True
        reasons.append("duplicate tag " + ", ".join(dups))
    if any(f.code == "DMARC_SYNTAX" for f in out):
        rec.policy_error = True
        reasons.append("malformed tag-list")
    if "p" not in rec.tags:
        # p is REQUIRED in RFC 7489 §6.3 (RECOMMENDED in RFC 9989 §4.7)
        out.append(finding("DMARC_MISSING_P"))
        rec.policy_error = True
        reasons.append("p missing")
    elif rec.p is None:
        reasons.append("p invalid")
    for tag in ("sp", "np"):
        if tag in rec.tags and getattr(rec, tag) is None:
            reasons.append(f"{tag} invalid")
    if rec.policy_error:
        # RFC 7489 §6.6.3 step 6, RFC 9989 §4.10.1: a valid rua URI turns the record into p=none
        reason = ", ".join(reasons)
        if any(u.valid for u in rec.rua):
            rec.fallback = "none"
            out.append(finding("DMARC_FALLBACK_NONE", reason=reason))
        else:
            rec.fallback = "ignored"
            out.append(finding("DMARC_NOT_APPLIED", reason=reason))
    else:
        if rec.p == "none":
            out.append(finding("DMARC_POLICY_NONE"))
        for tag, base in (("sp", rec.p), ("np", rec.sp or rec.p)):
            val = getattr(rec, tag)
            if val and base and _STRENGTH[val] < _STRENGTH[base]:
                out.append(finding("DMARC_WEAK_SUBDOMAIN_POLICY", sp=val, tag=tag, p=base))
    if rec.pct is not None and rec.pct < 100:
        out.append(finding("DMARC_PCT_PARTIAL", pct=rec.pct))
    if rec.t == "y":
        out.append(finding("DMARC_TEST_MODE"))
    if "rua" not in rec.tags:
        out.append(finding("DMARC_NO_RUA"))
    if "fo" in rec.tags and "ruf" not in rec.tags:
        out.append(finding("DMARC_FO_WITHOUT_RUF"))


def policy_strength(policy: str | None) -> int:
    return _STRENGTH.get(policy or "", -1)
