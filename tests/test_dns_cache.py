"""Pure parts of the engine: TTL cache, token bucket, nameserver parsing, response interpretation, zone files."""

from __future__ import annotations

import dns.name
import dns.zone
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.dns.cache import MAX_NEGATIVE_TTL, TokenBucket, TtlCache
from mailposture.dns.engine import (
    DnsConfigError,
    interpret,
    parse_nameserver,
    system_nameservers,
)
from mailposture.dns.wire import RR, T_A, T_CNAME, T_NS, T_SOA, T_TXT, Message
from mailposture.dns.zonefile import ZoneError, infer_origins, render_zones, write_zones


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# ------------------------------------------------------------------------------------------------ cache

def test_cache_expires_entries_by_ttl() -> None:
    clock = Clock()
    c = TtlCache(10, clock=clock)
    c.put("k", "v", 30)
    assert c.get("k") == ("v", 30)
    clock.t += 29.5
    value, left = c.get("k")
    assert value == "v" and left == pytest.approx(0.5)
    clock.t += 0.5
    assert c.get("k") is None and len(c) == 0


def test_cache_ttl_zero_is_not_stored() -> None:
    c = TtlCache(10, clock=Clock())
    c.put("k", "v", 0)
    assert c.get("k") is None


def test_cache_is_lru_bounded() -> None:
    c = TtlCache(3, clock=Clock())
    for k in "abc":
        c.put(k, k, 100)
    assert c.get("a") is not None  # refreshes a
    c.put("d", "d", 100)
    assert len(c) == 3 and c.get("b") is None and c.get("a") is not None and c.evictions == 1


# ------------------------------------------------------------------------------------------------ rate limit

def test_token_bucket_accounting() -> None:
    clock = Clock()
    b = TokenBucket(100, burst=5, clock=clock)
    delays = [b.reserve() for _ in range(25)]
    assert delays[:5] == [0.0] * 5  # the burst
    # then one query per 10 ms, queued in order without a lock
    assert delays[5:] == pytest.approx([0.01 * i for i in range(1, 21)])
    assert b.waited == pytest.approx(sum(delays))
    clock.t += 10  # long idle: refills to the burst only, not 1000 tokens
    assert [b.reserve() for _ in range(6)][-1] > 0


def test_token_bucket_long_run_rate() -> None:
    clock = Clock()
    b = TokenBucket(50, clock=clock)
    total = 0.0
    for _ in range(500):
        d = b.reserve()
        clock.t += d  # the caller sleeps as told
        total += d
    assert 500 / total == pytest.approx(50, rel=0.02)


def test_token_bucket_rejects_bad_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


# ------------------------------------------------------------------------------------------------ nameservers

