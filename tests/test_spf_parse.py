"""SPF parser (RFC 7208 §4.5, §5, §6, §12) and macros (§7): positions, every problem, round trips."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.checks.spf.macro import MacroContext, expand, parse_macro_string
from mailposture.checks.spf.parse import format_record, is_spf_record, parse_record


@pytest.mark.parametrize(("text", "expected"), [
    ("v=spf1", True), ("v=spf1 -all", True), ("V=SpF1 a", True), ("v=spf10", False), ("v=spf1mx", False),
    (" v=spf1 -all", False), ("v=spf2.0/pra", False), ("", False),
])
def test_record_selection(text, expected):
    assert is_spf_record(text) is expected


def test_full_record_terms():
    rec = parse_record("v=spf1 +a -mx:mail.example.com/24//64 ~ptr:example.org ?ip4:192.0.2.0/24 "
                       "ip6:2001:db8::/32 include:_spf.example.net exists:%{i}._spf.%{d} "
                       "redirect=_spf.example.com exp=exp.%{d} x-mod=%{l}  ")
    assert rec.valid, rec.problems
    names = [(t.kind, t.name, t.qualifier) for t in rec.terms]
    assert names == [("mechanism", "a", "+"), ("mechanism", "mx", "-"), ("mechanism", "ptr", "~"),
                     ("mechanism", "ip4", "?"), ("mechanism", "ip6", "+"), ("mechanism", "include", "+"),
                     ("mechanism", "exists", "+"), ("modifier", "redirect", ""), ("modifier", "exp", ""),
                     ("modifier", "x-mod", "")]
    mx = rec.terms[1]
    assert (mx.value, mx.cidr4, mx.cidr6, mx.result) == ("mail.example.com", 24, 64, "fail")
    assert rec.terms[3].network == ipaddress.ip_network("192.0.2.0/24")
    assert rec.terms[4].network == ipaddress.ip_network("2001:db8::/32")
    assert rec.redirect is rec.terms[7] and rec.exp is rec.terms[8]
    assert [t.name for t in rec.unknown_modifiers] == ["x-mod"]
    assert rec.terms[6].has_macro and not rec.terms[5].has_macro
    assert [t.counts_lookup for t in rec.terms] == [True, True, True, False, False, True, True, True, False,
                                                    False]


def test_every_problem_with_its_position():
    text = "v=spf1 ip4:1.2.3.4/33 a:foo moo ip6::1::2 -all exp=%{r}.example.com"
    rec = parse_record(text)
    assert not rec.valid
    got = [(p.offset, p.term) for p in rec.problems]
    assert got == [(text.index("33"), "ip4:1.2.3.4/33"), (text.index("foo"), "a:foo"),
                   (text.index("moo"), "moo"), (text.index(":1::2"), "ip6::1::2"),
                   (text.index("%{r}"), "exp=%{r}.example.com")]
    assert all(p.code == "SPF_SYNTAX" for p in rec.problems)
    assert "'r'" in rec.problems[-1].reason


@pytest.mark.parametrize("term", [
    "-all.", "-all:foo", "-all/8", "ptr/0", "ptr:", "a:", "a/33", "a//129", "a/24/64", "a:foo-bar", "a:museum",
    "a:museum.", "a:abc.123", "a:example.-com", "a:111.222.33.44", "a:example.com:8080", "include",
    "include:", "include:ex.com/24", "exists", "exists:", "exists:mail.example.com/24", "ip4", "ip4:1.2.3",
    "ip4:1.2.3.4/032", "ip4:1.2.3.4//32", "ip4:1.2.3.4:8080", "ip4:01.2.3.4", "ip6", "ip6::CAFE::BABE",
    "ip6:::1/129", "ip6:::1//33", "ip6:fe80::1%eth0", "redirect=", "redirect=-all", "exp=", "exp=-all",
    "=all", "1up=foo", "moo.cow/far_out=man:dog/cat", "moo.cow:far_out=man:dog/cat", "foo=%abc",
    "+redirect=a.example.com", "exists:%(ir).sbl.example.com", "exists:foo%.sbl.example.com",
    "a:%{a}.example.com", "a:%{d0}.example.com", "a:%{ir", "a:foo.example.com\x00", "a:ex\u00e9.com",
    "ip4:192.0.2.5\n", "redirect:t2.example.com", "mx:%{t}.example.com",
])
def test_invalid_terms(term):
    rec = parse_record("v=spf1 " + term)
    assert not rec.valid
    assert all(7 <= p.offset <= 7 + len(term) for p in rec.problems)


@pytest.mark.parametrize("term", [
    "a", "a/0", "a//0", "a/24//64", "mx:foo:bar/baz.example.com", "a:foo.example.xn--zckzah", "a:foo.com.",
    "ip4:1.1.1.1/0", "ip6:::1.1.1.1/0", "ip6:::FFFF:1.2.3.4", "moo.cow-far_out=man:dog/cat", "default=+",
    "a:macro%%percent%_%_space%-url-space.example.com", "exists:%{i}.%{l2r-}.user.%{d2}",
    "exists:%{l2r+-}.user.%{d2}", "redirect=%{d}.d.spf.example.com.", "exp=msg8.%{D2}", "x=", "ptr",
    "include:%{d}", "a:%{H}.bar",
])
def test_valid_terms(term):
    rec = parse_record("v=spf1 " + term)
    assert rec.valid, rec.problems


def test_duplicate_modifiers_and_non_ascii():
    rec = parse_record("v=spf1 redirect=a.example.com exp=x.example.com redirect=b.example.com exp=y.example.com")
    assert [p.code for p in rec.problems] == ["SPF_DUPLICATE_MODIFIER", "SPF_DUPLICATE_MODIFIER"]
    rec = parse_record("v=spf1 a:\u00efgarbage.example.net -all")
    assert rec.problems[0].code == "SPF_NON_ASCII" and rec.problems[0].offset == 9
    assert any(p.code == "SPF_SYNTAX" for p in rec.problems)


def test_host_bits_and_all_term():
    rec = parse_record("v=spf1 ip4:192.0.2.1/24 ip6:2001:db8::1/32 ~all -all")
    assert rec.valid
    assert [t.host_bits for t in rec.mechanisms[:2]] == [True, True]
    assert str(rec.mechanisms[0].network) == "192.0.2.0/24"
    assert rec.all_term.qualifier == "~"


# -- hypothesis ----------------------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_random_text_never_crashes(text):
    for candidate in (text, "v=spf1 " + text):
        rec = parse_record(candidate)
        assert rec.valid == (not rec.problems)
        for p in rec.problems:
            assert 0 <= p.offset <= len(candidate)


_label = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
_domain = st.builds(lambda a, b: f"{a}.{b}", _label, st.sampled_from(["com", "net", "example", "xn--zckzah"]))
_v4 = st.builds(lambda n, p: f"{ipaddress.IPv4Address(n)}/{p}", st.integers(0, 2**32 - 1), st.integers(0, 32))
_v6 = st.builds(lambda n, p: f"{ipaddress.IPv6Address(n)}/{p}", st.integers(0, 2**128 - 1), st.integers(0, 128))
_q = st.sampled_from(["", "+", "-", "~", "?"])
_macro = st.sampled_from(["%{d}", "%{i}", "%{l1r-}", "%{D2}", "%{ir}.%{v}", "%{h}", "%{s}", "%%", "%_"])
_mech = st.one_of(
    st.builds(lambda q, d: f"{q}include:{d}", _q, _domain),
    st.builds(lambda q, d, c: f"{q}a{':' + d if d else ''}{c}", _q, st.none() | _domain,
              st.sampled_from(["", "/24", "//64", "/0//0", "/32//128"])),
    st.builds(lambda q, d: f"{q}mx:{d}/28", _q, _domain),
    st.builds(lambda q, a: f"{q}ip4:{a}", _q, _v4),
    st.builds(lambda q, a: f"{q}ip6:{a}", _q, _v6),
    st.builds(lambda q, m, d: f"{q}exists:{m}.{d}", _q, _macro, _domain),
    st.builds(lambda q: f"{q}ptr", _q),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(_mech, max_size=12), st.none() | _domain, st.sampled_from(["", "-all", "~all", "?all"]))
def test_generated_valid_records_round_trip(mechs, redirect, all_):
    terms = [*mechs, *([all_] if all_ else []), *([f"redirect={redirect}"] if redirect else [])]
    text = " ".join(["v=spf1", *terms])
    rec = parse_record(text)
    assert rec.valid, (text, rec.problems)
    assert [t.text for t in rec.terms] == terms
    assert format_record(rec) == text
    again = parse_record(format_record(rec))
    assert [(t.name, t.qualifier, t.value, t.cidr4, t.cidr6, t.network) for t in again.terms] == \
           [(t.name, t.qualifier, t.value, t.cidr4, t.cidr6, t.network) for t in rec.terms]
    for t in rec.terms:
        assert text[t.offset:t.offset + len(t.text)] == t.text


# -- macros: RFC 7208 §7.4 examples ------------------------------------------------------------------------

RFC_CTX = dict(sender="strong-bad@email.example.com", domain="email.example.com", helo="mx.example.org")


@pytest.mark.parametrize(("macro", "expanded"), [
    ("%{s}", "strong-bad@email.example.com"),
    ("%{o}", "email.example.com"),
    ("%{d}", "email.example.com"),
    ("%{d4}", "email.example.com"),
    ("%{d3}", "email.example.com"),
    ("%{d2}", "example.com"),
    ("%{d1}", "com"),
    ("%{dr}", "com.example.email"),
    ("%{d2r}", "example.email"),
    ("%{l}", "strong-bad"),
    ("%{l-}", "strong.bad"),
    ("%{lr}", "strong-bad"),
    ("%{lr-}", "bad.strong"),
    ("%{l1r-}", "strong"),
    ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
    ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
    ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
    ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
    ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ("%{h}%%%_%-", "mx.example.org% %20"),
    ("%{S}", "strong-bad%40email.example.com"),
])
async def test_rfc7208_section_7_4_ipv4(macro, expanded):
    tokens, problems = parse_macro_string(macro)
    assert not problems
    ctx = MacroContext(ip=ipaddress.ip_address("192.0.2.3"), **RFC_CTX)
    assert await expand(tokens, ctx) == expanded


async def test_rfc7208_section_7_4_ipv6():
    tokens, _ = parse_macro_string("%{ir}.%{v}._spf.%{d2}")
    ctx = MacroContext(ip=ipaddress.ip_address("2001:db8::cb01"), **RFC_CTX)
    assert await expand(tokens, ctx) == \
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"


async def test_explanation_only_letters():
    ctx = MacroContext(ip=ipaddress.ip_address("2001:db8::cb01"), receiver="mx.example.jp", timestamp=42,
                       **RFC_CTX)
    _, problems = parse_macro_string("%{c} %{r} %{t}")
    assert problems  # not in a domain-spec (§7.1)
    tokens, problems = parse_macro_string("%{c} %{r} %{t}", letters=frozenset("slodiphvcrt"), spaces=True)
    assert not problems
    assert await expand(tokens, ctx) == "2001:db8::cb01 mx.example.jp 42"


def test_macro_problem_offsets():
    _, problems = parse_macro_string("ab%{x}cd%{l0}%q%{")
    assert [p.offset for p in problems] == [2, 8, 13, 15]
