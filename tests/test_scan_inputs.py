"""Reading domain lists: normalisation, text and CSV, encodings, compression, duplicates, limits, errors."""

from __future__ import annotations

import gzip
import io
import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.scan.inputs import InputCounts, InputError, InputReader, InputSpec, normalize_domain, select


def items_of(path, **kw):
    with InputReader(InputSpec(str(path), **kw)) as r:
        return list(r), r


# ---------------------------------------------------------------------------------------------------------------
# normalize_domain

@pytest.mark.parametrize("raw, want", [
    ("Example.COM", "example.com"),
    ("example.com.", "example.com"),
    ("  example.com  ", "example.com"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("BÜCHER.example.", "xn--bcher-kva.example"),
    ("日本語.jp", "xn--wgv71a119e.jp"),
    ("例え。テスト", "xn--r8jz45g.xn--zckzah"),      # ideographic full stop separates labels (UTS #46)
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("a-b.example", "a-b.example"),
    ("1password.com", "1password.com"),
    ("a" * 63 + ".example", "a" * 63 + ".example"),
])
def test_normalize_valid(raw, want):
    assert normalize_domain(raw) == (want, None)


@pytest.mark.parametrize("raw, reason_part", [
    ("", "empty"),
    ("   ", "empty"),
    (".", "empty"),
    ("a..b", "empty label"),
    (".example.com", "empty label"),
    ("example.com..", "empty label"),
    ("exa mple.com", "whitespace"),
    ("exa_mple.com", "bad character"),
    ("user@example.com", "bad character"),
    ("http://example.com/", "bad character"),
    ("-lead.example", "hyphen"),
    ("trail-.example", "hyphen"),
    ("a" * 64 + ".example", "longer than 63"),
    (".".join(["a" * 60] * 5), "longer than 253"),
    ("192.0.2.1", "IP address"),
    ("2001:db8::1", "IP address"),
    ("[2001:db8::1]", "IP address"),
    ("300.1.1.1", "all digits"),
    ("bü..example", "empty label"),
    ("com", "single label"),          # RFC 5321 §2.3.5: mail domains are fully qualified
    ("jp", "single label"),
    ("localhost", "single label"),
    ("localhost.", "single label"),
    ("日本", "single label"),
])
def test_normalize_invalid(raw, reason_part):
    name, reason = normalize_domain(raw)
    assert name is None
    assert reason_part in reason


def test_253_boundary():
    ok = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(ok) == 253 and normalize_domain(ok) == (ok, None)
    assert normalize_domain(ok + "d")[0] is None


# ---------------------------------------------------------------------------------------------------------------
# text input

def test_text_comments_blank_crlf_bom(tmp_path):
    p = tmp_path / "d.txt"
    p.write_bytes(b"\xef\xbb\xbfExample.com\r\n# a comment\r\n\r\n   \r\nfoo.example  # trailing note\r\n"
                  b"bar.example.\r\nbad..name\r\n")
    items, r = items_of(p)
    assert r.kind == "text"
    assert [(i.line, i.domain) for i in items] == [(1, "example.com"), (5, "foo.example"), (6, "bar.example"),
                                                   (7, None)]
    assert items[3].raw == "bad..name" and items[3].error == "empty label"
    assert all(i.attrs == {} for i in items)


def test_text_without_final_newline_and_detection(tmp_path):
    p = tmp_path / "domains"           # no extension: sniffed
    p.write_text("a.example\nb.example")
    items, r = items_of(p)
    assert r.kind == "text" and [i.domain for i in items] == ["a.example", "b.example"]


def test_gzip_text_by_magic(tmp_path):
    p = tmp_path / "d.data"
    p.write_bytes(gzip.compress("x.example\nbücher.example\n".encode()))
    items, r = items_of(p)
    assert [i.domain for i in items] == ["x.example", "xn--bcher-kva.example"]
    assert r.position == os.path.getsize(p)   # progress counts compressed bytes


def test_damaged_gzip(tmp_path):
    p = tmp_path / "d.txt.gz"
    data = gzip.compress(("x.example\n" * 5000).encode())
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="gzip"), InputReader(InputSpec(str(p))) as r:
        list(r)


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"domain,org\nexample.jp,ACME\n")))
    items, r = items_of("-")
    assert r.kind == "csv" and r.size is None
    assert items[0].domain == "example.jp" and items[0].attrs == {"org": "ACME"}


def test_stdin_gzip(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(b"a.example\n"))))
    items, _ = items_of("-")
    assert [i.domain for i in items] == ["a.example"]


# ---------------------------------------------------------------------------------------------------------------
# CSV input

