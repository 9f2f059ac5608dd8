"""SPF grammar vectors written from the RFC 7208 ABNF: every row of checks/spf/grammar.RULES has records inside
and outside the rule (boundaries included), plus every record example of RFC 7208 (Appendix A, §7.4)."""

from __future__ import annotations

import pytest

from mailposture.checks.spf.grammar import RULE_IDS, RULES
from mailposture.checks.spf.parse import parse_record

# rule -> (records inside the grammar, records outside it)
VECTORS: dict[str, tuple[list[str], list[str]]] = {
    "record": (["v=spf1", "v=spf1 -all", "v=spf1 -all   "], ["", "spf1 -all", "v=spf1-all"]),
    "version": (["V=SPF1 -all", "v=Spf1 a"], ["v=spf10 -all", "v=spf2 -all", " v=spf1 -all", "v=spf1\t-all"]),
    "terms": (["v=spf1 a  mx   -all"], ["v=spf1 a\t-all", "v=spf1 -all\t", "v=spf1 a\r\n-all", "v=spf1 a\u00a0-all"]),
    "qualifier": (["v=spf1 +a -mx ?ptr ~all"], ["v=spf1 *all", "v=spf1 ++all", "v=spf1 -redirect=x.example"]),
    "all": (["v=spf1 all", "v=spf1 -ALL"], ["v=spf1 all:x.example", "v=spf1 all/24", "v=spf1 -alll"]),
    "include": (["v=spf1 include:example.com -all"], ["v=spf1 include -all", "v=spf1 include: -all",
                                                      "v=spf1 include:example.com/24 -all"]),
    "a": (["v=spf1 a", "v=spf1 a:example.org", "v=spf1 a/24", "v=spf1 a:example.org/24//64", "v=spf1 a//64"],
          ["v=spf1 a:", "v=spf1 a/", "v=spf1 a/33", "v=spf1 a//129", "v=spf1 a:example.org/24/64"]),
    "mx": (["v=spf1 mx", "v=spf1 mx:example.org/30", "v=spf1 mx/30 mx:example.org/30 -all"],
           ["v=spf1 mx:", "v=spf1 mx/-1", "v=spf1 mx:example.org/"]),
    "ptr": (["v=spf1 ptr", "v=spf1 ptr:example.org -all"], ["v=spf1 ptr:", "v=spf1 ptr/24"]),
    "ip4": (["v=spf1 ip4:192.0.2.128/28 -all", "v=spf1 ip4:0.0.0.0/0", "v=spf1 ip4:255.255.255.255/32"],
            ["v=spf1 ip4", "v=spf1 ip4:", "v=spf1 ip4:192.0.2.1/33", "v=spf1 ip4:2001:db8::1"]),
    "ip6": (["v=spf1 ip6:2001:db8::/32", "v=spf1 ip6:::1/128", "v=spf1 ip6:::ffff:192.0.2.1"],
            ["v=spf1 ip6:192.0.2.1", "v=spf1 ip6:2001:db8::/129", "v=spf1 ip6:2001:db8:::1", "v=spf1 ip6"]),
    "exists": (["v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all"], ["v=spf1 exists", "v=spf1 exists:"]),
    "ip4-network": (["v=spf1 ip4:10.0.0.0/8", "v=spf1 ip4:192.0.2.250"],
                    ["v=spf1 ip4:192.0.02.1", "v=spf1 ip4:192.0.2.256", "v=spf1 ip4:192.0.2", "v=spf1 ip4:1.2.3.4.5"]),
    "cidr": (["v=spf1 ip4:192.0.2.0/0", "v=spf1 ip4:192.0.2.0/32", "v=spf1 ip6:::/0", "v=spf1 ip6:::/128",
              "v=spf1 a/0//0"],
             ["v=spf1 ip4:192.0.2.0/024", "v=spf1 ip4:192.0.2.0/00", "v=spf1 ip6:::/0128", "v=spf1 a/24//",
              "v=spf1 ip4:192.0.2.0/"]),
    "redirect": (["v=spf1 redirect=example.org", "v=spf1 redirect=_spf.%{d}"],
                 ["v=spf1 redirect=", "v=spf1 redirect=a.example redirect=b.example", "v=spf1 redirect:a.example"]),
    "exp": (["v=spf1 mx -all exp=explain._spf.%{d}"], ["v=spf1 exp=", "v=spf1 exp=a.example exp=b.example"]),
    "unknown-modifier": (["v=spf1 foo=bar -all", "v=spf1 x.y-z_1=%{d} -all", "v=spf1 foo= -all"],
                         ["v=spf1 1foo=bar", "v=spf1 =bar", "v=spf1 -foo=bar", "v=spf1 fo%o=bar"]),
    "domain-spec": (["v=spf1 a:example.org.", "v=spf1 include:%{d}", "v=spf1 a:x-1.example", "v=spf1 a:1x.example"],
                    ["v=spf1 a:example.1", "v=spf1 a:example.-org", "v=spf1 a:example", "v=spf1 include:example.org-"]),
    "macro": (["v=spf1 exists:%{s}.%{l}.%{o}.%{d}.%{i}.%{p}.%{h}.%{v}.x.example", "v=spf1 exists:%{d4r-.}.x.example",
               "v=spf1 exists:%%.%_.%-.x.example"],
              ["v=spf1 exists:%{z}.x.example", "v=spf1 exists:%{d", "v=spf1 exists:%x.example",
               "v=spf1 exists:%{c}.x.example", "v=spf1 exists:%{d1x}.x.example",
               "v=spf1 -all exp=%{c}.x.example"]),  # c, r, t: only in the explanation text itself (§7.2)
    "macro-literal": (["v=spf1 a:~!#$&'*.example"], ["v=spf1 a:x\x01.example", "v=spf1 a:caf\u00e9.example",
                                                   "v=spf1 a:x\x7f.example"]),
}