@pytest.mark.parametrize("text, expect", [
    ("192.0.2.1", ("192.0.2.1", 53)),
    (" 192.0.2.1:5353 ", ("192.0.2.1", 5353)),
    ("[2001:db8::1]:53", ("2001:db8::1", 53)),
    ("[2001:DB8:0::1]", ("2001:db8::1", 53)),
    ("2001:db8::1", ("2001:db8::1", 53)),
    ("::1", ("::1", 53)),
])
def test_parse_nameserver(text: str, expect: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expect


@pytest.mark.parametrize("text, needle", [
    ("", "empty"), ("dns.example", "not an IP"), ("192.0.2.1:0", "port"), ("192.0.2.1:99999", "port"),
    ("192.0.2.1:x", "port"), ("[2001:db8::1", "bracket"), ("[2001:db8::1]:", "port"), ("300.1.1.1", "not an IP"),
])
def test_parse_nameserver_errors_name_the_problem(text: str, needle: str) -> None:
    with pytest.raises(DnsConfigError, match=needle):
        parse_nameserver(text)


def test_system_nameservers(tmp_path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# x\nsearch example\nnameserver 127.0.0.53\nnameserver bogus\nnameserver ::1\noptions edns0\n")
    assert system_nameservers(conf) == [("127.0.0.53", 53), ("::1", 53)]
    conf.write_text("search example\n")
    with pytest.raises(DnsConfigError, match="no usable 'nameserver'"):
        system_nameservers(conf)
    with pytest.raises(DnsConfigError, match="cannot read"):
        system_nameservers(tmp_path / "missing")


# ------------------------------------------------------------------------------------------------ interpret

def _soa(owner: str, ttl: int, minimum: int) -> RR:
    return RR(owner, T_SOA, 1, ttl, ("ns." + owner, "h." + owner, 1, 2, 3, 4, minimum))


def _msg(rcode: int = 0, answer=(), authority=(), qname="a.example", qtype=T_A, flags=0x8400) -> Message:
    return Message(1, flags | rcode, rcode, qname, qtype, 1, list(answer), list(authority))


def test_negative_ttl_is_min_of_soa_ttl_and_minimum() -> None:
    step, ttl = interpret(_msg(3, authority=[_soa("example", 900, 60)]), "a.example", "A", T_A)
    assert step.answer.status == "nxdomain" and ttl == 60 == step.answer.ttl  # RFC 2308 §5
    step, ttl = interpret(_msg(0, authority=[_soa("example", 30, 600)]), "a.example", "A", T_A)
    assert step.answer.status == "nodata" and ttl == 30
    step, ttl = interpret(_msg(0, authority=[_soa("example", 10**6, 10**6)]), "a.example", "A", T_A)
    assert ttl == MAX_NEGATIVE_TTL
    step, ttl = interpret(_msg(3), "a.example", "A", T_A)
    assert step.answer.status == "nxdomain" and ttl == 0  # no SOA: not cached


def test_positive_ttl_is_min_over_rrset_and_chain() -> None:
    m = _msg(answer=[RR("a.example", T_CNAME, 1, 50, "b.example"), RR("b.example", T_A, 1, 300, "192.0.2.1"),
                     RR("b.example", T_A, 1, 200, "192.0.2.2")])
    step, ttl = interpret(m, "a.example", "A", T_A)
    a = step.answer
    assert (a.status, a.records, a.cname_chain, ttl, step.target) == \
        ("ok", ("192.0.2.1", "192.0.2.2"), ("b.example",), 50, None)


def test_chain_into_unknown_zone_must_be_followed() -> None:
    m = _msg(answer=[RR("a.example", T_CNAME, 1, 50, "x.other")], authority=[RR("example", T_NS, 1, 5, "ns")])
    step, _ = interpret(m, "a.example", "A", T_A)
    assert step.target == "x.other" and step.answer.cname_chain == ("x.other",)
    # but an SOA of the target's zone vouches for NODATA at the target
    m = _msg(answer=[RR("a.example", T_CNAME, 1, 50, "x.example")], authority=[_soa("example", 300, 300)])
    step, ttl = interpret(m, "a.example", "A", T_A)
    assert step.target is None and step.answer.status == "nodata" and ttl == 50


def test_cname_loop_in_one_message_is_an_error() -> None:
    m = _msg(answer=[RR("a.example", T_CNAME, 1, 5, "b.example"), RR("b.example", T_CNAME, 1, 5, "a.example")])
    step, ttl = interpret(m, "a.example", "TXT", T_TXT)
    assert step.answer.status == "error" and step.answer.error == "cname-loop" and ttl == 0


def test_referral_is_not_nodata() -> None:
    m = _msg(authority=[RR("sub.example", T_NS, 1, 5, "ns.sub.example")], flags=0x8000)
    step, ttl = interpret(m, "a.sub.example", "A", T_A)
    assert step.answer.status == "error" and step.answer.error == "referral" and ttl == 0


def test_cname_query_returns_the_cname_itself() -> None:
    m = _msg(answer=[RR("a.example", T_CNAME, 1, 5, "b.example")], qtype=T_CNAME)
    step, _ = interpret(m, "a.example", "CNAME", T_CNAME)
    assert step.answer.records == ("b.example",) and step.answer.cname_chain == ()


# ------------------------------------------------------------------------------------------------ zone files

WORLD = {
    "example.jp": [("MX", (10, "mx.example.jp")), ("TXT", ["v=spf1 include:_spf.prov.test", " -all"]),
                   ("TXT", 'quote " and back\\slash'), ("TXT", "x" * 600), ("A", "192.0.2.1")],
    "_dmarc.example.jp": [("TXT", "v=DMARC1; p=reject")],
    "www.example.jp": [("CNAME", "example.jp")],
    "*.wild.example.jp": [("TXT", "日本語")],
    "1.2.0.192.in-addr.arpa": [("PTR", "example.jp")],
    "t.example.jp": [("TIMEOUT", None)],
}


def test_render_zones_parses_with_dnspython_and_keeps_data() -> None:
    texts = render_zones(WORLD, ["example.jp", "2.0.192.in-addr.arpa"], ttl=120)
    z = dns.zone.from_text(texts["example.jp"], origin="example.jp.", relativize=False)
    soa = z.find_rdataset("example.jp.", "SOA")
    assert soa.ttl == 120 and soa[0].minimum == 120
    txts = sorted(tuple(r.strings) for r in z.find_rdataset("example.jp.", "TXT"))
    assert (b"v=spf1 include:_spf.prov.test", b" -all") in txts
    assert (b'quote " and back\\slash',) in txts
    assert (b"x" * 255, b"x" * 255, b"x" * 90) in txts  # split at 255 octets (RFC 1035 §3.3)
    assert tuple(z.find_rdataset("*.wild.example.jp.", "TXT")[0].strings) == ("日本語".encode(),)
    assert z.find_rdataset("example.jp.", "MX")[0].exchange.to_text() == "mx.example.jp."
    assert "t.example.jp" not in texts["example.jp"]  # TIMEOUT cannot be expressed in a zone
    rev = dns.zone.from_text(texts["2.0.192.in-addr.arpa"], origin="2.0.192.in-addr.arpa.", relativize=False)
    assert rev.find_rdataset("1.2.0.192.in-addr.arpa.", "PTR")[0].target.to_text() == "example.jp."


def test_render_zones_rejects_names_outside_origins() -> None:
    with pytest.raises(ZoneError, match="outside every zone"):
        render_zones({"a.other.test": [("A", "192.0.2.1")]}, ["example.jp"])


def test_cname_next_to_other_data_is_a_clear_error() -> None:
    with pytest.raises(ZoneError, match=r"www\.example\.jp: a CNAME cannot sit next to other records"):
        render_zones({"www.example.jp": [("CNAME", "example.jp"), ("A", "192.0.2.1")]}, ["example.jp"])


def test_write_zones_streams_many_domains(tmp_path) -> None:
    def gen():
        for i in range(3000):
            d = f"d{i}.test"
            yield d, [("TXT", f"v=spf1 include:_spf.prov.test -all {i}")]
            yield f"_dmarc.{d}", [("TXT", "v=DMARC1; p=none")]

    origins = [f"d{i}.test" for i in range(3000)] + ["empty.test"]
    paths = write_zones(gen(), origins, tmp_path, max_open=8)
    assert len(paths) == 3001
    text = paths["d1234.test"].read_text()
    assert text.count("SOA") == 1 and "d1234.test. 300 IN TXT" in text and "_dmarc.d1234.test." in text
    z = dns.zone.from_text(text, origin="d1234.test.", relativize=False)
    assert len(z.nodes) == 2
    assert "SOA" in paths["empty.test"].read_text()


def test_infer_origins_uses_registrable_domains() -> None:
    assert sorted(infer_origins(["a.b.example.co.jp", "_dmarc.example.co.jp", "x.test", "*.w.y.test"])) == \
        ["example.co.jp", "x.test", "y.test"]


_NAMES = ["a.example", "b.example", "c.example", "x.other", "example", "other"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_NAMES), st.sampled_from([T_A, T_CNAME, T_TXT, T_SOA, T_NS]),
                          st.integers(0, 1000), st.sampled_from(_NAMES)), max_size=8),
       st.lists(st.tuples(st.sampled_from(_NAMES), st.sampled_from([T_SOA, T_NS]), st.integers(0, 1000)),
                max_size=3),
       st.sampled_from([0, 3]), st.booleans())