def test_csv_attrs_bom_crlf_quotes(tmp_path):
    p = tmp_path / "in.csv"
    p.write_bytes("\ufeff# exported list\r\nid,Domain,org\r\n1,Example.JP,\"ACME, Inc.\"\r\n\r\n"
                  "2,bücher.example,\"multi\r\nline\"\r\n#3,skipped.example,x\r\n4,,empty\r\n"
                  "5,x.example,a,extra\r\n".encode())
    items, r = items_of(p)
    assert r.kind == "csv" and r.header == ["id", "org"]
    assert [(i.domain, i.attrs) for i in items[:2]] == [
        ("example.jp", {"id": "1", "org": "ACME, Inc."}),
        ("xn--bcher-kva.example", {"id": "2", "org": "multi\r\nline"}),
    ]
    assert items[2].domain is None and items[2].error == "empty name" and items[2].attrs == {"id": "4",
                                                                                             "org": "empty"}
    assert items[3].attrs == {"id": "5", "org": "a", "column_4": "extra"}   # extra cells kept
    assert [i.line for i in items] == [3, 6, 8, 9]


def test_csv_detected_from_header_without_extension(tmp_path):
    p = tmp_path / "list"
    p.write_text("domain;rank\nexample.com;1\n")
    items, r = items_of(p)
    assert r.kind == "csv" and items[0].attrs == {"rank": "1"}      # ';' found by sniffing the header
    items, r = items_of(p, delimiter=",")
    assert r.kind == "text" and items[0].error                      # forced ',': a one-column text file


def test_tsv_and_custom_column(tmp_path):
    p = tmp_path / "in.tsv"
    p.write_text("host\trank\nexample.com\t7\n")
    items, _ = items_of(p, column="host")
    assert items[0].domain == "example.com" and items[0].attrs == {"rank": "7"}