# RFC 7208 Appendix A and §7.4: record examples (all inside the grammar)
RFC_EXAMPLES = [
    "v=spf1 +all", "v=spf1 a -all", "v=spf1 a:example.org -all", "v=spf1 mx -all", "v=spf1 mx:example.org -all",
    "v=spf1 mx mx:example.org -all", "v=spf1 mx/30 -all", "v=spf1 mx/30 mx:example.org/30 -all", "v=spf1 ptr -all",
    "v=spf1 ip4:192.0.2.128/28 -all", "v=spf1 include:example.com include:example.net -all",
    "v=spf1 redirect=example.org", "v=spf1 mx -all exp=explain._spf.%{d}", "v=spf1 mx:example.com -all",
    "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all", "v=spf1 -ip4:192.0.2.0/24 +all",
    "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all", "v=spf1 -exists:%{lr-}.lp._spf.%{d2} +all",
    "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all", "v=spf1 -exists:%{ir}.%{v}.%{l1r-}.lp._spf.%{d2} +all",
    "v=spf1 exists:%{d2}.trusted-domains.example.net -all", "v=spf1 exists:%{lr-}.lp.%{ir}.%{v}._spf.%{d2} -all",
]


def test_every_rule_has_vectors_inside_and_outside():
    assert set(VECTORS) == set(RULE_IDS)
    for r in RULES:
        inside, outside = VECTORS[r.rule]
        assert inside and outside, r.rule
        assert r.section.startswith("RFC 7208 §")


@pytest.mark.parametrize("rule, text", [(r, t) for r, (ins, _) in VECTORS.items() for t in ins])
def test_inside_the_grammar_is_valid(rule, text):
    rec = parse_record(text)
    assert rec.valid, (rule, [(p.offset, p.reason) for p in rec.problems])


@pytest.mark.parametrize("rule, text", [(r, t) for r, (_, outs) in VECTORS.items() for t in outs])
def test_outside_the_grammar_is_invalid(rule, text):
    assert not parse_record(text).valid, rule


@pytest.mark.parametrize("text", RFC_EXAMPLES)
def test_rfc_examples_are_valid(text):
    rec = parse_record(text)
    assert rec.valid, [(p.offset, p.reason) for p in rec.problems]
