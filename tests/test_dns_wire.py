"""The lean wire codec: encoding, decoding (cross-checked with dnspython), compression, malformed input."""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.dns import wire
from mailposture.dns.wire import WireError, decode, decode_name, encode_name, encode_query


def _response(qname: str, qtype: str, answers: list[str], authority: list[str] = (), rcode: int = 0,
              flags: int = 0) -> bytes:
    q = dns.message.make_query(qname, qtype, use_edns=0, payload=1232)
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    r.flags |= flags
    for text in answers:
        r.answer.append(dns.rrset.from_text(*text.split(None, 3)[:1], *_ttl_class_type_data(text)))
    for text in authority:
        r.authority.append(dns.rrset.from_text(*text.split(None, 3)[:1], *_ttl_class_type_data(text)))
    return r.to_wire()  # dnspython compresses names


def _ttl_class_type_data(text: str) -> list:
    _owner, ttl, rtype, data = text.split(None, 3)
    return [int(ttl), "IN", rtype, data]


def test_query_encoding_is_what_dnspython_reads() -> None:
    data = encode_query(0xBEEF, "Mail.Example.COM.", 16, ad=True, edns_bufsize=1232)
    m = dns.message.from_wire(data)
    assert m.id == 0xBEEF
    assert m.question[0].name == dns.name.from_text("mail.example.com.")
    assert m.question[0].rdtype == dns.rdatatype.TXT
    assert m.flags & dns.flags.RD and m.flags & dns.flags.AD and not m.flags & dns.flags.QR
    assert m.edns == 0 and m.payload == 1232
    plain = dns.message.from_wire(encode_query(1, "example.com", 1, edns_bufsize=None))
    assert plain.edns == -1 and not plain.flags & dns.flags.AD


def test_decode_matches_dnspython_for_each_decoded_type() -> None:
    answers = [
        "example.com. 300 A 192.0.2.1", "example.com. 300 A 192.0.2.2",
    ]
    data = _response("example.com", "A", answers)
    m = decode(data)
    assert (m.id, m.qname, m.qtype, m.rcode) == (dns.message.from_wire(data).id, "example.com", 1, 0)
    assert [rr.data for rr in m.answer] == ["192.0.2.1", "192.0.2.2"]

    cases = [
        ("AAAA", "example.com. 60 AAAA 2001:db8::1", "2001:db8::1"),
        ("MX", "example.com. 60 MX 10 Mail.Example.com.", (10, "mail.example.com")),
        ("TXT", 'example.com. 60 TXT "v=spf1 include:_spf.example.net" " -all" "\\255\\000q\\"x"',
         (b"v=spf1 include:_spf.example.net", b" -all", b"\xff\x00q\"x")),
        ("CNAME", "example.com. 60 CNAME target.example.net.", "target.example.net"),
        ("PTR", "example.com. 60 PTR host.example.org.", "host.example.org"),
        ("NS", "example.com. 60 NS ns1.example.com.", "ns1.example.com"),
        ("TLSA", "example.com. 60 TLSA 3 1 1 " + "ab" * 32, bytes([3, 1, 1]) + b"\xab" * 32),
    ]
    for qtype, text, expect in cases:
        data = _response("example.com", qtype, [text])
        m = decode(data)
        assert len(m.answer) == 1, qtype
        rr = m.answer[0]
        assert rr.name == "example.com" and rr.ttl == 60 and rr.rtype == dns.rdatatype.from_text(qtype)
        assert rr.data == expect, qtype
        # dnspython agrees on the rdata (the independent reference parser)
        ref = dns.message.from_wire(data).answer[0][0]
        if qtype == "TXT":
            assert tuple(ref.strings) == expect
        elif qtype == "MX":
            assert (ref.preference, ref.exchange.to_text(omit_final_dot=True).lower()) == expect
        elif qtype == "TLSA":
            assert ref.to_digestable() == expect
        else:
            assert ref.to_text().rstrip(".").lower() == expect


def test_negative_answer_with_soa_and_compressed_cname_chain() -> None:
    data = _response("a.example.com", "A", ["a.example.com. 300 CNAME b.example.com."],
                     ["example.com. 3600 SOA ns.example.com. hostmaster.example.com. 7 1 2 3 60"],
                     rcode=dns.rcode.NXDOMAIN, flags=dns.flags.AA)
    assert data.count(b"example") < 4  # the names really are compressed
    m = decode(data)
    assert m.rcode == 3 and m.aa and not m.tc
    assert m.answer[0].data == "b.example.com"
    soa = m.authority[0]
    assert soa.rtype == wire.T_SOA and soa.name == "example.com"
    assert soa.data == ("ns.example.com", "hostmaster.example.com", 7, 1, 2, 3, 60)