def test_csv_missing_column_is_clear(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("# header follows\nname,rank\nexample.com,1\n")
    with pytest.raises(InputError) as e:
        items_of(p)
    msg = str(e.value)
    assert "no 'domain' column" in msg and "line 2" in msg and "'name'" in msg and "'rank'" in msg


def test_csv_empty(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("# nothing\n\n")
    with pytest.raises(InputError, match="empty CSV"):
        items_of(p)


def test_duplicate_header_names_are_kept_apart(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("domain,tag,tag\nexample.com,a,b\n")
    items, r = items_of(p)
    assert r.header == ["tag", "tag_2"] and items[0].attrs == {"tag": "a", "tag_2": "b"}


# ---------------------------------------------------------------------------------------------------------------
# errors

def test_not_utf8_names_line(tmp_path):
    p = tmp_path / "d.txt"
    p.write_bytes(b"a.example\nb.example\nm\xfcnchen.example\n")
    with pytest.raises(InputError) as e, InputReader(InputSpec(str(p))) as r:
        list(r)
    assert "line 3 is neither UTF-8 nor Shift_JIS" in str(e.value) and "0xfc" in str(e.value)


def test_not_utf8_in_csv_header(tmp_path):
    p = tmp_path / "d.csv"
    p.write_bytes(b"domain,na\xefme\nexample.com,x\n")
    with pytest.raises(InputError, match="line 1 is neither UTF-8 nor Shift_JIS"):
        items_of(p)
    with pytest.raises(InputError, match="line 1 is not UTF-8"):
        items_of(p, encoding="utf-8")


def test_utf16(tmp_path):
    p = tmp_path / "d.txt"
    p.write_bytes("example.com\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        items_of(p)


def test_missing_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        items_of(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="directory"):
        items_of(tmp_path)


def test_unreadable(tmp_path, monkeypatch):
    import mailposture.scan.inputs as inputs_mod

    p = tmp_path / "d.txt"
    p.write_text("a.example\n")

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inputs_mod, "open", denied, raising=False)   # as if chmod 000 (tests may run as root)
    with pytest.raises(InputError, match="permission denied"):
        items_of(p)


def test_malformed_csv_quote(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('domain,x\nexample.com,"a"b"\n')
    # Python's csv accepts stray quotes in non-strict mode; strict parsing is not forced on users' exports
    items, _ = items_of(p)
    assert items[0].domain == "example.com"


# ---------------------------------------------------------------------------------------------------------------
# select(): duplicates, resume, limit

def test_select_duplicates_resume_limit(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text("a.example\nA.example.\nb.example\nbad..x\nbad..x\nc.example\nd.example\n")
    with InputReader(InputSpec(str(p))) as r:
        c = InputCounts()
        got = list(select(iter(r), c, done={"b.example"}))
    assert [i.key for i in got] == ["a.example", "bad..x", "c.example", "d.example"]
    assert (c.entries, c.duplicates, c.resumed, c.invalid, c.passed) == (7, 2, 1, 1, 4)

    with InputReader(InputSpec(str(p))) as r:
        c = InputCounts()
        got = list(select(iter(r), c, limit=2))
    assert [i.key for i in got] == ["a.example", "b.example"] and c.limited and c.duplicates == 1


def test_reader_streams(tmp_path):
    """The reader does not read the whole file up front: after one item, only a buffer's worth was read."""
    p = tmp_path / "big.txt"
    p.write_text("".join(f"d{i}.example\n" for i in range(100_000)))
    with InputReader(InputSpec(str(p))) as r:
        it = iter(r)
        next(it)
        assert r.position < 200_000 < os.path.getsize(p)


def test_txt_with_domain_header_is_csv(tmp_path):
    p = tmp_path / "list.txt"
    p.write_text("Domain\nexample.com\n")
    items, r = items_of(p)
    assert r.kind == "csv" and [i.domain for i in items] == ["example.com"]


def test_forced_text_keeps_every_line(tmp_path):
    p = tmp_path / "list.csv"
    p.write_text("example.com\nexample.net\n")
    items, r = items_of(p, format="text")
    assert r.kind == "text" and [i.domain for i in items] == ["example.com", "example.net"]
    with pytest.raises(InputError, match="no 'domain' column"):
        items_of(p)                                  # .csv means CSV: the first line is its header


def test_huge_line_and_zip_are_refused(tmp_path):
    p = tmp_path / "d.txt"
    p.write_bytes(b"a.example\n" + b"x" * (2 << 20) + b"\n")
    with pytest.raises(InputError, match="line 2 is longer than"), InputReader(InputSpec(str(p))) as r:
        list(r)
    z = tmp_path / "book.xlsx"
    z.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(InputError, match="Excel"):
        items_of(z)


def test_specs_and_items_pickle():
    import pickle

    from mailposture.cliopts import DnsOptions
    from mailposture.scan.outputs import OutputSpec
    from mailposture.scan.runner import ScanSettings

    s = ScanSettings(InputSpec("in.csv", column="host"), OutputSpec("o.parquet"), DnsOptions(["127.0.0.1:53"]),
                     limit=5)
    assert pickle.loads(pickle.dumps(s)) == s
    from mailposture.scan.inputs import InputItem

    it = InputItem(3, "Ex.example", "ex.example", {"a": "b"})
    assert pickle.loads(pickle.dumps(it)) == it


# ---------------------------------------------------------------------------------------------------------------
# zone files

ZONE = """; a TLD-style zone
$ORIGIN example.
$TTL 3600
@   IN  SOA ns.nic.example. hostmaster.nic.example. (
        2026120101 ; serial ( with a parenthesis in a comment
        7200 3600 1209600 300 )
    IN  NS  ns.nic.example.
alpha       IN NS ns1.alpha.example.
alpha       IN NS ns2.alpha.example.
            IN NS ns3.alpha.example.
alpha       IN DS 12345 13 2 ABCDEF
ns1.alpha   IN A 192.0.2.1
BETA.example.  86400 IN NS ns.other.net.
gamma 300 IN NS ns.other.net.
txt   IN TXT "v=spf1 ; not a comment ( nor a paren"
delta IN NS ns.other.net.
alpha IN NS ns4.alpha.example.
$ORIGIN sub.example.
eps IN NS ns.other.net.
bad_name IN NS ns.other.net.
"""


def test_zone_delegations(tmp_path):
    p = tmp_path / "example.zone"
    p.write_text(ZONE)
    items, r = items_of(p)
    assert r.kind == "zone"
    assert [(i.line, i.key) for i in items] == [
        (8, "alpha.example"), (13, "beta.example"), (14, "gamma.example"), (16, "delta.example"),
        (17, "alpha.example"), (19, "eps.sub.example"), (20, "bad_name.sub.example")]
    assert items[-1].error and "bad character" in items[-1].error
    c = InputCounts()
    with InputReader(InputSpec(str(p))) as rr:
        assert [i.key for i in select(iter(rr), c)][:4] == ["alpha.example", "beta.example", "gamma.example",
                                                           "delta.example"]
    assert c.duplicates == 1


def test_zone_detected_by_content_and_gzip(tmp_path):
    p = tmp_path / "com.txt.gz"
    p.write_bytes(gzip.compress(b"com. 900 IN SOA a.gtld. nstld. 1 2 3 4 5\ncom. 172800 IN NS a.gtld.\n"
                                b"example.com. 172800 IN NS ns1.example.net.\n"))
    items, r = items_of(p)
    assert r.kind == "zone" and [i.domain for i in items] == ["example.com"]


@pytest.mark.parametrize("text, msg", [
    ("$INCLUDE other.zone\n", "$INCLUDE is not supported"),
    ("foo IN NS ns.example.\n", "relative name 'foo' before $ORIGIN"),
    ("$ORIGIN x.\n@ IN SOA a. b. ( 1 2 3 4 5\n", "not closed"),
    ('$ORIGIN x.\na IN TXT "open\n', "unterminated quoted"),
    ("$ORIGIN x.\n  IN NS ns.x.\n", "without an owner"),
])
def test_zone_errors_name_the_line(tmp_path, text, msg):
    p = tmp_path / "bad.zone"
    p.write_text(text)
    with pytest.raises(InputError) as e, InputReader(InputSpec(str(p))) as r:
        list(r)
    assert msg in str(e.value) and "line" in str(e.value)


def test_zone_origin_option(tmp_path):
    p = tmp_path / "z.zone"
    p.write_text("foo IN NS ns.example.\nbar 60 IN NS ns.example.\n")
    items, _ = items_of(p, zone_origin="jp.")
    assert [i.domain for i in items] == ["foo.jp", "bar.jp"]


# ---------------------------------------------------------------------------------------------------------------
# encodings, delimiters, headerless lists

def test_shift_jis_hint_and_encoding_option(tmp_path):
    p = tmp_path / "list.csv"
    p.write_bytes("domain,組織\nexample.jp,株式会社例\n".encode("cp932"))
    with pytest.raises(InputError) as e:
        items_of(p, encoding="utf-8")
    assert "line 1 is not UTF-8" in str(e.value) and "--encoding cp932" in str(e.value)
    for enc in ("cp932", "auto"):
        items, r = items_of(p, encoding=enc)
        assert r.header == ["組織"] and items[0].attrs == {"組織": "株式会社例"}
    with pytest.raises(InputError, match="unknown encoding"):
        items_of(p, encoding="klingon")


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_is_sniffed_from_the_header(tmp_path, sep):
    p = tmp_path / "list.csv"
    p.write_text(f"rank{sep}domain\n1{sep}example.com\n")
    items, r = items_of(p)
    assert r.kind == "csv" and items[0].domain == "example.com" and items[0].attrs == {"rank": "1"}


def test_headerless_ranking_list_by_column_number(tmp_path):
    p = tmp_path / "top-1m.csv"
    p.write_text("1,google.com\n2,Example.COM\n3,bad..x\n")
    items, r = items_of(p, column="2")
    assert r.header == ["column_1"]
    assert [(i.line, i.key, i.attrs) for i in items] == [(1, "google.com", {"column_1": "1"}),
                                                        (2, "example.com", {"column_1": "2"}),
                                                        (3, "bad..x", {"column_1": "3"})]
    p2 = tmp_path / "top.txt"
    p2.write_text("1\tgoogle.com\n")
    items, r = items_of(p2, column="2")
    assert r.kind == "csv" and items[0].domain == "google.com"


def test_missing_column_message_suggests_a_number(tmp_path):
    p = tmp_path / "top-1m.csv"
    p.write_text("1,google.com\n")
    with pytest.raises(InputError, match=r"--column 2"):
        items_of(p)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="aZ09-._xn", min_size=1, max_size=80) | st.from_regex(r"[a-z0-9-]{1,70}(\.[a-z0-9-]{1,70}){0,4}\.?",
                                                                              fullmatch=True))
def test_fast_path_agrees_with_every_rule(name):
    from mailposture.scan.inputs import _normalize_slow

    assert normalize_domain(name) == _normalize_slow(name)


def test_items_carry_their_byte_offset(tmp_path):
    p = tmp_path / "d.txt"
    p.write_bytes(b"a.example\r\n# note\r\nbb.example\r\n")
    items, r = items_of(p)
    assert [i.offset for i in items] == [11, 31] and r.position == 31 == os.path.getsize(p)


def test_seen_names_is_exact_and_compact():
    from mailposture.scan.inputs import SeenNames

    s = SeenNames(capacity=4)
    names = [f"n{i}.example" for i in range(5000)] + ["例え.jp", "\udcff.bad"]
    assert all(s.add(n) for n in names)                 # grows from 16 slots, nothing lost on the way
    assert len(s) == len(names) and all(n in s for n in names)
    assert not any(s.add(n) for n in names[::7])         # second time: already there
    assert "n5000.example" not in s and "N1.example" not in s
    assert len(s._table) * 8 <= 16 * len(names) * 2       # ≤ 16 bytes a name (load factor ≥ 1/4)
