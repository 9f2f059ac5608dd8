"""DMARC record parser (RFC 7489 §6.3-§6.4, RFC 9989 §4.7-§4.8): pure, collects every problem of a record.

``parse_record(text)`` never raises: each problem becomes a :class:`~mailposture.findings.Finding` with a stable
code, and parsing continues with the next tag so that a record with three problems yields three findings.

``valid`` means exactly "inside the RFC 9989 grammar and its record-level rules" and ``valid_rfc7489`` the same
for RFC 7489; the rules are the tables of :mod:`mailposture.checks.dmarc.grammar`. What receivers still do with
a record outside the grammar (apply p despite an empty tag, trim leading whitespace…) is reported as a finding,
never by bending ``valid``. The grammar itself allows: tag names and keyword values in any case (RFC 5234
§2.3), SP/HTAB around tags, ``=`` and ``,``, one trailing ``;``. The version value ``DMARC1`` is case-sensitive
(RFC 7489 §6.4 and RFC 9989 §4.8 ``%s"DMARC1"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from mailposture.checks.chars import first_bad, in_japanese, visible
from mailposture.checks.dmarc.grammar import RECORD_RULES, TAG_RULES
from mailposture.findings import Finding, finding

_STRENGTH = {"none": 0, "quarantine": 1, "reject": 2}
KNOWN_TAGS = ("v", "p", "sp", "np", "psd", "t", "adkim", "aspf", "fo", "rua", "ruf", "pct", "rf", "ri")
DEPRECATED_TAGS = ("pct", "rf", "ri")  # removed by RFC 9989 §4.7 (see its Appendix on changes from RFC 7489)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

# dmarc-version = "v" *WSP "=" *WSP %s"DMARC1" (RFC 9989 §4.8); the tag name is case-insensitive (RFC 5234 §2.3)
# nothing before "v": RFC 7489 §6.6.3 step 2 discards records that do not start with "v="
_VERSION_RE = re.compile(r"^[vV][ \t]*=[ \t]*DMARC1[ \t]*(;|$)")
_LOOKS_DMARC_RE = re.compile(r"^\s*v\s*=\s*dmarc", re.IGNORECASE)
_SPF_RE = re.compile(r"^\s*v\s*=\s*spf1(\s|$)", re.IGNORECASE)
_TAG_NAME_RE = re.compile(r"^[A-Za-z]+$")                      # dmarc-tag = 1*ALPHA equals 1*dmarc-value
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(.*)$", re.DOTALL)  # RFC 3986 §3.1
_SIZE_RE = re.compile(r"^([0-9]+)([kmgtKMGT]?)$")              # RFC 7489 §6.2: "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]
_URI_CHARS_RE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@$&'()*+;=%]*$")  # RFC 3986 §2 (without "!" and ",")
_BAD_PCT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")               # pct-encoded = "%" HEXDIG HEXDIG (RFC 3986 §2.1)
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9_\-]{1,63}(?<!-)$")


def is_dmarc_text(text: str) -> bool:
    """True when a TXT string starts with ``v=DMARC1`` (RFC 7489 §6.6.3 step 2: other records are discarded;
    whitespace before ``v`` is outside the grammar, RFC 9989 §4.8)."""
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
    bad_size: str | None = None  # a "!size" suffix outside RFC 7489 §6.2 (RFC 9989 reporters ignore sizes)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"uri": self.text, "tag": self.tag, "valid": self.valid}
        for key in ("scheme", "address", "domain", "max_size", "reason", "bad_size"):
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
    policy_error: bool = False       # p/sp/np invalid, or a tag-list receivers do not trust
    violations: dict[str, list[str]] = field(default_factory=dict)  # "9989"/"7489" -> rules broken (grammar.py)

    @property
    def valid(self) -> bool:
        """Inside the RFC 9989 grammar and its record-level rules (RFC 9989 §4.7, §4.8)."""
        return self.dmarc and not self.violations.get("9989")

    @property
    def valid_rfc7489(self) -> bool:
        """Inside the RFC 7489 grammar and its record-level rules (RFC 7489 §6.3, §6.4)."""
        return self.dmarc and not self.violations.get("7489")

    @property
    def policy(self) -> str | None:
        """The policy for the record's own domain: p (absent: 'none', RFC 9989 §4.7), or 'none' on the rua
        fallback, None when not applied."""
        if not self.dmarc or self.fallback == "ignored":
            return None
        if self.fallback == "none":
            return "none"
        return self.p or "none"

    def policy_for(self, relation: str) -> str | None:
        """Effective policy for ``relation`` = "domain" | "subdomain" | "nonexistent" (RFC 9989 §4.10.1:
        sp for existing subdomains, np for non-existent ones, falling back to sp and then p)."""
        base = self.policy
        if base is None or self.fallback:
            return base
        p = self.p or "none"  # p absent: none (RFC 9989 §4.7)
        if relation == "nonexistent":
            return self.np or self.sp or p
        if relation == "subdomain":
            return self.sp or p
        return p

    def mailto(self) -> list[ReportUri]:
        return [u for u in (*self.rua, *self.ruf) if u.valid and u.scheme == "mailto"]

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        return {"record": self.text, "valid": self.valid, "valid_rfc7489": self.valid_rfc7489,
                "violations": {f"rfc{std}": list(rules) for std, rules in sorted(self.violations.items())},
                "dmarc": self.dmarc, "tags": dict(self.tags),
                "policy": self.policy, "p": self.p, "sp": self.sp, "np": self.np, "psd": self.psd, "t": self.t,
                "adkim": self.adkim, "aspf": self.aspf, "pct": self.pct,
                "rua": [u.to_json() for u in self.rua], "ruf": [u.to_json() for u in self.ruf],
                "findings": [f.to_json(lang) for f in self.findings]}


def _expected(values: tuple[str, ...] | list[str]) -> str:
    return " (" + " | ".join(values) + ")"


def parse_uri(text: str, tag: str, offset: int = 0) -> ReportUri:
    """One DMARC URI: ``URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]`` (RFC 7489 §6.2; RFC 9989 §4.8).
    ``offset`` is the URI's position in the record, used to name a bad character's position."""
    raw = text
    max_size = None
    bad_size = None
    if not text:
        return ReportUri(raw, tag, False, reason="empty element (a stray comma?)")
    bad = first_bad(text, offset)
    if bad:  # RFC 3986 §2: a URI is ASCII; other characters must be percent-encoded (RFC 3987 §3.1)
        return ReportUri(raw, tag, False, reason=f"{bad} (URIs are ASCII: percent-encode it)")
    if "!" in text:
        # "!" inside the URI itself must be %-encoded (RFC 7489 §6.2), so the last "!" starts the size limit
        text, size = text.rsplit("!", 1)
        m = _SIZE_RE.match(size)
        if m:
            max_size = int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
        else:  # outside RFC 7489 §6.2; RFC 9989 §4.8 has no size limit (a "!" suffix is ignored by reporters)
            bad_size = "!" + size
    m = _SCHEME_RE.match(text)
    if not m:
        if "@" in text:
            return ReportUri(raw, tag, False, reason="the 'mailto:' prefix is missing")
        return ReportUri(raw, tag, False, reason="not a URI")
    scheme, rest = m.group(1).lower(), m.group(2)
    if not rest or not _URI_CHARS_RE.match(rest) or _BAD_PCT_RE.search(rest):
        return ReportUri(raw, tag, False, scheme=scheme, reason="characters not allowed in a URI")
    if scheme != "mailto":
        return ReportUri(raw, tag, True, scheme=scheme, max_size=max_size, bad_size=bad_size)
    addr = unquote(rest.split("?", 1)[0])  # RFC 6068 §2: hfields after "?" are allowed; %2C is a comma
    if addr.count("@") != 1:
        return ReportUri(raw, tag, False, scheme=scheme, reason="a mailto: URI needs exactly one address local@domain")
    local, domain = addr.split("@")
    domain = domain.rstrip(".").lower()
    if not local or not valid_hostname(domain) or "." not in domain:
        return ReportUri(raw, tag, False, scheme=scheme, address=addr,
                         reason="the address is not of the form local@domain.example")
    return ReportUri(raw, tag, True, scheme=scheme, address=addr, domain=domain, max_size=max_size,
                     bad_size=bad_size)


#: the fixed reasons of :func:`parse_uri`, in Japanese (a reason naming a character goes through in_japanese)
URI_REASON_JA = {
    "empty element (a stray comma?)": "空の要素 (余分なカンマ?)",
    "the 'mailto:' prefix is missing": "'mailto:' が付いていません",
    "not a URI": "URI ではありません",
    "characters not allowed in a URI": "URI に使えない文字があります",
    "a mailto: URI needs exactly one address local@domain": "mailto: URI にはアドレス local@domain がちょうど 1 つ必要です",
    "the address is not of the form local@domain.example": "アドレスが local@domain.example の形ではありません",
}


def uri_reason_ja(reason: str | None) -> str:
    if not reason:
        return ""
    if reason in URI_REASON_JA:
        return URI_REASON_JA[reason]
    return in_japanese(reason.replace("(URIs are ASCII: percent-encode it)", "(URI は ASCII のみ: % エンコードしてください)"))


def _parse_uris(value: str, tag: str, offset: int, out: list[Finding]) -> list[ReportUri]:
    # dmarc-urilist = dmarc-uri *(*WSP "," *WSP dmarc-uri) (RFC 9989 §4.8)
    uris = []
    at = offset
    for part in value.split(","):
        lead = len(part) - len(part.lstrip(" \t"))
        uri = parse_uri(part.strip(" \t"), tag, at + lead)
        at += len(part) + 1
        uris.append(uri)
        if uri.bad_size:
            out.append(finding("DMARC_RFC7489_INVALID", tag=tag, value=visible(uri.text, 80),
                               expected=f"size limit '{uri.bad_size}' is not digits then k, m, g or t",
                               section="RFC 7489 §6.2"))
        if not uri.valid:
            out.append(finding("DMARC_BAD_URI", uri=visible(uri.text, 80), tag=tag, reason=uri.reason,
                               reason_ja=uri_reason_ja(uri.reason)))
        elif uri.scheme != "mailto":
            out.append(finding("DMARC_URI_UNSUPPORTED", uri=uri.text, tag=tag, scheme=uri.scheme))
    return uris


class _Parser:
    """One pass over the record text; every violated rule is noted against the standards that have it."""

    def __init__(self, rec: DmarcRecord) -> None:
        self.rec = rec
        self.out = rec.findings

    def violate(self, rule: str, *, only: tuple[str, ...] | None = None) -> None:
        """Note ``rule`` (a RECORD_RULES id, or "tag:<name>" for a TAG_RULES value) as broken for ``only``
        the given standards, by default every standard that has the rule."""
        for std in only or RECORD_RULES[rule].standards:
            lst = self.rec.violations.setdefault(std, [])
            if rule not in lst:
                lst.append(rule)

    def syntax(self, term: str, reason: str, rule: str, *, reason_ja: str, policy: bool = True) -> None:
        """A term outside the tag-list grammar. ``policy``: receivers then distrust the whole tag-list
        (RFC 6376 §3.2), so p is not used; False for slips receivers are known to skip (an empty tag)."""
        self.out.append(finding("DMARC_SYNTAX", term=visible(term, 60), reason=reason, reason_ja=reason_ja))
        self.violate(rule)
        if policy:
            self.rec.policy_error = True

    def tag_value(self, tag: str, value: str, offset: int) -> None:
        rec, out = self.rec, self.out
        rule = TAG_RULES[tag]
        if tag in ("rua", "ruf"):
            uris = _parse_uris(value, tag, offset, out)
            setattr(rec, tag, uris)
            if not all(u.valid for u in uris):
                self.violate("uri")
            if any(u.bad_size for u in uris):
                self.violate("uri", only=("7489",))
            return
        # each standard checks the tags it defines; a tag it does not define is ignored by its receivers
        new, new_exp = rule.check9989(value) if rule.check9989 else (None, None)
        old, old_exp = rule.check7489(value) if rule.check7489 else (None, None)
        if new_exp:                      # outside RFC 9989 (and RFC 7489 too, when it defines the tag)
            out.append(finding("DMARC_INVALID_VALUE", tag=tag, value=value, expected=f" ({new_exp})"))
            self.violate(f"tag:{tag}", only=("9989", "7489") if old_exp else ("9989",))
        elif old_exp:                    # only RFC 7489 rejects it; RFC 9989 receivers accept or ignore it
            out.append(finding("DMARC_RFC7489_INVALID", tag=tag, value=value, expected=old_exp,
                               section=rule.rfc7489))
            self.violate(f"tag:{tag}", only=("7489",))
        val = new if rule.check9989 else old
        if tag in ("p", "sp", "np"):       # dmarc-request (RFC 9989 §4.7; RFC 7489 §6.3 p/sp)
            setattr(rec, tag, val)
            if val is None:
                rec.policy_error = True
        elif tag in ("adkim", "aspf"):
            setattr(rec, tag, val or "r")
        elif tag == "t":
            rec.t = val or "n"
        elif tag == "psd":
            rec.psd = val or "u"
        elif tag == "fo":  # an invalid value is discarded in favour of the default (RFC 9989 §4.8)
            rec.fo = val or ("0",)
        elif tag == "pct":
            rec.pct = old
        elif tag == "ri":
            rec.ri = old
        elif tag == "rf":
            rec.rf = old or ()
            if old is not None and "afrf" not in old:  # only "afrf" is defined (RFC 7489 §6.3)
                out.append(finding("DMARC_INVALID_VALUE", "warning", tag=tag, value=value, expected=" (afrf)"))

    def run(self, text: str) -> None:
        rec, out = self.rec, self.out
        seen: set[str] = set()
        duplicates: set[str] = set()
        if text[:1] in (" ", "\t", "\r", "\n"):
            # RFC 7489 §6.6.3 step 2: records that do not start with "v=" are discarded
            out.append(finding("DMARC_LEADING_SPACE", found=visible(text.strip(), 40)))
            self.violate("no-leading-space")
        terms = text.split(";")
        pos = 0
        index = 0      # number of non-empty terms so far
        for k, raw in enumerate(terms):
            at = pos
            pos += len(raw) + 1
            term = raw.strip(" \t")
            lead = at + len(raw) - len(raw.lstrip(" \t"))
            if not term:
                if k == len(terms) - 1 and k > 0:
                    continue   # dmarc-record ends with [dmarc-sep] *WSP (RFC 9989 §4.8)
                if k > 0:      # "; ;": an empty tag (receivers skip it, so p still applies)
                    self.syntax(raw or ";;", f"empty tag between two ';' at position {at} (receivers "
                                "usually skip it: the policy still applies)", "empty-tag",
                                reason_ja=f"{at} 文字目の ';' と ';' の間が空です (多くの受信側は読み飛ばすため、"
                                "ポリシーは適用されます)", policy=False)
                continue
            if index == 0:
                self.version(term, text, lead)
                if "v" in rec.tags:
                    seen.add("v")   # a second v= is a duplicate tag (RFC 6376 §3.2), not a misplaced version
                index += 1
                continue
            index += 1
            bad = first_bad(term, lead)
            if "=" not in term:
                self.syntax(term, "'tag=value' expected" + (f" ({bad})" if bad else ""), "tag-syntax",
                            reason_ja="'タグ=値' の形ではありません" + (f" ({in_japanese(bad)})" if bad else ""))
                continue
            name, value = term.split("=", 1)
            name, value = name.rstrip(" \t"), value.lstrip(" \t")
            value_at = lead + term.index("=") + 1 + (len(term.split("=", 1)[1]) - len(value))
            tag = name.lower()
            if not _TAG_NAME_RE.match(name):
                self.syntax(term, "a tag name is letters only" + (f" ({bad})" if bad else ""), "tag-syntax",
                            reason_ja="タグ名は英字のみです" + (f" ({in_japanese(bad)})" if bad else ""))
                continue
            if not value:
                self.syntax(term, "the value is empty", "tag-syntax", reason_ja="値が空です")
                continue
            bad = first_bad(value, value_at)
            if bad and tag not in ("rua", "ruf"):  # dmarc-value = %x20-3A / %x3C-7E (RFC 9989 §4.8)
                self.syntax(term, bad, "value-chars", reason_ja=in_japanese(bad))
                continue
            if tag in seen:
                # DMARC uses the DKIM tag-list syntax: duplicate tags make the tag-list invalid (RFC 6376 §3.2)
                if tag not in duplicates:
                    duplicates.add(tag)
                    out.append(finding("DMARC_DUPLICATE_TAG", tag=tag))
                    self.violate("no-duplicate")
                    rec.policy_error = True
                continue
            seen.add(tag)
            rec.tags[tag] = value
            if tag == "v":
                if "version-first" not in rec.violations.get("9989", ()):
                    out.append(finding("DMARC_VERSION", found=visible(term, 40)))  # v must be the first tag
                self.violate("version-first")
                continue
            if tag == "p" and index != 2:
                # RFC 7489 §6.4: dmarc-version dmarc-sep [dmarc-request] ...; RFC 9989 §4.8: any order
                out.append(finding("DMARC_RFC7489_INVALID", tag="p", value=value,
                                   expected="p right after v=DMARC1", section="RFC 7489 §6.4"))
                self.violate("p-second")
            if tag not in KNOWN_TAGS:
                out.append(finding("DMARC_UNKNOWN_TAG", tag=name))  # unknown tags MUST be ignored (§6.3)
                continue
            if tag in DEPRECATED_TAGS:
                out.append(finding("DMARC_DEPRECATED_TAG", tag=tag))  # RFC 9989 §4.7: ignored by its receivers
            self.tag_value(tag, value, value_at)
        if index == 0:  # nothing at all
            out.append(finding("DMARC_VERSION", found=visible(text.strip(), 40)))
            self.violate("version-first")

    def version(self, term: str, text: str, lead: int) -> None:
        """The first term: dmarc-version = "v" dmarc-equals %s"DMARC1" (RFC 9989 §4.8, RFC 7489 §6.4)."""
        rec = self.rec
        name, eq, value = term.partition("=")
        name, value = name.rstrip(" \t"), value.lstrip(" \t")
        if eq and name.lower() == "v" and value == "DMARC1":
            rec.tags["v"] = value
            # a record with whitespace before "v=" is discarded (RFC 7489 §6.6.3); receivers that trim it
            # would apply it: the DMARC_LEADING_SPACE finding says so
            rec.dmarc = lead == 0
            return
        self.out.append(finding("DMARC_VERSION", found=visible(term, 40)))
        self.violate("version-first")
        if eq and name.lower() == "v":
            rec.tags["v"] = value
            if value.split(None, 1)[0] == "DMARC1" and value.strip() != "DMARC1":
                # "v=DMARC1 p=reject": the separator is missing, the version is fine (RFC 9989 §4.8 dmarc-sep)
                self.out.append(finding("DMARC_SYNTAX", term=visible(term, 60),
                                        reason="';' is missing after 'v=DMARC1': receivers read the version as "
                                               f"'{visible(value, 30)}' and discard the record",
                                        reason_ja="'v=DMARC1' の後に ';' がありません。受信側はバージョンを "
                                                  f"'{visible(value, 30)}' と読み、レコードを破棄します"))


def parse_record(text: str) -> DmarcRecord:
    """Parse one DMARC record (the joined TXT strings). Never raises; every problem becomes a finding."""
    rec = DmarcRecord(text=text)
    _Parser(rec).run(text)
    _record_level(rec, rec.findings)
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
    reasons: list[tuple[str, str]] = []   # (English, Japanese)
    # A tag-list with a duplicate tag or a malformed tag is invalid as a whole (RFC 6376 §3.2, used by RFC 7489
    # §6.4 / RFC 9989 §4.8): its p= is not trusted; the §6.6.3 fallback below decides what still applies.
    dups = sorted({f.params["tag"] for f in out if f.code == "DMARC_DUPLICATE_TAG"})
    if dups:
        reasons.append(("duplicate tag " + ", ".join(dups), "タグの重複: " + ", ".join(dups)))
    if any(r in rec.violations.get("9989", ()) for r in ("tag-syntax", "value-chars")):
        reasons.append(("malformed tag-list", "タグの並びの構文エラー"))
    if "p" not in rec.tags:
        # p is REQUIRED in RFC 7489 §6.3; RFC 9989 §4.7 makes it optional, the effective policy then being none
        out.append(finding("DMARC_MISSING_P", rua="valid" if any(u.valid for u in rec.rua) else "none"))
        rec.violations.setdefault("7489", []).append("p-required")
    elif rec.p is None:
        reasons.append(("p invalid", "p の値が不正"))
    for tag in ("sp", "np"):
        if tag in rec.tags and getattr(rec, tag) is None:
            reasons.append((f"{tag} invalid", f"{tag} の値が不正"))
    if rec.policy_error:
        # RFC 7489 §6.6.3 step 6, RFC 9989 §4.10.1: a valid rua URI turns the record into p=none
        reason, reason_ja = ", ".join(en for en, _ in reasons), "、".join(ja for _, ja in reasons)
        if any(u.valid for u in rec.rua):
            rec.fallback = "none"
            out.append(finding("DMARC_FALLBACK_NONE", reason=reason, reason_ja=reason_ja))
        else:
            rec.fallback = "ignored"
            out.append(finding("DMARC_NOT_APPLIED", reason=reason, reason_ja=reason_ja))
    else:
        if (rec.p or "none") == "none":
            out.append(finding("DMARC_POLICY_NONE"))
        for tag, base in (("sp", rec.p), ("np", rec.sp or rec.p)):
            val = getattr(rec, tag)
            if val and _STRENGTH[val] < _STRENGTH[base or "none"]:
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