def test_truncated_response_stops_after_question() -> None:
    data = _response("example.com", "TXT", [], flags=dns.flags.TC)
    m = decode(data)
    assert m.tc and m.answer == []


def test_names_with_odd_octets_round_trip() -> None:
    raw = b"\x03a.b\x04c\\d \x02\xff\x00\x04test\x00"
    name, off = decode_name(raw, 0)
    assert off == len(raw)
    assert encode_name(name) == raw.lower()
    assert name.startswith("a\\.b.c\\\\d\\ .\\255\\000")


@pytest.mark.parametrize("bad", ["a..b", "x" * 64 + ".com", ".".join(["abcdefghi"] * 30)])
def test_encode_name_rejects_invalid_names(bad: str) -> None:
    with pytest.raises(WireError):
        encode_name(bad)


def test_root_and_trailing_dot() -> None:
    assert encode_name(".") == b"\x00" == encode_name("")
    assert encode_name("a.b.") == encode_name("a.b") == b"\x01a\x01b\x00"


def _header(qd: int = 1, an: int = 0) -> bytes:
    return struct.pack("!HHHHHH", 1, 0x8180, qd, an, 0, 0)


@pytest.mark.parametrize("packet, why", [
    (b"\x00\x01", "short header"),
    (_header() + b"\xc0\x0c\x00\x01\x00\x01", "pointer to itself"),
    (_header() + b"\x01a\xc0\x0c\x00\x01\x00\x01", "pointer back into the same name"),
    (_header() + b"\xc0\x20\x00\x01\x00\x01" + b"\x00" * 30, "forward pointer"),
    (_header() + b"\x05ab", "label past the end"),
    (_header() + b"\x40abc\x00\x00\x01\x00\x01", "reserved label type"),
    (_header(qd=2) + b"\x00\x00\x01\x00\x01", "two questions"),
    (_header(an=1) + b"\x00\x00\x01\x00\x01" + b"\x00\x00\x01\x00\x01\x00\x00\x00\x05\x00\x05abcde",
     "A with 5 octets"),
    (_header(an=1) + b"\x00\x00\x10\x00\x01" + b"\x00\x00\x10\x00\x01\x00\x00\x00\x05\x00\x03\x05ab",
     "TXT string past rdata"),
    (_header(an=1) + b"\x00\x00\x01\x00\x01" + b"\x00\x00\x01\x00\x01\x00\x00\x00\x05\x00\x09abcd",
     "rdata past the end"),
])
def test_malformed_packets_raise_wire_error(packet: bytes, why: str) -> None:
    with pytest.raises(WireError):
        decode(packet)


def test_ttl_with_top_bit_is_zero() -> None:
    pkt = (_header(an=1) + b"\x00\x00\x01\x00\x01" + b"\x00\x00\x01\x00\x01" + struct.pack("!I", 0x80000001)
           + b"\x00\x04\xc0\x00\x02\x01")
    assert decode(pkt).answer[0].ttl == 0  # RFC 2181 §8


_REAL = [
    _response("example.com", "MX", ["example.com. 60 MX 10 mx1.example.com.", "example.com. 60 MX 20 mx2.example.net."],
              ["example.com. 60 NS ns.example.com."]),
    _response("_dmarc.example.com", "TXT", ['_dmarc.example.com. 60 TXT "v=DMARC1; p=reject" "rua=mailto:a@b"']),
    _response("x.example.com", "A", ["x.example.com. 60 CNAME y.example.com.", "y.example.com. 60 A 192.0.2.7"],
              ["example.com. 60 SOA ns.example.com. h.example.com. 1 2 3 4 5"]),
]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_only_raise_wire_error(data: bytes) -> None:
    try:
        decode(data)
    except WireError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_REAL), st.integers(min_value=0, max_value=400), st.integers(0, 399), st.integers(0, 255))
def test_fuzz_truncated_and_mutated_real_packets(real: bytes, cut: int, pos: int, value: int) -> None:
    for candidate in (real[:cut], real[:pos % len(real)] + bytes([value]) + real[pos % len(real) + 1:]):
        try:
            decode(candidate)
        except WireError:
            pass


def test_every_prefix_of_a_real_packet_is_handled() -> None:
    real = _REAL[2]
    opt_len = 11  # the additional section (the OPT record) is not read
    outcomes = set()
    for cut in range(len(real) - opt_len):
        try:
            decode(real[:cut])
            outcomes.add("ok")
        except WireError:
            outcomes.add("error")
    assert outcomes == {"error"}  # every prefix cut before the authority ends is incomplete
    assert decode(real).answer[1].data == "192.0.2.7"
