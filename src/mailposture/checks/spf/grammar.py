"""The SPF record grammar (RFC 7208) as a table: one row per ABNF rule, with the section that defines it.

:mod:`mailposture.checks.spf.parse` implements these rules; ``tests/test_spf_grammar.py`` holds vectors written
from each row (every RFC example and each boundary) and fails when a row has none, so the table, the parser and
the tests stay one thing. ``valid`` of a record means: every term inside these rules, and the record-level
MUSTs (redirect/exp at most once, §6). Receivers' leniency (whitespace before ``v=spf1``, TABs) is reported as a
finding (SPF_MALFORMED_VERSION), never by widening the grammar.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    rule: str
    abnf: str
    section: str


RULES: tuple[Rule, ...] = (
    Rule("record", 'record = version terms *SP', "RFC 7208 §4.5, §12"),
    Rule("version", 'version = "v=spf1" (then SP or the end; case-insensitive)', "RFC 7208 §4.5"),
    Rule("terms", 'terms = *( 1*SP ( directive / modifier ) ) ; SP only, no TAB', "RFC 7208 §4.6.1, §12"),
    Rule("qualifier", 'directive = [ qualifier ] mechanism; qualifier = "+" / "-" / "?" / "~"', "RFC 7208 §4.6.2"),
    Rule("all", 'all = "all"', "RFC 7208 §5.1"),
    Rule("include", 'include = "include" ":" domain-spec', "RFC 7208 §5.2"),
    Rule("a", 'a = "a" [ ":" domain-spec ] [ dual-cidr-length ]', "RFC 7208 §5.3"),
    Rule("mx", 'mx = "mx" [ ":" domain-spec ] [ dual-cidr-length ]', "RFC 7208 §5.4"),
    Rule("ptr", 'ptr = "ptr" [ ":" domain-spec ]', "RFC 7208 §5.5"),
    Rule("ip4", 'ip4 = "ip4" ":" ip4-network [ ip4-cidr-length ]', "RFC 7208 §5.6"),
    Rule("ip6", 'ip6 = "ip6" ":" ip6-network [ ip6-cidr-length ]', "RFC 7208 §5.6"),
    Rule("exists", 'exists = "exists" ":" domain-spec', "RFC 7208 §5.7"),
    Rule("ip4-network", 'qnum "." qnum "." qnum "." qnum; qnum = 0-255 without leading zeros', "RFC 7208 §5.6"),
    Rule("cidr", 'ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT) (<= 32); ip6-cidr-length: 0*2DIGIT (<= 128); '
         'dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]', "RFC 7208 §5.6"),
    Rule("redirect", 'redirect = "redirect" "=" domain-spec; at most once', "RFC 7208 §6, §6.1"),
    Rule("exp", 'explanation = "exp" "=" domain-spec; at most once', "RFC 7208 §6, §6.2"),
    Rule("unknown-modifier", 'unknown-modifier = name "=" macro-string; '
         'name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )', "RFC 7208 §6, §12"),
    Rule("domain-spec", 'domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / '
         'macro-expand; toplabel has a letter, or is alphanum "-" … alphanum', "RFC 7208 §7.1"),
    Rule("macro", 'macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"; '
         'macro-letter = s l o d i p h c r t v (c r t only in exp); transformers = *DIGIT [ "r" ]; '
         'delimiter = "." / "-" / "+" / "," / "/" / "_" / "="', "RFC 7208 §7.1, §7.2, §7.3"),
    Rule("macro-literal", 'macro-literal = %x21-24 / %x26-7E (visible ASCII but "%")', "RFC 7208 §7.1"),
)

RULE_IDS = tuple(r.rule for r in RULES)
