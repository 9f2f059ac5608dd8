"""SPF record parser (RFC 7208 §4.5, §4.6, §5, §6, §12): every term, with the position of every problem.

Pure: takes the record text, never touches DNS. A record with any problem is invalid (a permerror when
evaluated, §4.6), but parsing continues so that every problem is reported with its 0-based offset.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache

from mailposture.checks.chars import codepoint, describe, visible
from mailposture.checks.spf.macro import (
    DOMAIN_LETTERS,
    EXP_LETTERS,
    MacroExpand,
    Token,
    ends_with_macro,
    parse_macro_string,
)

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})  # §4.6.4 (plus redirect)
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}  # §4.6.2
_MODIFIER_RE = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*)=")           # §12: name "="
_MECH_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]*")
_DUAL_CIDR_RE = re.compile(r"(?:/([0-9]+))?(?://([0-9]+))?\Z")         # §5.6 dual-cidr-length
_TOPLABEL_RE = re.compile(r"(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]+|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9]")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a record: 0-based offset in the record text, the term, a reason, its finding code."""

    offset: int
    term: str
    reason: str
    code: str = "SPF_SYNTAX"


@dataclass(slots=True)
class Term:
    text: str
    offset: int                       # 0-based offset of the term in the record
    kind: str                         # "mechanism" or "modifier"
    name: str                         # lower-case mechanism or modifier name ("" if unreadable)
    qualifier: str = "+"              # "+", "-", "~", "?" (mechanisms; "" for modifiers)
    value: str | None = None          # raw domain-spec / address / modifier value
    macro: list[Token] | None = None  # parsed domain-spec (include, a, mx, ptr, exists, redirect, exp)
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None  # ip4 / ip6
    cidr4: int | None = None          # a / mx dual-cidr-length
    cidr6: int | None = None
    host_bits: bool = False           # ip4/ip6 with bits set below the prefix length (§5.6)
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def result(self) -> str:
        return QUALIFIERS.get(self.qualifier, "pass")

    @property
    def has_macro(self) -> bool:
        return bool(self.macro) and any(isinstance(t, MacroExpand) for t in self.macro or ())

    @property
    def counts_lookup(self) -> bool:
        return (self.kind == "mechanism" and self.name in LOOKUP_MECHANISMS) or (
            self.kind == "modifier" and self.name == "redirect")


@dataclass(slots=True)
class SpfRecord:
    text: str
    terms: list[Term] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # every problem, record-level and per term

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def mechanisms(self) -> list[Term]:
        return [t for t in self.terms if t.kind == "mechanism"]

    def modifier(self, name: str) -> Term | None:
        return next((t for t in self.terms if t.kind == "modifier" and t.name == name), None)

    @property
    def redirect(self) -> Term | None:
        return self.modifier("redirect")

    @property
    def exp(self) -> Term | None:
        return self.modifier("exp")

    @property
    def unknown_modifiers(self) -> list[Term]:
        return [t for t in self.terms if t.kind == "modifier" and t.name not in ("redirect", "exp")]

    @property
    def all_term(self) -> Term | None:
        return next((t for t in self.mechanisms if t.name == "all" and t.valid), None)


def is_spf_record(text: str) -> bool:
    """§4.5: the version section is exactly "v=spf1" (case-insensitive) followed by a space or the end."""
    return text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " ")


def looks_like_spf(text: str) -> bool:
    """Meant as SPF but outside §4.5/§12, so discarded: whitespace before "v=spf1" or another separator
    (TAB…) after it. Receivers that trim or split on any whitespace would still apply it."""
    stripped = text.lstrip()
    return (not is_spf_record(text) and stripped[:6].lower() == "v=spf1"
            and (len(stripped) == 6 or stripped[6].isspace()))