def test_interpret_properties(answer, authority, rcode, aa) -> None:
    def rr(name, rtype, ttl, target="ns.example"):
        data = {T_A: "192.0.2.1", T_TXT: (b"t",), T_SOA: ("ns", "h", 1, 2, 3, 4, ttl // 2)}.get(rtype, target)
        return RR(name, rtype, 1, ttl, data)

    msg = _msg(rcode, [rr(*a) for a in answer], [rr(*a) for a in authority], flags=0x8400 if aa else 0x8000)
    step, ttl = interpret(msg, "a.example", "A", T_A)
    a = step.answer
    assert a.status in ("ok", "nxdomain", "nodata", "error") and ttl >= 0
    assert len(set(a.cname_chain)) == len(a.cname_chain) and "a.example" not in a.cname_chain
    if a.status == "ok":
        assert a.records or step.target == a.cname_chain[-1]
        assert all(r == "192.0.2.1" for r in a.records)
    else:
        assert step.target is None and not a.records
    if a.status == "error":
        assert a.error in ("cname-loop", "cname-chain-too-long", "referral") and ttl == 0
    if rcode == 3 and a.status != "error" and not a.records:
        assert a.status == "nxdomain" and step.target is None  # RFC 6604: NXDOMAIN is about the chain's end


def test_odd_owner_names_are_escaped_not_breaking_the_file() -> None:
    world = {'we ird;"name.example.jp': [("TXT", "x")], "a\\.b.example.jp": [("CNAME", "t(1).example.jp")],
             "例え.example.jp": [("A", "192.0.2.1")]}
    text = render_zones(world, ["example.jp"])["example.jp"]
    z = dns.zone.from_text(text, origin="example.jp.", relativize=False)
    assert dns.name.from_text("we\\032ird\\059\\034name.example.jp.") in z.nodes
    assert dns.name.from_text("a\\.b.example.jp.") in z.nodes  # an escaped dot stays inside its label
    assert z.find_rdataset("a\\.b.example.jp.", "CNAME")[0].target == dns.name.from_text("t\\0401\\041.example.jp.")
    assert dns.name.from_text("xn--r8jz45g.example.jp.") in z.nodes


def test_long_cname_chain_in_one_message_is_not_a_loop() -> None:
    from mailposture.dns.engine import MAX_CNAME_HOPS

    hops = MAX_CNAME_HOPS + 2
    names = [f"n{i}.example" for i in range(hops + 1)]
    m = _msg(answer=[RR(names[i], T_CNAME, 1, 5, names[i + 1]) for i in range(hops)])
    step, ttl = interpret(m, "n0.example", "TXT", T_TXT)
    assert step.answer.status == "error" and step.answer.error == "cname-chain-too-long" and ttl == 0
    short = _msg(answer=[*(RR(names[i], T_CNAME, 1, 5, names[i + 1]) for i in range(12)),
                         RR(names[12], T_TXT, 1, 5, (b"x",))])
    step, _ = interpret(short, "n0.example", "TXT", T_TXT)
    assert step.answer.status == "ok" and len(step.answer.cname_chain) == 12  # 12 hops: more than the old 8
