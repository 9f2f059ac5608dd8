"""The DMARC record grammar as tables: one row per rule, with the RFC section that makes it a rule.

Two standards are kept apart. RFC 9989 (DMARCbis) decides ``valid``; RFC 7489 decides ``valid_rfc7489``.
A tag that one standard does not define is, for that standard, an unknown tag, which receivers MUST ignore
(RFC 7489 §6.3, RFC 9989 §4.7): ``pct``/``rf``/``ri`` can never make a record invalid under RFC 9989, and
``np``/``psd``/``t`` never under RFC 7489.

The record ABNF (RFC 9989 §4.8; RFC 7489 §6.4 is the same for what is checked here, except that it puts
``dmarc-request`` right after the version and ends with ``[dmarc-sep]`` only)::

    dmarc-record  = dmarc-version *(dmarc-sep dmarc-tag) [dmarc-sep] *WSP
    dmarc-version = "v" dmarc-equals %s"DMARC1"
    dmarc-sep     = *WSP ";" *WSP
    dmarc-equals  = *WSP "=" *WSP
    dmarc-tag     = 1*ALPHA dmarc-equals 1*dmarc-value
    dmarc-value   = %x20-3A / %x3C-7E          ; printable ASCII but ";"
    WSP           = SP / HTAB                   ; RFC 5234 B.1 (no CR, no LF)

ABNF strings are case-insensitive (RFC 5234 §2.3): tag names and keyword values match in any case; the
version value is ``%s``, case-sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

POLICIES = ("none", "quarantine", "reject")
_KEYWORD_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?$")  # RFC 5321 §4.1.2 Keyword (Ldh-str)

# A value check returns (normalized value, None) or (None, what was expected).
Check = Callable[[str], tuple[object, str | None]]


def keyword(*allowed: str) -> Check:
    def check(value: str) -> tuple[object, str | None]:
        low = value.lower()
        return (low, None) if low in allowed else (None, " | ".join(allowed))
    return check


def _fo_options(value: str) -> list[str]:
    return [o.strip(" \t").lower() for o in value.split(":")]


def fo_7489(value: str) -> tuple[object, str | None]:
    """RFC 7489 §6.4: ("0" / "1" / "d" / "s") *(*WSP ":" *WSP ("0" / "1" / "d" / "s"))."""
    opts = _fo_options(value)
    if all(o in ("0", "1", "d", "s") for o in opts):
        return tuple(opts), None
    return None, "0 | 1 | d | s, colon-separated"


def fo_9989(value: str) -> tuple[object, str | None]:
    """RFC 9989 §4.7/§4.8 dmarc-fo: options from 0, 1, d, s; 0 and 1 exclude each other; each at most once."""
    opts = _fo_options(value)
    if (all(o in ("0", "1", "d", "s") for o in opts) and len(set(opts)) == len(opts)
            and not ("0" in opts and "1" in opts)):
        return tuple(opts), None
    return None, "0 or 1, and d and s at most once each, colon-separated"


def pct_7489(value: str) -> tuple[object, str | None]:
    """RFC 7489 §6.3/§6.4 dmarc-percent: 1*3DIGIT, an integer from 0 to 100."""
    if value.isascii() and value.isdigit() and len(value) <= 3 and int(value) <= 100:
        return int(value), None
    return None, "0-100"


def ri_7489(value: str) -> tuple[object, str | None]:
    """RFC 7489 §6.3/§6.4 dmarc-ainterval: 1*DIGIT, a 32-bit unsigned integer of seconds."""
    if value.isascii() and value.isdigit() and int(value) <= 0xFFFFFFFF:
        return int(value), None
    return None, "0-4294967295 seconds"


def rf_7489(value: str) -> tuple[object, str | None]:
    """RFC 7489 §6.4 dmarc-rfmt: Keyword *(*WSP ":" Keyword)."""
    fmts = [f.strip(" \t") for f in value.split(":")]
    if all(_KEYWORD_RE.match(f) for f in fmts):
        return tuple(f.lower() for f in fmts), None
    return None, "afrf"


@dataclass(frozen=True, slots=True)
class TagRule:
    """One tag of the grammar: its ABNF, and for each standard the section defining it and the value check
    (``None``: the standard does not define the tag, so its receivers ignore it)."""

    tag: str
    abnf: str
    rfc9989: str | None
    check9989: Check | None
    rfc7489: str | None
    check7489: Check | None


_POLICY = keyword(*POLICIES)
_RORS = keyword("r", "s")

TAG_RULES: dict[str, TagRule] = {r.tag: r for r in (
    TagRule("p", 'dmarc-request = "none" / "quarantine" / "reject"', "RFC 9989 §4.7", _POLICY,
            "RFC 7489 §6.3", _POLICY),
    TagRule("sp", 'dmarc-request', "RFC 9989 §4.7", _POLICY, "RFC 7489 §6.3", _POLICY),
    TagRule("np", 'dmarc-request', "RFC 9989 §4.7", _POLICY, None, None),
    TagRule("adkim", 'dmarc-rors = "r" / "s"', "RFC 9989 §4.7", _RORS, "RFC 7489 §6.3", _RORS),
    TagRule("aspf", 'dmarc-rors = "r" / "s"', "RFC 9989 §4.7", _RORS, "RFC 7489 §6.3", _RORS),
    TagRule("t", 'dmarc-yorn = "y" / "n"', "RFC 9989 §4.7", keyword("y", "n"), None, None),
    TagRule("psd", 'dmarc-psd = "y" / "n" / "u"', "RFC 9989 §4.7", keyword("y", "n", "u"), None, None),
    TagRule("fo", 'dmarc-fo = "0" / "1" / "d" / "s" (":"-separated; 9989: 0 xor 1, each once)',
            "RFC 9989 §4.7", fo_9989, "RFC 7489 §6.3", fo_7489),
    TagRule("rua", 'dmarc-urilist = dmarc-uri *(*WSP "," *WSP dmarc-uri)', "RFC 9989 §4.7", None,
            "RFC 7489 §6.3", None),   # URIs are checked one by one (parse.parse_uri)
    TagRule("ruf", 'dmarc-urilist', "RFC 9989 §4.7", None, "RFC 7489 §6.3", None),
    TagRule("pct", 'dmarc-percent = 1*3DIGIT (0-100)', None, None, "RFC 7489 §6.3", pct_7489),
    TagRule("rf", 'dmarc-rfmt = Keyword *(*WSP ":" Keyword)', None, None, "RFC 7489 §6.3", rf_7489),
    TagRule("ri", 'dmarc-ainterval = 1*DIGIT (32-bit)', None, None, "RFC 7489 §6.3", ri_7489),
)}


@dataclass(frozen=True, slots=True)
class RecordRule:
    """A rule about the record as a whole; ``standards`` says which standards have it."""

    rule: str
    text: str
    section: str
    standards: tuple[str, ...]


RECORD_RULES: dict[str, RecordRule] = {r.rule: r for r in (
    RecordRule("version-first", 'the record starts with dmarc-version: "v" dmarc-equals %s"DMARC1"',
               "RFC 9989 §4.8, RFC 7489 §6.4", ("9989", "7489")),
    RecordRule("no-leading-space", "nothing, not even whitespace, before 'v=' (a record that does not start "
               "with 'v=' is discarded)", "RFC 9989 §4.8, RFC 7489 §6.6.3", ("9989", "7489")),
    RecordRule("separator", 'tags are separated by dmarc-sep = *WSP ";" *WSP; WSP is SP or HTAB',
               "RFC 9989 §4.8, RFC 7489 §6.4, RFC 5234 B.1", ("9989", "7489")),
    RecordRule("empty-tag", "no empty tag between two ';' (only one ';' may end the record)",
               "RFC 9989 §4.8, RFC 7489 §6.4", ("9989", "7489")),
    RecordRule("tag-syntax", "dmarc-tag = 1*ALPHA dmarc-equals 1*dmarc-value", "RFC 9989 §4.8, RFC 7489 §6.4",
               ("9989", "7489")),
    RecordRule("value-chars", "dmarc-value = %x20-3A / %x3C-7E (printable ASCII)", "RFC 9989 §4.8",
               ("9989", "7489")),
    RecordRule("no-duplicate", "a tag appears at most once in the tag-list", "RFC 6376 §3.2 (RFC 9989 §4.8, "
               "RFC 7489 §6.4)", ("9989", "7489")),
    RecordRule("p-required", "p is REQUIRED (RFC 9989 makes it optional: effective policy none)",
               "RFC 7489 §6.3", ("7489",)),
    RecordRule("p-second", "dmarc-request directly follows the version (RFC 9989 allows any order)",
               "RFC 7489 §6.4", ("7489",)),
    RecordRule("uri", "each report URI is an RFC 3986 URI; ',' and '!' inside it are percent-encoded",
               "RFC 9989 §4.8, RFC 7489 §6.2", ("9989", "7489")),
)}