def parse_record(text: str) -> SpfRecord:
    """Parse one SPF record text. Never raises; see :attr:`SpfRecord.problems`."""
    rec = SpfRecord(text)
    if not is_spf_record(text):
        if looks_like_spf(text):
            at = 0 if text[:1].isspace() else 6  # the whitespace before "v=spf1" or the separator after it
            rec.problems.append(Problem(at, visible(text[:10]), describe(text[at], at)
                                        + ": the record must start with exactly 'v=spf1' followed by SP (§4.5)"))
        else:
            rec.problems.append(Problem(0, visible(text[:8]), "the record must start with 'v=spf1' followed by a space"))
        return rec
    bad = next((i for i, c in enumerate(text) if not c.isascii()), None)
    if bad is not None:  # §4.5 / §12: the record is ASCII; each offending term also gets a syntax problem
        rec.problems.append(Problem(bad, codepoint(text[bad]), "non-ASCII character in the record", "SPF_NON_ASCII"))
    i, n = 6, len(text)
    while i < n:
        if text[i] == " ":  # §12: terms are separated by 1*SP; trailing spaces are allowed
            i += 1
            continue
        if text[i].isspace():
            # §12 / §4.6.1: the only separator is SP (%x20); TAB, CR, LF… are outside the grammar. The text after
            # it is still parsed as a new term, so that the message names the separator, not the next term.
            rec.problems.append(Problem(i, visible(text[i]), describe(text[i], i)
                                        + ": terms are separated by SP (U+0020) only"))
            i += 1
            continue
        j = next((k for k in range(i, n) if text[k].isspace()), n)
        term = parse_term(text[i:j], i)
        rec.terms.append(term)
        rec.problems.extend(term.problems)
        i = j
    for name in ("redirect", "exp"):  # §6: redirect and exp MUST NOT appear more than once
        dup = [t for t in rec.terms if t.kind == "modifier" and t.name == name]
        for t in dup[1:]:
            rec.problems.append(Problem(t.offset, t.text, f"the modifier '{name}' appears more than once",
                                        "SPF_DUPLICATE_MODIFIER"))
    return rec


CACHED_TEXT_MAX = 1024  # longer records (rare: §3.4 advises under 512 octets) are parsed each time, never kept


def parse_record_cached(text: str) -> SpfRecord:
    """:func:`parse_record` memoized by text (parsing is pure). Survey analysis sees the same provider records
    for domain after domain. The record is shared between callers: read it, never modify it. The bounds (entries
    and text length) keep the hot provider records while a domain's own record, met once, soon makes way, and
    keep hostile giant records out of memory (the GC also walks every cached object)."""
    if len(text) > CACHED_TEXT_MAX:
        return parse_record(text)
    return _parse_record_lru(text)


@lru_cache(maxsize=1024)
def _parse_record_lru(text: str) -> SpfRecord:
    return parse_record(text)


def parse_term(text: str, offset: int = 0) -> Term:
    """Parse one term (directive or modifier) found at ``offset`` of the record."""
    m = _MODIFIER_RE.match(text)
    if m:
        return _parse_modifier(text, offset, m.group(1))
    qualifier = "+"
    body_at = 0
    if text and text[0] in QUALIFIERS:
        qualifier, body_at = text[0], 1
    term = Term(text, offset, "mechanism", "", qualifier)

    def problem(at: int, reason: str) -> None:
        term.problems.append(Problem(offset + at, text, reason))

    body = text[body_at:]
    if body_at and _MODIFIER_RE.match(body):
        problem(0, "a modifier cannot have a qualifier")
        return term
    if body.startswith("="):
        problem(body_at, "modifier without a name")
        return term
    nm = _MECH_NAME_RE.match(body)
    name_end = nm.end() if nm else 0
    name = body[:name_end].lower()
    rest = body[name_end:]
    term.name = name
    at = body_at + name_end  # offset of `rest` inside the term
    if name not in MECHANISMS:
        problem(body_at, f"unknown mechanism '{body[:name_end] or body[:1]}'" if body else "empty term")
        return term
    if name == "all":
        if rest:
            problem(at, "'all' takes no argument")
    elif name in ("include", "exists"):
        if not rest.startswith(":"):
            problem(at, f"'{name}' needs ':domain'")
        else:
            _domain_spec(term, rest[1:], at + 1)
    elif name in ("a", "mx"):
        domain, cidr_text, cidr_at = None, rest, at
        if rest.startswith(":"):
            cm = _DUAL_CIDR_RE.search(rest, 1)
            domain, cidr_text, cidr_at = rest[1:cm.start()], rest[cm.start():], at + cm.start()
            _domain_spec(term, domain, at + 1)
        if cidr_text:
            cm = _DUAL_CIDR_RE.fullmatch(cidr_text)
            if not cm:
                problem(cidr_at, f"invalid text after '{name}' (expected ':domain' or '/prefix')")
            else:
                term.cidr4 = _cidr(term, cm.group(1), 32, cidr_at + 1)
                if cm.group(2) is not None:
                    term.cidr6 = _cidr(term, cm.group(2), 128, cidr_at + cidr_text.find("//") + 2)
    elif name == "ptr":
        if rest.startswith(":"):
            _domain_spec(term, rest[1:], at + 1)
        elif rest:
            problem(at, "'ptr' takes only ':domain' (no prefix length)")
    else:  # ip4 / ip6
        if not rest.startswith(":"):
            problem(at, f"'{name}' needs ':address'")
        else:
            _ip(term, rest[1:], at + 1)
    return term


def _parse_modifier(text: str, offset: int, name: str) -> Term:
    value = text[len(name) + 1:]
    term = Term(text, offset, "modifier", name.lower(), "", value)
    at = len(name) + 1
    if term.name in ("redirect", "exp"):
        _domain_spec(term, value, at)  # §6.1 / §6.2: redirect = "redirect" "=" domain-spec
    else:
        # §6 / §12: unknown-modifier = name "=" macro-string (any macro letter is grammatical there)
        tokens, problems = parse_macro_string(value, letters=EXP_LETTERS)
        term.macro = tokens
        for p in problems:
            term.problems.append(Problem(offset + at + p.offset, text, p.reason))
    return term


def _domain_spec(term: Term, spec: str, at: int) -> None:
    """§7.1 / §12: domain-spec = macro-string domain-end; domain-end = "." toplabel ["."] / macro-expand."""
    term.value = spec
    base = term.offset + at
    if not spec:
        term.problems.append(Problem(base, term.text, f"'{term.name}' needs a domain name"))
        return
    tokens, problems = parse_macro_string(spec, letters=DOMAIN_LETTERS)
    term.macro = tokens
    for p in problems:
        term.problems.append(Problem(base + p.offset, term.text, p.reason))
    if problems or ends_with_macro(tokens):
        return
    # the literal text after the last macro-expand must end with "." toplabel ["."]
    tail = spec[_last_expand_end(spec):]
    if not tail:
        return  # "%%", "%_" and "%-" are macro-expands too (§12), so they can end a domain-spec
    body = tail[:-1] if tail.endswith(".") else tail
    dot = body.rfind(".")
    top = body[dot + 1:]
    if dot < 0:
        term.problems.append(Problem(base + len(spec) - len(tail), term.text,
                                     "the domain must end with a dot and a top-level label"))
    elif not _TOPLABEL_RE.fullmatch(top):
        term.problems.append(Problem(base + len(spec) - len(tail) + dot + 1, term.text,
                                     f"'{top}' is not a valid top-level label (letters, digits, inner hyphens; "
                                     "not all digits)"))


def _last_expand_end(spec: str) -> int:
    end = i = 0
    while i < len(spec):
        if spec[i] == "%" and i + 1 < len(spec):
            if spec[i + 1] in "%_-":
                end = i = i + 2
                continue
            if spec[i + 1] == "{" and "}" in spec[i:]:
                end = i = spec.index("}", i) + 1
                continue
        i += 1
    return end


def _cidr(term: Term, digits: str | None, limit: int, at: int) -> int | None:
    """§5.6: ip4-cidr-length 0-32 and ip6-cidr-length 0-128, no leading zeros."""
    if digits is None:
        return None
    if (len(digits) > 1 and digits[0] == "0") or int(digits) > limit:
        term.problems.append(Problem(term.offset + at, term.text,
                                     f"invalid prefix length '/{digits}' (0-{limit}, no leading zeros)"))
        return None
    return int(digits)


def _ip(term: Term, arg: str, at: int) -> None:
    term.value = arg
    addr, slash, digits = arg.partition("/")
    limit = 32 if term.name == "ip4" else 128
    base = term.offset + at
    ok = True
    try:
        if "%" in addr or not addr:  # no zone identifiers
            raise ValueError
        ip = ipaddress.IPv4Address(addr) if term.name == "ip4" else ipaddress.IPv6Address(addr)
    except ValueError:
        kind = "IPv4" if term.name == "ip4" else "IPv6"
        term.problems.append(Problem(base, term.text, f"'{addr}' is not a valid {kind} address"))
        ok = False
    prefix = limit
    if slash:
        if not digits.isdigit() or not digits.isascii():
            term.problems.append(Problem(base + len(addr), term.text,
                                         f"invalid prefix length '/{digits}' (0-{limit})"))
            return
        got = _cidr(term, digits, limit, at + len(addr) + 1)
        if got is None:
            return
        prefix = got
    if ok:
        net = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
        term.network = net
        term.host_bits = net.network_address != ip


def format_record(rec: SpfRecord) -> str:
    """The record text rebuilt from its terms (single spaces): used by round-trip tests."""
    return " ".join(["v=spf1", *(t.text for t in rec.terms)])


def uses_letter(term: Term, letter: str) -> bool:
    return any(isinstance(t, MacroExpand) and t.letter == letter for t in term.macro or ())
